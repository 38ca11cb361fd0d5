//! OAuth2 sign-in for mailboxes whose provider no longer takes passwords (Microsoft 365,
//! Gmail): the authorization code flow with PKCE and a loopback redirect (RFC 8252, RFC 7636)
//! in the system browser; the refresh token kept in the OS keyring; access tokens refreshed
//! before they expire and presented to IMAP, POP3 and SMTP with SASL OAUTHBEARER where the
//! server offers it, else XOAUTH2.
//!
//! No token is ever logged, written to a file, put in an error or passed as an argument.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use mailcanary_core::Category;
use mailcanary_core::config::{MailboxConfig, MailboxName, OAuthSettings};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::http::{self, HttpUrl};
use crate::probe::Failure;
use crate::secrets::{self, OAuthSecret, SecretError};

/// An access token is refreshed when it has less than this left.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// Answers larger than this from a token endpoint are refused.
const MAX_TOKEN_ANSWER: usize = 64 << 10;

/// What an authorization server gave.
pub struct Tokens {
    /// The access token, shown to the mail servers.
    pub access: SecretString,
    /// A new refresh token, when the server sent one (at sign-in, or when it rotates them).
    pub refresh: Option<SecretString>,
    /// When the access token stops working.
    pub expires_at: Instant,
}

/// Why a sign-in or a refresh did not give a token.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OAuthError {
    /// The sign-in was revoked or has expired (`invalid_grant`): only signing in again helps.
    #[error("the sign-in was revoked or has expired ({0}); sign in again")]
    SignInAgain(String),
    /// The user or the server said no at sign-in (`access_denied` …).
    #[error("the sign-in was refused: {0}")]
    Refused(String),
    /// The provider does not accept the app's registration (`invalid_client`,
    /// `unauthorized_client`): the client id or secret in the settings is wrong.
    #[error("the provider refused the app's registration (check the client id and secret): {0}")]
    App(String),
    /// The authorization server could not be reached, or answered nonsense.
    #[error("the sign-in server could not be used: {0}")]
    Unreachable(String),
    /// Nothing came back in time.
    #[error("{0}")]
    Timeout(String),
    /// The keyring failed, or holds no sign-in for this mailbox.
    #[error("{0}")]
    Keyring(String),
}

impl OAuthError {
    /// As a check failure.
    pub fn failure(&self) -> Failure {
        let category = match self {
            OAuthError::SignInAgain(_) | OAuthError::Refused(_) => Category::AuthFailed,
            OAuthError::Unreachable(_) => Category::ConnectFailed,
            OAuthError::Timeout(_) => Category::Timeout,
            OAuthError::Keyring(_) | OAuthError::App(_) => Category::ConfigError,
        };
        Failure::new(category, self.to_string())
    }
}

/// `application/x-www-form-urlencoded`, and query strings.
fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", http::percent_encode(k), http::percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Decodes a query string (`+` is a space).
fn parse_query(q: &str) -> HashMap<String, String> {
    fn dec(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz");
                    match u8::from_str_radix(hex, 16) {
                        Ok(v) => {
                            out.push(v);
                            i += 2;
                        }
                        Err(_) => out.push(b'%'),
                    }
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (dec(k), dec(v)),
            None => (dec(p), String::new()),
        })
        .collect()
}

fn random_token(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).expect("the OS random source works");
    URL_SAFE_NO_PAD.encode(b)
}

/// The SASL XOAUTH2 initial response (before base64).
pub fn xoauth2(user: &str, token: &SecretString) -> SecretString {
    SecretString::from(format!(
        "user={user}\x01auth=Bearer {}\x01\x01",
        token.expose_secret()
    ))
}

/// The SASL XOAUTH2 initial response, base64-encoded (for POP3's `AUTH XOAUTH2 …`).
pub fn xoauth2_base64(user: &str, token: &SecretString) -> SecretString {
    SecretString::from(STANDARD.encode(xoauth2(user, token).expose_secret()))
}

/// How an access token is shown to a mail server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sasl {
    /// Google's and Microsoft's XOAUTH2, which every provider with OAuth2 takes.
    Xoauth2,
    /// The standard OAUTHBEARER (RFC 7628), used where the server offers it.
    Oauthbearer,
}

