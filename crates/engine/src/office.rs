//! What the command line and the tray app share about the office's side of monitoring: alert
//! channels from the config, the health policy, and the figures, CSV and HTML page made from
//! the history.

use mailcanary_core::Lang;
use mailcanary_core::config::{AlertSettings, Config, MailboxConfig, Protocol};
use mailcanary_core::health::HealthPolicy;
use mailcanary_core::html::{HtmlReport, MailboxSection, render};
use mailcanary_core::report::{CheckReport, Stage, iso8601_utc};
use mailcanary_core::stats::{self, CheckPoint, DayStats, Drill, Incident};
use serde::Serialize;

use crate::alerts::{AlertChannels, CommandHook, DesktopNotifier, Webhook, WebhookFormat};
use crate::store::{Store, StoreError};

/// A health policy with the config's reminder interval.
pub fn health_policy(config: &Config) -> HealthPolicy {
    let mut p = HealthPolicy::default();
    if let Some(ms) = config.alerts.renotify_after_ms() {
        p.renotify_after_ms = ms;
    }
    p
}

/// The alert channels, resolved: what the monitor and drills send alerts to.
pub struct Channels {
    /// A command run per alert.
    pub hook: Option<String>,
    /// Desktop notifications.
    pub desktop: bool,
    /// A webhook.
    pub webhook: Option<Webhook>,
}

impl Channels {
    /// The channels `settings` describe. The webhook's URL is read from the variable it
    /// names; an error names the setting, never the URL.
    pub fn from_settings(settings: &AlertSettings) -> Result<Channels, String> {
        let webhook = match &settings.webhook_env {
            Some(var) => {
                crate::secrets::secret_var(var);
                let url = std::env::var(var)
                    .map_err(|_| format!("webhook_env {var}: the variable is not set"))?;
                let name = settings.webhook_format.as_deref().unwrap_or("json");
                let format = WebhookFormat::parse(name)
                    .ok_or_else(|| format!("webhook format {name:?}: use json, slack or teams"))?;
                Some(Webhook::new(&url, format).map_err(|e| format!("webhook_env {var}: {e}"))?)
            }
            None => None,
        };
        Ok(Channels {
            hook: settings.hook.clone(),
            desktop: settings.notify == Some(true),
            webhook,
        })
    }

    /// The channels as the engine delivers to them.
    pub fn build(&self, lang: Lang) -> AlertChannels {
        AlertChannels {
            hook: self.hook.clone().map(CommandHook::new),
            desktop: self.desktop.then(DesktopNotifier::new),
            webhook: self.webhook.clone(),
            lang,
        }
    }

    /// Their names, for telling the user where an alert went.
    pub fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.desktop {
            v.push("desktop notification");
        }
        if self.webhook.is_some() {
            v.push("webhook");
        }
        if self.hook.is_some() {
            v.push("hook");
        }
        v
    }
}

/// One mailbox's figures over a period.
#[derive(Debug, Clone, Serialize)]
pub struct MailboxFigures {
    /// Mailbox name.
    pub name: String,
    /// Its address.
    pub address: String,
    /// Checks recorded.
    pub checks: usize,
    /// Share of checks in which mail flowed.
    pub uptime_pct: Option<f64>,
    /// Median round trip.
    pub p50_ms: Option<u64>,
    /// 95th percentile round trip.
    pub p95_ms: Option<u64>,
    /// Per local day.
    pub days: Vec<DayStats>,
    /// Incidents, found by replaying the alert rules.
    pub incidents: Vec<Incident>,
    /// Drills.
    pub drills: Vec<Drill>,
}

/// The figures of `mailboxes` since `from_ms`, with the checks they were made from; days are
/// local to `utc_offset_secs`.
pub fn figures(
    store: &Store,
    mailboxes: &[MailboxConfig],
    policy: &HealthPolicy,
    from_ms: u64,
    utc_offset_secs: i32,
) -> Result<Vec<(MailboxFigures, Vec<CheckPoint>)>, StoreError> {
    let mut out = Vec::new();
    for mb in mailboxes {
        let n = mb.name.as_str();
        let points = store.points(n, from_ms)?;
        let mut latencies: Vec<u64> = points.iter().filter_map(|p| p.latency_ms).collect();
        let fig = MailboxFigures {
            name: n.to_string(),
            address: mb.address.to_string(),
            checks: points.len(),
            uptime_pct: stats::uptime_pct(&points),
            p50_ms: stats::percentile(&mut latencies, 50),
            p95_ms: stats::percentile(&mut latencies, 95),
            days: stats::daily(&points, utc_offset_secs),
            incidents: stats::incidents(n, &points, policy, &store.acks(n)?),
            drills: store.drills(Some(n), from_ms)?,
        };
        out.push((fig, points));
    }
    Ok(out)
}

