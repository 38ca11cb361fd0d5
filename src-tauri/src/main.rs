//! Mail Canary's tray app: the engine's monitor (the same as `mailcanary run`) with a tray icon
//! that shows the overall state, desktop notifications from the engine, and a window that is
//! created only when asked for and destroyed when closed, so an idle app holds no web view.
//!
//! The window's commands are one-line calls into the engine; they answer `{kind, message}` on
//! error. What the monitor does is pushed to the window as `monitor` events; the window never
//! reads the database.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use mailcanary_engine::core::Lang;
use mailcanary_engine::core::config::Config;
use mailcanary_engine::core::health::HealthPolicy;
use mailcanary_engine::core::schedule::SchedulePolicy;
use mailcanary_engine::monitor::{self, MonitorCommand, MonitorEvent, MonitorOptions};
use mailcanary_engine::probe::CheckOptions;
use mailcanary_engine::{config_file, secrets};
use serde::Serialize;
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Emitter, Manager, RunEvent, WebviewUrl, WebviewWindowBuilder};

const TRAY_ID: &str = "main";
const WINDOW: &str = "main";

/// An error as the window sees it.
#[derive(Debug, Serialize)]
struct IpcError {
    /// `config`, `not_found`, `busy`...
    kind: &'static str,
    /// In plain words.
    message: String,
}

/// One mailbox as the window and the tray show it.
#[derive(Debug, Clone, Serialize)]
struct Card {
    mailbox: String,
    address: String,
    /// `ok`, `warning`, `critical`, `unknown`, or `waiting` before the first check.
    state: &'static str,
    category: String,
    summary: String,
    action: String,
    latency_ms: Option<u64>,
    folder: Option<String>,
    checked_at_ms: Option<u64>,
}

/// What the app knows, shared by the monitor's events and the window's commands.
struct Shared {
    lang: Lang,
    cards: Mutex<BTreeMap<String, Card>>,
    /// Why the monitor is not running, if it is not.
    trouble: Mutex<Option<String>>,
    /// The running monitor's ear.
    commands: Mutex<Option<tokio::sync::mpsc::UnboundedSender<MonitorCommand>>>,
    /// Scheduled checks are paused until then (Unix ms).
    paused_until: Mutex<Option<u64>>,
    /// What the tray shows now, to leave it alone when nothing changed.
    tray_shown: Mutex<String>,
}

