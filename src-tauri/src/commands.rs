//! The window's commands (see `ui/src/ipc.ts`): each checks its arguments, makes one call into
//! the engine, and answers `{kind, message[, field]}` on error.

use std::path::PathBuf;
use std::time::Duration;

use mailcanary_engine::alerts::Alert;
use mailcanary_engine::config_file::{self, Setting};
use mailcanary_engine::core::config::{ConfigError, MailboxName, RawMailbox, SecretSource};
use mailcanary_engine::core::report::StageRecord;
use mailcanary_engine::core::stats::{CheckPoint, DayStats, Drill, Incident};
use mailcanary_engine::monitor::MonitorCommand;
use mailcanary_engine::office::{self, Channels, PageSpan};
use mailcanary_engine::probe::{self, CheckOptions, History as ProbeHistory};
use mailcanary_engine::secrets::{self, OAuthSecret};
use mailcanary_engine::store::Store;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::handle::AppHandle;
use crate::host::{self, Card, IpcError, Shared, now_ms};

type Answer<T> = Result<T, IpcError>;

/// Restarts the monitor with what was just saved; says what could not be applied.
async fn apply(app: &AppHandle) -> Answer<()> {
    match host::restart(app).await {
        Ok(left_out) if left_out.is_empty() => Ok(()),
        Ok(left_out) => Err(IpcError::new(
            "partly",
            format!("saved; but {}", left_out.join("; ")),
        )),
        Err(why) => Err(IpcError::new(
            "monitor",
            format!("saved, but the monitoring cannot run: {why}"),
        )),
    }
}

fn store_err(e: impl std::fmt::Display) -> IpcError {
    IpcError::new("store", e.to_string())
}

/// Held while the config file is read, changed and replaced, so that two saves at once
/// (the runbook and the settings) do not undo each other.
static CONFIG_EDITS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn edit_lock() -> std::sync::MutexGuard<'static, ()> {
    CONFIG_EDITS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs blocking work (the keyring, the database) off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Answer<T> + Send + 'static) -> Answer<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| IpcError::new("io", e.to_string()))?
}

#[derive(Serialize)]
pub struct Overview {
    lang: &'static str,
    paused_until_ms: Option<u64>,
    trouble: Option<String>,
    cards: Vec<Card>,
}

/// Everything the window shows at first.
pub fn overview(shared: &Shared) -> Overview {
    let paused = *shared.paused_until.lock().expect("not poisoned");
    Overview {
        lang: shared.lang().as_str(),
        paused_until_ms: paused.filter(|&t| t > now_ms()),
        trouble: shared.trouble.lock().expect("not poisoned").clone(),
        cards: shared.card_list(),
    }
}

/// "Check now" for one mailbox (or all when `mailbox` is absent).
pub fn check_now(shared: &Shared, mailbox: Option<String>) -> Answer<()> {
    if let Some(name) = &mailbox
        && !shared
            .cards
            .lock()
            .expect("not poisoned")
            .contains_key(name)
    {
        return Err(IpcError::new(
            "not_found",
            format!("there is no mailbox named \"{name}\""),
        ));
    }
    shared.tell(MonitorCommand::CheckNow(mailbox))
}

/// Pauses scheduled checks for `minutes` (1 to 1440), or resumes them when 0.
pub fn pause(shared: &Shared, minutes: u32) -> Answer<()> {
    match minutes {
        0 => shared.tell(MonitorCommand::Resume),
        1..=1440 => shared.tell(MonitorCommand::Pause {
            until_ms: now_ms() + minutes as u64 * 60_000,
        }),
        _ => Err(IpcError::field(
            "minutes",
            "a pause lasts from 1 to 1440 minutes",
        )),
    }
}

#[derive(Serialize)]
pub struct PresetView {
    id: String,
    name: String,
    name_ja: String,
    imap_host: String,
    imap_port: u16,
    imap_security: &'static str,
    smtp_host: String,
    smtp_port: u16,
    smtp_security: &'static str,
    /// The POP3 server, when the provider offers POP3.
    pop3_host: Option<String>,
    pop3_port: Option<u16>,
    pop3_security: Option<&'static str>,
    app_password: bool,
    oauth_only: bool,
    /// The sign-in the provider offers instead of a password (`microsoft`, `google`).
    oauth: Option<&'static str>,
    note: String,
    note_ja: String,
    ca_file: Option<String>,
    address: Option<String>,
}

/// The local demo server, when `scripts/demo-app` describes it in `MAILCANARY_DEMO_SERVER`:
/// `IMAP_HOST:PORT SMTP_HOST:PORT CA_FILE ADDRESS [POP3S_HOST:PORT]`.
fn demo_preset() -> Option<PresetView> {
    let spec = std::env::var("MAILCANARY_DEMO_SERVER").ok()?;
    let f: Vec<&str> = spec.split_whitespace().collect();
    let (imap, smtp, ca, address, pop3) = match f.as_slice() {
        [imap, smtp, ca, address] => (imap, smtp, ca, address, None),
        [imap, smtp, ca, address, pop3] => (imap, smtp, ca, address, Some(pop3)),
        _ => {
            tracing::warn!("MAILCANARY_DEMO_SERVER: expected IMAP SMTP CA_FILE ADDRESS [POP3S]");
            return None;
        }
    };
    let split = |s: &str| -> Option<(String, u16)> {
        let (h, p) = s.rsplit_once(':')?;
        Some((h.to_string(), p.parse().ok()?))
    };
    let (imap_host, imap_port) = split(imap)?;
    let (smtp_host, smtp_port) = split(smtp)?;
    let pop3 = match pop3 {
        Some(s) => Some(split(s)?),
        None => None,
    };
    Some(PresetView {
        id: "demo".into(),
        name: "Local demo server (scripts/demo-app)".into(),
        name_ja: "ローカルのデモ用サーバー (scripts/demo-app)".into(),
        imap_host,
        imap_port,
        imap_security: "tls",
        smtp_host,
        smtp_port,
        smtp_security: "starttls",
        pop3_security: pop3.as_ref().map(|_| "tls"),
        pop3_port: pop3.as_ref().map(|(_, p)| *p),
        pop3_host: pop3.map(|(h, _)| h),
        app_password: false,
        oauth_only: false,
        oauth: None,
        note: "The throw-away mail server started by scripts/demo-app. Its password is printed \
               in that terminal."
            .into(),
        note_ja: "scripts/demo-app が起動した使い捨てのメールサーバーです。パスワードはその端末に\
                  表示されています。"
            .into(),
        ca_file: Some(ca.to_string()),
        address: Some(address.to_string()),
    })
}

