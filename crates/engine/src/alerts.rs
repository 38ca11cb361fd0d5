//! Alert channels. An [`Alert`] is one health event of one mailbox, in words; channels deliver
//! it: a desktop notification (rate-limited, so a bad hour does not bury the screen), a webhook
//! (JSON POST, plain or Slack- or Teams-shaped, for when mail itself is down) and a command
//! hook (run with the alert in environment variables, never with a secret).

use std::time::Duration;

use mailcanary_core::config::{MailboxConfig, Runbook};
use mailcanary_core::health::HealthEvent;
use mailcanary_core::html::duration_text;
use mailcanary_core::report::CheckReport;
use mailcanary_core::{Category, Lang, Severity};

use crate::http::HttpUrl;
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
    /// A rehearsal (`mailcanary drill`), not a real incident.
    pub drill: bool,
    /// The office's runbook as (label, value) lines; filled for critical alerts and drills.
    pub runbook: Vec<(String, String)>,
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
                let span = duration_text(lasted.map(|d| d.as_millis() as u64).unwrap_or(0), lang);
                match lang {
                    Lang::En => (
                        format!("Mail works again for {} (the problem lasted {span}).", mb.name),
                        "Nothing to do. If customers wrote during the outage, check that their mail arrived.".to_string(),
                    ),
                    Lang::Ja => (
                        format!("{} のメールが復旧しました（障害は {span} 続きました）。", mb.name),
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
            drill: false,
            runbook: Vec::new(),
        }
    }

    /// Adds the runbook when the alert is critical (a drill's alert is).
    pub fn with_runbook(mut self, runbook: &Runbook, lang: Lang) -> Alert {
        if self.severity == Severity::Critical {
            self.runbook = runbook
                .lines(lang)
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
        }
        self
    }

    /// The alert of a drill: a rehearsal of "the provider's servers cannot be reached",
    /// labelled as such in every channel.
    pub fn drill(mailbox: &str, lang: Lang) -> Alert {
        let (summary, action) = match lang {
            Lang::En => (
                "DRILL: this is a rehearsal, nothing is broken. Imagine that mail has stopped: \
                 the provider's servers cannot be reached."
                    .to_string(),
                "Follow the runbook as if it were real, then acknowledge the drill.".to_string(),
            ),
            Lang::Ja => (
                "訓練です。実際の障害ではありません。メールが止まり、プロバイダーのサーバーに接続できない状況を想定してください。"
                    .to_string(),
                "本番と同じように対応手順に従い、終わったら訓練を確認済みにしてください。".to_string(),
            ),
        };
        Alert {
            mailbox: mailbox.to_string(),
            event: "raised",
            severity: Severity::Critical,
            category: Category::ConnectFailed,
            summary,
            action,
            lasted: None,
            drill: true,
            runbook: Vec::new(),
        }
    }

    /// The end of a drill.
    pub fn drill_over(mailbox: &str, lang: Lang, lasted: Duration) -> Alert {
        let span = duration_text(lasted.as_millis() as u64, lang);
        let (summary, action) = match lang {
            Lang::En => (
                format!("DRILL over: acknowledged after {span}."),
                "Nothing to do. Note what was hard to find in the runbook and fix it.".to_string(),
            ),
            Lang::Ja => (
                format!("訓練終了：{span}で確認されました。"),
                "対応は不要です。対応手順で分かりにくかった点があれば書き直してください。"
                    .to_string(),
            ),
        };
        Alert {
            mailbox: mailbox.to_string(),
            event: "recovered",
            severity: Severity::Ok,
            category: Category::ConnectFailed,
            summary,
            action,
            lasted: Some(lasted),
            drill: true,
            runbook: Vec::new(),
        }
    }

    /// This computer has gone offline (told once per outage, as soon as a check notices).
    pub fn offline(mailbox: &str, report: &CheckReport) -> Alert {
        Alert {
            mailbox: mailbox.to_string(),
            event: "offline",
            severity: Severity::Unknown,
            category: report.category,
            summary: report.summary.clone(),
            action: report.action.clone(),
            lasted: None,
            drill: false,
            runbook: Vec::new(),
        }
    }

    /// This computer is back online after `lasted`.
    pub fn online(mailbox: &str, lang: Lang, lasted: Duration) -> Alert {
        let span = duration_text(lasted.as_millis() as u64, lang);
        let (summary, action) = match lang {
            Lang::En => (
                format!(
                    "This computer is online again, after {span} offline. Checks have resumed."
                ),
                "Nothing to do. Mail that came in meanwhile is waiting on the server.".to_string(),
            ),
            Lang::Ja => (
                format!(
                    "このパソコンがネットワークに復帰しました（{span}オフラインでした）。確認を再開しました。"
                ),
                "対応は不要です。その間のメールはサーバーに届いています。".to_string(),
            ),
        };
        Alert {
            mailbox: mailbox.to_string(),
            event: "online",
            severity: Severity::Ok,
            category: Category::Ok,
            summary,
            action,
            lasted: Some(lasted),
            drill: false,
            runbook: Vec::new(),
        }
    }

    /// The runbook as text lines ("label: value").
    pub fn runbook_text(&self) -> String {
        self.runbook
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Every channel an alert goes to.
#[derive(Debug, Default)]
pub struct AlertChannels {
    /// A command run per alert.
    pub hook: Option<CommandHook>,
    /// Desktop notifications.
    pub desktop: Option<DesktopNotifier>,
    /// A webhook.
    pub webhook: Option<Webhook>,
    /// Language of the notification titles.
    pub lang: Lang,
}

impl AlertChannels {
    /// Sends one alert to every channel; a failing channel is logged and does not stop the
    /// others. Returns the failures, in words.
    pub async fn deliver(&self, alert: &Alert) -> Vec<String> {
        let mut failed = Vec::new();
        if let Some(d) = &self.desktop
            && let Err(e) = d.send(alert, self.lang).await
        {
            failed.push(format!("desktop notification failed: {e}"));
        }
        if let Some(w) = &self.webhook
            && let Err(e) = w.send(alert).await
        {
            failed.push(e);
        }
        if let Some(h) = &self.hook
            && let Err(e) = h.send(alert).await
        {
            failed.push(format!("alert hook failed: {e}"));
        }
        for f in &failed {
            tracing::warn!("{f}");
        }
        failed
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
        // The hook gets the alert, not the passwords or the webhook's token.
        crate::secrets::hide_secret_vars(&mut cmd);
        cmd.arg("-c")
            .arg(&self.command)
            .env("MAILCANARY_EVENT", a.event)
            .env("MAILCANARY_MAILBOX", &a.mailbox)
            .env("MAILCANARY_SEVERITY", a.severity.as_str())
            .env("MAILCANARY_CATEGORY", a.category.as_str())
            .env("MAILCANARY_SUMMARY", &a.summary)
            .env("MAILCANARY_ACTION", &a.action)
            .env("MAILCANARY_DRILL", if a.drill { "1" } else { "0" })
            .env("MAILCANARY_RUNBOOK", a.runbook_text())
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
    limit: std::sync::Mutex<RateLimit>,
    on_click: Option<OnClick>,
}

/// Notifications waiting for a click now, and at most.
static WAITING_CLICKS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
const MAX_WAITING_CLICKS: usize = 16;

/// What to do when someone clicks a notification: called with its alert (on a thread of its
/// own, where the platform tells clicks: the freedesktop notification service).
#[derive(Clone)]
pub struct OnClick(pub std::sync::Arc<dyn Fn(&Alert) + Send + Sync>);

impl std::fmt::Debug for OnClick {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnClick")
    }
}

/// At most `burst` admissions per minute; the refused ones are counted and handed to the next
/// admitted one.
#[derive(Debug)]
struct RateLimit {
    burst: usize,
    admitted: Vec<std::time::Instant>,
    held: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            burst: DesktopNotifier::BURST,
            admitted: Vec::new(),
            held: 0,
        }
    }
}

