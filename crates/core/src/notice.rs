//! Provider notices and bounces found in a mailbox: a suspended-sending notice in Junk is how
//! incident 2's office could have learned of its lockout a day earlier.
//!
//! Matching is on the decoded From and Subject (any charset: ISO-2022-JP, Shift_JIS, UTF-8),
//! by the rules in `data/notices.tsv`. Whether the sender's domain passed DKIM or SPF (from
//! `Authentication-Results`) is recorded, because look-alike phishing exists. Nothing here
//! follows a link.

use std::sync::LazyLock;

use mail_parser::{HeaderValue, MessageParser};
use serde::{Deserialize, Serialize};

/// A notice or bounce found in a folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Folder, as people read it.
    pub folder: String,
    /// Whether that folder is the junk folder.
    pub in_junk: bool,
    /// `notice` or `bounce`.
    pub kind: String,
    /// The sender, decoded.
    pub from: String,
    /// The subject, decoded.
    pub subject: String,
    /// The Date header as written.
    pub date: String,
    /// `Some(true)` when DKIM or SPF passed for the sender's domain, `Some(false)` when the
    /// results say neither did, `None` when the message carries no results.
    pub trusted: Option<bool>,
    /// Who sends such notices, from the rules file.
    pub provider: String,
}

/// Where a mailbox's scan for notices left off: the next check reads only what arrived since,
/// and looks again at the notices already found (a deleted one is no longer reported).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeScan {
    /// Per folder scanned.
    pub folders: Vec<ScannedFolder>,
}

/// What was read of one folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScannedFolder {
    /// Raw (modified UTF-7) name.
    pub name: String,
    /// The folder's UIDVALIDITY: the UIDs below mean these messages only under it.
    pub uid_validity: u32,
    /// Messages with lower UIDs were read.
    pub next_uid: u32,
    /// UIDs of the notices found there, recent enough to be reported.
    #[serde(default)]
    pub notice_uids: Vec<u32>,
}

#[derive(Debug)]
struct NoticeRule {
    kind: String,
    from: Vec<String>,
    subject: Vec<String>,
    provider: String,
}