impl Sasl {
    /// OAUTHBEARER where `offered` (the server's SASL mechanisms) has it, else XOAUTH2.
    pub fn choose<S: AsRef<str>>(offered: &[S]) -> Sasl {
        if offered
            .iter()
            .any(|m| m.as_ref().eq_ignore_ascii_case("OAUTHBEARER"))
        {
            Sasl::Oauthbearer
        } else {
            Sasl::Xoauth2
        }
    }

    /// The mechanism's name.
    pub fn name(self) -> &'static str {
        match self {
            Sasl::Xoauth2 => "XOAUTH2",
            Sasl::Oauthbearer => "OAUTHBEARER",
        }
    }

    /// The initial client response (before base64) for `user` at `host:port`.
    pub fn initial(self, user: &str, host: &str, port: u16, token: &SecretString) -> SecretString {
        match self {
            Sasl::Xoauth2 => xoauth2(user, token),
            Sasl::Oauthbearer => {
                // RFC 5801 GS2 header: `,` and `=` in the authorization identity are escaped.
                let authzid = user.replace('=', "=3D").replace(',', "=2C");
                SecretString::from(format!(
                    "n,a={authzid},\x01host={host}\x01port={port}\x01auth=Bearer {}\x01\x01",
                    token.expose_secret()
                ))
            }
        }
    }

    /// What answers the server's error challenge (before base64), after which it refuses.
    pub fn error_answer(self) -> &'static [u8] {
        match self {
            Sasl::Xoauth2 => b"",
            // RFC 7628 3.2.3: a dummy response of one %x01.
            Sasl::Oauthbearer => b"\x01",
        }
    }
}

/// Posts `pairs` to the token endpoint and reads the tokens from its answer.
async fn token_request(
    settings: &OAuthSettings,
    pairs: &[(&str, &str)],
    limit: Duration,
) -> Result<Tokens, OAuthError> {
    let url = HttpUrl::parse(&settings.token_url).map_err(OAuthError::Unreachable)?;
    let asked = Instant::now();
    let (status, body) = http::post_form(&url, form(pairs).as_bytes(), limit, MAX_TOKEN_ANSWER)
        .await
        .map_err(|e| match e {
            http::HttpError::Timeout(_) => {
                OAuthError::Timeout(format!("the token endpoint gave {e}"))
            }
            e => OAuthError::Unreachable(format!("{}: {e}", url.host)),
        })?;
    let json: serde_json::Value = serde_json::from_slice(&body).map_err(|_| {
        OAuthError::Unreachable(format!("{}: HTTP {status} without a JSON answer", url.host))
    })?;
    let text = |k: &str| json.get(k).and_then(|v| v.as_str()).map(str::to_string);
    if let Some(access) = text("access_token").filter(|_| status == 200) {
        let secs = json
            .get("expires_in")
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
            .unwrap_or(3600);
        return Ok(Tokens {
            access: SecretString::from(access),
            refresh: text("refresh_token").map(SecretString::from),
            expires_at: asked + Duration::from_secs(secs),
        });
    }
    // RFC 6749 5.2: error codes and descriptions are for people and carry no token.
    let error = text("error").unwrap_or_else(|| format!("HTTP {status}"));
    let said = match text("error_description") {
        Some(d) => format!("{error}: {}", d.chars().take(300).collect::<String>()),
        None => error.clone(),
    };
    Err(match error.as_str() {
        "invalid_grant" => OAuthError::SignInAgain(said),
        "invalid_client" | "unauthorized_client" => OAuthError::App(said),
        // Busy or broken for now: nothing about this sign-in.
        _ if status == 429 || status >= 500 => OAuthError::Unreachable(said),
        _ => OAuthError::Refused(said),
    })
}

/// A token request's fields, with the app's client secret when there is one.
fn with_secret<'a>(
    mut pairs: Vec<(&'a str, &'a str)>,
    secret: Option<&'a SecretString>,
) -> Vec<(&'a str, &'a str)> {
    if let Some(s) = secret {
        pairs.push(("client_secret", s.expose_secret()));
    }
    pairs
}

/// A sign-in under way: the browser is to open `url`; the answer comes to a loopback port.
pub struct SignIn {
    /// Where the browser goes.
    pub url: String,
    listener: TcpListener,
    redirect_uri: String,
    verifier: SecretString,
    state: String,
    settings: OAuthSettings,
    client_secret: Option<SecretString>,
}