impl Shared {
    fn tell(&self, c: MonitorCommand) -> Result<(), IpcError> {
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
        Err(IpcError {
            kind: "monitor",
            message: why.unwrap_or_else(|| "the monitor is not running".into()),
        })
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// Where the config and the history are: as for the `mailcanary` command.
fn paths() -> Result<(PathBuf, PathBuf), String> {
    let dirs = directories::ProjectDirs::from("", "", "mailcanary");
    let var = |k| std::env::var_os(k).map(PathBuf::from);
    let config = var("MAILCANARY_CONFIG")
        .or_else(|| dirs.as_ref().map(|d| d.config_dir().join("config.toml")))
        .ok_or("cannot find a config directory; set MAILCANARY_CONFIG")?;
    let data = var("MAILCANARY_DATA_DIR")
        .or_else(|| dirs.as_ref().map(|d| d.data_dir().to_path_buf()))
        .ok_or("cannot find a data directory; set MAILCANARY_DATA_DIR")?;
    Ok((config, data))
}

fn language(config: &Config) -> Lang {
    let var = |k| std::env::var(k).ok();
    var("MAILCANARY_LANG")
        .and_then(|l| Lang::parse(&l))
        .or(config.lang)
        .unwrap_or_else(|| {
            let (a, b, c) = (var("LC_ALL"), var("LC_MESSAGES"), var("LANG"));
            Lang::from_locale([a.as_deref(), b.as_deref(), c.as_deref()])
        })
}

/// The window's first look: every mailbox's latest state.
#[tauri::command]
fn status(shared: tauri::State<'_, Shared>) -> Result<Vec<Card>, IpcError> {
    if let Some(t) = shared.trouble.lock().expect("not poisoned").clone() {
        return Err(IpcError {
            kind: "monitor",
            message: t,
        });
    }
    Ok(shared
        .cards
        .lock()
        .expect("not poisoned")
        .values()
        .cloned()
        .collect())
}

/// "Check now" for one mailbox (or all when `mailbox` is absent).
#[tauri::command]
fn check_now(shared: tauri::State<'_, Shared>, mailbox: Option<String>) -> Result<(), IpcError> {
    if let Some(name) = &mailbox
        && !shared
            .cards
            .lock()
            .expect("not poisoned")
            .contains_key(name)
    {
        return Err(IpcError {
            kind: "not_found",
            message: format!("there is no mailbox named \"{name}\""),
        });
    }
    shared.tell(MonitorCommand::CheckNow(mailbox))
}

/// Pauses scheduled checks for `minutes` (1 to 1440), or resumes them when 0.
#[tauri::command]
fn pause(shared: tauri::State<'_, Shared>, minutes: u32) -> Result<(), IpcError> {
    match minutes {
        0 => shared.tell(MonitorCommand::Resume),
        1..=1440 => shared.tell(MonitorCommand::Pause {
            until_ms: now_ms() + minutes as u64 * 60_000,
        }),
        _ => Err(IpcError {
            kind: "invalid",
            message: "a pause lasts from 1 to 1440 minutes".into(),
        }),
    }
}

fn open_window(app: &AppHandle) {
    if let Some(w) = app.get_webview_window(WINDOW) {
        let _ = w.set_focus();
        return;
    }
    let built = WebviewWindowBuilder::new(app, WINDOW, WebviewUrl::App("index.html".into()))
        .title("Mail Canary")
        .inner_size(880.0, 640.0)
        .build();
    if let Err(e) = built {
        tracing::warn!("cannot open the window: {e}");
    }
}

/// The overall state: the worst of the mailboxes'.
fn overall(cards: &BTreeMap<String, Card>) -> &'static str {
    let rank = |s: &str| match s {
        "critical" => 4,
        "unknown" => 3,
        "warning" => 2,
        "waiting" => 1,
        _ => 0,
    };
    cards
        .values()
        .map(|c| c.state)
        .max_by_key(|s| rank(s))
        .unwrap_or("waiting")
}

fn tray_icon(state: &str) -> Image<'static> {
    let bytes: &'static [u8] = match state {
        "ok" => include_bytes!("../../icons/tray-ok.png"),
        "warning" => include_bytes!("../../icons/tray-warning.png"),
        "critical" => include_bytes!("../../icons/tray-critical.png"),
        "paused" => include_bytes!("../../icons/tray-paused.png"),
        _ => include_bytes!("../../icons/tray-unknown.png"),
    };
    Image::from_bytes(bytes).expect("the tray icons are PNG files")
}

/// The tray's menu: one status line per mailbox, then the actions.
fn tray_menu(
    app: &AppHandle,
    cards: &BTreeMap<String, Card>,
    lang: Lang,
    paused: bool,
    trouble: Option<&str>,
) -> tauri::Result<Menu<tauri::Wry>> {
    let menu = Menu::new(app)?;
    let add = |id: String, text: String, enabled: bool| -> tauri::Result<()> {
        // `&` would mark a keyboard accelerator in some trays.
        let text = text.replace('&', "&&");
        menu.append(&MenuItem::with_id(app, id, text, enabled, None::<&str>)?)
    };
    match trouble {
        Some(t) => add("summary".into(), t.to_string(), false)?,
        None => add("summary".into(), summary_line(cards, lang), false)?,
    }
    for c in cards.values() {
        let line = format!("{}: {}", c.mailbox, state_word(c.state, lang));
        add(format!("mb:{}", c.mailbox), line, false)?;
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    let ja = lang == Lang::Ja;
    let pick = |en: &str, jp: &str| if ja { jp.to_string() } else { en.to_string() };
    add("check".into(), pick("Check now", "今すぐ確認"), true)?;
    if paused {
        add("resume".into(), pick("Resume checks", "確認を再開"), true)?;
    } else {
        add(
            "pause".into(),
            pick("Pause for 1 hour", "1 時間一時停止"),
            true,
        )?;
    }
    add(
        "open".into(),
        pick("Open Mail Canary", "Mail Canary を開く"),
        true,
    )?;
    add("quit".into(), pick("Quit", "終了"), true)?;
    Ok(menu)
}

fn state_word(state: &str, lang: Lang) -> &'static str {
    match (state, lang) {
        ("ok", Lang::En) => "healthy",
        ("ok", Lang::Ja) => "正常",
        ("warning", Lang::En) => "needs attention",
        ("warning", Lang::Ja) => "要注意",
        ("critical", Lang::En) => "mail is not flowing",
        ("critical", Lang::Ja) => "メールが届いていません",
        ("waiting", Lang::En) => "first check running",
        ("waiting", Lang::Ja) => "最初の確認中",
        (_, Lang::En) => "cannot tell",
        (_, Lang::Ja) => "判定できません",
    }
}

