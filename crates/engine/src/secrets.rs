//! Secrets: mailbox passwords and the per-install canary key.
//!
//! Passwords come from the OS keyring, a command the user names, or an environment variable
//! the user names; they are held in `SecretString` (redacted in `Debug`) and never written to
//! the config, the history, a log or an error. The canary key lives in the keyring, or in a
//! 0600 file in the data directory where no keyring is available.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use mailcanary_core::canary::CanaryKey;
use mailcanary_core::config::{MailboxConfig, MailboxName, SecretSource};
use secrecy::{ExposeSecret, SecretString};

/// The keyring service under which Mail Canary stores its entries.
pub const KEYRING_SERVICE: &str = "mailcanary";

/// The service actually used: `MAILCANARY_KEYRING_SERVICE` when set (a demo or a second
/// install keeps its passwords apart), else [`KEYRING_SERVICE`].
pub fn keyring_service() -> String {
    std::env::var("MAILCANARY_KEYRING_SERVICE")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| KEYRING_SERVICE.to_string())
}
const KEY_ENTRY: &str = "install-key";
const KEY_FILE: &str = "install.key";

/// Why a secret could not be read or stored. Messages never contain the secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// No usable OS keyring.
    #[error(
        "the OS keyring is not available ({0}); use --password-command or --password-env instead"
    )]
    NoKeyring(String),
    /// The keyring has no entry for this mailbox.
    #[error(
        "no password for mailbox \"{0}\" in the OS keyring; store it with `mailcanary mailbox add {0} ... --password-stdin`"
    )]
    NotFound(String),
    /// Another keyring failure.
    #[error("the OS keyring failed: {0}")]
    Keyring(String),
    /// The password command failed.
    #[error("password command for mailbox \"{mailbox}\" failed: {message}")]
    Command {
        /// Mailbox.
        mailbox: String,
        /// What went wrong (exit status and the first line of its error output).
        message: String,
    },
    /// The environment variable is not set.
    #[error("environment variable {var} (password of mailbox \"{mailbox}\") is not set or empty")]
    Env {
        /// Mailbox.
        mailbox: String,
        /// Variable.
        var: String,
    },
    /// The key file cannot be read or written.
    #[error("canary key file {path}: {message}")]
    KeyFile {
        /// File.
        path: String,
        /// What went wrong.
        message: String,
    },
}

fn keyring_error(e: keyring::Error) -> SecretError {
    match e {
        keyring::Error::NoStorageAccess(p) | keyring::Error::PlatformFailure(p) => {
            SecretError::NoKeyring(p.to_string())
        }
        keyring::Error::NoDefaultStore => SecretError::NoKeyring("no default store".into()),
        keyring::Error::BadEncoding(_) => SecretError::Keyring("stored value is not text".into()),
        keyring::Error::BadDataFormat(_, _) => {
            SecretError::Keyring("stored value has an unexpected format".into())
        }
        other => SecretError::Keyring(format!("{other}")),
    }
}

fn entry(user: &str) -> Result<keyring::Entry, SecretError> {
    keyring::Entry::new(&keyring_service(), user).map_err(keyring_error)
}

fn mailbox_entry_name(name: &str) -> String {
    format!("mailbox:{name}")
}

/// Reads a mailbox's password from its source, within `limit`: the keyring over D-Bus, the
/// user's command (killed if it overruns), or the environment.
pub async fn read_password(
    mb: &MailboxConfig,
    limit: std::time::Duration,
) -> Result<SecretString, SecretError> {
    let name = mb.name.to_string();
    if let SecretSource::Env(var) = &mb.secret {
        secret_var(var);
    }
    match &mb.secret {
        SecretSource::Keyring => read_entry(mailbox_entry_name(&name), name, limit).await,
        SecretSource::Env(var) => match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(SecretString::from(v)),
            _ => Err(SecretError::Env {
                mailbox: name,
                var: var.clone(),
            }),
        },
        SecretSource::Command(cmd) => {
            match tokio::time::timeout(limit, run_password_command(&name, cmd)).await {
                Ok(r) => r,
                Err(_) => Err(SecretError::Command {
                    mailbox: name,
                    message: format!("it did not finish within {limit:?} and was stopped"),
                }),
            }
        }
    }
}