/// Begins a sign-in for `login_hint` (the mailbox's address): listens on a loopback port
/// for the browser's redirect, and makes the authorization URL with a fresh PKCE challenge.
/// `client_secret` is the registered app's, for providers that want one (Google).
pub async fn begin(
    settings: &OAuthSettings,
    login_hint: &str,
    client_secret: Option<SecretString>,
) -> Result<SignIn, OAuthError> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| OAuthError::Unreachable(format!("cannot listen on 127.0.0.1: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| OAuthError::Unreachable(e.to_string()))?
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}/");
    let verifier = SecretString::from(random_token(48));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.expose_secret().as_bytes()));
    let state = random_token(16);
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", settings.client_id.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("scope", settings.scope.as_str()),
        ("state", state.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("login_hint", login_hint),
    ];
    if settings.provider == mailcanary_core::config::OAuthProvider::Google {
        // Without these Google gives no refresh token.
        pairs.extend([("access_type", "offline"), ("prompt", "consent")]);
    }
    let sep = if settings.authorize_url.contains('?') {
        '&'
    } else {
        '?'
    };
    let url = format!("{}{sep}{}", settings.authorize_url, form(&pairs));
    Ok(SignIn {
        url,
        listener,
        redirect_uri,
        verifier,
        state,
        settings: settings.clone(),
        client_secret,
    })
}

/// Reads the request line of one connection to the loopback port (within 10 s) and hands
/// its target on.
async fn read_request_line(
    mut sock: tokio::net::TcpStream,
    to: tokio::sync::mpsc::Sender<(tokio::net::TcpStream, String)>,
) {
    let mut buf = vec![0u8; 8192];
    let mut got = 0;
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        while got < buf.len() && !buf[..got].windows(2).any(|w| w == b"\r\n") {
            match sock.read(&mut buf[got..]).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => got += n,
            }
        }
        true
    })
    .await;
    if read != Ok(true) {
        return;
    }
    let line = String::from_utf8_lossy(&buf[..got]);
    let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let _ = to.send((sock, target)).await;
}

/// The page the browser shows once the redirect came.
fn page(ok: bool, text: &str) -> Vec<u8> {
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>Mail Canary</title>\
         <p style=\"font:16px sans-serif\">{}</p>",
        text.replace('&', "&amp;").replace('<', "&lt;")
    );
    let status = if ok { "200 OK" } else { "400 Bad Request" };
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

impl SignIn {
    /// Waits (at most `limit`) for the browser to come back, then exchanges the code. Each
    /// connection is read on its own (a browser's idle pre-connection holds nothing up).
    pub async fn finish(self, limit: Duration) -> Result<Tokens, OAuthError> {
        let until = Instant::now() + limit;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(tokio::net::TcpStream, String)>(8);
        loop {
            let (mut sock, target) = tokio::select! {
                accepted = self.listener.accept() => {
                    if let Ok((sock, _)) = accepted {
                        tokio::spawn(read_request_line(sock, tx.clone()));
                    }
                    continue;
                }
                Some(request) = rx.recv() => request,
                _ = tokio::time::sleep_until(until.into()) => {
                    return Err(OAuthError::Timeout(format!(
                        "the browser did not come back within {} s",
                        limit.as_secs()
                    )));
                }
            };
            // Browsers also ask for /favicon.ico and the like: only the redirect counts.
            let Some(query) = target.strip_prefix("/?") else {
                let _ = sock
                    .write_all(&page(false, "Not the sign-in answer."))
                    .await;
                continue;
            };
            let q = parse_query(query);
            if q.get("state") != Some(&self.state) {
                let _ = sock
                    .write_all(&page(false, "This answer is not for this sign-in."))
                    .await;
                continue;
            }
            if let Some(e) = q.get("error") {
                let said = match q.get("error_description") {
                    Some(d) => format!("{e}: {d}"),
                    None => e.clone(),
                };
                let _ = sock
                    .write_all(&page(false, "Sign-in refused. You can close this tab."))
                    .await;
                return Err(OAuthError::Refused(said));
            }
            let Some(code) = q.get("code") else {
                let _ = sock.write_all(&page(false, "No code in the answer.")).await;
                continue;
            };
            let code = SecretString::from(code.clone());
            let tokens = token_request(
                &self.settings,
                &with_secret(
                    vec![
                        ("grant_type", "authorization_code"),
                        ("code", code.expose_secret()),
                        ("redirect_uri", self.redirect_uri.as_str()),
                        ("client_id", self.settings.client_id.as_str()),
                        ("code_verifier", self.verifier.expose_secret()),
                    ],
                    self.client_secret.as_ref(),
                ),
                until
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_secs(5)),
            )
            .await;
            let text = match &tokens {
                Ok(t) if t.refresh.is_some() => {
                    "Signed in. Mail Canary can now check this mailbox; you can close this tab."
                }
                Ok(_) => "Signed in, but the server gave no refresh token; see Mail Canary.",
                Err(_) => "The sign-in did not complete; see Mail Canary.",
            };
            let _ = sock.write_all(&page(tokens.is_ok(), text)).await;
            let _ = sock.shutdown().await;
            let tokens = tokens?;
            if tokens.refresh.is_none() {
                return Err(OAuthError::Refused(
                    "the server gave no refresh token (was offline_access asked for?)".into(),
                ));
            }
            return Ok(tokens);
        }
    }
}