/// The wizard's provider presets (the demo server first, when there is one).
pub fn presets() -> Vec<PresetView> {
    let security = |s| match s {
        mailcanary_engine::core::config::Security::Starttls => "starttls",
        _ => "tls",
    };
    demo_preset()
        .into_iter()
        .chain(
            mailcanary_engine::core::presets::all()
                .iter()
                .map(|p| PresetView {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    name_ja: p.name_ja.clone(),
                    imap_host: p.imap_host.clone(),
                    imap_port: p.imap_port,
                    imap_security: security(p.imap_security),
                    smtp_host: p.smtp_host.clone(),
                    smtp_port: p.smtp_port,
                    smtp_security: security(p.smtp_security),
                    pop3_host: p.pop3.as_ref().map(|s| s.host.clone()),
                    pop3_port: p.pop3.as_ref().map(|s| s.port),
                    pop3_security: p.pop3.as_ref().map(|s| security(s.security())),
                    app_password: p.app_password,
                    oauth_only: p.oauth_only,
                    oauth: p.oauth(),
                    note: p.note.clone(),
                    note_ja: p.note_ja.clone(),
                    ca_file: None,
                    address: None,
                }),
        )
        .collect()
}

/// The wizard's form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxForm {
    name: String,
    address: String,
    login: String,
    imap_host: String,
    imap_port: u32,
    imap_security: String,
    smtp_host: String,
    smtp_port: u32,
    smtp_security: String,
    ca_file: String,
    password: String,
    /// `password` (or empty), or the OAuth2 sign-in: `microsoft`, `google`, `custom`.
    #[serde(default)]
    auth: String,
    #[serde(default)]
    oauth_client_id: String,
    #[serde(default)]
    oauth_authorize_url: String,
    #[serde(default)]
    oauth_token_url: String,
    #[serde(default)]
    oauth_scope: String,
    /// The registered app's client secret, for providers that want one (Google); it goes to
    /// the keyring only.
    #[serde(default)]
    oauth_client_secret: String,
    /// How mail is received: `imap` (or empty), or `pop3` (the `imap_*` fields then name
    /// the POP3 server).
    #[serde(default)]
    receive: String,
}

fn host_field(field: &'static str, host: &str) -> Answer<String> {
    let h = host.trim();
    if h.is_empty() {
        return Err(IpcError::field(field, "type the server's name"));
    }
    if h.len() > 253 || h.contains("://") || h.contains(char::is_whitespace) || h.contains('/') {
        return Err(IpcError::field(
            field,
            "type only the server's name, such as imap.example.jp (no https://, no spaces)",
        ));
    }
    // An IPv6 address needs brackets before the port.
    Ok(if h.contains(':') && !h.starts_with('[') {
        format!("[{h}]")
    } else {
        h.to_string()
    })
}

fn port_field(field: &'static str, port: u32) -> Answer<u16> {
    u16::try_from(port)
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(|| IpcError::field(field, "a port is a number from 1 to 65535"))
}

fn security_field(field: &'static str, s: &str) -> Answer<String> {
    match s {
        "tls" | "starttls" => Ok(s.to_string()),
        _ => Err(IpcError::field(
            field,
            "choose TLS or STARTTLS (Mail Canary never sends a password unencrypted)",
        )),
    }
}

/// Checks the form and makes the mailbox's config from it (password from the keyring).
fn mailbox_from(form: &MailboxForm) -> Answer<mailcanary_engine::core::config::MailboxConfig> {
    let name = MailboxName::new(form.name.trim()).map_err(|m| IpcError::field("name", m))?;
    let imap = format!(
        "{}:{}",
        host_field("imap_host", &form.imap_host)?,
        port_field("imap_port", form.imap_port)?
    );
    let smtp = format!(
        "{}:{}",
        host_field("smtp_host", &form.smtp_host)?,
        port_field("smtp_port", form.smtp_port)?
    );
    let ca_file = match form.ca_file.trim() {
        "" => None,
        p => {
            let path = PathBuf::from(p);
            if !path.is_absolute() || !path.is_file() {
                return Err(IpcError::field(
                    "ca_file",
                    "give the full path of a certificate file (PEM) that exists",
                ));
            }
            Some(path)
        }
    };
    let incoming_security = Some(security_field("imap_security", &form.imap_security)?);
    let (imap, imap_security, pop3, pop3_security) = match form.receive.as_str() {
        "" | "imap" => (imap, incoming_security, None, None),
        "pop3" => (String::new(), None, Some(imap), incoming_security),
        _ => return Err(IpcError::field("receive", "imap or pop3")),
    };
    let raw = RawMailbox {
        address: form.address.trim().to_string(),
        login: Some(form.login.trim().to_string()).filter(|l| !l.is_empty()),
        imap,
        imap_security,
        pop3,
        pop3_security,
        smtp,
        smtp_security: Some(security_field("smtp_security", &form.smtp_security)?),
        ca_file,
        ..Default::default()
    };
    let given = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
    let raw = match form.auth.as_str() {
        "" | "password" => RawMailbox {
            password_keyring: true,
            ..raw
        },
        "microsoft" | "google" | "custom" => RawMailbox {
            oauth: Some(form.auth.clone()),
            oauth_client_id: given(&form.oauth_client_id),
            oauth_authorize_url: given(&form.oauth_authorize_url),
            oauth_token_url: given(&form.oauth_token_url),
            oauth_scope: given(&form.oauth_scope),
            ..raw
        },
        _ => {
            return Err(IpcError::field(
                "auth",
                "password, microsoft, google or custom",
            ));
        }
    };
    raw.resolve(name.as_str()).map_err(|e| match e {
        ConfigError::Field { field, message, .. } => {
            let f = match field.as_str() {
                "address" => "address",
                "login" => "login",
                "imap" | "pop3" => "imap_host",
                "pop3_security" => "imap_security",
                "smtp" => "smtp_host",
                "imap_security" => "imap_security",
                "smtp_security" => "smtp_security",
                "ca_file" => "ca_file",
                "oauth" => "auth",
                "oauth_client_id" => "oauth_client_id",
                "oauth_authorize_url" => "oauth_authorize_url",
                "oauth_token_url" => "oauth_token_url",
                "oauth_scope" => "oauth_scope",
                _ => "name",
            };
            IpcError::field(f, message)
        }
        other => IpcError::new("invalid", other.to_string()),
    })
}

