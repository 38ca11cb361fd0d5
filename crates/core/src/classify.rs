//! Classification of server replies into the diagnosis vocabulary.
//!
//! A category is decided from the protocol, the stage, the basic reply code, the enhanced status
//! code (RFC 3463) or response code (RFC 5530 for IMAP, RFC 2449/3206 for POP3) and the reply
//! text together, by the rules in `data/replies.tsv`: first match wins, provider texts before
//! generic code meanings (Gmail's 5.4.5 is a daily sending quota). Each rule keeps the provider
//! and the source it was learned from, and an example reply that a unit test classifies.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::Category;

/// Which part of the conversation a reply answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyStage {
    /// Greeting or EHLO/CAPABILITY before login.
    Greeting,
    /// Login / AUTH.
    Auth,
    /// MAIL FROM, RCPT TO or DATA.
    Send,
    /// Any command after login (SELECT, FETCH, RETR, …).
    Mailbox,
}

/// The protocol a reply came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyProtocol {
    /// SMTP submission.
    Smtp,
    /// IMAP.
    Imap,
    /// POP3.
    Pop3,
}

/// A server's reply, as the engine received it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reply {
    /// SMTP basic code (e.g. 554); `None` for IMAP and POP3.
    pub code: Option<u16>,
    /// IMAP or POP3 response code in brackets, upper-cased, without brackets
    /// (e.g. `AUTHENTICATIONFAILED`, `SYS/TEMP`).
    pub resp_code: Option<String>,
    /// The reply text (all lines joined), which may begin with an enhanced status code.
    pub text: String,
}

/// An RFC 3463 enhanced status code `class.subject.detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnhancedCode(pub u8, pub u16, pub u16);

impl EnhancedCode {
    /// Finds an enhanced status code at the start of a reply text (after an optional basic code).
    pub fn find(text: &str) -> Option<EnhancedCode> {
        let mut words = text.split_whitespace();
        let mut w = words.next()?;
        if w.len() == 3 && w.bytes().all(|b| b.is_ascii_digit()) {
            w = words.next()?;
        }
        let w = w.trim_start_matches('#').trim_end_matches([',', ';', ':']);
        let mut parts = w.split('.');
        let class: u8 = parts.next()?.parse().ok()?;
        let subject: u16 = parts.next()?.parse().ok()?;
        let detail: u16 = parts.next()?.parse().ok()?;
        (parts.next().is_none() && matches!(class, 2 | 4 | 5))
            .then_some(EnhancedCode(class, subject, detail))
    }
}

/// One part of an enhanced-code pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PartPat {
    Any,
    Range(u16, u16),
}

impl PartPat {
    fn parse(s: &str) -> Option<PartPat> {
        if s == "*" {
            return Some(PartPat::Any);
        }
        if let Some((a, b)) = s.split_once('-') {
            return Some(PartPat::Range(a.parse().ok()?, b.parse().ok()?));
        }
        // "5**" style: digits then stars, a decimal prefix of a 3-digit detail.
        if s.ends_with('*') {
            let digits = s.trim_end_matches('*');
            let width = s.len() as u32;
            let base: u16 = digits.parse().ok()?;
            let scale = 10u16.pow(width - digits.len() as u32);
            return Some(PartPat::Range(base * scale, base * scale + scale - 1));
        }
        let n = s.parse().ok()?;
        Some(PartPat::Range(n, n))
    }

    fn matches(&self, v: u16) -> bool {
        match self {
            PartPat::Any => true,
            PartPat::Range(a, b) => (*a..=*b).contains(&v),
        }
    }
}

/// One rule of `data/replies.tsv`.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Protocol.
    pub protocol: ReplyProtocol,
    /// Stage, or any.
    pub stage: Option<ReplyStage>,
    code: String,
    enhanced: Option<[PartPat; 3]>,
    resp_code: Option<String>,
    texts: Vec<String>,
    /// The category this rule decides.
    pub category: Category,
    /// Whose reply this is.
    pub provider: String,
    /// A reply that classifies to `category` (checked by a test).
    pub example: String,
    /// Where the fact comes from.
    pub source: String,
}

impl Rule {
    fn matches(&self, protocol: ReplyProtocol, stage: ReplyStage, reply: &Reply) -> bool {
        if self.protocol != protocol || self.stage.is_some_and(|s| s != stage) {
            return false;
        }
        if !self.code.is_empty() {
            let Some(code) = reply.code else { return false };
            let code = code.to_string();
            let ok = match self.code.strip_suffix('*') {
                Some(prefix) => code.starts_with(prefix),
                None => code == self.code,
            };
            if !ok {
                return false;
            }
        }
        if let Some([c, s, d]) = &self.enhanced {
            let Some(EnhancedCode(ec, es, ed)) = EnhancedCode::find(&reply.text) else {
                return false;
            };
            if !(c.matches(ec.into()) && s.matches(es) && d.matches(ed)) {
                return false;
            }
        }
        if let Some(rc) = &self.resp_code
            && reply.resp_code.as_deref() != Some(rc.as_str())
        {
            return false;
        }
        if self.texts.is_empty() {
            return true;
        }
        let lower = reply.text.to_lowercase();
        self.texts.iter().any(|t| lower.contains(t.as_str()))
    }
}

