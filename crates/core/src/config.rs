//! The configuration: parsed from TOML (raw), then validated and resolved into types that cannot
//! hold invalid values. Errors name the mailbox and the field. No I/O: the caller reads the file.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Lang;

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The TOML itself does not parse.
    #[error("{0}")]
    Syntax(String),
    /// A field of a mailbox is wrong.
    #[error("mailbox \"{mailbox}\": field `{field}`: {message}")]
    Field {
        /// The mailbox's name as written.
        mailbox: String,
        /// The field's name.
        field: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A top-level field is wrong.
    #[error("field `{field}`: {message}")]
    Global {
        /// The field's name.
        field: String,
        /// What is wrong.
        message: String,
    },
}

fn field_err(mailbox: &str, field: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Field {
        mailbox: mailbox.to_string(),
        field: field.to_string(),
        message: message.into(),
    }
}

/// Describes a TOML syntax error by line and column only: the offending line itself may hold
/// a password that was written there by mistake.
fn syntax_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim();
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
            format!("TOML syntax error at line {line}, column {col}: {message}")
        }
        None => format!("TOML syntax error: {message}"),
    }
}

/// Replaces quoted values in a deserializer message (`invalid type: string "…"`): the value
/// may be a password written into the wrong field.
fn redact_quoted(message: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        // The quoted value is written escaped (`"ab\"cd"`): an escaped quote does not end it.
        if inside && c == '\\' {
            chars.next();
            continue;
        }
        if c == '"' {
            out.push_str(if inside { "\"" } else { "\"…" });
            inside = !inside;
        } else if !inside {
            out.push(c);
        }
    }
    out
}

/// A mailbox's name as the user chose it: letters, digits, `-`, `_`, `.`; 1–64 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct MailboxName(String);

impl MailboxName {
    /// Validates a name.
    pub fn new(s: &str) -> Result<MailboxName, String> {
        if s.is_empty() || s.len() > 64 {
            return Err(format!(
                "mailbox name \"{s}\" must be 1 to 64 characters long"
            ));
        }
        if s.starts_with('-') || s.starts_with('.') {
            return Err(format!(
                "mailbox name \"{s}\" must start with a letter, a digit or `_`"
            ));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(format!(
                "mailbox name \"{s}\" contains {c:?}; use letters, digits, `-`, `_` or `.`"
            ));
        }
        Ok(MailboxName(s.to_string()))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MailboxName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An e-mail address in the plain `local@domain` form (no display name, no angle brackets).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Address(String);

impl Address {
    /// Validates an address.
    pub fn new(s: &str) -> Result<Address, String> {
        let bad = || "not an e-mail address like info@example.jp".to_string();
        let (local, domain) = s.rsplit_once('@').ok_or_else(bad)?;
        if local.is_empty()
            || domain.is_empty()
            || s.len() > 254
            || s.chars().any(|c| c.is_whitespace() || c.is_control())
            || s.contains(['<', '>', ',', ';', '"', '(', ')', '[', ']', '\\'])
            || !domain.contains('.') && domain != "localhost"
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
        {
            return Err(bad());
        }
        Ok(Address(s.to_string()))
    }

    /// The address as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// TLS from the first byte (IMAPS 993, SMTPS 465).
    Tls,
    /// Plain connection upgraded with STARTTLS, which must be offered.
    Starttls,
    /// No encryption at all.
    Plain,
}

impl Security {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Security::Tls => "tls",
            Security::Starttls => "starttls",
            Security::Plain => "plain",
        }
    }
}

impl FromStr for Security {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "tls" | "ssl" | "implicit" => Ok(Security::Tls),
            "starttls" => Ok(Security::Starttls),
            "plain" | "none" => Ok(Security::Plain),
            _ => Err("not a security mode; use tls, starttls or plain".to_string()),
        }
    }
}

/// Which protocol an endpoint speaks; decides default ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// IMAP4rev1.
    Imap,
    /// SMTP submission.
    Smtp,
    /// POP3 (RFC 1939), as a receiving side instead of IMAP.
    Pop3,
    /// The OAuth2 token endpoint (HTTPS), for mailboxes that sign in with OAuth2.
    Oauth,
}

impl Protocol {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Imap => "imap",
            Protocol::Smtp => "smtp",
            Protocol::Pop3 => "pop3",
            Protocol::Oauth => "oauth",
        }
    }
}

/// A server to talk to: host, port and protection, all resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Protection of the connection.
    pub security: Security,
}

impl Endpoint {
    /// Resolves `HOST[:PORT]` and an optional security mode into an endpoint, with the defaults
    /// mail programs use: IMAP 993 tls (143 → starttls); POP3 995 tls (110 → starttls);
    /// SMTP 587 starttls (465 → tls).
    pub fn resolve(
        protocol: Protocol,
        spec: &str,
        security: Option<Security>,
    ) -> Result<Endpoint, String> {
        let (host, port) = split_host_port(spec)?;
        let (security, port) = match (protocol, security, port) {
            (_, Some(s), Some(p)) => (s, p),
            (Protocol::Imap, None, Some(143)) => (Security::Starttls, 143),
            (Protocol::Imap, None, Some(p)) => (Security::Tls, p),
            (Protocol::Imap, None, None) | (Protocol::Imap, Some(Security::Tls), None) => {
                (Security::Tls, 993)
            }
            (Protocol::Imap, Some(s), None) => (s, 143),
            (Protocol::Pop3, None, Some(110)) => (Security::Starttls, 110),
            (Protocol::Pop3, None, Some(p)) => (Security::Tls, p),
            (Protocol::Pop3, None, None) | (Protocol::Pop3, Some(Security::Tls), None) => {
                (Security::Tls, 995)
            }
            (Protocol::Pop3, Some(s), None) => (s, 110),
            (Protocol::Oauth, s, p) => (s.unwrap_or(Security::Tls), p.unwrap_or(443)),
            (Protocol::Smtp, None, Some(465)) => (Security::Tls, 465),
            (Protocol::Smtp, None, Some(p)) => (Security::Starttls, p),
            (Protocol::Smtp, None, None) | (Protocol::Smtp, Some(Security::Starttls), None) => {
                (Security::Starttls, 587)
            }
            (Protocol::Smtp, Some(Security::Tls), None) => (Security::Tls, 465),
            (Protocol::Smtp, Some(Security::Plain), None) => (Security::Plain, 587),
        };
        Ok(Endpoint {
            host,
            port,
            security,
        })
    }