/// Failed checks shown in full per mailbox in the HTML page (the latest ones).
pub const FAILURES_SHOWN: usize = 50;

/// What the HTML page covers.
pub struct PageSpan {
    /// From, Unix ms.
    pub from_ms: u64,
    /// To (and when it was made), Unix ms.
    pub to_ms: u64,
    /// Local time zone.
    pub utc_offset_secs: i32,
}

/// The history as one self-contained HTML page for the provider's support.
pub fn html_page(
    store: &Store,
    config: &Config,
    figs: Vec<(MailboxFigures, Vec<CheckPoint>)>,
    span: &PageSpan,
    lang: Lang,
) -> Result<String, StoreError> {
    let mut mailboxes = Vec::new();
    for (f, points) in figs {
        mailboxes.push(MailboxSection {
            failures: store.failures(&f.name, span.from_ms, FAILURES_SHOWN)?,
            name: f.name,
            address: f.address,
            points,
            days: f.days,
            uptime_pct: f.uptime_pct,
            incidents: f.incidents,
            drills: f.drills,
        });
    }
    let title = match mailboxes.as_slice() {
        [one] => format!("Mail Canary: {} <{}>", one.name, one.address),
        _ => "Mail Canary".to_string(),
    };
    Ok(render(&HtmlReport {
        lang,
        title,
        generated_at_ms: span.to_ms,
        from_ms: span.from_ms,
        to_ms: span.to_ms,
        utc_offset_secs: span.utc_offset_secs,
        runbook: config
            .runbook
            .lines(lang)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        mailboxes,
    }))
}

/// The (protocol, stage) columns of the CSV history, in the order a round trip runs.
const CSV_STAGES: &[(Protocol, Stage)] = &[
    (Protocol::Imap, Stage::Dns),
    (Protocol::Imap, Stage::Connect),
    (Protocol::Imap, Stage::Tls),
    (Protocol::Imap, Stage::Auth),
    (Protocol::Smtp, Stage::Dns),
    (Protocol::Smtp, Stage::Connect),
    (Protocol::Smtp, Stage::Tls),
    (Protocol::Smtp, Stage::Auth),
    (Protocol::Smtp, Stage::Send),
    (Protocol::Imap, Stage::Receive),
    (Protocol::Imap, Stage::Verify),
    (Protocol::Imap, Stage::Cleanup),
];

fn csv_field(s: &str) -> String {
    // A leading = + - @ would be run as a formula by a spreadsheet: quote it as text.
    let formula = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if formula || s.contains([',', '"', '\n', '\r']) {
        let s = if formula {
            format!("'{s}")
        } else {
            s.to_string()
        };
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The CSV header line (with its line end).
pub fn csv_header() -> String {
    let mut head: Vec<String> = [
        "started_at",
        "mailbox",
        "status",
        "category",
        "latency_ms",
        "folder",
        "duration_ms",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    head.extend(
        CSV_STAGES
            .iter()
            .map(|(p, s)| format!("{}_{}_ms", p.as_str(), s.as_str())),
    );
    head.push("summary".into());
    head.join(",") + "\n"
}

/// One check as a CSV line (with its line end): times in ms per stage, then the summary.
pub fn csv_row(r: &CheckReport) -> String {
    let stage_ms = |stage: Stage, protocol: Protocol| {
        r.stages
            .iter()
            .find(|s| s.stage == stage && s.protocol == Some(protocol))
            .map(|s| s.ms.to_string())
            .unwrap_or_default()
    };
    let mut row = vec![
        iso8601_utc(r.started_at_ms),
        csv_field(&r.mailbox),
        r.status.as_str().to_string(),
        r.category.as_str().to_string(),
        r.canary
            .latency_ms
            .map(|v| v.to_string())
            .unwrap_or_default(),
        csv_field(r.canary.folder.as_deref().unwrap_or("")),
        r.duration_ms.to_string(),
    ];
    row.extend(CSV_STAGES.iter().map(|(p, s)| stage_ms(*s, *p)));
    row.push(csv_field(&r.summary));
    row.join(",") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it_and_defuses_formulas() {
        assert_eq!(csv_field("INBOX"), "INBOX");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "\"'-1\"");
        assert_eq!(csv_header().trim_end().split(',').count(), 7 + 12 + 1);
    }
}
