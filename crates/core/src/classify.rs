//! Classification of server replies into the diagnosis vocabulary.
//!
//! A category is decided from the protocol, the stage, the basic reply code, the enhanced status
//! code (RFC 3463) or IMAP response code (RFC 5530) and the reply text together: the same code
//! means different things at different providers (Gmail's 5.4.5 is a daily sending quota).
//! Provider-specific texts are checked before generic code meanings.

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
    /// Any IMAP command after login (SELECT, FETCH, …).
    Mailbox,
}

/// A server's reply, as the engine received it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reply {
    /// SMTP basic code (e.g. 554); `None` for IMAP.
    pub code: Option<u16>,
    /// IMAP response code in brackets, upper-cased without brackets (e.g. `AUTHENTICATIONFAILED`).
    pub imap_code: Option<String>,
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

fn has(text: &str, needles: &[&str]) -> bool {
    let lower = text.to_ascii_lowercase();
    needles.iter().any(|n| lower.contains(n))
}

const AUTH_METHOD_TEXTS: &[&str] = &[
    "application-specific password",
    "basic authentication is disabled",
    "basic authentication is not supported",
    "smtpclientauthentication is disabled",
    "web login required",
    "log in via your web browser",
    "please log in with your web browser",
];

const LOCKED_TEXTS: &[&str] = &[
    "too many login attempts",
    "account is locked",
    "account locked",
    "account disabled",
    "account suspended",
    "account has been suspended",
    "account is disabled",
];

const QUOTA_SEND_TEXTS: &[&str] = &[
    "sending limit",
    "sending quota",
    "submissionquotaexceeded",
    "submission quota",
    "daily limit",
    "refusequota",
    "rate limit",
];

/// Classifies an SMTP reply given at `stage`.
pub fn classify_smtp(stage: ReplyStage, reply: &Reply) -> Category {
    let code = reply.code.unwrap_or(0);
    let enh = EnhancedCode::find(&reply.text);
    let text = reply.text.as_str();
    let transient = (400..500).contains(&code) || matches!(enh, Some(EnhancedCode(4, _, _)));
    match stage {
        ReplyStage::Auth => {
            if has(text, AUTH_METHOD_TEXTS) || matches!(enh, Some(EnhancedCode(5, 7, 9 | 14 | 30)))
            {
                Category::AuthMethodRequired
            } else if has(text, LOCKED_TEXTS) {
                Category::AccountLocked
            } else if code == 535 || matches!(enh, Some(EnhancedCode(5, 7, 8 | 3 | 139))) {
                Category::AuthFailed
            } else if transient {
                Category::ServerError
            } else {
                Category::AuthFailed
            }
        }
        ReplyStage::Send => {
            if matches!(
                enh,
                Some(EnhancedCode(_, 4, 5)) | Some(EnhancedCode(_, 1, 90))
            ) || has(text, QUOTA_SEND_TEXTS)
            {
                Category::SendLimited
            } else if matches!(enh, Some(EnhancedCode(_, 2, 2)))
                || has(
                    text,
                    &[
                        "over quota",
                        "quota exceeded",
                        "mailbox full",
                        "mailbox is full",
                    ],
                )
            {
                // Canaries go from the mailbox to itself: a full recipient is this mailbox.
                Category::MailboxFull
            } else if has(text, LOCKED_TEXTS)
                || has(
                    text,
                    &["spam", "banned", "blocked", "access denied", "suspended"],
                )
                || matches!(
                    enh,
                    Some(EnhancedCode(5, 1, 8)) | Some(EnhancedCode(5, 7, _))
                )
            {
                if transient {
                    Category::SendLimited
                } else {
                    Category::SendBlocked
                }
            } else if transient {
                Category::ServerError
            } else {
                Category::SendBlocked
            }
        }
        ReplyStage::Greeting | ReplyStage::Mailbox => {
            if code == 0 {
                Category::ProtocolError
            } else {
                Category::ServerError
            }
        }
    }
}