/// Opens `url` in the user's browser: the program in `$BROWSER` when set (the usual
/// convention), else the system's opener. The address carries no secret (the PKCE verifier
/// stays in this process), so it may be a program argument.
pub fn open_browser(url: &str) -> std::io::Result<()> {
    use std::process::{Command, Stdio};
    // `$BROWSER` is a `:`-separated list of commands, each maybe with `%s` for the address.
    let configured = std::env::var("BROWSER").ok().and_then(|list| {
        let first = list.split(':').find(|c| !c.trim().is_empty())?.to_string();
        let mut words: Vec<String> = first.split_whitespace().map(str::to_string).collect();
        if words.iter().any(|w| w.contains("%s")) {
            for w in &mut words {
                *w = w.replace("%s", url);
            }
        } else {
            words.push(url.to_string());
        }
        Some(words)
    });
    let system = |opener: &[&str]| -> Vec<String> {
        opener
            .iter()
            .map(|w| w.to_string())
            .chain([url.to_string()])
            .collect()
    };
    let words = configured.unwrap_or_else(|| {
        if cfg!(target_os = "macos") {
            system(&["open"])
        } else if cfg!(windows) {
            system(&["rundll32", "url.dll,FileProtocolHandler"])
        } else {
            system(&["xdg-open"])
        }
    });
    let mut cmd = Command::new(&words[0]);
    cmd.args(&words[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // The browser does not inherit the variables that hold passwords or the webhook's URL.
    for var in secrets::secret_var_names() {
        cmd.env_remove(var);
    }
    let mut child = cmd.spawn()?;
    // Reaped in the background: the opener may outlive the sign-in.
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// How long the browser has to come back from the provider's sign-in page.
pub const SIGN_IN_LIMIT: Duration = Duration::from_secs(300);

/// Signs `mb` in with OAuth2: `show` is given the sign-in address (to open in the browser, or
/// to print); once the browser came back, the refresh token (and `client_secret`, when given;
/// else the one kept from before is used) goes to the keyring, and an access token of an
/// earlier sign-in is forgotten.
pub async fn sign_in(
    mb: &MailboxConfig,
    client_secret: Option<SecretString>,
    show: impl FnOnce(&str) -> Result<(), OAuthError>,
) -> Result<(), OAuthError> {
    let Some(settings) = &mb.oauth else {
        return Err(OAuthError::Keyring(format!(
            "mailbox \"{}\" logs in with a password, not OAuth2",
            mb.name
        )));
    };
    let keyring = Duration::from_secs(10);
    let secret = match &client_secret {
        Some(s) => Some(s.clone()),
        None => self::client_secret(&mb.name, keyring).await?,
    };
    let signin = begin(settings, mb.address.as_str(), secret).await?;
    show(&signin.url)?;
    let tokens = signin.finish(SIGN_IN_LIMIT).await?;
    // `finish` gives no tokens without a refresh token.
    let refresh = tokens.refresh.expect("a sign-in's refresh token");
    let name = mb.name.clone();
    tokio::task::spawn_blocking(move || {
        secrets::store_oauth(&name, OAuthSecret::RefreshToken, &refresh)?;
        match &client_secret {
            Some(s) => secrets::store_oauth(&name, OAuthSecret::ClientSecret, s),
            None => Ok(()),
        }
    })
    .await
    .map_err(|e| OAuthError::Keyring(e.to_string()))?
    .map_err(|e| OAuthError::Keyring(e.to_string()))?;
    forget(&mb.name);
    Ok(())
}

/// What this process holds for a mailbox's sign-in.
struct Held {
    name: String,
    access: SecretString,
    expires_at: Instant,
    /// A rotated refresh token the keyring would not take: used instead of the stored one.
    refresh: Option<SecretString>,
}

/// Access tokens in this process, by mailbox name, with their expiry.
static CACHE: Mutex<Vec<Held>> = Mutex::new(Vec::new());

/// One refresh at a time per mailbox (the monitor's check, its watch and a retry may ask
/// together; with rotating refresh tokens a second refresh with the old token would fail).
/// Where the processes sharing a data directory take turns at refreshing (see
/// [`share_refreshes_in`]); none until it is called.
static TURNS_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Makes refreshes of one mailbox's sign-in take turns across every process that uses
/// `data_dir` (the app beside a `mailcanary check` run by cron or Nagios), through a lock file
/// per mailbox there. A provider that rotates refresh tokens kills the old one at each
/// refresh: two refreshes at once would leave one process with a dead token, and a finding
/// that says to sign in again.
pub fn share_refreshes_in(data_dir: &Path) {
    *TURNS_DIR.lock().unwrap_or_else(|e| e.into_inner()) = Some(data_dir.to_path_buf());
}

/// This process's turn at refreshing `name`'s sign-in, held until the file is dropped; waits
/// at most `limit` for another process's turn to end. `None` when no directory is shared, or
/// the lock file cannot be used (then only this process's own refreshes take turns).
async fn refresh_turn(name: &str, limit: Duration) -> Result<Option<std::fs::File>, OAuthError> {
    let Some(dir) = TURNS_DIR.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
        return Ok(None);
    };
    let path = dir.join(format!("oauth-{name}.lock"));
    let opened = std::fs::create_dir_all(&dir).and_then(|()| {
        std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
    });
    let file = match opened {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!("{name}: refreshes cannot take turns with other processes: {e}");
            return Ok(None);
        }
    };
    let deadline = Instant::now() + limit;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(OAuthError::Timeout(
                    "another program's refresh of this sign-in did not end".into(),
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                tracing::warn!("{name}: refreshes cannot take turns with other processes: {e}");
                return Ok(None);
            }
        }
    }
}