    /// `host:port`, with brackets around IPv6 addresses.
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn split_host_port(spec: &str) -> Result<(String, Option<u16>), String> {
    let spec = spec.trim();
    let bad_port = || "the port is not a number between 1 and 65535".to_string();
    let parse_port = |p: &str| -> Result<u16, String> {
        p.parse::<u16>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(bad_port)
    };
    let (host, port) = if let Some(rest) = spec.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| "the address has an unclosed `[`".to_string())?;
        match after.strip_prefix(':') {
            Some(p) => (h.to_string(), Some(parse_port(p)?)),
            None if after.is_empty() => (h.to_string(), None),
            None => return Err("not HOST[:PORT]".to_string()),
        }
    } else if spec.matches(':').count() > 1 {
        // A bare IPv6 address without a port.
        (spec.to_string(), None)
    } else if let Some((h, p)) = spec.split_once(':') {
        (h.to_string(), Some(parse_port(p)?))
    } else {
        (spec.to_string(), None)
    };
    if host.is_empty() {
        return Err("names no host".to_string());
    }
    if host
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '/' || c == '@')
    {
        return Err("not a host name".to_string());
    }
    Ok((host, port))
}

/// Where a mailbox's password comes from. The password itself is never in the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The OS keyring, under this mailbox's name.
    Keyring,
    /// A command whose standard output is the password, run at each check.
    Command(String),
    /// An environment variable.
    Env(String),
}

/// Keys that would hold a password in plain text; refused with advice.
const PLAINTEXT_PASSWORD_KEYS: &[&str] = &["password", "pass", "passwd", "secret", "app_password"];

/// One mailbox as written in the TOML file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMailbox {
    /// The mailbox's address; canaries go from it to itself.
    pub address: String,
    /// The login name, if not the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    /// IMAP server as `HOST[:PORT]` (or `pop3` instead).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub imap: String,
    /// `tls`, `starttls` or `plain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imap_security: Option<String>,
    /// POP3 server as `HOST[:PORT]`, for a mailbox read over POP3 instead of IMAP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pop3: Option<String>,
    /// `tls`, `starttls` or `plain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pop3_security: Option<String>,
    /// SMTP submission server as `HOST[:PORT]`.
    pub smtp: String,
    /// `tls`, `starttls` or `plain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_security: Option<String>,
    /// Extra trusted CA certificates (PEM), beside the platform's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Allow sending the password over an unencrypted connection.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_plaintext_login: bool,
    /// The password is in the OS keyring.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub password_keyring: bool,
    /// A command that prints the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_command: Option<String>,
    /// An environment variable that holds the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// A canary slower than this (seconds) is reported as late. Default 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_after_secs: Option<u64>,
    /// Sign in with OAuth2 instead of a password: `microsoft`, `google` or `custom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<String>,
    /// The OAuth2 client id (the app registered with the provider).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_client_id: Option<String>,
    /// The authorization endpoint (default: the provider's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_authorize_url: Option<String>,
    /// The token endpoint (default: the provider's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_token_url: Option<String>,
    /// The scopes asked for, space-separated (default: the provider's for IMAP/POP3 and SMTP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_scope: Option<String>,
}

/// A validated mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxConfig {
    /// Its name.
    pub name: MailboxName,
    /// Its address.
    pub address: Address,
    /// Login name (the address unless set).
    pub login: String,
    /// The receiving server (IMAP or POP3, as `incoming_protocol` says).
    pub incoming: Endpoint,
    /// `Imap` or `Pop3`.
    pub incoming_protocol: Protocol,
    /// SMTP submission server.
    pub smtp: Endpoint,
    /// Extra CA file.
    pub ca_file: Option<PathBuf>,
    /// Plain-text login allowed.
    pub allow_plaintext_login: bool,
    /// Where the password comes from.
    pub secret: SecretSource,
    /// Latency above which a canary is late.
    pub late_after_secs: u64,
    /// OAuth2 sign-in instead of a password (the refresh token is in the keyring).
    pub oauth: Option<OAuthSettings>,
}

/// Which provider an OAuth2 mailbox signs in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthProvider {
    /// Microsoft 365 and Outlook.com (Microsoft identity platform).
    Microsoft,
    /// Google Workspace and Gmail.
    Google,
    /// Any other authorization server, with its endpoints given.
    Custom,
}

impl OAuthProvider {
    /// The provider's authorization endpoint, token endpoint and mail scopes (for POP3 or
    /// IMAP, with SMTP); empty for `Custom`.
    pub fn defaults(self, pop3: bool) -> (&'static str, &'static str, &'static str) {
        match self {
            OAuthProvider::Microsoft => (
                "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
                "https://login.microsoftonline.com/common/oauth2/v2.0/token",
                if pop3 {
                    "https://outlook.office.com/POP.AccessAsUser.All https://outlook.office.com/SMTP.Send offline_access"
                } else {
                    "https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send offline_access"
                },
            ),
            OAuthProvider::Google => (
                "https://accounts.google.com/o/oauth2/v2/auth",
                "https://oauth2.googleapis.com/token",
                "https://mail.google.com/",
            ),
            OAuthProvider::Custom => ("", "", ""),
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthProvider::Microsoft => "microsoft",
            OAuthProvider::Google => "google",
            OAuthProvider::Custom => "custom",
        }
    }
}

/// A mailbox's OAuth2 sign-in, with the provider's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthSettings {
    /// The provider.
    pub provider: OAuthProvider,
    /// The registered app's client id.
    pub client_id: String,
    /// Where the browser signs in.
    pub authorize_url: String,
    /// Where codes and refresh tokens are exchanged for access tokens.
    pub token_url: String,
    /// Scopes, space-separated.
    pub scope: String,
}