/// "All 2 mailboxes healthy" and the like: the tooltip's words (Linux trays show no tooltip,
/// so it is also the menu's first line).
fn summary_line(cards: &BTreeMap<String, Card>, lang: Lang) -> String {
    let n = cards.len();
    // A mailbox still waiting for its first check needs no attention yet.
    let bad = cards
        .values()
        .filter(|c| c.state != "ok" && c.state != "waiting")
        .count();
    match (lang, n, bad) {
        (Lang::En, 0, _) => "No mailboxes yet".to_string(),
        (Lang::Ja, 0, _) => "メールボックスがまだありません".to_string(),
        (Lang::En, 1, 0) => "The mailbox is healthy".to_string(),
        (Lang::Ja, 1, 0) => "メールボックスは正常です".to_string(),
        (Lang::En, _, 0) => format!("All {n} mailboxes healthy"),
        (Lang::Ja, _, 0) => format!("{n} 件のメールボックスはすべて正常です"),
        (Lang::En, _, _) => format!("{bad} of {n} mailboxes need attention"),
        (Lang::Ja, _, _) => format!("{n} 件中 {bad} 件のメールボックスが要注意です"),
    }
}

/// Brings the tray up to date: only when what it shows changed, so an open menu is not
/// rebuilt under the user's pointer for nothing.
fn refresh_tray(app: &AppHandle) {
    let shared = app.state::<Shared>();
    let cards = shared.cards.lock().expect("not poisoned").clone();
    let paused = shared
        .paused_until
        .lock()
        .expect("not poisoned")
        .is_some_and(|t| t > now_ms());
    let trouble = shared.trouble.lock().expect("not poisoned").clone();
    let Some(tray): Option<TrayIcon> = app.tray_by_id(TRAY_ID) else {
        return;
    };
    // A monitor that is not running must never look healthy.
    let state = match (&trouble, paused) {
        (Some(_), _) => "unknown",
        (None, true) => "paused",
        (None, false) => overall(&cards),
    };
    let lines: Vec<String> = cards
        .values()
        .map(|c| format!("{}:{}", c.mailbox, c.state))
        .collect();
    let shown = format!("{state}|{paused}|{trouble:?}|{}", lines.join(","));
    {
        let mut last = shared.tray_shown.lock().expect("not poisoned");
        if *last == shown {
            return;
        }
        *last = shown;
    }
    let _ = tray.set_icon(Some(tray_icon(state)));
    let summary = match &trouble {
        Some(t) => t.clone(),
        None => summary_line(&cards, shared.lang),
    };
    let _ = tray.set_tooltip(Some(summary));
    if let Ok(menu) = tray_menu(app, &cards, shared.lang, paused, trouble.as_deref()) {
        let _ = tray.set_menu(Some(menu));
    }
}

/// Notes why the monitor is not running, and shows it.
fn set_trouble(app: &AppHandle, why: String) {
    tracing::warn!("the monitor is not running: {why}");
    *app.state::<Shared>().trouble.lock().expect("not poisoned") = Some(why.clone());
    let _ = app.emit("trouble", why);
    refresh_tray(app);
}

/// Starts the engine's monitor for every configured mailbox; its events update the cards,
/// the tray and the window.
fn start_monitor(app: &AppHandle, config: Config, data_dir: PathBuf) {
    let lang = app.state::<Shared>().lang;
    let mailboxes: Vec<_> = config.mailboxes.values().cloned().collect();
    let key = match secrets::install_key(&data_dir) {
        Ok((k, _)) => k,
        Err(e) => {
            set_trouble(app, e.to_string());
            return;
        }
    };
    let opts = MonitorOptions {
        check: CheckOptions {
            lang,
            timeout: Duration::from_secs(120),
            ..Default::default()
        },
        schedule: SchedulePolicy::every(300_000),
        health: HealthPolicy::default(),
        concurrency: 4,
        desktop: true,
        runbook: config.runbook.clone(),
        retention_days: config.retention_days,
        probe_every_ms: 6 * 3_600_000,
        references: config.network.references.clone(),
        watch: Some(Default::default()),
        ..Default::default()
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (commands, heard) = tokio::sync::mpsc::unbounded_channel();
    *app.state::<Shared>().commands.lock().expect("not poisoned") = Some(commands);
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        while let Some(ev) = rx.recv().await {
            if let MonitorEvent::Paused(until) = &ev {
                *handle
                    .state::<Shared>()
                    .paused_until
                    .lock()
                    .expect("not poisoned") = *until;
                let _ = handle.emit("paused", *until);
            }
            if let MonitorEvent::Checked(r) = &ev {
                let shared = handle.state::<Shared>();
                let updated = shared
                    .cards
                    .lock()
                    .expect("not poisoned")
                    .get_mut(&r.mailbox)
                    .map(|c| {
                        c.state = r.status.as_str();
                        c.category = r.category.as_str().to_string();
                        c.summary = r.summary.clone();
                        c.action = r.action.clone();
                        c.latency_ms = r.canary.latency_ms;
                        c.folder = r.canary.folder.clone();
                        c.checked_at_ms = Some(r.started_at_ms);
                        c.clone()
                    });
                // The lock is released before the window is told.
                if let Some(card) = updated {
                    let _ = handle.emit("monitor", card);
                }
            }
            refresh_tray(&handle);
        }
    });
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        let never = std::future::pending::<()>();
        let ran = monitor::run_controlled(mailboxes, key, &data_dir, opts, tx, heard, never);
        if let Err(e) = ran.await {
            set_trouble(&handle, e.to_string());
        }
    });
}