fn password_field(p: &str) -> Answer<Option<SecretString>> {
    if p.is_empty() {
        return Ok(None);
    }
    if p.len() > 1024 || p.contains(['\0', '\n', '\r']) {
        return Err(IpcError::field(
            "password",
            "a password is one line of at most 1024 characters",
        ));
    }
    Ok(Some(SecretString::from(p.to_string())))
}

/// Puts the form's password in the keyring (off the async workers).
async fn keep_password(name: MailboxName, password: SecretString) -> Answer<()> {
    blocking(move || {
        secrets::store_password(&name, &password)
            .map_err(|e| IpcError::new("keyring", e.to_string()))
    })
    .await
}

/// Refuses a name already in use, in the window or in the config file (another program may
/// have added it): its password in the keyring must never be overwritten.
fn refuse_existing(shared: &Shared, name: &str) -> Answer<()> {
    let in_config = shared
        .load_config()?
        .mailboxes
        .keys()
        .any(|n| n.as_str() == name);
    if in_config
        || shared
            .cards
            .lock()
            .expect("not poisoned")
            .contains_key(name)
    {
        return Err(IpcError::field(
            "name",
            format!("there is already a mailbox named \"{name}\"; pick another name"),
        ));
    }
    Ok(())
}

/// The form's mailbox, checked, under a name not in use, with its password in the keyring
/// (the form's, or the one an earlier test of this name put there).
async fn new_mailbox(
    shared: &Shared,
    form: &MailboxForm,
) -> Answer<mailcanary_engine::core::config::MailboxConfig> {
    let mb = mailbox_from(form)?;
    refuse_existing(shared, mb.name.as_str())?;
    let tested = || {
        shared
            .tested
            .lock()
            .expect("not poisoned")
            .contains(mb.name.as_str())
    };
    if mb.oauth.is_some() {
        // The sign-in put the refresh token in the keyring under this name.
        if !tested() {
            return Err(IpcError::field(
                "auth",
                "sign in first (the \"Sign in\" button opens the browser)",
            ));
        }
        return Ok(mb);
    }
    match password_field(&form.password)? {
        Some(p) => keep_password(mb.name.clone(), p).await?,
        None if tested() => {}
        None => return Err(IpcError::field("password", "type the mailbox's password")),
    }
    Ok(mb)
}

/// Signs `mb` in with OAuth2 in the browser (see [`oauth::sign_in`]).
async fn browser_sign_in(
    mb: &mailcanary_engine::core::config::MailboxConfig,
    client_secret: Option<SecretString>,
) -> Answer<()> {
    use mailcanary_engine::oauth;
    oauth::sign_in(mb, client_secret, |url| {
        oauth::open_browser(url)
            .map_err(|e| oauth::OAuthError::Unreachable(format!("cannot open the browser: {e}")))
    })
    .await
    .map_err(|e| IpcError::new("sign_in", e.to_string()))
}

/// The wizard's "Sign in": the browser sign-in for the form's new mailbox, before it is
/// saved (Cancel forgets it).
pub async fn sign_in(app: &AppHandle, form: MailboxForm) -> Answer<()> {
    let shared = app.shared();
    let mb = mailbox_from(&form)?;
    if mb.oauth.is_none() {
        return Err(IpcError::field("auth", "choose a sign-in, not a password"));
    }
    refuse_existing(shared, mb.name.as_str())?;
    // Noted before the browser opens: a sign-in that completes after a Cancel is still
    // forgotten with the window.
    shared
        .tested
        .lock()
        .expect("not poisoned")
        .insert(mb.name.to_string());
    let secret = match form.oauth_client_secret.trim() {
        "" => None,
        s if s.len() > 1024 || s.contains(char::is_control) => {
            return Err(IpcError::field(
                "oauth_client_secret",
                "a client secret is one line of at most 1024 characters",
            ));
        }
        s => Some(SecretString::from(s.to_string())),
    };
    browser_sign_in(&mb, secret).await
}

/// "Sign in again" for a saved mailbox whose sign-in was revoked or expired; checks it at once.
pub async fn sign_in_again(app: &AppHandle, mailbox: String) -> Answer<()> {
    let shared = app.shared();
    let config = shared.load_config()?;
    let mb = config
        .mailboxes
        .values()
        .find(|m| m.name.as_str() == mailbox)
        .ok_or_else(|| {
            IpcError::new(
                "not_found",
                format!("there is no mailbox named \"{mailbox}\""),
            )
        })?;
    browser_sign_in(mb, None).await?;
    check_now(shared, Some(mailbox))
}