impl RateLimit {
    /// `Some(held back since the last admission)` when admitted at `now`, else `None`.
    fn admit(&mut self, now: std::time::Instant) -> Option<u32> {
        self.admitted
            .retain(|t| now.duration_since(*t) < Duration::from_secs(60));
        if self.admitted.len() >= self.burst {
            self.held += 1;
            return None;
        }
        self.admitted.push(now);
        Some(std::mem::take(&mut self.held))
    }
}

impl DesktopNotifier {
    /// Notifications shown per minute at most.
    pub const BURST: usize = 6;

    /// A notifier.
    pub fn new() -> DesktopNotifier {
        DesktopNotifier::default()
    }

    /// A notifier whose notifications can be clicked, calling `on_click`.
    pub fn with_click(mut self, on_click: Option<OnClick>) -> DesktopNotifier {
        self.on_click = on_click;
        self
    }

    /// Shows one alert; `Ok(false)` when it was held back by the rate limit.
    pub async fn send(&self, a: &Alert, lang: Lang) -> Result<bool, String> {
        let admitted = self
            .limit
            .lock()
            .expect("not poisoned")
            .admit(std::time::Instant::now());
        let Some(held) = admitted else {
            return Ok(false);
        };
        let title = match (lang, a.drill, a.event) {
            (Lang::En, true, _) => format!("Mail Canary DRILL: {}", a.mailbox),
            (Lang::Ja, true, _) => format!("Mail Canary 訓練: {}", a.mailbox),
            (Lang::En, false, "recovered") => format!("Mail Canary: {} works again", a.mailbox),
            (Lang::Ja, false, "recovered") => format!("Mail Canary: {} 復旧", a.mailbox),
            (Lang::En, false, "offline") => "Mail Canary: this computer is offline".to_string(),
            (Lang::Ja, false, "offline") => "Mail Canary: このパソコンはオフラインです".to_string(),
            (Lang::En, false, "online") => "Mail Canary: back online".to_string(),
            (Lang::Ja, false, "online") => "Mail Canary: ネットワークに復帰しました".to_string(),
            (Lang::En, false, _) => format!("Mail Canary: problem with {}", a.mailbox),
            (Lang::Ja, false, _) => format!("Mail Canary: {} に問題があります", a.mailbox),
        };
        let mut body = format!("{}\n{}", a.summary, a.action);
        if !a.runbook.is_empty() {
            body.push_str("\n\n");
            body.push_str(&a.runbook_text());
        }
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
        let on_click = self.on_click.clone();
        let alert = a.clone();
        let open = match lang {
            Lang::En => "Open",
            Lang::Ja => "開く",
        };
        // The D-Bus call blocks: keep it off the async workers.
        tokio::task::spawn_blocking(move || {
            let mut n = notify_rust::Notification::new();
            n.appname("Mail Canary")
                .summary(&title)
                .body(&body)
                .urgency(urgency);
            // Each clickable notification has a thread waiting for its click until it is
            // closed; a desktop that keeps notifications forever would pile them up, so only
            // so many wait at once (the rest are shown without the click).
            let on_click = on_click.filter(|_| {
                WAITING_CLICKS
                    .fetch_update(
                        std::sync::atomic::Ordering::SeqCst,
                        std::sync::atomic::Ordering::SeqCst,
                        |n| (n < MAX_WAITING_CLICKS).then_some(n + 1),
                    )
                    .is_ok()
            });
            if on_click.is_some() {
                // "default" is the click on the notification itself.
                n.action("default", open);
            }
            let release = || {
                WAITING_CLICKS.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            };
            let shown = match n.show() {
                Ok(shown) => shown,
                Err(e) => {
                    if on_click.is_some() {
                        release();
                    }
                    return Err(e.to_string());
                }
            };
            #[cfg(all(unix, not(target_os = "macos")))]
            if let Some(f) = on_click {
                // Waiting for the click blocks until the notification is closed or clicked.
                std::thread::spawn(move || {
                    shown.wait_for_action(|action| {
                        if action == "default" {
                            (f.0)(&alert);
                        }
                    });
                    release();
                });
            }
            #[cfg(not(all(unix, not(target_os = "macos"))))]
            if on_click.is_some() {
                let _ = (shown, alert);
                release();
            }
            Ok(true)
        })
        .await
        .map_err(|e| e.to_string())?
    }
}