/// The rules file, embedded.
pub const RULES_TSV: &str = include_str!("../data/replies.tsv");

/// Parses the rules file; errors name the line.
pub fn parse_rules(text: &str) -> Result<Vec<Rule>, String> {
    let mut rules = Vec::new();
    let mut header_seen = false;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if !header_seen {
            header_seen = true;
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 10 {
            return Err(format!("line {n}: {} columns, want 10", f.len()));
        }
        let protocol = match f[0] {
            "smtp" => ReplyProtocol::Smtp,
            "imap" => ReplyProtocol::Imap,
            "pop3" => ReplyProtocol::Pop3,
            p => return Err(format!("line {n}: protocol {p:?}")),
        };
        let stage = match f[1] {
            "*" => None,
            "auth" => Some(ReplyStage::Auth),
            "send" => Some(ReplyStage::Send),
            "greeting" => Some(ReplyStage::Greeting),
            "mailbox" => Some(ReplyStage::Mailbox),
            s => return Err(format!("line {n}: stage {s:?}")),
        };
        let code = f[2].to_string();
        if !code.is_empty()
            && !code
                .trim_end_matches('*')
                .bytes()
                .all(|b| b.is_ascii_digit())
        {
            return Err(format!("line {n}: code {code:?}"));
        }
        let enhanced = if f[3].is_empty() {
            None
        } else {
            let parts: Vec<PartPat> = f[3]
                .split('.')
                .map(PartPat::parse)
                .collect::<Option<_>>()
                .ok_or_else(|| format!("line {n}: enhanced code {:?}", f[3]))?;
            Some(
                <[PartPat; 3]>::try_from(parts)
                    .map_err(|_| format!("line {n}: enhanced code {:?}", f[3]))?,
            )
        };
        let category =
            Category::parse(f[6]).ok_or_else(|| format!("line {n}: category {:?}", f[6]))?;
        rules.push(Rule {
            protocol,
            stage,
            code,
            enhanced,
            resp_code: (!f[4].is_empty()).then(|| f[4].to_string()),
            texts: f[5]
                .split('|')
                .map(|t| t.trim().to_lowercase())
                .filter(|t| !t.is_empty())
                .collect(),
            category,
            provider: f[7].to_string(),
            example: f[8].to_string(),
            source: f[9].to_string(),
        });
    }
    Ok(rules)
}

static RULES: LazyLock<Vec<Rule>> =
    LazyLock::new(|| parse_rules(RULES_TSV).expect("data/replies.tsv is checked by tests"));

/// Every rule, in order.
pub fn rules() -> &'static [Rule] {
    &RULES
}

/// The rule that decides a reply, if any.
pub fn matching_rule(
    protocol: ReplyProtocol,
    stage: ReplyStage,
    reply: &Reply,
) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.matches(protocol, stage, reply))
}

/// Classifies a reply; replies no rule knows are server errors (greeting, mailbox) or refused
/// logins (auth) or refused submissions (send).
pub fn classify(protocol: ReplyProtocol, stage: ReplyStage, reply: &Reply) -> Category {
    matching_rule(protocol, stage, reply)
        .map(|r| r.category)
        .unwrap_or(match stage {
            ReplyStage::Auth => Category::AuthFailed,
            ReplyStage::Send => Category::SendBlocked,
            ReplyStage::Greeting | ReplyStage::Mailbox => Category::ServerError,
        })
}

/// Classifies an SMTP reply given at `stage`.
pub fn classify_smtp(stage: ReplyStage, reply: &Reply) -> Category {
    classify(ReplyProtocol::Smtp, stage, reply)
}

/// Classifies an IMAP `NO`/`BAD` reply given at `stage`.
pub fn classify_imap(stage: ReplyStage, reply: &Reply) -> Category {
    classify(ReplyProtocol::Imap, stage, reply)
}