impl OAuthSettings {
    fn resolve(
        raw: &RawMailbox,
        pop3: bool,
    ) -> Result<Option<OAuthSettings>, (&'static str, String)> {
        let Some(p) = raw.oauth.as_deref() else {
            for (field, v) in [
                ("oauth_client_id", &raw.oauth_client_id),
                ("oauth_authorize_url", &raw.oauth_authorize_url),
                ("oauth_token_url", &raw.oauth_token_url),
                ("oauth_scope", &raw.oauth_scope),
            ] {
                if v.is_some() {
                    return Err((
                        field,
                        "set without oauth = \"microsoft\", \"google\" or \"custom\"".into(),
                    ));
                }
            }
            return Ok(None);
        };
        let provider = match p {
            "microsoft" => OAuthProvider::Microsoft,
            "google" => OAuthProvider::Google,
            "custom" => OAuthProvider::Custom,
            _ => {
                return Err((
                    "oauth",
                    "must be \"microsoft\", \"google\" or \"custom\"".into(),
                ));
            }
        };
        let client_id = match raw.oauth_client_id.as_deref().map(str::trim) {
            Some(c) if !c.is_empty() && !c.contains(char::is_whitespace) => c.to_string(),
            Some(_) => return Err(("oauth_client_id", "not a client id".into())),
            None => {
                return Err((
                    "oauth_client_id",
                    "missing: give the client id of the app registered with the provider \
                     (docs/OAUTH.md shows how to register one)"
                        .into(),
                ));
            }
        };
        let (authorize, token, scope) = provider.defaults(pop3);
        let url = |field: &'static str, v: &Option<String>, default: &str| {
            let u = v.as_deref().unwrap_or(default).trim().to_string();
            if u.is_empty() {
                return Err((
                    field,
                    "missing: an oauth = \"custom\" mailbox names its endpoints".to_string(),
                ));
            }
            if !(u.starts_with("https://") || is_loopback_http(&u)) {
                return Err((
                    field,
                    "must be an https:// URL (http:// only on this computer)".to_string(),
                ));
            }
            Ok(u)
        };
        let authorize_url = url("oauth_authorize_url", &raw.oauth_authorize_url, authorize)?;
        let token_url = url("oauth_token_url", &raw.oauth_token_url, token)?;
        let scope = raw.oauth_scope.clone().unwrap_or_else(|| scope.to_string());
        if scope.trim().is_empty() {
            return Err(("oauth_scope", "missing: name the scopes to ask for".into()));
        }
        Ok(Some(OAuthSettings {
            provider,
            client_id,
            authorize_url,
            token_url,
            scope,
        }))
    }
}

/// `http://127.0.0.1…`, `http://localhost…` or `http://[::1]…`: plain HTTP that stays on
/// this computer.
pub fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = match host.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.is_empty() => h,
        _ => host,
    };
    is_loopback_host(host.trim_start_matches('[').trim_end_matches(']'))
}

/// `localhost`, `::1` or an address in 127.0.0.0/8.
pub fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|a| a.is_loopback())
}

impl RawMailbox {
    /// Validates and resolves this mailbox.
    pub fn resolve(&self, name: &str) -> Result<MailboxConfig, ConfigError> {
        let mname = MailboxName::new(name).map_err(|m| field_err(name, "name", m))?;
        let address = Address::new(&self.address).map_err(|m| field_err(name, "address", m))?;
        let login = match &self.login {
            Some(l) if l.trim().is_empty() => {
                return Err(field_err(name, "login", "must not be empty"));
            }
            Some(l) => l.clone(),
            None => self.address.clone(),
        };
        let sec = |field: &str, v: &Option<String>| -> Result<Option<Security>, ConfigError> {
            v.as_deref()
                .map(|s| s.parse::<Security>().map_err(|m| field_err(name, field, m)))
                .transpose()
        };
        let (incoming, incoming_protocol) = match (self.imap.trim().is_empty(), &self.pop3) {
            (false, None) => (
                Endpoint::resolve(
                    Protocol::Imap,
                    &self.imap,
                    sec("imap_security", &self.imap_security)?,
                )
                .map_err(|m| field_err(name, "imap", m))?,
                Protocol::Imap,
            ),
            (true, Some(p)) => {
                if self.imap_security.is_some() {
                    return Err(field_err(
                        name,
                        "imap_security",
                        "set for a mailbox read over POP3; use pop3_security",
                    ));
                }
                (
                    Endpoint::resolve(
                        Protocol::Pop3,
                        p,
                        sec("pop3_security", &self.pop3_security)?,
                    )
                    .map_err(|m| field_err(name, "pop3", m))?,
                    Protocol::Pop3,
                )
            }
            (false, Some(_)) => {
                return Err(field_err(
                    name,
                    "pop3",
                    "both imap and pop3 are set; a mailbox is read over one of them",
                ));
            }
            (true, None) => {
                return Err(field_err(
                    name,
                    "imap",
                    "missing: set imap = \"HOST[:PORT]\" (or pop3 = \"HOST[:PORT]\")",
                ));
            }
        };
        if incoming_protocol == Protocol::Imap && self.pop3_security.is_some() {
            return Err(field_err(
                name,
                "pop3_security",
                "set for a mailbox read over IMAP; use imap_security",
            ));
        }
        let smtp = Endpoint::resolve(
            Protocol::Smtp,
            &self.smtp,
            sec("smtp_security", &self.smtp_security)?,
        )
        .map_err(|m| field_err(name, "smtp", m))?;
        if !self.allow_plaintext_login {
            let incoming_field = match incoming_protocol {
                Protocol::Pop3 => "pop3_security",
                _ => "imap_security",
            };
            for (field, ep) in [(incoming_field, &incoming), ("smtp_security", &smtp)] {
                if ep.security == Security::Plain {
                    return Err(field_err(
                        name,
                        field,
                        "`plain` would send the password unencrypted; use tls or starttls, or \
                         set allow_plaintext_login = true (--allow-plaintext-login) to accept that",
                    ));
                }
            }
        }
        let oauth = OAuthSettings::resolve(self, incoming_protocol == Protocol::Pop3)
            .map_err(|(field, m)| field_err(name, field, m))?;
        let mut sources = Vec::new();
        if oauth.is_some() {
            if self.password_keyring
                || self.password_command.is_some()
                || self.password_env.is_some()
            {
                return Err(field_err(
                    name,
                    "oauth",
                    "a mailbox that signs in with OAuth2 has no password: remove password_keyring, \
                     password_command and password_env",
                ));
            }
            // The refresh token lives in the OS keyring.
            sources.push(SecretSource::Keyring);
        }
        if self.password_keyring {
            sources.push(SecretSource::Keyring);
        }
        if let Some(c) = &self.password_command {
            if c.trim().is_empty() {
                return Err(field_err(name, "password_command", "must not be empty"));
            }
            sources.push(SecretSource::Command(c.clone()));
        }
        if let Some(v) = &self.password_env {
            if v.is_empty() || v.contains('=') || v.contains('\0') {
                return Err(field_err(
                    name,
                    "password_env",
                    "not an environment variable name".to_string(),
                ));
            }
            sources.push(SecretSource::Env(v.clone()));
        }
        let secret = match sources.len() {
            1 => sources.pop().expect("one source"),
            0 => {
                return Err(field_err(
                    name,
                    "password_keyring",
                    "no password source: set exactly one of password_keyring = true, \
                     password_command or password_env",
                ));
            }
            _ => {
                return Err(field_err(
                    name,
                    "password_keyring",
                    "more than one password source: keep exactly one of password_keyring, \
                     password_command, password_env",
                ));
            }
        };
        let late_after_secs = self.late_after_secs.unwrap_or(60);
        if late_after_secs == 0 {
            return Err(field_err(name, "late_after_secs", "must be at least 1"));
        }
        Ok(MailboxConfig {
            name: mname,
            address,
            login,
            incoming,
            incoming_protocol,
            smtp,
            ca_file: self.ca_file.clone(),
            allow_plaintext_login: self.allow_plaintext_login,
            secret,
            late_after_secs,
            oauth,
        })
    }
}