/// Removes what a mailbox keeps in the keyring: its password, or its sign-in.
fn forget_secret(name: &MailboxName) -> Result<bool, secrets::SecretError> {
    secrets::delete_oauth(name, OAuthSecret::ClientSecret)?;
    let sign_in = secrets::delete_oauth(name, OAuthSecret::RefreshToken)?;
    Ok(secrets::delete_password(name)? || sign_in)
}

#[derive(Serialize)]
pub struct TestResult {
    state: &'static str,
    category: String,
    summary: String,
    action: String,
    latency_ms: Option<u64>,
    folder: Option<String>,
    stages: Vec<StageRecord>,
}

/// The wizard's "test now": one complete round trip with the form's settings, its steps
/// pushed as `stage` events, before anything is saved. The password goes to the keyring
/// (under the new mailbox's name) and nowhere else.
pub async fn test_mailbox(app: &AppHandle, form: MailboxForm) -> Answer<TestResult> {
    let shared = app.shared();
    let mb = new_mailbox(shared, &form).await?;
    shared
        .tested
        .lock()
        .expect("not poisoned")
        .insert(mb.name.to_string());
    let data = shared.paths()?.data.clone();
    let key = blocking(move || {
        secrets::install_key(&data)
            .map(|(k, _)| k)
            .map_err(|e| IpcError::new("keyring", e.to_string()))
    })
    .await?;
    let opts = CheckOptions {
        lang: shared.lang(),
        timeout: Duration::from_secs(60),
        progress: Some(host::stage_events(app)),
        ..Default::default()
    };
    let r = probe::check(&mb, &key, &opts, &ProbeHistory::default()).await;
    Ok(TestResult {
        state: r.status.as_str(),
        category: r.category.as_str().to_string(),
        summary: r.summary,
        action: r.action,
        latency_ms: r.canary.latency_ms,
        folder: r.canary.folder,
        stages: r.stages,
    })
}

/// Saves the mailbox (password to the keyring, settings to the config file) and restarts
/// the monitor with it.
pub async fn add_mailbox(app: &AppHandle, form: MailboxForm) -> Answer<Vec<Card>> {
    let shared = app.shared();
    let mb = new_mailbox(shared, &form).await?;
    let name = mb.name.to_string();
    let path = shared.paths()?.config.clone();
    let handle = app.clone();
    blocking(move || {
        let _edit = edit_lock();
        config_file::add_mailbox(&path, &mb).map_err(|e| match e {
            config_file::ConfigFileError::Exists { .. } => IpcError::field(
                "name",
                format!("there is already a mailbox named \"{name}\"; pick another name"),
            ),
            other => IpcError::new("config", other.to_string()),
        })?;
        // Under the same lock as forget_tested: a window closing now keeps this password.
        handle
            .shared()
            .tested
            .lock()
            .expect("not poisoned")
            .remove(&name);
        Ok(())
    })
    .await?;
    // A monitor that cannot run is shown as such (the tray, the status screen).
    let _ = host::restart(app).await;
    Ok(shared.card_list())
}

/// Removes a mailbox from the config and its password from the keyring.
pub async fn remove_mailbox(app: &AppHandle, mailbox: String) -> Answer<Vec<Card>> {
    let shared = app.shared();
    let name = MailboxName::new(&mailbox).map_err(|m| IpcError::field("mailbox", m))?;
    let path = shared.paths()?.config.clone();
    blocking(move || {
        let _edit = edit_lock();
        let mb = config_file::remove_mailbox(&path, &name).map_err(|e| match e {
            config_file::ConfigFileError::NoSuchMailbox { .. } => {
                IpcError::new("not_found", format!("there is no mailbox named \"{name}\""))
            }
            other => IpcError::new("config", other.to_string()),
        })?;
        if mb.secret == SecretSource::Keyring {
            let _ = forget_secret(&mb.name);
        }
        Ok(())
    })
    .await?;
    // A monitor that cannot run is shown as such (the tray, the status screen).
    let _ = host::restart(app).await;
    Ok(shared.card_list())
}

/// Forgets the password a test stored for a mailbox that was then not saved.
pub async fn cancel_add(app: &AppHandle, name: String) -> Answer<()> {
    let shared = app.shared();
    let was_tested = shared
        .tested
        .lock()
        .expect("not poisoned")
        .remove(name.trim());
    let saved = shared
        .cards
        .lock()
        .expect("not poisoned")
        .contains_key(name.trim());
    if !was_tested || saved {
        return Ok(());
    }
    let name = MailboxName::new(name.trim()).map_err(|m| IpcError::field("name", m))?;
    blocking(move || {
        forget_secret(&name)
            .map(|_| ())
            .map_err(|e| IpcError::new("keyring", e.to_string()))
    })
    .await
}

/// Forgets the passwords that wizard tests stored for mailboxes that were never saved (the
/// window was closed, or the app quits, without Save or Cancel).
pub fn forget_tested(app: &AppHandle) {
    // A save in progress either has written the config and taken its name out of `tested`,
    // or has not started: never half-way.
    let _edit = edit_lock();
    let shared = app.shared();
    let names = std::mem::take(&mut *shared.tested.lock().expect("not poisoned"));
    let Ok(config) = shared.load_config() else {
        return;
    };
    for name in names {
        if config.mailboxes.keys().any(|n| n.as_str() == name) {
            continue;
        }
        if let Ok(n) = MailboxName::new(&name) {
            let _ = forget_secret(&n);
        }
    }
}

fn days_field(days: u32) -> Answer<u64> {
    if !(1..=400).contains(&days) {
        return Err(IpcError::field("days", "from 1 to 400 days"));
    }
    Ok(days as u64 * 86_400_000)
}

#[derive(Serialize)]
pub struct DrillView {
    id: i64,
    mailbox: String,
    started_at_ms: u64,
    acked_at_ms: Option<u64>,
    ended_at_ms: Option<u64>,
}