/// Splits an SMTP example like `535 5.7.8 text` into a reply.
pub fn smtp_reply(line: &str) -> Reply {
    let (code, text) = match line.split_once(' ') {
        Some((c, t)) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()) => {
            (c.parse().ok(), t.to_string())
        }
        _ => (None, line.to_string()),
    };
    Reply {
        code,
        resp_code: None,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Category::*;

    fn imap(rc: &str, text: &str) -> Reply {
        Reply {
            code: None,
            resp_code: (!rc.is_empty()).then(|| rc.to_string()),
            text: text.to_string(),
        }
    }

    #[test]
    fn enhanced_codes() {
        assert_eq!(
            EnhancedCode::find("5.7.1 <a@b>: rejected"),
            Some(EnhancedCode(5, 7, 1))
        );
        assert_eq!(
            EnhancedCode::find("554 5.7.1 x"),
            Some(EnhancedCode(5, 7, 1))
        );
        assert_eq!(EnhancedCode::find("#5.1.8 x"), Some(EnhancedCode(5, 1, 8)));
        assert_eq!(EnhancedCode::find("Error: authentication failed"), None);
        assert_eq!(EnhancedCode::find("1.2.3 x"), None);
        assert_eq!(PartPat::parse("5**"), Some(PartPat::Range(500, 599)));
        assert_eq!(PartPat::parse("500-699"), Some(PartPat::Range(500, 699)));
    }

    /// Every row of the data file: its example classifies to its own category.
    #[test]
    fn every_rule_classifies_its_example() {
        let rules = parse_rules(RULES_TSV).expect("the data file parses");
        assert!(rules.len() > 50, "{} rules", rules.len());
        let mut failures = Vec::new();
        for r in &rules {
            let stage = r.stage.unwrap_or(match r.protocol {
                ReplyProtocol::Smtp => ReplyStage::Send,
                _ => ReplyStage::Mailbox,
            });
            let reply = match r.protocol {
                ReplyProtocol::Smtp => smtp_reply(&r.example),
                _ => Reply {
                    code: None,
                    resp_code: r.resp_code.clone(),
                    text: r.example.clone(),
                },
            };
            let got = classify(r.protocol, stage, &reply);
            if got != r.category {
                let by = matching_rule(r.protocol, stage, &reply).map(|m| m.example.clone());
                failures.push(format!(
                    "{:?} {:?} {:?}: want {}, got {got} (by rule with example {by:?})",
                    r.protocol, stage, r.example, r.category
                ));
            }
            assert!(
                !r.source.is_empty() && !r.provider.is_empty(),
                "{:?}",
                r.example
            );
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn data_file_errors_name_the_line() {
        let bad = "protocol\tstage\tcode\tenhanced\tresp_code\ttext\tcategory\tprovider\texample\tsource\n\
                   smtp\tauth\t535\t5.7.8\t\tx\tno_such_category\tp\te\ts\n";
        assert_eq!(
            parse_rules(bad).unwrap_err(),
            "line 2: category \"no_such_category\""
        );
        assert!(
            parse_rules("h\nsmtp\tauth\n")
                .unwrap_err()
                .starts_with("line 2: 2 columns")
        );
    }

    #[test]
    fn the_same_code_means_different_things_by_text_and_stage() {
        // (stage, reply line, expected) — the harness's real replies among them.
        let table = [
            (
                ReplyStage::Auth,
                "535 5.7.8 Error: authentication failed: (reason unavailable)",
                AuthFailed,
            ),
            (
                ReplyStage::Auth,
                "535 5.7.139 Authentication unsuccessful, the user credentials were incorrect.",
                AuthFailed,
            ),
            (
                ReplyStage::Auth,
                "535 5.7.139 Authentication unsuccessful, basic authentication is disabled.",
                AuthMethodRequired,
            ),
            (
                ReplyStage::Send,
                "550 5.4.5 Daily user sending quota exceeded.",
                SendLimited,
            ),
            (
                ReplyStage::Send,
                "554 5.7.1 <office@example.test>: Sender address rejected: account suspended for sending spam",
                SendBlocked,
            ),
            (
                ReplyStage::Send,
                "552 5.2.2 <office@example.test>: Recipient address rejected: Quota exceeded",
                MailboxFull,
            ),
            (
                ReplyStage::Send,
                "550 5.2.2 Submission quota exceeded",
                SendLimited,
            ),
            (
                ReplyStage::Send,
                "451 4.3.0 Temporary System Problem",
                ServerError,
            ),
            (ReplyStage::Send, "450 4.7.1 Try again later", SendLimited),
            (
                ReplyStage::Greeting,
                "421 4.3.2 Service not available",
                ServerError,
            ),
            (
                ReplyStage::Auth,
                "454 4.7.0 Too many login attempts, please try again later.",
                AccountLocked,
            ),
            (
                ReplyStage::Auth,
                "454 4.7.0 Temporary authentication failure",
                ServerError,
            ),
        ];
        for (stage, line, want) in table {
            assert_eq!(classify_smtp(stage, &smtp_reply(line)), want, "{line}");
        }
        let table = [
            (
                ReplyStage::Auth,
                "AUTHENTICATIONFAILED",
                "Authentication failed.",
                AuthFailed,
            ),
            (
                ReplyStage::Auth,
                "ALERT",
                "Please log in via your web browser: https://support.google.com/mail/accounts/answer/78754 (Failure)",
                AuthMethodRequired,
            ),
            (
                ReplyStage::Auth,
                "UNAVAILABLE",
                "Temporary authentication failure",
                ServerError,
            ),
            (
                ReplyStage::Mailbox,
                "OVERQUOTA",
                "Quota exceeded",
                MailboxFull,
            ),
            (ReplyStage::Auth, "", "LOGIN failed.", AuthFailed),
        ];
        for (stage, rc, text, want) in table {
            assert_eq!(classify_imap(stage, &imap(rc, text)), want, "[{rc}] {text}");
        }
    }
}