/// The shape of a webhook's JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    /// Mail Canary's own fields.
    Json,
    /// Slack incoming webhook (`{"text": …}`).
    Slack,
    /// Microsoft Teams connector (MessageCard).
    Teams,
}

impl WebhookFormat {
    /// Parses `json`, `slack` or `teams`.
    pub fn parse(s: &str) -> Option<WebhookFormat> {
        match s {
            "json" => Some(WebhookFormat::Json),
            "slack" => Some(WebhookFormat::Slack),
            "teams" => Some(WebhookFormat::Teams),
            _ => None,
        }
    }
}

/// A webhook: an `http://` or `https://` URL that receives a JSON POST per alert. The URL is
/// treated as a secret (Slack and Teams put their token in it): errors name only its host.
#[derive(Clone)]
pub struct Webhook {
    url: HttpUrl,
    format: WebhookFormat,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Webhook({:?})", self.url)
    }
}

impl Webhook {
    /// Parses a URL; the error never repeats it.
    pub fn new(url: &str, format: WebhookFormat) -> Result<Webhook, String> {
        Ok(Webhook {
            url: HttpUrl::parse(url)
                .map_err(|_| "the webhook URL is not an http:// or https:// URL".to_string())?,
            format,
        })
    }

    /// The JSON body for an alert.
    pub fn body(&self, a: &Alert) -> serde_json::Value {
        let headline = format!(
            "Mail Canary{}: {} {} ({})",
            if a.drill { " DRILL" } else { "" },
            a.mailbox,
            a.event,
            a.category
        );
        let runbook = a.runbook_text();
        let runbook_tail = if runbook.is_empty() {
            String::new()
        } else {
            format!("\n\n{runbook}")
        };
        match self.format {
            WebhookFormat::Json => serde_json::json!({
                "source": "mailcanary",
                "mailbox": a.mailbox,
                "event": a.event,
                "severity": a.severity.as_str(),
                "category": a.category.as_str(),
                "summary": a.summary,
                "action": a.action,
                "lasted_secs": a.lasted.map(|d| d.as_secs()),
                "drill": a.drill,
                "runbook": a.runbook.iter()
                    .map(|(k, v)| serde_json::json!({"label": k, "value": v}))
                    .collect::<Vec<_>>(),
            }),
            WebhookFormat::Slack => serde_json::json!({
                "text": format!("*{headline}*\n{}\n_{}_{runbook_tail}", a.summary, a.action),
            }),
            WebhookFormat::Teams => serde_json::json!({
                "@type": "MessageCard",
                "@context": "https://schema.org/extensions",
                "summary": headline,
                "themeColor": match a.severity {
                    Severity::Critical => "C50F1F",
                    Severity::Warning => "C19C00",
                    Severity::Ok => "13A10E",
                    Severity::Unknown => "767676",
                },
                "title": headline,
                "text": format!("{}\n\n{}{runbook_tail}", a.summary, a.action),
            }),
        }
    }