impl From<Drill> for DrillView {
    fn from(d: Drill) -> DrillView {
        DrillView {
            id: d.id,
            mailbox: d.mailbox,
            started_at_ms: d.started_at_ms,
            acked_at_ms: d.acknowledged_at_ms,
            ended_at_ms: d.ended_at_ms,
        }
    }
}

#[derive(Serialize)]
pub struct FailedCheck {
    at_ms: u64,
    state: &'static str,
    category: String,
    summary: String,
    action: String,
    stages: Vec<StageRecord>,
}

#[derive(Serialize)]
pub struct MailboxHistory {
    mailbox: String,
    address: String,
    checks: usize,
    uptime_pct: Option<f64>,
    p50_ms: Option<u64>,
    p95_ms: Option<u64>,
    points: Vec<CheckPoint>,
    days: Vec<DayStats>,
    incidents: Vec<Incident>,
    drills: Vec<DrillView>,
    failures: Vec<FailedCheck>,
}

#[derive(Serialize)]
pub struct HistoryView {
    from_ms: u64,
    to_ms: u64,
    mailboxes: Vec<MailboxHistory>,
}

fn selected(
    config: &mailcanary_engine::core::config::Config,
    mailbox: Option<&str>,
) -> Answer<Vec<mailcanary_engine::core::config::MailboxConfig>> {
    let all = config.mailboxes.values();
    let chosen: Vec<_> = all
        .filter(|m| mailbox.is_none_or(|n| m.name.as_str() == n))
        .cloned()
        .collect();
    if let Some(n) = mailbox
        && chosen.is_empty()
    {
        return Err(IpcError::new(
            "not_found",
            format!("there is no mailbox named \"{n}\""),
        ));
    }
    Ok(chosen)
}

/// The history of one mailbox or all: checks, days, incidents, drills, failed checks.
pub async fn history(app: &AppHandle, mailbox: Option<String>, days: u32) -> Answer<HistoryView> {
    let shared = app.shared();
    let span = days_field(days)?;
    let config = shared.load_config()?;
    let data = shared.paths()?.data.clone();
    blocking(move || {
        let chosen = selected(&config, mailbox.as_deref())?;
        let to = now_ms();
        let from = to.saturating_sub(span);
        let store = Store::open(&data).map_err(store_err)?;
        let policy = office::health_policy(&config);
        let offset = mailcanary_engine::local_utc_offset_secs();
        let figs = office::figures(&store, &chosen, &policy, from, offset).map_err(store_err)?;
        let mut mailboxes = Vec::new();
        for (f, points) in figs {
            let failures = store
                .failures(&f.name, from, office::FAILURES_SHOWN)
                .map_err(store_err)?
                .into_iter()
                .map(|r| FailedCheck {
                    at_ms: r.started_at_ms,
                    state: r.status.as_str(),
                    category: r.category.as_str().to_string(),
                    summary: r.summary,
                    action: r.action,
                    stages: r.stages,
                })
                .collect();
            mailboxes.push(MailboxHistory {
                mailbox: f.name,
                address: f.address,
                checks: f.checks,
                uptime_pct: f.uptime_pct,
                p50_ms: f.p50_ms,
                p95_ms: f.p95_ms,
                points,
                days: f.days,
                incidents: f.incidents,
                drills: f.drills.into_iter().map(DrillView::from).collect(),
                failures,
            });
        }
        Ok(HistoryView {
            from_ms: from,
            to_ms: to,
            mailboxes,
        })
    })
    .await
}

/// Where exports go: the user's Downloads folder, else the data directory's `reports`.
fn export_dir(data: &std::path::Path) -> PathBuf {
    directories::UserDirs::new()
        .and_then(|u| u.download_dir().map(|d| d.to_path_buf()))
        .filter(|d| d.is_dir())
        .unwrap_or_else(|| data.join("reports"))
}

