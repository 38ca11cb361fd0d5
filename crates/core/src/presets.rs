//! Server settings of common providers (`data/presets.tsv`), for the add-mailbox wizard: hosts,
//! ports, security, and whether the provider wants an app password or only OAuth.

use std::sync::LazyLock;

use serde::Serialize;

use crate::config::Security;

/// One provider's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Preset {
    /// Short id (`gmail`).
    pub id: String,
    /// Name in English.
    pub name: String,
    /// Name in Japanese.
    pub name_ja: String,
    /// IMAP host; may hold a placeholder the note explains.
    pub imap_host: String,
    /// IMAP port.
    pub imap_port: u16,
    /// IMAP security.
    pub imap_security: Security,
    /// Submission host.
    pub smtp_host: String,
    /// Submission port.
    pub smtp_port: u16,
    /// Submission security.
    pub smtp_security: Security,
    /// The POP3 server, when the provider offers POP3.
    pub pop3: Option<Pop3Server>,
    /// An app password is needed, not the normal one.
    pub app_password: bool,
    /// Password login is off: only OAuth works.
    pub oauth_only: bool,
    /// What to do, in English.
    pub note: String,
    /// What to do, in Japanese.
    pub note_ja: String,
    /// Where the settings come from.
    pub source: String,
}

/// A provider's POP3 server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pop3Server {
    /// Host; may hold the same placeholder as the IMAP host.
    pub host: String,
    /// Port.
    pub port: u16,
}

impl Pop3Server {
    /// TLS, or STARTTLS (STLS) on port 110, as in the config.
    pub fn security(&self) -> Security {
        if self.port == 110 {
            Security::Starttls
        } else {
            Security::Tls
        }
    }
}

impl Preset {
    /// The OAuth2 sign-in this provider offers (`microsoft`, `google`), if any.
    pub fn oauth(&self) -> Option<&'static str> {
        match self.id.as_str() {
            "microsoft365" | "outlook" => Some("microsoft"),
            "gmail" => Some("google"),
            _ => None,
        }
    }
}

/// The table.
pub const PRESETS_TSV: &str = include_str!("../data/presets.tsv");

const COLUMNS: [&str; 16] = [
    "id",
    "name",
    "name_ja",
    "imap_host",
    "imap_port",
    "imap_security",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "pop3_host",
    "pop3_port",
    "app_password",
    "oauth_only",
    "note",
    "note_ja",
    "source",
];

/// Parses the table; an error names the line.
pub fn parse(tsv: &str) -> Result<Vec<Preset>, String> {
    let mut lines = tsv.lines().enumerate();
    let header: Vec<&str> = lines
        .next()
        .map(|(_, l)| l.split('\t').collect())
        .unwrap_or_default();
    if header != COLUMNS {
        return Err(format!("header must be {}", COLUMNS.join(",")));
    }
    let mut out: Vec<Preset> = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let n = i + 1;
        let f: Vec<&str> = line.split('\t').map(str::trim).collect();
        if f.len() != COLUMNS.len() {
            return Err(format!(
                "line {n}: {} fields, not {}",
                f.len(),
                COLUMNS.len()
            ));
        }
        let port = |s: &str| {
            s.parse::<u16>()
                .ok()
                .filter(|&p| p > 0)
                .ok_or_else(|| format!("line {n}: port {s:?}"))
        };
        let security = |s: &str| match s {
            "tls" => Ok(Security::Tls),
            "starttls" => Ok(Security::Starttls),
            _ => Err(format!("line {n}: security {s:?} (tls or starttls)")),
        };
        let yes = |s: &str| match s {
            "yes" => Ok(true),
            "no" => Ok(false),
            _ => Err(format!("line {n}: {s:?} is not yes or no")),
        };
        let p = Preset {
            id: f[0].to_string(),
            name: f[1].to_string(),
            name_ja: f[2].to_string(),
            imap_host: f[3].to_string(),
            imap_port: port(f[4])?,
            imap_security: security(f[5])?,
            smtp_host: f[6].to_string(),
            smtp_port: port(f[7])?,
            smtp_security: security(f[8])?,
            // Both or neither: a provider without POP3 leaves the two empty.
            pop3: match (f[9], f[10]) {
                ("", "") => None,
                ("", _) => return Err(format!("line {n}: pop3_port without host")),
                (_, "") => return Err(format!("line {n}: pop3_host without port")),
                (h, p) => Some(Pop3Server {
                    host: h.to_string(),
                    port: port(p)?,
                }),
            },
            app_password: yes(f[11])?,
            oauth_only: yes(f[12])?,
            note: f[13].to_string(),
            note_ja: f[14].to_string(),
            source: f[15].to_string(),
        };
        if p.id.is_empty()
            || !p
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(format!("line {n}: id {:?}", p.id));
        }
        if out.iter().any(|o| o.id == p.id) {
            return Err(format!("line {n}: id {:?} twice", p.id));
        }
        if [&p.imap_host, &p.smtp_host, &p.name, &p.note, &p.note_ja]
            .iter()
            .any(|s| s.is_empty())
        {
            return Err(format!("line {n}: an empty field"));
        }
        out.push(p);
    }
    Ok(out)
}

static PRESETS: LazyLock<Vec<Preset>> =
    LazyLock::new(|| parse(PRESETS_TSV).expect("data/presets.tsv is checked by tests"));

/// Every preset, in the table's order.
pub fn all() -> &'static [Preset] {
    &PRESETS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_holds_the_common_providers() {
        let all = parse(PRESETS_TSV).unwrap();
        for id in ["gmail", "microsoft365", "yahoo_japan"] {
            assert!(all.iter().any(|p| p.id == id), "{id} missing");
        }
        let gmail = all.iter().find(|p| p.id == "gmail").unwrap();
        assert_eq!(gmail.imap_port, 993);
        assert_eq!(gmail.imap_security, Security::Tls);
        assert!(gmail.app_password);
        let pop3 = gmail.pop3.as_ref().unwrap();
        assert_eq!((pop3.host.as_str(), pop3.port), ("pop.gmail.com", 995));
        assert_eq!(pop3.security(), Security::Tls);
        // iCloud offers IMAP only.
        let icloud = all.iter().find(|p| p.id == "icloud").unwrap();
        assert_eq!(icloud.pop3, None);
    }

    #[test]
    fn bad_rows_are_named() {
        let head = COLUMNS.join("\t");
        let row = "x\tX\tX\ti.example\t993\ttls\ts.example\t587\tplain\t\t\tno\tno\tn\tn\tu";
        let err = parse(&format!("{head}\n{row}\n")).unwrap_err();
        assert!(err.contains("line 2") && err.contains("plain"), "{err}");
        let good = row.replace("plain", "tls");
        assert!(parse(&format!("{head}\n{good}\n")).is_ok());
        for (pop3, want) in [
            ("\tp.example\t\t", "without port"),
            ("\t\t995\t", "without host"),
            ("\tp.example\t0\t", "port"),
        ] {
            let bad = good.replace("\t\t\t", pop3);
            let err = parse(&format!("{head}\n{bad}\n")).unwrap_err();
            assert!(err.contains(want), "{pop3:?}: {err}");
        }
        assert!(parse("id\tname\n").is_err());
    }
}