/// Classifies an IMAP `NO`/`BAD` reply given at `stage`.
pub fn classify_imap(stage: ReplyStage, reply: &Reply) -> Category {
    let rc = reply.imap_code.as_deref().unwrap_or("");
    let text = reply.text.as_str();
    if has(text, AUTH_METHOD_TEXTS) || rc == "WEBALERT" {
        return Category::AuthMethodRequired;
    }
    match rc {
        "OVERQUOTA" if stage == ReplyStage::Auth => return Category::SendLimited,
        "OVERQUOTA" => return Category::MailboxFull,
        "CONTACTADMIN" | "AUTHORIZATIONFAILED" => return Category::AccountLocked,
        "PRIVACYREQUIRED" => return Category::StarttlsMissing,
        "UNAVAILABLE" | "INUSE" | "LIMIT" | "SERVERBUG" => return Category::ServerError,
        _ => {}
    }
    if has(text, LOCKED_TEXTS) {
        return Category::AccountLocked;
    }
    // AUTHENTICATIONFAILED, EXPIRED, a bare NO: the login itself was refused.
    match stage {
        ReplyStage::Auth => Category::AuthFailed,
        ReplyStage::Greeting | ReplyStage::Send | ReplyStage::Mailbox => Category::ServerError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Category::*;

    fn smtp(code: u16, text: &str) -> Reply {
        Reply {
            code: Some(code),
            imap_code: None,
            text: text.to_string(),
        }
    }

    fn imap(rc: &str, text: &str) -> Reply {
        Reply {
            code: None,
            imap_code: (!rc.is_empty()).then(|| rc.to_string()),
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
    }

    #[test]
    fn smtp_table() {
        // (stage, code, text, expected) — texts from provider-codes.tsv and the harness.
        let table = [
            (
                ReplyStage::Auth,
                535,
                "5.7.8 Error: authentication failed: authentication failure",
                AuthFailed,
            ),
            (
                ReplyStage::Auth,
                535,
                "5.7.8 Username and Password not accepted. p=BadCredentials",
                AuthFailed,
            ),
            (
                ReplyStage::Auth,
                534,
                "5.7.9 Application-specific password required.",
                AuthMethodRequired,
            ),
            (
                ReplyStage::Auth,
                534,
                "5.7.14 Please log in via your web browser and then try again.",
                AuthMethodRequired,
            ),
            (
                ReplyStage::Auth,
                535,
                "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.",
                AuthMethodRequired,
            ),
            (
                ReplyStage::Auth,
                535,
                "5.7.139 Authentication unsuccessful, the user credentials were incorrect.",
                AuthFailed,
            ),
            (
                ReplyStage::Auth,
                454,
                "4.7.0 Too many login attempts, please try again later.",
                AccountLocked,
            ),
            (
                ReplyStage::Auth,
                454,
                "4.7.0 Temporary authentication failure",
                ServerError,
            ),
            (
                ReplyStage::Send,
                554,
                "5.7.1 <info@example.test>: Sender address rejected: account suspended for sending spam",
                SendBlocked,
            ),
            (
                ReplyStage::Send,
                550,
                "5.1.8 Access denied, bad outbound sender",
                SendBlocked,
            ),
            (
                ReplyStage::Send,
                550,
                "5.4.5 Daily user sending limit exceeded.",
                SendLimited,
            ),
            (
                ReplyStage::Send,
                554,
                "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException",
                SendLimited,
            ),
            (
                ReplyStage::Send,
                552,
                "5.2.2 <info@example.test>: Recipient address rejected: Quota exceeded",
                MailboxFull,
            ),
            (
                ReplyStage::Send,
                451,
                "4.7.500 Access denied, please try again later",
                SendLimited,
            ),
            (
                ReplyStage::Send,
                451,
                "4.3.0 Temporary System Problem",
                ServerError,
            ),
            (
                ReplyStage::Send,
                550,
                "5.7.708 Access denied, traffic not accepted from this IP",
                SendBlocked,
            ),
            (
                ReplyStage::Greeting,
                421,
                "4.3.2 Service not available",
                ServerError,
            ),
        ];
        for (stage, code, text, want) in table {
            assert_eq!(
                classify_smtp(stage, &smtp(code, text)),
                want,
                "{code} {text}"
            );
        }
    }

    #[test]
    fn imap_table() {
        let table = [
            (
                ReplyStage::Auth,
                "AUTHENTICATIONFAILED",
                "Authentication failed.",
                AuthFailed,
            ),
            (
                ReplyStage::Auth,
                "AUTHENTICATIONFAILED",
                "Invalid credentials (Failure)",
                AuthFailed,
            ),
            (
                ReplyStage::Auth,
                "ALERT",
                "Application-specific password required: https://support.google.com/accounts/answer/185833 (Failure)",
                AuthMethodRequired,
            ),
            (
                ReplyStage::Auth,
                "",
                "Basic authentication is disabled.",
                AuthMethodRequired,
            ),
            (
                ReplyStage::Auth,
                "WEBALERT",
                "Web login required.",
                AuthMethodRequired,
            ),
            (
                ReplyStage::Auth,
                "CONTACTADMIN",
                "Account disabled",
                AccountLocked,
            ),
            (
                ReplyStage::Auth,
                "UNAVAILABLE",
                "Temporary authentication failure",
                ServerError,
            ),
            (ReplyStage::Auth, "", "LOGIN failed.", AuthFailed),
            (
                ReplyStage::Mailbox,
                "OVERQUOTA",
                "Quota exceeded",
                MailboxFull,
            ),
            (
                ReplyStage::Mailbox,
                "",
                "System Error (Failure)",
                ServerError,
            ),
        ];
        for (stage, rc, text, want) in table {
            assert_eq!(classify_imap(stage, &imap(rc, text)), want, "[{rc}] {text}");
        }
    }
}