/// Writes the CSV of checks or the HTML report; answers the path written.
pub async fn export_report(
    app: &AppHandle,
    format: String,
    mailbox: Option<String>,
    days: u32,
) -> Answer<String> {
    let shared = app.shared();
    let span = days_field(days)?;
    if format != "csv" && format != "html" {
        return Err(IpcError::field("format", "csv or html"));
    }
    let config = shared.load_config()?;
    let lang = shared.lang();
    let data = shared.paths()?.data.clone();
    blocking(move || {
        let chosen = selected(&config, mailbox.as_deref())?;
        let to = now_ms();
        let from = to.saturating_sub(span);
        let store = Store::open(&data).map_err(store_err)?;
        let text = if format == "csv" {
            let mut out = office::csv_header();
            for mb in &chosen {
                for r in store
                    .history(Some(mb.name.as_str()), from)
                    .map_err(store_err)?
                {
                    out.push_str(&office::csv_row(&r));
                }
            }
            out
        } else {
            let offset = mailcanary_engine::local_utc_offset_secs();
            let policy = office::health_policy(&config);
            let figs =
                office::figures(&store, &chosen, &policy, from, offset).map_err(store_err)?;
            let span = PageSpan {
                from_ms: from,
                to_ms: to,
                utc_offset_secs: offset,
            };
            office::html_page(&store, &config, figs, &span, lang).map_err(store_err)?
        };
        let dir = export_dir(&data);
        std::fs::create_dir_all(&dir).map_err(|e| IpcError::new("io", e.to_string()))?;
        let stamp = mailcanary_engine::core::report::iso8601_utc(to)
            .replace([':', '-'], "")
            .replace('T', "-")
            .trim_end_matches('Z')
            .to_string();
        let what = match mailbox.as_deref() {
            Some(n) => format!("-{n}"),
            None => String::new(),
        };
        let path = dir.join(format!("mailcanary{what}-{stamp}.{format}"));
        std::fs::write(&path, text)
            .map_err(|e| IpcError::new("io", format!("cannot write {}: {e}", path.display())))?;
        Ok(path.display().to_string())
    })
    .await
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunbookForm {
    contact: String,
    provider_support: String,
    webmail: String,
    backup_channel: String,
    notes: String,
}

/// The office's runbook.
pub fn runbook(shared: &Shared) -> Answer<RunbookForm> {
    let r = shared.load_config()?.runbook;
    let s = |v: Option<String>| v.unwrap_or_default();
    Ok(RunbookForm {
        contact: s(r.contact),
        provider_support: s(r.provider_support),
        webmail: s(r.webmail),
        backup_channel: s(r.backup_channel),
        notes: s(r.notes),
    })
}

/// Saves the runbook; the monitor shows it with the next critical alert.
pub async fn save_runbook(app: &AppHandle, runbook: RunbookForm) -> Answer<()> {
    let shared = app.shared();
    let fields = [
        ("contact", &runbook.contact),
        ("provider_support", &runbook.provider_support),
        ("webmail", &runbook.webmail),
        ("backup_channel", &runbook.backup_channel),
        ("notes", &runbook.notes),
    ];
    let mut edits = Vec::new();
    for (key, value) in fields {
        if value.chars().count() > 4000 || value.contains('\0') {
            return Err(IpcError::field(key, "at most 4000 characters"));
        }
        let v = value.trim();
        let setting = if v.is_empty() {
            Setting::Remove
        } else {
            Setting::Text(v.to_string())
        };
        edits.push((Some("runbook"), key, setting));
    }
    let path = shared.paths()?.config.clone();
    blocking(move || {
        let _edit = edit_lock();
        config_file::set(&path, &edits)
            .map(|_| ())
            .map_err(|e| IpcError::new("config", e.to_string()))
    })
    .await?;
    apply(app).await
}

/// The channels alerts go to, as the monitor has them.
fn channels(config: &mailcanary_engine::core::config::Config) -> Answer<Channels> {
    Channels::from_settings(&host::app_alerts(config)).map_err(|e| IpcError::new("config", e))
}

/// Sends a drill alert through the channels and records it.
pub async fn start_drill(app: &AppHandle, mailbox: String) -> Answer<DrillView> {
    let shared = app.shared();
    let config = shared.load_config()?;
    let mb = selected(&config, Some(&mailbox))?
        .pop()
        .expect("one mailbox");
    let lang = shared.lang();
    let sink = channels(&config)?.build(lang);
    let data = shared.paths()?.data.clone();
    let name = mb.name.to_string();
    let drill = blocking(move || {
        let store = Store::open(&data).map_err(store_err)?;
        store.start_drill(&name, now_ms()).map_err(store_err)
    })
    .await?;
    let alert = Alert::drill(mb.name.as_str(), lang).with_runbook(&config.runbook, lang);
    let failed = sink.deliver(&alert).await;
    let view = DrillView::from(drill);
    let _ = app.emit("drill", &view);
    if let Some(f) = failed.first() {
        return Err(IpcError::new(
            "alert",
            format!("the drill is recorded, but an alert channel failed: {f}"),
        ));
    }
    Ok(view)
}

/// Someone saw the drill: it is acknowledged and ended, and the channels are told.
pub async fn ack_drill(app: &AppHandle, id: i64) -> Answer<DrillView> {
    let shared = app.shared();
    let config = shared.load_config()?;
    let lang = shared.lang();
    let data = shared.paths()?.data.clone();
    let drill = blocking(move || {
        let store = Store::open(&data).map_err(store_err)?;
        let now = now_ms();
        let found = store
            .drills(None, 0)
            .map_err(store_err)?
            .into_iter()
            .find(|d| d.id == id)
            .ok_or_else(|| IpcError::new("not_found", format!("there is no drill {id}")))?;
        if found.ended_at_ms.is_some() {
            return Ok((found, false));
        }
        store.ack_drill(id, now).map_err(store_err)?;
        store.end_drill(id, now).map_err(store_err)?;
        let d = store
            .drills(Some(&found.mailbox), found.started_at_ms)
            .map_err(store_err)?
            .into_iter()
            .find(|d| d.id == id)
            .unwrap_or(found);
        Ok((d, true))
    })
    .await?;
    let (drill, ended_now) = drill;
    if ended_now && let Some(ms) = drill.time_to_ack_ms() {
        let over = Alert::drill_over(&drill.mailbox, lang, Duration::from_millis(ms));
        let _ = channels(&config)?.build(lang).deliver(&over).await;
    }
    let view = DrillView::from(drill);
    let _ = app.emit("drill", &view);
    Ok(view)
}

/// Past drills of every mailbox.
pub async fn drills(app: &AppHandle, days: u32) -> Answer<Vec<DrillView>> {
    let shared = app.shared();
    let span = days_field(days)?;
    let data = shared.paths()?.data.clone();
    blocking(move || {
        let store = Store::open(&data).map_err(store_err)?;
        let from = now_ms().saturating_sub(span);
        Ok(store
            .drills(None, from)
            .map_err(store_err)?
            .into_iter()
            .map(DrillView::from)
            .collect())
    })
    .await
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsForm {
    interval_minutes: u32,
    attachments_every_hours: u32,
    lang: String,
    notify: bool,
    webhook_env: String,
    webhook_format: String,
    renotify_hours: u32,
    metrics_addr: String,
    start_at_login: bool,
}

fn settings_of(app: &AppHandle) -> Answer<SettingsForm> {
    let config = app.shared().load_config()?;
    Ok(SettingsForm {
        interval_minutes: (config.monitor.interval_ms() / 60_000) as u32,
        attachments_every_hours: (config.monitor.attachments_every_ms() / 3_600_000) as u32,
        lang: config
            .lang
            .map(|l| l.as_str())
            .unwrap_or("auto")
            .to_string(),
        notify: host::app_alerts(&config).notify == Some(true),
        webhook_env: config.alerts.webhook_env.clone().unwrap_or_default(),
        webhook_format: config
            .alerts
            .webhook_format
            .clone()
            .unwrap_or_else(|| "json".into()),
        renotify_hours: (config.alerts.renotify_after_ms().unwrap_or(0) / 3_600_000) as u32,
        metrics_addr: config.monitor.metrics.clone().unwrap_or_default(),
        start_at_login: launcher()
            .and_then(|l| l.is_enabled().map_err(|e| e.to_string()))
            .unwrap_or(false),
    })
}

/// The settings as the config file has them.
pub fn settings(app: &AppHandle) -> Answer<SettingsForm> {
    settings_of(app)
}

/// Checks, saves and applies the settings (the monitor restarts with them).
pub async fn save_settings(app: &AppHandle, settings: SettingsForm) -> Answer<SettingsForm> {
    let s = settings;
    if !(1..=1440).contains(&s.interval_minutes) {
        return Err(IpcError::field(
            "interval_minutes",
            "from 1 to 1440 minutes",
        ));
    }
    if s.attachments_every_hours > 168 {
        return Err(IpcError::field(
            "attachments_every_hours",
            "from 0 (never) to 168 hours",
        ));
    }
    if s.renotify_hours > 720 {
        return Err(IpcError::field(
            "renotify_hours",
            "from 0 (never) to 720 hours",
        ));
    }
    let lang = match s.lang.as_str() {
        "auto" => Setting::Remove,
        "en" | "ja" => Setting::Text(s.lang.clone()),
        _ => return Err(IpcError::field("lang", "auto, en or ja")),
    };
    if !["json", "slack", "teams"].contains(&s.webhook_format.as_str()) {
        return Err(IpcError::field("webhook_format", "json, slack or teams"));
    }
    let var = s.webhook_env.trim();
    if !var.is_empty() {
        let name_ok = var
            .bytes()
            .enumerate()
            .all(|(i, b)| b == b'_' || b.is_ascii_uppercase() || (i > 0 && b.is_ascii_digit()));
        if !name_ok {
            return Err(IpcError::field(
                "webhook_env",
                "the NAME of an environment variable (capitals, digits, _) that holds the \
                 webhook's URL, not the URL itself",
            ));
        }
        let probe = mailcanary_engine::core::config::AlertSettings {
            webhook_env: Some(var.to_string()),
            webhook_format: Some(s.webhook_format.clone()),
            ..Default::default()
        };
        Channels::from_settings(&probe).map_err(|e| IpcError::field("webhook_env", e))?;
    }
    let metrics = s.metrics_addr.trim();
    if !metrics.is_empty() && metrics.parse::<std::net::SocketAddr>().is_err() {
        return Err(IpcError::field(
            "metrics_addr",
            "an address with a port, such as 127.0.0.1:9898",
        ));
    }
    let text_or_remove = |v: &str| {
        if v.is_empty() {
            Setting::Remove
        } else {
            Setting::Text(v.to_string())
        }
    };
    let edits = vec![
        (None, "lang", lang),
        (
            Some("monitor"),
            "interval",
            Setting::Text(format!("{}m", s.interval_minutes)),
        ),
        (
            Some("monitor"),
            "attachments_every",
            Setting::Text(match s.attachments_every_hours {
                0 => "off".to_string(),
                h => format!("{h}h"),
            }),
        ),
        (Some("monitor"), "metrics", text_or_remove(metrics)),
        (Some("alerts"), "notify", Setting::Bool(s.notify)),
        (Some("alerts"), "webhook_env", text_or_remove(var)),
        (
            Some("alerts"),
            "webhook_format",
            Setting::Text(s.webhook_format.clone()),
        ),
        (
            Some("alerts"),
            "renotify_after",
            match s.renotify_hours {
                0 => Setting::Remove,
                h => Setting::Text(format!("{h}h")),
            },
        ),
    ];
    // Only what was changed is written: the form shows spans in whole minutes and hours,
    // and writing back a value read rounded ("30m" shown as 0 h) would change it.
    let before = settings_of(app)?;
    let changed = [
        s.lang != before.lang,
        s.interval_minutes != before.interval_minutes,
        s.attachments_every_hours != before.attachments_every_hours,
        metrics != before.metrics_addr,
        s.notify != before.notify,
        var != before.webhook_env,
        s.webhook_format != before.webhook_format,
        s.renotify_hours != before.renotify_hours,
    ];
    let edits: Vec<_> = edits
        .into_iter()
        .zip(changed)
        .filter_map(|(e, c)| c.then_some(e))
        .collect();
    let path = app.shared().paths()?.config.clone();
    if !edits.is_empty() {
        blocking(move || {
            let _edit = edit_lock();
            config_file::set(&path, &edits)
                .map(|_| ())
                .map_err(|e| IpcError::new("config", e.to_string()))
        })
        .await?;
    }
    let switched = launcher().and_then(|l| {
        let done = if s.start_at_login {
            l.enable()
        } else {
            l.disable()
        };
        // Turning off what is already off is not an error.
        match done {
            Err(e) if l.is_enabled().unwrap_or(false) != s.start_at_login => Err(e.to_string()),
            _ => Ok(()),
        }
    });
    if let Err(e) = switched {
        return Err(IpcError::field(
            "start_at_login",
            format!("cannot change starting at login: {e}"),
        ));
    }
    apply(app).await?;
    settings_of(app)
}

/// Starting the app at login, the desktop's way (an XDG autostart entry on Linux).
fn launcher() -> Result<auto_launch::AutoLaunch, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // An AppImage is started through its file, not the mounted binary inside it.
    #[cfg(target_os = "linux")]
    let exe = std::env::var_os("APPIMAGE").map_or(exe, std::path::PathBuf::from);
    auto_launch::AutoLaunchBuilder::new()
        .set_app_name("Mail Canary")
        .set_app_path(&exe.to_string_lossy())
        .set_args(&[] as &[&str])
        .build()
        .map_err(|e| e.to_string())
}

/// The servers of `address`, as mail programs find them (presets, autoconfig, SRV and MX
/// records, the usual names); nothing logs in.
pub async fn discover(address: String) -> Answer<Vec<mailcanary_engine::discover::Found>> {
    let opts = mailcanary_engine::discover::DiscoverOptions::default();
    mailcanary_engine::discover::discover(&address, &opts)
        .await
        .map_err(|m| IpcError::field("address", m))
}

/// One argument of a call, by name; absent means `null` (an `Option` takes it as `None`).
fn arg<T: serde::de::DeserializeOwned>(args: &serde_json::Value, name: &'static str) -> Answer<T> {
    let v = args.get(name).cloned().unwrap_or(serde_json::Value::Null);
    // Only the argument's name is told, never its value: a form holds a password.
    serde_json::from_value(v).map_err(|e| {
        let what = if e.to_string().starts_with("missing field") {
            format!(
                "\"{name}\" lacks a field the command needs ({})",
                missing_field(&e)
            )
        } else {
            format!("\"{name}\" is missing or not what the command takes")
        };
        IpcError::field(name, what)
    })
}

/// The field serde says is missing (a name from our own types, never a value).
fn missing_field(e: &serde_json::Error) -> String {
    e.to_string().split('`').nth(1).unwrap_or("?").to_string()
}

fn json(v: impl Serialize) -> Answer<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| IpcError::new("io", e.to_string()))
}