impl MailboxConfig {
    /// An OAuth2 setting, unless it is the provider's default.
    fn oauth_field(
        &self,
        pick: impl for<'a> Fn(
            &'a OAuthSettings,
            (&'static str, &'static str, &'static str),
        ) -> (&'a String, &'static str),
    ) -> Option<String> {
        let o = self.oauth.as_ref()?;
        let defaults = o
            .provider
            .defaults(self.incoming_protocol == Protocol::Pop3);
        let (value, default) = pick(o, defaults);
        (value != default).then(|| value.clone())
    }

    /// The raw form with every default written out, as `mailbox add` stores it.
    pub fn to_raw(&self) -> RawMailbox {
        RawMailbox {
            address: self.address.to_string(),
            login: (self.login != self.address.as_str()).then(|| self.login.clone()),
            imap: match self.incoming_protocol {
                Protocol::Pop3 => String::new(),
                _ => self.incoming.host_port(),
            },
            imap_security: (self.incoming_protocol != Protocol::Pop3)
                .then(|| self.incoming.security.as_str().to_string()),
            pop3: (self.incoming_protocol == Protocol::Pop3).then(|| self.incoming.host_port()),
            pop3_security: (self.incoming_protocol == Protocol::Pop3)
                .then(|| self.incoming.security.as_str().to_string()),
            smtp: self.smtp.host_port(),
            smtp_security: Some(self.smtp.security.as_str().to_string()),
            ca_file: self.ca_file.clone(),
            allow_plaintext_login: self.allow_plaintext_login,
            password_keyring: self.secret == SecretSource::Keyring && self.oauth.is_none(),
            password_command: match &self.secret {
                SecretSource::Command(c) => Some(c.clone()),
                _ => None,
            },
            password_env: match &self.secret {
                SecretSource::Env(v) => Some(v.clone()),
                _ => None,
            },
            late_after_secs: (self.late_after_secs != 60).then_some(self.late_after_secs),
            oauth: self.oauth.as_ref().map(|o| o.provider.as_str().to_string()),
            oauth_client_id: self.oauth.as_ref().map(|o| o.client_id.clone()),
            // The provider's defaults are not written: a later version may update them, and
            // a mailbox moved from IMAP to POP3 gets the scopes for POP3.
            oauth_authorize_url: self.oauth_field(|o, d| (&o.authorize_url, d.0)),
            oauth_token_url: self.oauth_field(|o, d| (&o.token_url, d.1)),
            oauth_scope: self.oauth_field(|o, d| (&o.scope, d.2)),
        }
    }
}

/// The office's runbook: what to do when mail stops. Shown with every critical alert and in
/// every drill.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Runbook {
    /// Who to call first (a person and a number).
    pub contact: Option<String>,
    /// The provider's support line.
    pub provider_support: Option<String>,
    /// The webmail address, to read and send mail while the mail program cannot.
    pub webmail: Option<String>,
    /// How to reach customers while mail is down (phone, a backup address, the website).
    pub backup_channel: Option<String>,
    /// Anything else.
    pub notes: Option<String>,
}

impl Runbook {
    /// Whether nothing is written down yet.
    pub fn is_empty(&self) -> bool {
        self.lines(Lang::En).is_empty()
    }

    /// Its lines as (label, value), in the order staff need them.
    pub fn lines(&self, lang: Lang) -> Vec<(&'static str, String)> {
        let labels: [(&str, &str, &Option<String>); 5] = [
            ("Who to call", "連絡先", &self.contact),
            (
                "Provider support",
                "プロバイダーのサポート窓口",
                &self.provider_support,
            ),
            ("Webmail", "Webメール", &self.webmail),
            (
                "Reach customers by",
                "お客様への連絡手段",
                &self.backup_channel,
            ),
            ("Notes", "メモ", &self.notes),
        ];
        labels
            .into_iter()
            .filter_map(|(en, ja, v)| {
                let v = v.as_deref()?.trim();
                (!v.is_empty()).then(|| (if lang == Lang::Ja { ja } else { en }, v.to_string()))
            })
            .collect()
    }
}

