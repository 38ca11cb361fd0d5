//! Alert channels. An [`Alert`] is one health event of one mailbox, in words; channels deliver
//! it: a desktop notification (rate-limited, so a bad hour does not bury the screen), and a
//! command hook (run with the alert in environment variables, never with a secret).

use std::time::Duration;

use mailcanary_core::config::MailboxConfig;
use mailcanary_core::health::HealthEvent;
use mailcanary_core::report::CheckReport;
use mailcanary_core::{Category, Lang, Severity};

use crate::monitor::event_name;

/// One alert, ready for any channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Mailbox name.
    pub mailbox: String,
    /// `raised`, `escalated`, `recovered` or `reminder`.
    pub event: &'static str,
    /// Severity now (`ok` for a recovery).
    pub severity: Severity,
    /// What it is (or was, for a recovery).
    pub category: Category,
    /// In plain words.
    pub summary: String,
    /// What to do.
    pub action: String,
    /// For a recovery: how long the problem lasted.
    pub lasted: Option<Duration>,
}

impl Alert {
    /// Puts a health event into words, with the check that caused it where there is one.
    pub fn new(
        mb: &MailboxConfig,
        e: HealthEvent,
        report: Option<&CheckReport>,
        lang: Lang,
    ) -> Alert {
        let (severity, category, lasted) = match e {
            HealthEvent::Raised { severity, category }
            | HealthEvent::Escalated { severity, category } => (severity, category, None),
            HealthEvent::Recovered {
                category,
                lasted_ms,
            } => (
                Severity::Ok,
                category,
                Some(Duration::from_millis(lasted_ms)),
            ),
            HealthEvent::Reminder { category, .. } => (Severity::Critical, category, None),
        };
        let (summary, action) = match (&e, report) {
            (HealthEvent::Recovered { .. }, _) => {
                let mins = lasted.map(|d| d.as_secs().div_ceil(60)).unwrap_or(0);
                match lang {
                    Lang::En => (
                        format!("Mail works again for {} (the problem lasted about {mins} min).", mb.name),
                        "Nothing to do. If customers wrote during the outage, check that their mail arrived.".to_string(),
                    ),
                    Lang::Ja => (
                        format!("{} のメールが復旧しました（約 {mins} 分間の障害でした）。", mb.name),
                        "対応は不要です。障害中にお客様からメールがあったはずなら、届いているか確認してください。".to_string(),
                    ),
                }
            }
            (_, Some(r)) => (r.summary.clone(), r.action.clone()),
            (_, None) => {
                let (s, a) = mailcanary_core::diagnosis::texts(
                    category,
                    lang,
                    &mailcanary_core::diagnosis::TextContext::default(),
                );
                (s, a)
            }
        };
        Alert {
            mailbox: mb.name.to_string(),
            event: event_name(&e),
            severity,
            category,
            summary,
            action,
            lasted,
        }
    }
}

/// Runs a command for every alert (`sh -c`), with the alert in `MAILCANARY_*` variables.
#[derive(Debug, Clone)]
pub struct CommandHook {
    command: String,
}

impl CommandHook {
    /// A hook running `command`.
    pub fn new(command: String) -> CommandHook {
        CommandHook { command }
    }

    /// Runs it for one alert; bounded to 30 s.
    pub async fn send(&self, a: &Alert) -> std::io::Result<()> {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c")
            .arg(&self.command)
            .env("MAILCANARY_EVENT", a.event)
            .env("MAILCANARY_MAILBOX", &a.mailbox)
            .env("MAILCANARY_SEVERITY", a.severity.as_str())
            .env("MAILCANARY_CATEGORY", a.category.as_str())
            .env("MAILCANARY_SUMMARY", &a.summary)
            .env("MAILCANARY_ACTION", &a.action)
            .env(
                "MAILCANARY_LASTED_SECS",
                a.lasted
                    .map(|d| d.as_secs().to_string())
                    .unwrap_or_default(),
            )
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        let status = tokio::time::timeout(Duration::from_secs(30), cmd.status())
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "hook took over 30 s")
            })??;
        if status.success() {
            Ok(())
        } else {
            Err(std::io::Error::other(format!("hook exited with {status}")))
        }
    }
}

/// Desktop notifications (org.freedesktop.Notifications on Linux, the platform's elsewhere),
/// at most [`DesktopNotifier::BURST`] per minute; the rest are counted and mentioned in the
/// next one shown.
#[derive(Debug, Default)]
pub struct DesktopNotifier {
    shown: std::sync::Mutex<(Vec<std::time::Instant>, u32)>,
}

impl DesktopNotifier {
    /// Notifications shown per minute at most.
    pub const BURST: usize = 6;

    /// A notifier.
    pub fn new() -> DesktopNotifier {
        DesktopNotifier::default()
    }

    /// Shows one alert; `Ok(false)` when it was held back by the rate limit.
    pub async fn send(&self, a: &Alert, lang: Lang) -> Result<bool, String> {
        let held = {
            let mut guard = self.shown.lock().expect("not poisoned");
            let now = std::time::Instant::now();
            guard
                .0
                .retain(|t| now.duration_since(*t) < Duration::from_secs(60));
            if guard.0.len() >= Self::BURST {
                guard.1 += 1;
                return Ok(false);
            }
            guard.0.push(now);
            std::mem::take(&mut guard.1)
        };
        let title = match (lang, a.event) {
            (Lang::En, "recovered") => format!("Mail Canary: {} works again", a.mailbox),
            (Lang::Ja, "recovered") => format!("Mail Canary: {} 復旧", a.mailbox),
            (Lang::En, _) => format!("Mail Canary: problem with {}", a.mailbox),
            (Lang::Ja, _) => format!("Mail Canary: {} に問題があります", a.mailbox),
        };
        let mut body = format!("{}\n{}", a.summary, a.action);
        if held > 0 {
            body.push_str(&match lang {
                Lang::En => format!("\n({held} more alerts were held back in the last minute.)"),
                Lang::Ja => format!("\n（直前の 1 分間に、ほかに {held} 件の通知を控えました。）"),
            });
        }
        let urgency = match a.severity {
            Severity::Critical => notify_rust::Urgency::Critical,
            Severity::Ok => notify_rust::Urgency::Low,
            _ => notify_rust::Urgency::Normal,
        };
        // The D-Bus call blocks: keep it off the async workers.
        tokio::task::spawn_blocking(move || {
            notify_rust::Notification::new()
                .appname("Mail Canary")
                .summary(&title)
                .body(&body)
                .urgency(urgency)
                .show()
                .map(|_| true)
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }
}
