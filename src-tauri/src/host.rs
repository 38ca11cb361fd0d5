//! The engine's monitor inside the app: started from the config, restarted when the config
//! changes (a mailbox added, settings saved), its events turned into cards, tray updates and
//! window events.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use crate::handle::AppHandle;
use mailcanary_engine::alerts::{Alert, OnClick};
use mailcanary_engine::core::Lang;
use mailcanary_engine::core::config::Config;
use mailcanary_engine::core::report::CheckReport;
use mailcanary_engine::core::schedule::SchedulePolicy;
use mailcanary_engine::metrics::{self, Metrics};
use mailcanary_engine::monitor::{self, MonitorCommand, MonitorEvent, MonitorOptions};
use mailcanary_engine::office::{Channels, health_policy};
use mailcanary_engine::probe::{CheckOptions, Progress};
use mailcanary_engine::store::Store;
use mailcanary_engine::{config_file, secrets};
use serde::Serialize;

/// An error as the window sees it.
#[derive(Debug)]
pub struct IpcError {
    /// `invalid`, `not_found`, `keyring`, `config`, `monitor`, `store`, `io`, `alert`, `partly`.
    pub kind: &'static str,
    /// In plain words (English; the window gets it in its language where there are words).
    pub message: String,
    /// The form field at fault, for `invalid`.
    pub field: Option<&'static str>,
}

/// The window's language, for error messages (the app speaks one language at a time).
static JAPANESE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The Japanese of the app's own messages; `None` for what comes from elsewhere (a server's
/// reply, a file name, the engine's errors), which is shown as it is.
fn japanese(message: &str) -> Option<String> {
    const FIXED: &[(&str, &str)] = &[
        (
            "a pause lasts from 1 to 1440 minutes",
            "一時停止は 1〜1440 分です。",
        ),
        ("type the server's name", "サーバー名を入力してください。"),
        (
            "not an e-mail address like info@example.jp",
            "info@example.jp のようなメールアドレスを入力してください。",
        ),
        (
            "type only the server's name, such as imap.example.jp (no https://, no spaces)",
            "imap.example.jp のように、サーバー名だけを入力してください（https:// や空白は不要です）。",
        ),
        (
            "a port is a number from 1 to 65535",
            "ポート番号は 1〜65535 の数字です。",
        ),
        (
            "choose TLS or STARTTLS (Mail Canary never sends a password unencrypted)",
            "TLS か STARTTLS を選んでください（Mail Canary は暗号化せずにパスワードを送りません）。",
        ),
        (
            "give the full path of a certificate file (PEM) that exists",
            "存在する証明書ファイル (PEM) のフルパスを入力してください。",
        ),
        (
            "a password is one line of at most 1024 characters",
            "パスワードは 1 行、1024 文字までです。",
        ),
        (
            "type the mailbox's password",
            "メールボックスのパスワードを入力してください。",
        ),
        ("from 1 to 400 days", "1〜400 日の範囲です。"),
        ("at most 4000 characters", "4000 文字までです。"),
        ("from 1 to 1440 minutes", "1〜1440 分の範囲です。"),
        (
            "from 0 (never) to 168 hours",
            "0（しない）〜168 時間の範囲です。",
        ),
        (
            "from 0 (never) to 720 hours",
            "0（しない）〜720 時間の範囲です。",
        ),
        (
            "an address with a port, such as 127.0.0.1:9898",
            "127.0.0.1:9898 のように、ポート番号付きのアドレスを入力してください。",
        ),
        (
            "the NAME of an environment variable (capitals, digits, _) that holds the webhook's URL, not the URL itself",
            "Webhook の URL を入れた環境変数の「名前」（大文字・数字・_）を入力してください。URL そのものではありません。",
        ),
        ("the monitor is not running", "監視が動いていません。"),
    ];
    if let Some((_, ja)) = FIXED.iter().find(|(en, _)| *en == message) {
        return Some(ja.to_string());
    }
    let quoted = |rest: &str| rest.split('"').nth(1).map(str::to_string);
    if let Some(rest) = message.strip_prefix("there is already a mailbox named ") {
        let name = quoted(rest)?;
        return Some(format!(
            "「{name}」という名前のメールボックスはすでにあります。別の名前にしてください。"
        ));
    }
    if let Some(rest) = message.strip_prefix("there is no mailbox named ") {
        let name = quoted(rest)?;
        return Some(format!(
            "「{name}」という名前のメールボックスはありません。"
        ));
    }
    if let Some(why) = message.strip_prefix("saved, but the monitoring cannot run: ") {
        return Some(format!("保存しましたが、監視を始められません: {why}"));
    }
    if let Some(what) = message.strip_prefix("saved; but ") {
        return Some(format!(
            "保存しましたが、反映できないものがあります: {what}"
        ));
    }
    None
}