/// Alert channels used by `run` and by drills (command-line flags add to them).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSettings {
    /// Show desktop notifications (unset: the command line decides, and the tray app shows
    /// them).
    pub notify: Option<bool>,
    /// A command run for every alert.
    pub hook: Option<String>,
    /// The environment variable that holds the webhook URL (never the URL itself: it holds a
    /// token).
    pub webhook_env: Option<String>,
    /// `json`, `slack` or `teams`.
    pub webhook_format: Option<String>,
    /// An unacknowledged critical alert is repeated after this long (`30m`, `4h`, `1d`).
    pub renotify_after: Option<String>,
}

impl AlertSettings {
    /// The reminder interval in ms, if set (validated when the config is parsed).
    pub fn renotify_after_ms(&self) -> Option<u64> {
        self.renotify_after
            .as_deref()
            .and_then(crate::report::parse_since)
            .filter(|&ms| ms > 0)
    }
}

/// How the monitor tells "this PC is offline" from "the provider is down".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSettings {
    /// Other servers (`host:port`) that are normally reachable: when a mail server cannot be
    /// reached but one of these can, this PC is online and the provider is down.
    #[serde(default)]
    pub references: Vec<String>,
}

/// How the always-on monitor (the tray app, and `mailcanary run` unless flags say otherwise)
/// schedules its work.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorSettings {
    /// Time between scheduled checks of a mailbox (`5m`, `1h`); 1 minute to 1 day.
    pub interval: Option<String>,
    /// Attachment probes ride along this often (`6h`), or `off`.
    pub attachments_every: Option<String>,
    /// Serve Prometheus metrics at this address (`127.0.0.1:9898`).
    pub metrics: Option<String>,
}

/// Scheduled checks when the config does not say: every 5 minutes.
pub const DEFAULT_INTERVAL_MS: u64 = 300_000;
/// Attachment probes when the config does not say: every 6 hours.
pub const DEFAULT_ATTACHMENTS_EVERY_MS: u64 = 6 * 3_600_000;

impl MonitorSettings {
    /// Time between checks in ms.
    pub fn interval_ms(&self) -> u64 {
        self.interval
            .as_deref()
            .and_then(crate::report::parse_since)
            .unwrap_or(DEFAULT_INTERVAL_MS)
    }

    /// Time between attachment probes in ms (0: never).
    pub fn attachments_every_ms(&self) -> u64 {
        match self.attachments_every.as_deref() {
            Some("off") => 0,
            Some(s) => crate::report::parse_since(s).unwrap_or(DEFAULT_ATTACHMENTS_EVERY_MS),
            None => DEFAULT_ATTACHMENTS_EVERY_MS,
        }
    }

    /// The metrics address, if set.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics.as_deref().and_then(|s| s.parse().ok())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field: &str, message: &str| ConfigError::Global {
            field: format!("monitor.{field}"),
            message: message.into(),
        };
        if let Some(s) = &self.interval {
            let ms = crate::report::parse_since(s).unwrap_or(0);
            if !(60_000..=86_400_000).contains(&ms) {
                return Err(bad(
                    "interval",
                    "must be a span from \"1m\" to \"1d\", such as \"5m\"",
                ));
            }
        }
        if let Some(s) = &self.attachments_every
            && s != "off"
            && !(3_600_000..=7 * 86_400_000).contains(&crate::report::parse_since(s).unwrap_or(0))
        {
            return Err(bad(
                "attachments_every",
                "must be a span from \"1h\" to \"7d\", or \"off\"",
            ));
        }
        if let Some(s) = &self.metrics
            && s.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(bad(
                "metrics",
                "must be an address with a port, such as \"127.0.0.1:9898\"",
            ));
        }
        Ok(())
    }
}

/// Whether `s` can name an environment variable (`OFFICE_WEBHOOK`).
pub fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.bytes().all(|b| b == b'_' || b.is_ascii_alphanumeric())
}

/// Days of history kept when the config does not say.
pub const DEFAULT_RETENTION_DAYS: u32 = 400;

/// The whole configuration, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Language for texts, if the file sets one.
    pub lang: Option<Lang>,
    /// Days of history kept (0: everything).
    pub retention_days: u32,
    /// The office's runbook.
    pub runbook: Runbook,
    /// Alert channels.
    pub alerts: AlertSettings,
    /// Offline detection.
    pub network: NetworkSettings,
    /// Scheduling of the always-on monitor.
    pub monitor: MonitorSettings,
    /// Mailboxes by name.
    pub mailboxes: BTreeMap<MailboxName, MailboxConfig>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            lang: None,
            retention_days: DEFAULT_RETENTION_DAYS,
            runbook: Runbook::default(),
            alerts: AlertSettings::default(),
            network: NetworkSettings::default(),
            monitor: MonitorSettings::default(),
            mailboxes: BTreeMap::new(),
        }
    }
}

/// Parses a `[section]` of plain settings, naming the section in errors (never the value).
fn section<T: serde::de::DeserializeOwned>(
    name: &str,
    value: &toml::Value,
) -> Result<T, ConfigError> {
    value
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Global {
            field: name.to_string(),
            message: redact_quoted(e.message().trim()),
        })
}