/// Runs the window's command `cmd` (one of `ui/src/ipc.ts`'s `Commands`) with its arguments.
pub async fn call(
    app: &AppHandle,
    cmd: &str,
    args: serde_json::Value,
) -> Answer<serde_json::Value> {
    if !(args.is_object() || args.is_null()) {
        return Err(IpcError::new(
            "invalid",
            format!("the arguments of \"{cmd}\" are not an object"),
        ));
    }
    let a = &args;
    let shared = app.shared();
    match cmd {
        "overview" => json(overview(shared)),
        "check_now" => json(check_now(shared, arg(a, "mailbox")?)?),
        "pause" => json(pause(shared, arg(a, "minutes")?)?),
        "presets" => json(presets()),
        "discover" => json(discover(arg(a, "address")?).await?),
        "test_mailbox" => json(test_mailbox(app, arg(a, "form")?).await?),
        "add_mailbox" => json(add_mailbox(app, arg(a, "form")?).await?),
        "sign_in" => json(sign_in(app, arg(a, "form")?).await?),
        "sign_in_again" => json(sign_in_again(app, arg(a, "mailbox")?).await?),
        "remove_mailbox" => json(remove_mailbox(app, arg(a, "mailbox")?).await?),
        "cancel_add" => json(cancel_add(app, arg(a, "name")?).await?),
        "history" => json(history(app, arg(a, "mailbox")?, arg(a, "days")?).await?),
        "export_report" => {
            json(export_report(app, arg(a, "format")?, arg(a, "mailbox")?, arg(a, "days")?).await?)
        }
        "runbook" => json(runbook(shared)?),
        "save_runbook" => json(save_runbook(app, arg(a, "runbook")?).await?),
        "start_drill" => json(start_drill(app, arg(a, "mailbox")?).await?),
        "ack_drill" => json(ack_drill(app, arg(a, "id")?).await?),
        "drills" => json(drills(app, arg(a, "days")?).await?),
        "settings" => json(settings(app)?),
        "save_settings" => json(save_settings(app, arg(a, "settings")?).await?),
        _ => Err(IpcError::new(
            "invalid",
            format!("there is no command \"{cmd}\""),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailcanary_engine::core::config::{Protocol, Security};

    fn form(over: impl FnOnce(&mut MailboxForm)) -> MailboxForm {
        let mut f = MailboxForm {
            name: "office".into(),
            address: "info@example.co.jp".into(),
            login: String::new(),
            imap_host: "mail.example.co.jp".into(),
            imap_port: 993,
            imap_security: "tls".into(),
            smtp_host: "mail.example.co.jp".into(),
            smtp_port: 587,
            smtp_security: "starttls".into(),
            ca_file: String::new(),
            password: String::new(),
            auth: String::new(),
            oauth_client_id: String::new(),
            oauth_authorize_url: String::new(),
            oauth_token_url: String::new(),
            oauth_scope: String::new(),
            oauth_client_secret: String::new(),
            receive: String::new(),
        };
        over(&mut f);
        f
    }

    #[test]
    fn the_wizard_form_makes_imap_pop3_and_oauth_mailboxes() {
        let mb = mailbox_from(&form(|_| {})).unwrap();
        assert_eq!(mb.incoming_protocol, Protocol::Imap);
        assert_eq!(mb.secret, SecretSource::Keyring);
        assert!(mb.oauth.is_none());

        let mb = mailbox_from(&form(|f| {
            f.receive = "pop3".into();
            f.imap_port = 110;
            f.imap_security = "starttls".into();
        }))
        .unwrap();
        assert_eq!(mb.incoming_protocol, Protocol::Pop3);
        assert_eq!(
            (mb.incoming.port, mb.incoming.security),
            (110, Security::Starttls)
        );

        let mb = mailbox_from(&form(|f| {
            f.auth = "microsoft".into();
            f.oauth_client_id = "0f1e-aaaa".into();
        }))
        .unwrap();
        let o = mb.oauth.unwrap();
        assert_eq!(o.client_id, "0f1e-aaaa");
        assert!(o.scope.contains("IMAP.AccessAsUser.All"));

        // Errors name the form's fields.
        let err = |f: MailboxForm| mailbox_from(&f).unwrap_err();
        assert_eq!(
            err(form(|f| f.auth = "microsoft".into())).field,
            Some("oauth_client_id")
        );
        assert_eq!(
            err(form(|f| f.receive = "smtp".into())).field,
            Some("receive")
        );
        assert_eq!(
            err(form(|f| {
                f.receive = "pop3".into();
                f.imap_host = "pop .example".into();
            }))
            .field,
            Some("imap_host")
        );
    }
}