fn main() {
    let filter = format!(
        "{},async_imap=off,imap_proto=off,lettre=off,rustls=off,tokio_rustls=off,zbus=off,keyring=off",
        std::env::var("MAILCANARY_LOG").unwrap_or_else(|_| "warn".into())
    );
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
    let open_at_start = std::env::args().any(|a| a == "--open-window");
    let loaded = paths().and_then(|(config_path, data_dir)| {
        config_file::load(&config_path)
            .map(|c| (c, data_dir))
            .map_err(|e| e.to_string())
    });
    let (config, data_dir, trouble) = match loaded {
        Ok((c, d)) => (c, Some(d), None),
        Err(e) => (Config::default(), None, Some(e)),
    };
    let lang = language(&config);
    let cards: BTreeMap<String, Card> = config
        .mailboxes
        .values()
        .map(|mb| {
            let card = Card {
                mailbox: mb.name.to_string(),
                address: mb.address.to_string(),
                state: "waiting",
                category: String::new(),
                summary: String::new(),
                action: String::new(),
                latency_ms: None,
                folder: None,
                checked_at_ms: None,
            };
            (card.mailbox.clone(), card)
        })
        .collect();
    let app = tauri::Builder::default()
        // First of all plugins: a second start (from the menu, at login) only opens the first
        // one's window, so there is never a second monitor.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            open_window(app)
        }))
        .manage(Shared {
            lang,
            cards: Mutex::new(cards),
            trouble: Mutex::new(trouble),
            commands: Mutex::new(None),
            paused_until: Mutex::new(None),
            tray_shown: Mutex::new(String::new()),
        })
        .invoke_handler(tauri::generate_handler![status, check_now, pause])
        .setup(move |app| {
            let handle = app.handle().clone();
            let cards = app
                .state::<Shared>()
                .cards
                .lock()
                .expect("not poisoned")
                .clone();
            TrayIconBuilder::with_id(TRAY_ID)
                .icon(tray_icon(overall(&cards)))
                .tooltip(summary_line(&cards, lang))
                .menu(&tray_menu(&handle, &cards, lang, false, None)?)
                .on_menu_event(|app, event| match event.id.as_ref() {
                    "open" => open_window(app),
                    "check" => {
                        let _ = app.state::<Shared>().tell(MonitorCommand::CheckNow(None));
                    }
                    "pause" => {
                        let until_ms = now_ms() + 3_600_000;
                        let _ = app
                            .state::<Shared>()
                            .tell(MonitorCommand::Pause { until_ms });
                    }
                    "resume" => {
                        let _ = app.state::<Shared>().tell(MonitorCommand::Resume);
                    }
                    "quit" => app.exit(0),
                    _ => {}
                })
                .build(app)?;
            match data_dir.clone() {
                Some(dir) => start_monitor(&handle, config.clone(), dir),
                None => refresh_tray(&handle),
            }
            if open_at_start {
                open_window(&handle);
            }
            Ok(())
        })
        .build(tauri::generate_context!("../tauri.conf.json"))
        .expect("the Tauri application could not be built");
    app.run(|_, event| {
        // Closing the last window leaves the app in the tray; only Quit ends it.
        if let RunEvent::ExitRequested {
            api, code: None, ..
        } = event
        {
            api.prevent_exit();
        }
    });
}