impl Serialize for IpcError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let message = if JAPANESE.load(std::sync::atomic::Ordering::Relaxed) {
            japanese(&self.message).unwrap_or_else(|| self.message.clone())
        } else {
            self.message.clone()
        };
        let mut st = s.serialize_struct("IpcError", 3)?;
        st.serialize_field("kind", self.kind)?;
        st.serialize_field("message", &message)?;
        if let Some(f) = self.field {
            st.serialize_field("field", f)?;
        }
        st.end()
    }
}

impl IpcError {
    pub fn new(kind: &'static str, message: impl Into<String>) -> IpcError {
        IpcError {
            kind,
            message: message.into(),
            field: None,
        }
    }

    pub fn field(field: &'static str, message: impl Into<String>) -> IpcError {
        IpcError {
            kind: "invalid",
            message: message.into(),
            field: Some(field),
        }
    }
}

/// One mailbox as the window and the tray show it.
#[derive(Debug, Clone, Serialize)]
pub struct Card {
    pub mailbox: String,
    pub address: String,
    /// `ok`, `warning`, `critical`, `unknown`, or `waiting` before the first check.
    pub state: &'static str,
    pub category: String,
    pub summary: String,
    pub action: String,
    pub latency_ms: Option<u64>,
    pub folder: Option<String>,
    pub checked_at_ms: Option<u64>,
    /// The mailbox signs in with OAuth2 (a refused sign-in offers "Sign in again").
    pub oauth: bool,
}

impl Card {
    pub fn of(mb: &mailcanary_engine::core::config::MailboxConfig) -> Card {
        Card {
            oauth: mb.oauth.is_some(),
            ..Card::waiting(mb.name.as_str(), mb.address.as_str())
        }
    }

    pub fn waiting(mailbox: &str, address: &str) -> Card {
        Card {
            mailbox: mailbox.to_string(),
            address: address.to_string(),
            state: "waiting",
            category: String::new(),
            summary: String::new(),
            action: String::new(),
            latency_ms: None,
            folder: None,
            checked_at_ms: None,
            oauth: false,
        }
    }

    /// Takes a check's result, unless it is older than what the card shows.
    pub fn take(&mut self, r: &CheckReport) -> bool {
        if self.checked_at_ms.is_some_and(|t| t > r.started_at_ms) {
            return false;
        }
        self.state = r.status.as_str();
        self.category = r.category.as_str().to_string();
        self.summary = r.summary.clone();
        self.action = r.action.clone();
        self.latency_ms = r.canary.latency_ms;
        self.folder = r.canary.folder.clone();
        self.checked_at_ms = Some(r.started_at_ms);
        true
    }
}

/// Where the config and the history live.
#[derive(Debug, Clone)]
pub struct Paths {
    pub config: PathBuf,
    pub data: PathBuf,
}

/// A running monitor: how to stop it and wait for it.
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    done: tokio::task::JoinHandle<()>,
    metrics: Option<tokio::task::JoinHandle<()>>,
}

/// What the app knows, shared by the monitor's events and the window's commands.
pub struct Shared {
    pub paths: Option<Paths>,
    pub lang: Mutex<Lang>,
    pub cards: Mutex<BTreeMap<String, Card>>,
    /// Why the monitor is not running, if it is not.
    pub trouble: Mutex<Option<String>>,
    /// The running monitor's ear.
    pub commands: Mutex<Option<tokio::sync::mpsc::UnboundedSender<MonitorCommand>>>,
    /// Scheduled checks are paused until then (Unix ms).
    pub paused_until: Mutex<Option<u64>>,
    /// What the tray shows now, to leave it alone when nothing changed.
    pub tray_shown: Mutex<String>,
    running: tokio::sync::Mutex<Option<Running>>,
    /// Mailbox names whose password a wizard test put in the keyring before saving.
    pub tested: Mutex<BTreeSet<String>>,
}

impl Shared {
    pub fn new(paths: Option<Paths>, lang: Lang, trouble: Option<String>) -> Shared {
        JAPANESE.store(lang == Lang::Ja, std::sync::atomic::Ordering::Relaxed);
        Shared {
            paths,
            lang: Mutex::new(lang),
            cards: Mutex::new(BTreeMap::new()),
            trouble: Mutex::new(trouble),
            commands: Mutex::new(None),
            paused_until: Mutex::new(None),
            tray_shown: Mutex::new(String::new()),
            running: tokio::sync::Mutex::new(None),
            tested: Mutex::new(BTreeSet::new()),
        }
    }

    pub fn lang(&self) -> Lang {
        *self.lang.lock().expect("not poisoned")
    }