/// Names of environment variables known to hold a secret (a mailbox's password, a webhook's
/// URL with its token).
static SECRET_VARS: std::sync::Mutex<std::collections::BTreeSet<String>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// Notes that environment variable `name` holds a secret: the programs Mail Canary starts
/// (alert hooks, password commands) do not inherit it.
pub fn secret_var(name: &str) {
    SECRET_VARS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(name.to_string());
}

/// Notes the variables holding the passwords of `mailboxes` (see [`secret_var`]).
pub fn secret_vars_of<'a>(mailboxes: impl IntoIterator<Item = &'a MailboxConfig>) {
    for mb in mailboxes {
        if let SecretSource::Env(var) = &mb.secret {
            secret_var(var);
        }
    }
}

/// The variables noted by [`secret_var`], for programs started otherwise than through tokio.
pub fn secret_var_names() -> Vec<String> {
    SECRET_VARS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .cloned()
        .collect()
}

/// Notes every variable of `config` that holds a secret: the mailboxes' passwords and the
/// webhook's URL. Called once the config is read, before any program is started.
pub fn secret_vars_of_config(config: &mailcanary_core::config::Config) {
    secret_vars_of(config.mailboxes.values());
    if let Some(var) = &config.alerts.webhook_env {
        secret_var(var);
    }
}

/// Takes the variables noted by [`secret_var`] out of `cmd`'s environment.
pub fn hide_secret_vars(cmd: &mut tokio::process::Command) {
    for var in SECRET_VARS.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        cmd.env_remove(var);
    }
}

async fn run_password_command(mailbox: &str, cmd: &str) -> Result<SecretString, SecretError> {
    let fail = |message: String| SecretError::Command {
        mailbox: mailbox.to_string(),
        message,
    };
    #[cfg(unix)]
    let mut command = {
        let mut c = tokio::process::Command::new("sh");
        c.arg("-c").arg(cmd);
        c
    };
    #[cfg(windows)]
    let mut command = {
        let mut c = tokio::process::Command::new("cmd");
        c.arg("/C").arg(cmd);
        c
    };
    // Another mailbox's password, or the webhook's token, is none of this command's business.
    hide_secret_vars(&mut command);
    let out = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| fail(format!("cannot run it: {e}")))?;
    if !out.status.success() {
        let first = String::from_utf8_lossy(&out.stderr)
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect::<String>();
        return Err(fail(format!("{}; {first}", out.status)));
    }
    let text = String::from_utf8(out.stdout).map_err(|_| fail("its output is not text".into()))?;
    // Like msmtp's passwordeval: the first line is the password.
    let pw = text.lines().next().unwrap_or("").to_string();
    if pw.is_empty() {
        return Err(fail("it printed nothing".into()));
    }
    Ok(SecretString::from(pw))
}

/// Stores a mailbox's password in the OS keyring.
pub fn store_password(name: &MailboxName, password: &SecretString) -> Result<(), SecretError> {
    entry(&mailbox_entry_name(name.as_str()))?
        .set_password(password.expose_secret())
        .map_err(keyring_error)
}

/// What an OAuth2 mailbox keeps in the OS keyring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthSecret {
    /// The refresh token of its sign-in.
    RefreshToken,
    /// The client secret of the registered app, for providers that want one from desktop
    /// apps too (Google).
    ClientSecret,
}

fn oauth_entry_name(name: &str, which: OAuthSecret) -> String {
    match which {
        OAuthSecret::RefreshToken => format!("oauth:{name}"),
        OAuthSecret::ClientSecret => format!("oauth-client:{name}"),
    }
}

/// Stores an OAuth2 secret of a mailbox in the OS keyring.
pub fn store_oauth(
    name: &MailboxName,
    which: OAuthSecret,
    secret: &SecretString,
) -> Result<(), SecretError> {
    entry(&oauth_entry_name(name.as_str(), which))?
        .set_password(secret.expose_secret())
        .map_err(keyring_error)
}