static REFRESHING: Mutex<Vec<(String, std::sync::Arc<tokio::sync::Mutex<()>>)>> =
    Mutex::new(Vec::new());

fn cache() -> std::sync::MutexGuard<'static, Vec<Held>> {
    CACHE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether an access token for mailbox `name` is kept from earlier.
pub fn has_cached(name: &MailboxName) -> bool {
    cache().iter().any(|h| h.name == name.as_str())
}

/// Forgets the cached access token of mailbox `name` (after a new sign-in, or when a server
/// refused it). A rotated refresh token the keyring would not take is kept.
pub fn forget(name: &MailboxName) {
    let mut c = cache();
    c.retain(|h| h.name != name.as_str() || h.refresh.is_some());
    for h in c.iter_mut().filter(|h| h.name == name.as_str()) {
        h.expires_at = Instant::now();
    }
}

/// The client secret kept for mailbox `name`, if there is one.
pub async fn client_secret(
    name: &MailboxName,
    limit: Duration,
) -> Result<Option<SecretString>, OAuthError> {
    match secrets::read_oauth(name, OAuthSecret::ClientSecret, limit).await {
        Ok(s) => Ok(Some(s)),
        Err(SecretError::NotFound(_)) => Ok(None),
        Err(e) => Err(OAuthError::Keyring(e.to_string())),
    }
}

fn fresh(name: &str) -> Option<SecretString> {
    let now = Instant::now();
    cache()
        .iter()
        .find(|h| h.name == name && h.expires_at > now + REFRESH_MARGIN)
        .map(|h| h.access.clone())
}