    /// Speaks `lang` from now on.
    pub fn set_lang(&self, lang: Lang) {
        *self.lang.lock().expect("not poisoned") = lang;
        JAPANESE.store(lang == Lang::Ja, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn paths(&self) -> Result<&Paths, IpcError> {
        match &self.paths {
            Some(p) => Ok(p),
            None => Err(IpcError::new(
                "config",
                self.trouble
                    .lock()
                    .expect("not poisoned")
                    .clone()
                    .unwrap_or_else(|| "no config directory".into()),
            )),
        }
    }

    pub fn tell(&self, c: MonitorCommand) -> Result<(), IpcError> {
        let sent = self
            .commands
            .lock()
            .expect("not poisoned")
            .as_ref()
            .is_some_and(|tx| tx.send(c).is_ok());
        if sent {
            return Ok(());
        }
        let why = self.trouble.lock().expect("not poisoned").clone();
        Err(IpcError::new(
            "monitor",
            why.unwrap_or_else(|| "the monitor is not running".into()),
        ))
    }

    pub fn card_list(&self) -> Vec<Card> {
        self.cards
            .lock()
            .expect("not poisoned")
            .values()
            .cloned()
            .collect()
    }

    pub fn load_config(&self) -> Result<Config, IpcError> {
        config_file::load(&self.paths()?.config).map_err(|e| IpcError::new("config", e.to_string()))
    }
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// The language: `MAILCANARY_LANG`, the config, then the OS locale.
pub fn language(config: &Config) -> Lang {
    let var = |k| std::env::var(k).ok();
    var("MAILCANARY_LANG")
        .and_then(|l| Lang::parse(&l))
        .or(config.lang)
        .unwrap_or_else(|| {
            let (a, b, c) = (var("LC_ALL"), var("LC_MESSAGES"), var("LANG"));
            Lang::from_locale([a.as_deref(), b.as_deref(), c.as_deref()])
        })
}

/// The config's alert channels as the app uses them: notifications unless the config turns
/// them off.
pub fn app_alerts(config: &Config) -> mailcanary_engine::core::config::AlertSettings {
    let mut alerts = config.alerts.clone();
    alerts.notify = alerts.notify.or(Some(true));
    alerts
}

/// A check's steps, pushed to the window as `stage` events.
pub fn stage_events(app: &AppHandle) -> Progress {
    let handle = app.clone();
    Progress::new(move |ev| {
        let _ = handle.emit("stage", ev);
    })
}

/// Notes why the monitor is not running, and shows it.
pub fn set_trouble(app: &AppHandle, why: Option<String>) {
    if let Some(w) = &why {
        tracing::warn!("the monitor is not running: {w}");
        let _ = app.emit("trouble", w.clone());
    }
    *app.shared().trouble.lock().expect("not poisoned") = why;
    app.refresh_tray();
}

/// The cards of `config`'s mailboxes: the latest recorded check of each, or waiting.
fn cards_for(config: &Config, store: Option<&Store>) -> BTreeMap<String, Card> {
    config
        .mailboxes
        .values()
        .map(|mb| {
            let mut card = Card::of(mb);
            if let Some(r) = store.and_then(|s| s.latest(mb.name.as_str()).ok().flatten()) {
                card.take(&r);
            }
            (card.mailbox.clone(), card)
        })
        .collect()
}

/// (Re)starts the monitor with the config file as it is now: the running one is stopped and
/// waited for first (it holds the data directory's lock). Any failure is shown as the
/// monitor's trouble.
///
/// Answers what was left out (a webhook whose variable is not set, a metrics address in
/// use: monitoring goes on without them), or why the monitor cannot run at all.
pub async fn restart(app: &AppHandle) -> Result<Vec<String>, String> {
    let shared = app.shared();
    let mut running = shared.running.lock().await;
    if let Some(r) = running.take() {
        let _ = r.stop.send(());
        let _ = r.done.await;
        if let Some(m) = r.metrics {
            m.abort();
            // The listener is closed only once the task is gone.
            let _ = m.await;
        }
    }
    *shared.commands.lock().expect("not poisoned") = None;
    let started = start(app).await;
    // The cards first: the window takes them as a fresh start, then any trouble.
    let _ = app.emit("cards", shared.card_list());
    match started {
        Ok((r, left_out)) => {
            *running = Some(r);
            // A pause outlives the restart.
            let until = *shared.paused_until.lock().expect("not poisoned");
            if let Some(until_ms) = until.filter(|&t| t > now_ms()) {
                let _ = shared.tell(MonitorCommand::Pause { until_ms });
            }
            for w in &left_out {
                tracing::warn!("{w}");
            }
            Ok(left_out)
        }
        Err(why) => {
            set_trouble(app, Some(why.clone()));
            Err(why)
        }
    }
}

async fn start(app: &AppHandle) -> Result<(Running, Vec<String>), String> {
    let shared = app.shared();
    let paths = shared.paths().map_err(|e| e.message)?.clone();
    let config = config_file::load(&paths.config).map_err(|e| e.to_string())?;
    secrets::secret_vars_of_config(&config);
    let lang = language(&config);
    shared.set_lang(lang);
    let data = paths.data.clone();
    // The keyring and the database answer slowly at times: not on the app's main thread.
    let (key, store) = tokio::task::spawn_blocking(move || {
        let key = secrets::install_key(&data).map(|(k, _)| k);
        (key, Store::open(&data))
    })
    .await
    .map_err(|e| e.to_string())?;
    let key = key.map_err(|e| e.to_string())?;
    let store = store.map_err(|e| e.to_string())?;
    *shared.cards.lock().expect("not poisoned") = cards_for(&config, Some(&store));
    let mut left_out = Vec::new();
    if let Some(aside) = store.moved_aside() {
        left_out.push(format!(
            "the history database was damaged: it was moved aside to {} (kept) and a new \
             history started",
            aside.display()
        ));
    }
    drop(store);
    let mut alerts = app_alerts(&config);
    // A channel that cannot work now (its variable is not set where the app was started)
    // must not stop the monitoring: it goes on without that channel.
    let channels = match Channels::from_settings(&alerts) {
        Ok(c) => c,
        Err(e) => {
            left_out.push(format!("alerts go out without the webhook: {e}"));
            alerts.webhook_env = None;
            Channels::from_settings(&alerts)?
        }
    };
    let metrics_addr = config.monitor.metrics_addr();
    let progress = stage_events(app);
    let handle = app.clone();
    // A click on a notification opens the window at the history, where the incident is.
    let on_click = OnClick(std::sync::Arc::new(move |alert: &Alert| {
        handle.open_window(Some("history"));
        let _ = handle.emit(
            "open",
            serde_json::json!({"view": "history", "mailbox": alert.mailbox, "at_ms": now_ms()}),
        );
    }));
    let opts = MonitorOptions {
        check: CheckOptions {
            lang,
            timeout: Duration::from_secs(120),
            progress: Some(progress),
            ..Default::default()
        },
        schedule: SchedulePolicy::every(config.monitor.interval_ms()),
        health: health_policy(&config),
        concurrency: 4,
        hook: channels.hook,
        desktop: channels.desktop,
        on_click: Some(on_click),
        webhook: channels.webhook,
        metrics: metrics_addr.map(|_| Metrics::new()),
        runbook: config.runbook.clone(),
        retention_days: config.retention_days,
        probe_every_ms: config.monitor.attachments_every_ms(),
        references: config.network.references.clone(),
        watch: Some(Default::default()),
    };
    let metrics = match (metrics_addr, opts.metrics.clone()) {
        (Some(addr), Some(m)) => match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => Some(tokio::spawn(metrics::serve(listener, m))),
            Err(e) => {
                left_out.push(format!("no metrics: cannot listen at {addr}: {e}"));
                None
            }
        },
        _ => None,
    };
    let mailboxes: Vec<_> = config.mailboxes.values().cloned().collect();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (commands, heard) = tokio::sync::mpsc::unbounded_channel();
    *shared.commands.lock().expect("not poisoned") = Some(commands);
    let handle = app.clone();
    tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            on_event(&handle, ev);
        }
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // Cleared before the monitor runs, so that a failure of its own (another monitor holds
    // the data directory) is what stays shown.
    set_trouble(app, None);
    let handle = app.clone();
    let data = paths.data.clone();
    let done = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        let ran = monitor::run_controlled(mailboxes, key, &data, opts, tx, heard, shutdown);
        if let Err(e) = ran.await {
            set_trouble(&handle, Some(e.to_string()));
        }
    });
    Ok((
        Running {
            stop,
            done,
            metrics,
        },
        left_out,
    ))
}

fn on_event(app: &AppHandle, ev: MonitorEvent) {
    let shared = app.shared();
    match &ev {
        MonitorEvent::Paused(until) => {
            *shared.paused_until.lock().expect("not poisoned") = *until;
            let _ = app.emit("paused", *until);
        }
        MonitorEvent::Checked(r) => {
            let updated = shared
                .cards
                .lock()
                .expect("not poisoned")
                .get_mut(&r.mailbox)
                .and_then(|c| c.take(r).then(|| c.clone()));
            // The lock is released before the window is told.
            if let Some(card) = updated {
                let _ = app.emit("monitor", card);
            }
        }
        _ => {}
    }
    app.refresh_tray();
}
