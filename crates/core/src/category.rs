//! The diagnosis vocabulary: one fixed list of categories and the Nagios severities.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How bad a finding is, with the Nagios plugin exit codes as values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// All is well (exit 0).
    Ok,
    /// Something needs attention soon (exit 1).
    Warning,
    /// Mail is not flowing, or soon will not (exit 2).
    Critical,
    /// The check itself could not decide (exit 3).
    Unknown,
}

impl Severity {
    /// The Nagios exit code.
    pub fn exit_code(self) -> i32 {
        match self {
            Severity::Ok => 0,
            Severity::Warning => 1,
            Severity::Critical => 2,
            Severity::Unknown => 3,
        }
    }

    /// Rank for "worst of": ok < warning < unknown < critical. Unknown ranks below critical so
    /// that a definite outage wins over an undecided check, as Nagios plugins usually report.
    pub fn rank(self) -> u8 {
        match self {
            Severity::Ok => 0,
            Severity::Warning => 1,
            Severity::Unknown => 2,
            Severity::Critical => 3,
        }
    }

    /// The worse of two severities.
    pub fn worst(self, other: Severity) -> Severity {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }

    /// Upper-case label used in Nagios lines.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Ok => "OK",
            Severity::Warning => "WARNING",
            Severity::Critical => "CRITICAL",
            Severity::Unknown => "UNKNOWN",
        }
    }

    /// The lower-case name used in JSON and history.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
            Severity::Unknown => "unknown",
        }
    }

    /// Parses the lower-case name.
    pub fn parse(s: &str) -> Option<Severity> {
        [
            Severity::Ok,
            Severity::Warning,
            Severity::Critical,
            Severity::Unknown,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

macro_rules! categories {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $sev:ident; )*) => {
        /// What a check found, from the one list shared by the CLI, history, UI and tests.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Category {
            $( $(#[$doc])* $variant, )*
        }

        impl Category {
            /// Every category, in vocabulary order.
            pub const ALL: &'static [Category] = &[$(Category::$variant),*];

            /// The snake_case name.
            pub fn as_str(self) -> &'static str {
                match self { $(Category::$variant => $name,)* }
            }

            /// The severity this category has unless a rule says otherwise.
            pub fn default_severity(self) -> Severity {
                match self { $(Category::$variant => Severity::$sev,)* }
            }
        }
    };
}

categories! {
    /// The canary went round and all is well.
    Ok = "ok", Ok;
    /// The canary arrived, but slowly.
    Late = "late", Warning;
    /// The canary arrived in the Junk folder.
    Junk = "junk", Warning;
    /// The canary never arrived.
    Lost = "lost", Critical;
    /// Canaries with some attachment types do not arrive.
    AttachmentBlocked = "attachment_blocked", Critical;
    /// An attachment arrived removed or changed.
    AttachmentAltered = "attachment_altered", Critical;
    /// The connection broke while a message was downloaded.
    DownloadInterrupted = "download_interrupted", Critical;
    /// A canary vanished from the server before the monitor removed it.
    CanaryRemoved = "canary_removed", Warning;
    /// The server refused the login.
    AuthFailed = "auth_failed", Critical;
    /// The server wants an app password or OAuth sign-in instead of the password.
    AuthMethodRequired = "auth_method_required", Critical;
    /// The provider locked the account.
    AccountLocked = "account_locked", Critical;
    /// The provider refuses to send mail from this mailbox.
    SendBlocked = "send_blocked", Critical;
    /// Sending is limited for now (rate or daily quota).
    SendLimited = "send_limited", Warning;
    /// The mailbox is full.
    MailboxFull = "mailbox_full", Critical;
    /// The mailbox is nearly full.
    QuotaWarning = "quota_warning", Warning;
    /// A notice from the provider sits in the mailbox.
    NoticeFound = "notice_found", Warning;
    /// The server's certificate is not trusted.
    TlsUntrusted = "tls_untrusted", Critical;
    /// The server's certificate has expired.
    TlsExpired = "tls_expired", Critical;
    /// The server's certificate expires soon.
    TlsExpiring = "tls_expiring", Warning;
    /// Something between this PC and the server replaces its certificate.
    TlsIntercepted = "tls_intercepted", Critical;
    /// A STARTTLS that was configured is not offered.
    StarttlsMissing = "starttls_missing", Critical;
    /// The server's name cannot be looked up.
    DnsFailed = "dns_failed", Critical;
    /// The server cannot be reached.
    ConnectFailed = "connect_failed", Critical;
    /// The server stopped answering.
    Timeout = "timeout", Critical;
    /// The server reported an error of its own.
    ServerError = "server_error", Critical;
    /// The server answered something that makes no sense.
    ProtocolError = "protocol_error", Critical;
    /// The configuration is wrong or incomplete.
    ConfigError = "config_error", Unknown;
}

impl Category {
    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.iter().copied().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_is_the_designed_list() {
        let names: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            names.join(","),
            "ok,late,junk,lost,attachment_blocked,attachment_altered,download_interrupted,\
canary_removed,auth_failed,auth_method_required,account_locked,send_blocked,send_limited,\
mailbox_full,quota_warning,notice_found,tls_untrusted,tls_expired,tls_expiring,\
tls_intercepted,starttls_missing,dns_failed,connect_failed,timeout,server_error,\
protocol_error,config_error"
        );
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(*c));
            let json = serde_json::to_string(c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
        }
    }

    #[test]
    fn worst_severity() {
        use Severity::*;
        let table = [
            (Ok, Ok, Ok),
            (Ok, Warning, Warning),
            (Warning, Critical, Critical),
            (Unknown, Warning, Unknown),
            (Critical, Unknown, Critical),
        ];
        for (a, b, want) in table {
            assert_eq!(a.worst(b), want, "{a:?} vs {b:?}");
            assert_eq!(b.worst(a), want, "{b:?} vs {a:?}");
        }
        assert_eq!(Critical.exit_code(), 2);
        assert_eq!(Unknown.exit_code(), 3);
    }
}