fn alternatives(s: &str) -> Vec<String> {
    s.split('|')
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// The rules file, embedded.
pub const NOTICES_TSV: &str = include_str!("../data/notices.tsv");

fn parse_rules(text: &str) -> Result<Vec<NoticeRule>, String> {
    let mut out = Vec::new();
    let mut header = false;
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if !header {
            header = true;
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 5 || !matches!(f[0], "notice" | "bounce") {
            return Err(format!("notices.tsv line {}: malformed", i + 1));
        }
        out.push(NoticeRule {
            kind: f[0].to_string(),
            from: alternatives(f[1]),
            subject: alternatives(f[2]),
            provider: f[3].to_string(),
        });
    }
    Ok(out)
}

static RULES: LazyLock<Vec<NoticeRule>> =
    LazyLock::new(|| parse_rules(NOTICES_TSV).expect("data/notices.tsv is checked by tests"));

fn matches_any(hay: &str, needles: &[String]) -> bool {
    needles.is_empty() || {
        let lower = hay.to_lowercase();
        needles.iter().any(|n| lower.contains(n.as_str()))
    }
}

/// The domain of an address, lower-cased.
fn domain_of(addr: &str) -> Option<String> {
    addr.rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>').trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}

/// Reads `Authentication-Results`: did DKIM (header.d / header.i) or SPF (smtp.mailfrom) pass
/// for `domain`, or for a parent of it?
fn authenticated(results: &[String], domain: &str) -> Option<bool> {
    if results.is_empty() {
        return None;
    }
    let fits = |d: &str| {
        let d = d.trim_start_matches('@').to_ascii_lowercase();
        let d = d.rsplit_once('@').map(|(_, x)| x.to_string()).unwrap_or(d);
        domain == d || domain.ends_with(&format!(".{d}"))
    };
    for r in results {
        for clause in r.split(';').skip(1) {
            let clause = clause.trim().to_ascii_lowercase();
            let pass = clause.starts_with("dkim=pass") || clause.starts_with("spf=pass");
            if !pass {
                continue;
            }
            for word in clause.split_whitespace() {
                if let Some((k, v)) = word.split_once('=')
                    && matches!(k, "header.d" | "header.i" | "smtp.mailfrom")
                    && fits(v)
                {
                    return Some(true);
                }
            }
        }
    }
    Some(false)
}

fn header_text(v: &HeaderValue<'_>) -> String {
    match v {
        HeaderValue::Text(t) => t.to_string(),
        HeaderValue::TextList(l) => l.join(", "),
        _ => String::new(),
    }
}

/// Looks at one message's header block; returns a notice if it is one.
pub fn detect(raw_headers: &[u8], folder: &str, in_junk: bool) -> Option<Notice> {
    let msg = MessageParser::default().parse_headers(raw_headers)?;
    let subject = msg.subject().unwrap_or("").to_string();
    let (from_addr, from_shown) = match msg.from().and_then(|a| a.first()) {
        Some(a) => {
            let addr = a.address().unwrap_or("").to_string();
            let shown = match a.name() {
                Some(n) if !addr.is_empty() => format!("{n} <{addr}>"),
                Some(n) => n.to_string(),
                None => addr.clone(),
            };
            (addr, shown)
        }
        None => (String::new(), String::new()),
    };
    let rule = RULES
        .iter()
        .find(|r| matches_any(&from_shown, &r.from) && matches_any(&subject, &r.subject))?;
    let results: Vec<String> = msg
        .header_values("Authentication-Results")
        .map(header_text)
        .collect();
    let trusted = domain_of(&from_addr).and_then(|d| authenticated(&results, &d));
    let date = msg
        .header_raw("Date")
        .map(|d| d.trim().to_string())
        .unwrap_or_default();
    Some(Notice {
        folder: folder.to_string(),
        in_junk,
        kind: rule.kind.clone(),
        from: from_shown,
        subject,
        date,
        trusted,
        provider: rule.provider.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse() {
        assert!(parse_rules(NOTICES_TSV).unwrap().len() >= 5);
        assert!(parse_rules("h\nnotice\tx\n").is_err());
    }

    #[test]
    fn iso_2022_jp_suspension_notice_in_junk() {
        let raw = b"From: =?ISO-2022-JP?B?GyRCJWEhPCVrJTUhPCVTJTkbKEI=?= <support@isp.example.jp>\r\n\
Subject: =?ISO-2022-JP?B?GyRCIVo9RU1XIVslYSE8JWtBdz8uRGQ7XyROJCpDTiRpJDsbKEI=?=\r\n\
Date: Sat, 21 Nov 2026 09:00:00 +0900\r\n\
Authentication-Results: mx.example.jp; dkim=pass header.d=isp.example.jp; spf=pass smtp.mailfrom=isp.example.jp\r\n\r\n";
        let n = detect(raw, "迷惑メール", true).expect("a notice");
        assert_eq!(n.subject, "【重要】メール送信停止のお知らせ");
        assert_eq!(n.kind, "notice");
        assert!(n.from.ends_with("<support@isp.example.jp>"), "{}", n.from);
        assert_eq!(n.trusted, Some(true));
        assert!(n.in_junk);
        assert_eq!(n.date, "Sat, 21 Nov 2026 09:00:00 +0900");
    }

    #[test]
    fn shift_jis_subject_and_look_alike_sender() {
        // "アカウント停止のお知らせ" in Shift_JIS, base64; DKIM passed for another domain.
        let subject = "=?Shift_JIS?B?g0GDSoNFg5ODZ5Lijn6CzIKokm2C54K5?=";
        let raw = format!(
            "From: support@isp-example.top\r\nSubject: {subject}\r\n\
             Authentication-Results: mx; dkim=pass header.d=mailer.example.net\r\n\r\n"
        );
        let n = detect(raw.as_bytes(), "INBOX", false).expect("a notice");
        assert_eq!(n.subject, "アカウント停止のお知らせ");
        assert_eq!(
            n.trusted,
            Some(false),
            "DKIM passed, but not for the sender's domain"
        );
    }

    #[test]
    fn ordinary_mail_and_bounces() {
        let plain = b"From: customer@example.jp\r\nSubject: Order 1234\r\n\r\n";
        assert_eq!(detect(plain, "INBOX", false), None);
        let bounce = b"From: MAILER-DAEMON@mail.example.jp (Mail Delivery System)\r\n\
Subject: Undelivered Mail Returned to Sender\r\n\r\n";
        let n = detect(bounce, "INBOX", false).expect("a bounce");
        assert_eq!((n.kind.as_str(), n.trusted), ("bounce", None));
        // A customer writing about a suspension is not a provider notice... unless the words
        // match; the rules only look at phrases providers use.
        let chat = b"From: friend@example.jp\r\nSubject: lunch on Friday?\r\n\r\n";
        assert_eq!(detect(chat, "INBOX", false), None);
    }
}