/// An access token for `mb` with at least [`REFRESH_MARGIN`] left: the one in hand, else a
/// new one from the refresh token in the keyring (a rotated refresh token is stored back).
pub async fn access_token(mb: &MailboxConfig, limit: Duration) -> Result<SecretString, OAuthError> {
    let Some(settings) = &mb.oauth else {
        return Err(OAuthError::Keyring("not an OAuth2 mailbox".into()));
    };
    let name = mb.name.as_str();
    if let Some(t) = fresh(name) {
        return Ok(t);
    }
    let gate = {
        let mut locks = REFRESHING.lock().unwrap_or_else(|e| e.into_inner());
        match locks.iter().find(|(n, _)| n == name) {
            Some((_, l)) => l.clone(),
            None => {
                let l = std::sync::Arc::new(tokio::sync::Mutex::new(()));
                locks.push((name.to_string(), l.clone()));
                l
            }
        }
    };
    let _one = tokio::time::timeout(limit, gate.lock())
        .await
        .map_err(|_| OAuthError::Timeout("another refresh of this sign-in did not end".into()))?;
    // Another caller may have refreshed while this one waited.
    if let Some(t) = fresh(name) {
        return Ok(t);
    }
    // Other processes too: the refresh token is read from the keyring once this one's turn
    // has come, so a token another process rotated meanwhile is the one used.
    let _turn = refresh_turn(name, limit).await?;
    let held = cache()
        .iter()
        .find(|h| h.name == name)
        .and_then(|h| h.refresh.clone());
    let refresh = match held {
        Some(r) => r,
        None => secrets::read_oauth(&mb.name, OAuthSecret::RefreshToken, limit)
            .await
            .map_err(|e| match e {
                SecretError::NotFound(_) => OAuthError::SignInAgain(format!(
                    "no sign-in stored for mailbox \"{name}\" (run `mailcanary mailbox signin {name}`)"
                )),
                other => OAuthError::Keyring(other.to_string()),
            })?,
    };
    let client_secret = client_secret(&mb.name, limit).await?;
    let tokens = token_request(
        settings,
        &with_secret(
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.expose_secret()),
                ("client_id", settings.client_id.as_str()),
                ("scope", settings.scope.as_str()),
            ],
            client_secret.as_ref(),
        ),
        limit,
    )
    .await?;
    // A rotated refresh token replaces the old one, which may no longer work.
    let mut unstored = None;
    if let Some(r) = &tokens.refresh
        && r.expose_secret() != refresh.expose_secret()
        && let Err(e) = secrets::store_oauth(&mb.name, OAuthSecret::RefreshToken, r)
    {
        tracing::warn!("{name}: the new refresh token could not be stored (kept in memory): {e}");
        unstored = Some(r.clone());
    }
    let mut c = cache();
    c.retain(|h| h.name != name);
    c.push(Held {
        name: name.to_string(),
        access: tokens.access.clone(),
        expires_at: tokens.expires_at,
        refresh: unstored,
    });
    Ok(tokens.access)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_queries_round_trip() {
        let f = form(&[("a b", "x/y+z&=é"), ("k", "")]);
        assert_eq!(f, "a%20b=x%2Fy%2Bz%26%3D%C3%A9&k=");
        let q = parse_query(&f);
        assert_eq!(q["a b"], "x/y+z&=é");
        assert_eq!(q["k"], "");
        assert_eq!(parse_query("code=a+b%2")["code"], "a b%2");
    }

    #[test]
    fn oauthbearer_is_chosen_where_offered_and_escapes_the_user() {
        assert_eq!(Sasl::choose(&["PLAIN", "XOAUTH2"]), Sasl::Xoauth2);
        assert_eq!(Sasl::choose(&["xoauth2", "oauthbearer"]), Sasl::Oauthbearer);
        let t = SecretString::from("tok".to_string());
        assert_eq!(
            Sasl::Oauthbearer
                .initial("a,b=c@example.test", "imap.example.test", 993, &t)
                .expose_secret(),
            "n,a=a=2Cb=3Dc@example.test,\x01host=imap.example.test\x01port=993\x01auth=Bearer tok\x01\x01"
        );
        assert_eq!(Sasl::Oauthbearer.error_answer(), b"\x01");
    }

    #[test]
    fn xoauth2_is_the_documented_string() {
        let t = SecretString::from("tok".to_string());
        assert_eq!(
            xoauth2("u@example.test", &t).expose_secret(),
            "user=u@example.test\x01auth=Bearer tok\x01\x01"
        );
        assert_eq!(
            xoauth2_base64("u", &t).expose_secret(),
            STANDARD.encode("user=u\x01auth=Bearer tok\x01\x01")
        );
    }
}