/// Reads an OAuth2 secret of a mailbox from the OS keyring, within `limit`.
pub async fn read_oauth(
    name: &MailboxName,
    which: OAuthSecret,
    limit: std::time::Duration,
) -> Result<SecretString, SecretError> {
    read_entry(
        oauth_entry_name(name.as_str(), which),
        name.to_string(),
        limit,
    )
    .await
}

/// Looks keyring entry `user` up off the async workers, within `limit`; a missing entry is
/// [`SecretError::NotFound`] for `mailbox`.
async fn read_entry(
    user: String,
    mailbox: String,
    limit: std::time::Duration,
) -> Result<SecretString, SecretError> {
    let lookup = tokio::task::spawn_blocking(move || match entry(&user)?.get_password() {
        Ok(p) => Ok(SecretString::from(p)),
        Err(keyring::Error::NoEntry) => Err(SecretError::NotFound(mailbox)),
        Err(e) => Err(keyring_error(e)),
    });
    match tokio::time::timeout(limit, lookup).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(SecretError::Keyring(format!("lookup failed: {e}"))),
        Err(_) => Err(SecretError::Keyring(format!(
            "the OS keyring did not answer within {limit:?}"
        ))),
    }
}

/// Removes an OAuth2 secret of a mailbox; `Ok(false)` if there was none.
pub fn delete_oauth(name: &MailboxName, which: OAuthSecret) -> Result<bool, SecretError> {
    match entry(&oauth_entry_name(name.as_str(), which))?.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring::Error::NoEntry) => Ok(false),
        Err(e) => Err(keyring_error(e)),
    }
}

/// Removes a mailbox's password from the keyring; `Ok(false)` if there was none.
pub fn delete_password(name: &MailboxName) -> Result<bool, SecretError> {
    match entry(&mailbox_entry_name(name.as_str()))?.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring::Error::NoEntry) => Ok(false),
        Err(e) => Err(keyring_error(e)),
    }
}

fn new_key() -> CanaryKey {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    CanaryKey::from_bytes(bytes)
}

/// Where the canary key was found or put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLocation {
    /// In the OS keyring.
    Keyring,
    /// In `install.key` in the data directory.
    File,
}

/// Loads the per-install canary key, creating it on first use: a key file already in the data
/// directory wins (so a key never changes under existing canaries); otherwise the keyring; a
/// new key goes to the keyring, or to a 0600 file if there is no keyring.
pub fn install_key(data_dir: &Path) -> Result<(CanaryKey, KeyLocation), SecretError> {
    let path = data_dir.join(KEY_FILE);
    let file_err = |message: String| SecretError::KeyFile {
        path: path.display().to_string(),
        message,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            return CanaryKey::decode(&text)
                .map(|k| (k, KeyLocation::File))
                .ok_or_else(|| file_err("not a valid key (expected base64 of 32 bytes)".into()));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(file_err(e.to_string())),
    }
    let keyring = entry(KEY_ENTRY).and_then(|e| match e.get_password() {
        Ok(text) => CanaryKey::decode(&text)
            .map(|k| (k, false))
            .ok_or_else(|| SecretError::Keyring("stored canary key is not valid".into())),
        Err(keyring::Error::NoEntry) => {
            let k = new_key();
            e.set_password(&k.encode()).map_err(keyring_error)?;
            Ok((k, true))
        }
        Err(err) => Err(keyring_error(err)),
    });
    match keyring {
        Ok((k, _)) => Ok((k, KeyLocation::Keyring)),
        Err(SecretError::NoKeyring(_)) => {
            let k = new_key();
            std::fs::create_dir_all(data_dir).map_err(|e| file_err(e.to_string()))?;
            write_private(&path, k.encode().as_bytes()).map_err(|e| file_err(e.to_string()))?;
            Ok((k, KeyLocation::File))
        }
        Err(e) => Err(e),
    }
}

/// Creates a file readable by its owner only (0600 on Unix) and writes `bytes` to it.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