    /// Posts one alert; bounded to 15 s. Success is any 2xx answer.
    pub async fn send(&self, a: &Alert) -> Result<(), String> {
        let body = self.body(a).to_string();
        let where_ = format!("webhook at {}", self.url.host);
        let code = crate::http::request(
            "POST",
            &self.url,
            "application/json",
            body.as_bytes(),
            Duration::from_secs(15),
        )
        .await
        .map_err(|e| format!("{where_}: {e}"))?;
        if (200..300).contains(&code) {
            Ok(())
        } else {
            Err(format!("{where_} answered HTTP {code}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> Alert {
        Alert {
            mailbox: "office".into(),
            event: "raised",
            severity: Severity::Critical,
            category: Category::SendBlocked,
            summary: "Sending is blocked.".into(),
            action: "Call the provider.".into(),
            lasted: None,
            drill: false,
            runbook: Vec::new(),
        }
    }

    #[test]
    fn webhook_urls_parse_and_errors_hide_them() {
        let w = Webhook::new(
            "https://hooks.example.com/services/T0/B0/secrettoken",
            WebhookFormat::Slack,
        )
        .unwrap();
        let u = &w.url;
        assert_eq!(
            (u.tls, u.host.as_str(), u.port, u.path.as_str()),
            (
                true,
                "hooks.example.com",
                443,
                "/services/T0/B0/secrettoken"
            )
        );
        assert!(!format!("{w:?}").contains("secrettoken"));
        let w = Webhook::new("http://127.0.0.1:8080", WebhookFormat::Json).unwrap();
        assert_eq!((w.url.port, w.url.path.as_str()), (8080, "/"));
        for bad in [
            "ftp://x/secret",
            "https://user:secret@x/",
            "hooks.example.com/secret",
            "http://:80/",
        ] {
            let e = Webhook::new(bad, WebhookFormat::Json).unwrap_err();
            assert!(!e.contains("secret"), "{e}");
        }
    }

    #[test]
    fn desktop_rate_limit_holds_back_and_counts() {
        let mut r = RateLimit::default();
        let t0 = std::time::Instant::now();
        for i in 0..DesktopNotifier::BURST {
            assert_eq!(r.admit(t0 + Duration::from_secs(i as u64)), Some(0), "{i}");
        }
        assert_eq!(r.admit(t0 + Duration::from_secs(10)), None);
        assert_eq!(r.admit(t0 + Duration::from_secs(20)), None);
        // A minute after the first, room again: the two held back are reported.
        assert_eq!(r.admit(t0 + Duration::from_secs(60)), Some(2));
        assert_eq!(r.admit(t0 + Duration::from_secs(61)), Some(0));
        assert_eq!(r.admit(t0 + Duration::from_secs(61)), None);
    }

    #[test]
    fn payload_shapes() {
        let a = alert();
        let j = Webhook::new("http://h/", WebhookFormat::Json)
            .unwrap()
            .body(&a);
        assert_eq!(j["category"], "send_blocked");
        assert_eq!(j["severity"], "critical");
        let s = Webhook::new("http://h/", WebhookFormat::Slack)
            .unwrap()
            .body(&a);
        assert!(
            s["text"]
                .as_str()
                .unwrap()
                .starts_with("*Mail Canary: office raised (send_blocked)*")
        );
        let t = Webhook::new("http://h/", WebhookFormat::Teams)
            .unwrap()
            .body(&a);
        assert_eq!(t["@type"], "MessageCard");
        assert_eq!(t["themeColor"], "C50F1F");
        assert_eq!(j["drill"], false);
    }

    #[test]
    fn drills_are_labelled_and_carry_the_runbook() {
        let runbook = Runbook {
            provider_support: Some("0120-000-000".into()),
            ..Default::default()
        };
        let a = Alert::drill("office", Lang::En).with_runbook(&runbook, Lang::En);
        assert!(a.summary.starts_with("DRILL"));
        assert_eq!(a.runbook_text(), "Provider support: 0120-000-000");
        let j = Webhook::new("http://h/", WebhookFormat::Json)
            .unwrap()
            .body(&a);
        assert_eq!(j["drill"], true);
        assert_eq!(j["runbook"][0]["value"], "0120-000-000");
        let s = Webhook::new("http://h/", WebhookFormat::Slack)
            .unwrap()
            .body(&a);
        let text = s["text"].as_str().unwrap();
        assert!(text.starts_with("*Mail Canary DRILL: office"), "{text}");
        assert!(text.ends_with("Provider support: 0120-000-000"), "{text}");
        // A recovery is not critical: no runbook.
        let over = Alert::drill_over("office", Lang::Ja, Duration::from_secs(75))
            .with_runbook(&runbook, Lang::Ja);
        assert!(over.summary.contains("1分15秒"), "{}", over.summary);
        assert!(over.runbook.is_empty());
        let mut warn = alert();
        warn.severity = Severity::Warning;
        assert!(warn.with_runbook(&runbook, Lang::En).runbook.is_empty());
    }
}