impl Config {
    /// Parses and validates a config file's text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Syntax(syntax_error(text, &e)))?;
        let mut config = Config::default();
        for (key, value) in &table {
            match key.as_str() {
                "lang" => {
                    let s = value.as_str().ok_or_else(|| ConfigError::Global {
                        field: "lang".into(),
                        message: "must be \"ja\" or \"en\"".into(),
                    })?;
                    config.lang = Some(Lang::parse(s).ok_or_else(|| ConfigError::Global {
                        field: "lang".into(),
                        message: "not a language; use \"ja\" or \"en\"".to_string(),
                    })?);
                }
                "mailboxes" => {
                    let boxes = value.as_table().ok_or_else(|| ConfigError::Global {
                        field: "mailboxes".into(),
                        message: "must be a table of [mailboxes.NAME] sections".into(),
                    })?;
                    for (name, mb) in boxes {
                        let mb_table = mb.as_table().ok_or_else(|| {
                            field_err(name, "mailboxes", "must be a [mailboxes.NAME] section")
                        })?;
                        if let Some(k) = PLAINTEXT_PASSWORD_KEYS
                            .iter()
                            .find(|k| mb_table.contains_key(**k))
                        {
                            return Err(field_err(
                                name,
                                k,
                                format!(
                                    "passwords are never kept in the config file. Remove this \
                                     line and store the password in the OS keyring with \
                                     `mailcanary mailbox add {name} ... --password-stdin`, or set \
                                     password_command (a command that prints it) or password_env \
                                     (an environment variable that holds it)"
                                ),
                            ));
                        }
                        let raw: RawMailbox =
                            mb.clone().try_into().map_err(|e: toml::de::Error| {
                                field_err(name, "mailboxes", redact_quoted(e.message().trim()))
                            })?;
                        let resolved = raw.resolve(name)?;
                        config.mailboxes.insert(resolved.name.clone(), resolved);
                    }
                }
                "retention_days" => {
                    config.retention_days = value
                        .as_integer()
                        .and_then(|d| u32::try_from(d).ok())
                        .filter(|d| (0..=36_500).contains(d))
                        .ok_or_else(|| ConfigError::Global {
                            field: "retention_days".into(),
                            message: "must be a whole number of days from 0 (keep everything) \
                                      to 36500"
                                .into(),
                        })?;
                }
                "runbook" => config.runbook = section("runbook", value)?,
                "alerts" => {
                    config.alerts = section("alerts", value)?;
                    if config.alerts.renotify_after.is_some()
                        && config.alerts.renotify_after_ms().is_none()
                    {
                        return Err(ConfigError::Global {
                            field: "alerts.renotify_after".into(),
                            message: "must be a span such as \"30m\", \"4h\" or \"1d\"".into(),
                        });
                    }
                    if let Some(v) = &config.alerts.webhook_env
                        && !is_env_name(v)
                    {
                        // Never repeated: a URL with its token is a likely mistake here.
                        return Err(ConfigError::Global {
                            field: "alerts.webhook_env".into(),
                            message: "must be the NAME of an environment variable that holds \
                                      the webhook's URL (letters, digits, _), never the URL"
                                .into(),
                        });
                    }
                    if let Some(f) = &config.alerts.webhook_format
                        && !["json", "slack", "teams"].contains(&f.as_str())
                    {
                        return Err(ConfigError::Global {
                            field: "alerts.webhook_format".into(),
                            message: "must be \"json\", \"slack\" or \"teams\"".into(),
                        });
                    }
                }
                "monitor" => {
                    config.monitor = section("monitor", value)?;
                    config.monitor.validate()?;
                }
                "network" => {
                    config.network = section("network", value)?;
                    for r in &config.network.references {
                        split_host_port(r)
                            .ok()
                            .and_then(|(_, port)| port)
                            .ok_or_else(|| ConfigError::Global {
                                field: "network.references".into(),
                                message: "not HOST:PORT".to_string(),
                            })?;
                    }
                }
                other => {
                    return Err(ConfigError::Global {
                        field: other.to_string(),
                        message: "unknown field; expected `lang`, `retention_days`, [runbook], \
                                  [alerts], [monitor], [network] or [mailboxes.NAME] sections"
                            .into(),
                    });
                }
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_url_in_place_of_its_variable_is_refused_unrepeated() {
        let url = "https://hooks.slack.com/services/T000/B000/secret-token";
        let err = Config::parse(&format!("[alerts]\nwebhook_env = \"{url}\"\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("alerts.webhook_env"), "{err}");
        assert!(!err.contains("secret-token"), "{err}");
        assert!(Config::parse("[alerts]\nwebhook_env = \"OFFICE_HOOK\"\n").is_ok());
        assert!(!is_env_name("9LIVES") && !is_env_name("") && is_env_name("_X1"));
    }

    #[test]
    fn endpoint_defaults() {
        let t = |p, spec, sec: Option<Security>| Endpoint::resolve(p, spec, sec).unwrap();
        use Protocol::*;
        use Security::*;
        let table = [
            (Imap, "imap.example.jp", None, "imap.example.jp", 993, Tls),
            (
                Imap,
                "imap.example.jp:143",
                None,
                "imap.example.jp",
                143,
                Starttls,
            ),
            (
                Imap,
                "imap.example.jp",
                Some(Starttls),
                "imap.example.jp",
                143,
                Starttls,
            ),
            (Imap, "[::1]:1993", None, "::1", 1993, Tls),
            (
                Smtp,
                "smtp.example.jp",
                None,
                "smtp.example.jp",
                587,
                Starttls,
            ),
            (
                Smtp,
                "smtp.example.jp:465",
                None,
                "smtp.example.jp",
                465,
                Tls,
            ),
            (
                Smtp,
                "smtp.example.jp",
                Some(Tls),
                "smtp.example.jp",
                465,
                Tls,
            ),
            (
                Smtp,
                "127.0.0.1:1587",
                Some(Starttls),
                "127.0.0.1",
                1587,
                Starttls,
            ),
        ];
        for (p, spec, sec, host, port, want) in table {
            let e = t(p, spec, sec);
            assert_eq!(
                (e.host.as_str(), e.port, e.security),
                (host, port, want),
                "{spec}"
            );
        }
        assert_eq!(t(Pop3, "pop.example.jp", None).port, 995);
        assert_eq!(t(Pop3, "pop.example.jp", Some(Starttls)).port, 110);
        assert_eq!(t(Pop3, "pop.example.jp:110", None).security, Starttls);
        assert!(Endpoint::resolve(Imap, "h:0", None).is_err());
        assert!(Endpoint::resolve(Imap, "h:99999", None).is_err());
        assert!(Endpoint::resolve(Imap, ":993", None).is_err());
        assert_eq!(t(Imap, "[::1]:1993", None).host_port(), "[::1]:1993");
    }

    const GOOD: &str = r#"
lang = "ja"
[mailboxes.office]
address = "info@example.jp"
imap = "imap.example.jp"
smtp = "smtp.example.jp:465"
password_keyring = true
"#;

    #[test]
    fn parses_and_resolves() {
        let c = Config::parse(GOOD).unwrap();
        assert_eq!(c.lang, Some(Lang::Ja));
        let mb = &c.mailboxes[&MailboxName::new("office").unwrap()];
        assert_eq!(mb.login, "info@example.jp");
        assert_eq!(mb.incoming.port, 993);
        assert_eq!(mb.incoming_protocol, Protocol::Imap);
        assert_eq!(mb.smtp.security, Security::Tls);
        assert_eq!(mb.secret, SecretSource::Keyring);
        // to_raw round-trips through TOML.
        let text = format!(
            "[mailboxes.office]\n{}",
            toml::to_string(&mb.to_raw()).unwrap()
        );
        let again = Config::parse(&text).unwrap();
        assert_eq!(again.mailboxes.values().next().unwrap(), mb);
    }

    #[test]
    fn a_pop3_mailbox_reads_over_pop3_alone() {
        let pop = GOOD.replace("imap = \"imap.example.jp\"", "pop3 = \"pop.example.jp\"");
        let c = Config::parse(&pop).unwrap();
        let mb = c.mailboxes.values().next().unwrap();
        assert_eq!(mb.incoming_protocol, Protocol::Pop3);
        assert_eq!(
            (mb.incoming.port, mb.incoming.security),
            (995, Security::Tls)
        );
        let raw = mb.to_raw();
        assert_eq!(raw.imap, "");
        assert_eq!(raw.pop3.as_deref(), Some("pop.example.jp:995"));
        let text = format!("[mailboxes.office]\n{}", toml::to_string(&raw).unwrap());
        assert!(!text.contains("imap"), "{text}");
        assert_eq!(
            Config::parse(&text)
                .unwrap()
                .mailboxes
                .values()
                .next()
                .unwrap(),
            mb
        );
        let starttls = pop.replace("pop.example.jp", "pop.example.jp:110");
        let mb = Config::parse(&starttls)
            .unwrap()
            .mailboxes
            .into_values()
            .next()
            .unwrap();
        assert_eq!(
            (mb.incoming.port, mb.incoming.security),
            (110, Security::Starttls)
        );
        for (text, want) in [
            (
                format!("{GOOD}pop3 = \"pop.example.jp\"\n"),
                "both imap and pop3",
            ),
            (
                GOOD.replace("imap = \"imap.example.jp\"", ""),
                "field `imap`: missing",
            ),
            (
                format!("{pop}imap_security = \"tls\"\n"),
                "use pop3_security",
            ),
            (
                format!("{GOOD}pop3_security = \"tls\"\n"),
                "use imap_security",
            ),
            (
                format!("{pop}pop3_security = \"plain\"\n"),
                "field `pop3_security`",
            ),
            (
                pop.replace("pop.example.jp", "pop.example.jp:x"),
                "field `pop3`",
            ),
        ] {
            let err = Config::parse(&text).unwrap_err().to_string();
            assert!(err.contains(want), "{want}: {err}");
        }
    }

    #[test]
    fn oauth_settings_take_the_providers_defaults_and_write_only_what_differs() {
        let ms = GOOD.replace(
            "password_keyring = true",
            "oauth = \"microsoft\"\noauth_client_id = \"0f1e-aaaa\"",
        );
        let mb = Config::parse(&ms)
            .unwrap()
            .mailboxes
            .into_values()
            .next()
            .unwrap();
        let o = mb.oauth.as_ref().unwrap();
        assert_eq!(o.provider, OAuthProvider::Microsoft);
        assert!(o.scope.contains("IMAP.AccessAsUser.All") && o.scope.contains("offline_access"));
        assert!(
            o.token_url
                .starts_with("https://login.microsoftonline.com/")
        );
        let raw = mb.to_raw();
        assert_eq!((raw.oauth_scope, raw.oauth_token_url), (None, None));
        assert!(!raw.password_keyring);
        // Read over POP3, the same mailbox asks for POP3's scope.
        let pop = ms.replace("imap = \"imap.example.jp\"", "pop3 = \"pop.example.jp\"");
        let mb = Config::parse(&pop)
            .unwrap()
            .mailboxes
            .into_values()
            .next()
            .unwrap();
        assert!(mb.oauth.unwrap().scope.contains("POP.AccessAsUser.All"));
        for (text, want) in [
            (ms.replace("0f1e-aaaa", "a b"), "field `oauth_client_id`"),
            (
                ms.replace("oauth_client_id = \"0f1e-aaaa\"", ""),
                "oauth_client_id`: missing",
            ),
            (format!("{ms}\npassword_env = \"PW\""), "has no password"),
            (ms.replace("microsoft", "yahoo"), "field `oauth`"),
            (
                format!("{ms}\noauth_token_url = \"http://login.example.jp/token\""),
                "must be an https:// URL",
            ),
            (
                ms.replace("oauth = \"microsoft\"\n", "password_keyring = true\n"),
                "without oauth",
            ),
        ] {
            let err = Config::parse(&text).unwrap_err().to_string();
            assert!(err.contains(want), "{want}: {err}");
        }
        let local = format!(
            "{}\noauth_token_url = \"http://127.0.0.1:8080/token\"",
            ms.replace("microsoft", "custom")
        ) + "\noauth_authorize_url = \"http://localhost:8080/a\"\noauth_scope = \"mail\"";
        let mb = Config::parse(&local)
            .unwrap()
            .mailboxes
            .into_values()
            .next()
            .unwrap();
        assert_eq!(mb.to_raw().oauth_scope.as_deref(), Some("mail"));
        assert!(is_loopback_http("http://127.0.0.1:9/x") && is_loopback_http("http://[::1]:9/"));
        assert!(
            !is_loopback_http("http://127.example.jp/") && !is_loopback_http("https://127.0.0.1/")
        );
    }

    #[test]
    fn refuses_plaintext_password_with_advice() {
        let text = GOOD.replace("password_keyring = true", "password = \"hunter2hunter2\"");
        let err = Config::parse(&text).unwrap_err().to_string();
        assert!(
            err.contains("mailbox \"office\": field `password`"),
            "{err}"
        );
        assert!(err.contains("--password-stdin"), "{err}");
        assert!(
            !err.contains("hunter2"),
            "the error must not repeat the secret: {err}"
        );
    }

    #[test]
    fn errors_name_mailbox_and_field() {
        let cases = [
            (
                GOOD.replace("info@example.jp", "not-an-address"),
                "field `address`",
            ),
            (
                GOOD.replace("smtp.example.jp:465", "smtp:x"),
                "field `smtp`",
            ),
            (
                GOOD.replace("password_keyring = true", ""),
                "no password source",
            ),
            (
                GOOD.replace(
                    "password_keyring = true",
                    "password_keyring = true\npassword_env = \"X\"",
                ),
                "more than one password source",
            ),
            (
                GOOD.replace("address =", "adress ="),
                "unknown field `adress`",
            ),
            (
                GOOD.replace("password_keyring = true", "password_keyring = 3"),
                "invalid type",
            ),
            (
                GOOD.replace("lang = \"ja\"", "lang = \"de\""),
                "field `lang`",
            ),
            (
                format!("{GOOD}\nimap_security = \"bogus\""),
                "field `imap_security`",
            ),
            (
                format!("{GOOD}\nimap_security = \"plain\""),
                "allow_plaintext_login",
            ),
            ("x = [".to_string(), "TOML syntax error at line 1"),
            ("colour = 1".to_string(), "field `colour`"),
            (
                format!("retention_days = -1\n{GOOD}"),
                "field `retention_days`",
            ),
            (
                format!("retention_days = \"long\"\n{GOOD}"),
                "field `retention_days`",
            ),
            (
                format!("{GOOD}\n[runbook]\nphone = \"1\""),
                "field `runbook`: unknown field `phone`",
            ),
            (
                format!("{GOOD}\n[alerts]\nwebhook_format = \"irc\""),
                "field `alerts.webhook_format`",
            ),
            (
                format!("{GOOD}\n[alerts]\nrenotify_after = \"soon\""),
                "field `alerts.renotify_after`",
            ),
            (
                format!("{GOOD}\n[alerts]\nnotify = \"yes\""),
                "field `alerts`: invalid type",
            ),
            (
                format!("{GOOD}\n[network]\nreferences = [\"example.jp\"]"),
                "field `network.references`",
            ),
        ];
        for (text, want) in cases {
            let err = Config::parse(&text).unwrap_err().to_string();
            assert!(err.contains(want), "want {want:?} in {err:?}");
        }
    }

    #[test]
    fn office_sections() {
        let c = Config::parse(GOOD).unwrap();
        assert_eq!(c.retention_days, DEFAULT_RETENTION_DAYS);
        assert!(c.runbook.is_empty());
        let text = format!(
            "retention_days = 30\n{GOOD}\n[runbook]\ncontact = \"Sato 090-0000-0000\"\n\
             webmail = \"https://mail.example.jp/\"\nnotes = \"  \"\n\
             [alerts]\nnotify = true\nrenotify_after = \"2h\"\nwebhook_env = \"HOOK_URL\"\nwebhook_format = \"slack\"\n\
             [network]\nreferences = [\"www.example.jp:443\"]\n"
        );
        let c = Config::parse(&text).unwrap();
        assert_eq!(c.retention_days, 30);
        assert_eq!(
            c.runbook.lines(Lang::En),
            [
                ("Who to call", "Sato 090-0000-0000".to_string()),
                ("Webmail", "https://mail.example.jp/".to_string()),
            ]
        );
        assert_eq!(c.runbook.lines(Lang::Ja)[0].0, "連絡先");
        assert_eq!(c.alerts.notify, Some(true));
        assert_eq!(c.alerts.renotify_after_ms(), Some(7_200_000));
        assert_eq!(c.alerts.webhook_env.as_deref(), Some("HOOK_URL"));
        assert_eq!(c.network.references, ["www.example.jp:443"]);
        assert_eq!(c.mailboxes.len(), 1);
    }

    #[test]
    fn type_errors_never_repeat_the_value() {
        let text = GOOD.replace(
            "password_keyring = true",
            "password_keyring = \"hunter2-value\"",
        );
        let err = Config::parse(&text).unwrap_err().to_string();
        assert!(err.contains("invalid type"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn bad_values_are_never_repeated_in_errors() {
        // A password typed into the wrong field must not come back in the message.
        for (from, to) in [
            ("lang = \"ja\"", "lang = \"hunter2-pw\""),
            ("info@example.jp", "hunter2-pw"),
            ("imap.example.jp\"", "hunter2 pw\""),
            ("imap.example.jp\"", "imap.example.jp:hunter2\""),
            ("smtp.example.jp:465\"", "[hunter2-pw:465\""),
            (
                "password_keyring = true",
                "smtp_security = \"hunter2-pw\"\npassword_keyring = true",
            ),
            ("password_keyring = true", "password_env = \"hunter2=pw\""),
        ] {
            let text = GOOD.replace(from, to);
            assert_ne!(text, GOOD, "{from}");
            let err = Config::parse(&text).unwrap_err().to_string();
            assert!(err.contains("field"), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn a_quoted_value_with_escaped_quotes_is_hidden_whole() {
        let text = GOOD.replace(
            "password_keyring = true",
            "password_keyring = \"hunter2\\\"tail-secret\"",
        );
        let err = Config::parse(&text).unwrap_err().to_string();
        assert!(!err.contains("tail-secret"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert_eq!(redact_quoted(r#"string "a\"b\\" x"#), "string \"…\" x");
    }

    #[test]
    fn syntax_errors_never_echo_the_line() {
        for text in [
            "[mailboxes.office]\npassword = hunter2-unquoted\n",
            "[mailboxes.office]\npassword = \"hunter2-unterminated\n",
        ] {
            let err = Config::parse(text).unwrap_err().to_string();
            assert!(err.contains("line 2"), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn names_and_addresses() {
        assert!(MailboxName::new("office-1.main_box").is_ok());
        for bad in ["", "-x", "a b", "a/b", "日本", &"x".repeat(65)] {
            assert!(MailboxName::new(bad).is_err(), "{bad}");
        }
        assert!(Address::new("info@example.jp").is_ok());
        assert!(Address::new("user@localhost").is_ok());
        for bad in [
            "info", "@x.jp", "a@", "a b@x.jp", "<a@x.jp>", "a@x..jp", "a@.x.jp",
        ] {
            assert!(Address::new(bad).is_err(), "{bad}");
        }
    }
}
