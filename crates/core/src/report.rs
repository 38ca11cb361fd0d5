//! The report of one check: what the engine observed, and the diagnosis drawn from it.
//!
//! The engine records [`Observations`]; [`diagnose`] turns them into a [`CheckReport`], the one
//! shape shared by `check --json`, the history and the app (schema 1).

use serde::{Deserialize, Serialize};

use crate::config::Protocol;
use crate::diagnosis::{
    TextContext, attachment_texts, notice_pointer, notice_texts, regularity_text, texts,
    tls_expiring_texts, tls_intercepted_texts,
};
use crate::notice::Notice;
use crate::probes::{ProbeKind, ProbeOutcome, ProbeResult, ProbeTally, join_human};
use crate::{Category, Lang, Severity};

/// The stages of a round trip, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Name lookup.
    Dns,
    /// TCP connection.
    Connect,
    /// TLS handshake (implicit or after STARTTLS), with the server greeting.
    Tls,
    /// Login.
    Auth,
    /// Submission of the canary (MAIL, RCPT, DATA).
    Send,
    /// Waiting for the canary to arrive.
    Receive,
    /// Downloading the canary in full and checking it.
    Verify,
    /// Removing the canary.
    Cleanup,
}

impl Stage {
    /// snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Dns => "dns",
            Stage::Connect => "connect",
            Stage::Tls => "tls",
            Stage::Auth => "auth",
            Stage::Send => "send",
            Stage::Receive => "receive",
            Stage::Verify => "verify",
            Stage::Cleanup => "cleanup",
        }
    }
}

/// One timed stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageRecord {
    /// Which stage.
    pub stage: Stage,
    /// Which protocol, where it applies.
    pub protocol: Option<Protocol>,
    /// Whether it succeeded.
    pub ok: bool,
    /// How long it took, in milliseconds.
    pub ms: u64,
    /// What happened, for the expert (no secrets).
    pub detail: String,
}

/// A problem the engine observed, before it is put into words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Category.
    pub category: Category,
    /// Where it happened.
    pub stage: Stage,
    /// On which protocol.
    pub protocol: Option<Protocol>,
    /// The server involved (`host:port`), empty if none.
    pub server: String,
    /// The raw evidence: the server's reply or the error.
    pub evidence: String,
}

/// What became of the canary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CanaryOutcome {
    /// Its id, once composed.
    pub id: Option<String>,
    /// The folder it was found in, decoded for people (`INBOX`, `Junk`, `迷惑メール`).
    pub folder: Option<String>,
    /// Whether that folder is the junk folder.
    #[serde(default)]
    pub in_junk: bool,
    /// Milliseconds from the end of submission until it was seen.
    pub latency_ms: Option<u64>,
    /// Whether it was removed from the server.
    pub cleaned: bool,
}

/// The certificate a server presented, as read at this check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsInfo {
    /// Which side.
    pub protocol: Protocol,
    /// `host:port`.
    pub server: String,
    /// The issuer's distinguished name.
    pub issuer: String,
    /// End of validity, `YYYY-MM-DDTHH:MM:SSZ`.
    pub not_after: String,
    /// Whole days of validity left.
    pub days_left: i64,
}

/// A certificate expiring within this many days is `tls_expiring`.
pub const TLS_EXPIRING_DAYS: i64 = 14;

/// Storage quota of the mailbox (IMAP QUOTA, RFC 2087/9208).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuotaUsage {
    /// Used, in KiB (the protocol's unit of 1024 octets).
    pub used_kb: u64,
    /// Limit, in KiB.
    pub limit_kb: u64,
    /// Used share, in percent.
    pub percent: f64,
}

impl QuotaUsage {
    /// From usage and limit; `None` for an unlimited (zero) limit.
    pub fn new(used_kb: u64, limit_kb: u64) -> Option<QuotaUsage> {
        (limit_kb > 0).then(|| QuotaUsage {
            used_kb,
            limit_kb,
            percent: used_kb as f64 * 100.0 / limit_kb as f64,
        })
    }
}

/// From this share of the quota on, `quota_warning`.
pub const QUOTA_WARNING_PERCENT: f64 = 90.0;
/// From this share on, `mailbox_full`.
pub const QUOTA_FULL_PERCENT: f64 = 98.0;

/// Everything the engine observed during one check.
#[derive(Debug, Clone, Default)]
pub struct Observations {
    /// Mailbox name.
    pub mailbox: String,
    /// Start, Unix milliseconds.
    pub started_at_ms: u64,
    /// Whole duration in milliseconds.
    pub duration_ms: u64,
    /// Timed stages in the order they ran.
    pub stages: Vec<StageRecord>,
    /// Problems in the order they were seen.
    pub problems: Vec<Problem>,
    /// The canary, if one was composed.
    pub canary: CanaryOutcome,
    /// Whether the IMAP login succeeded (used to say "receiving still works").
    pub imap_login_ok: bool,
    /// A canary slower than this (ms) is late.
    pub late_after_ms: u64,
    /// Provider notices and bounces found in INBOX and the junk folder.
    pub notices: Vec<Notice>,
    /// Storage quota, where the server reports one.
    pub quota: Option<QuotaUsage>,
    /// Certificates presented at this check.
    pub tls: Vec<TlsInfo>,
    /// Certificates recorded at the previous successful check of this mailbox.
    pub previous_tls: Vec<TlsInfo>,
    /// Attachment probes sent in this check.
    pub probes: Vec<ProbeResult>,
    /// How each variant fared in recent earlier checks.
    pub probe_history: Vec<ProbeTally>,
}

/// One finding, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Category.
    pub category: Category,
    /// Severity.
    pub severity: Severity,
    /// Stage where it was seen.
    pub stage: Stage,
    /// What broke, for office staff.
    pub summary: String,
    /// What to do.
    pub action: String,
    /// The raw reply or error, for the expert.
    pub evidence: String,
}

/// The report of one check (JSON schema 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Schema version: 1.
    pub schema: u32,
    /// Mailbox name.
    pub mailbox: String,
    /// Overall status.
    pub status: Severity,
    /// Primary finding's category (`ok` when all is well).
    pub category: Category,
    /// Primary summary.
    pub summary: String,
    /// Primary action.
    pub action: String,
    /// Every finding, worst first.
    pub findings: Vec<Finding>,
    /// Timed stages.
    pub stages: Vec<StageRecord>,
    /// The canary.
    pub canary: CanaryOutcome,
    /// Provider notices and bounces found in INBOX and the junk folder.
    #[serde(default)]
    pub notices: Vec<Notice>,
    /// Storage quota, where the server reports one.
    #[serde(default)]
    pub quota: Option<QuotaUsage>,
    /// Certificates presented, per protocol.
    #[serde(default)]
    pub tls: Vec<TlsInfo>,
    /// Attachment probes, when sent.
    #[serde(default)]
    pub probes: Vec<ProbeResult>,
    /// Where the problem lies (this mailbox, the provider, or this computer's network).
    #[serde(default)]
    pub scope: crate::scope::Scope,
    /// Start, Unix milliseconds.
    pub started_at_ms: u64,
    /// Duration in milliseconds.
    pub duration_ms: u64,
    /// Where this check's scan for notices left off (absent when it did not finish), for the
    /// next check of the mailbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice_scan: Option<crate::notice::NoticeScan>,
    /// When `quota` was read from the server (Unix ms): a reading well under the limit serves
    /// the checks of the following hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_read_at_ms: Option<u64>,
}

/// Puts observations into words.
pub fn diagnose(obs: &Observations, lang: Lang) -> CheckReport {
    let secs = obs.canary.latency_ms.unwrap_or(0) as f64 / 1000.0;
    let folder = obs.canary.folder.clone().unwrap_or_default();
    let receiving = if obs
        .stages
        .iter()
        .any(|s| s.protocol == Some(Protocol::Pop3))
    {
        "pop3"
    } else {
        "imap"
    };
    let oauth = obs
        .stages
        .iter()
        .any(|s| s.protocol == Some(Protocol::Oauth))
        || obs
            .problems
            .iter()
            .any(|p| p.protocol == Some(Protocol::Oauth));
    let ctx = |server: &'static str| TextContext {
        server,
        protocol: receiving,
        oauth,
        folder: &folder,
        secs,
        receiving_works: obs.imap_login_ok,
        quota_percent: obs.quota.as_ref().map(|q| q.percent).unwrap_or(0.0),
    };
    let mut findings: Vec<Finding> = Vec::new();
    // A full mailbox comes first: it is the cause when the canary is then lost.
    if let Some(q) = &obs.quota {
        let category = if q.percent >= QUOTA_FULL_PERCENT {
            Some(Category::MailboxFull)
        } else if q.percent >= QUOTA_WARNING_PERCENT {
            Some(Category::QuotaWarning)
        } else {
            None
        };
        if let Some(category) = category {
            let (summary, action) = texts(category, lang, &ctx(""));
            findings.push(Finding {
                category,
                severity: category.default_severity(),
                stage: Stage::Receive,
                summary,
                action,
                evidence: format!(
                    "storage quota: {} of {} KiB used ({:.1} %)",
                    q.used_kb, q.limit_kb, q.percent
                ),
            });
        }
    }
    for t in &obs.tls {
        let previous = obs
            .previous_tls
            .iter()
            .find(|p| p.protocol == t.protocol && p.server == t.server);
        if let Some(p) = previous.filter(|p| p.issuer != t.issuer) {
            let (summary, action) = tls_intercepted_texts(lang, t, &p.issuer);
            findings.push(Finding {
                category: Category::TlsIntercepted,
                severity: Severity::Critical,
                stage: Stage::Tls,
                summary,
                action,
                evidence: format!(
                    "{} {}: issuer was \"{}\" at the previous successful check, now \"{}\"",
                    t.protocol.as_str(),
                    t.server,
                    p.issuer,
                    t.issuer
                ),
            });
        }
        if t.days_left <= TLS_EXPIRING_DAYS {
            let (summary, action) = tls_expiring_texts(lang, t);
            findings.push(Finding {
                category: Category::TlsExpiring,
                severity: Severity::Warning,
                stage: Stage::Tls,
                summary,
                action,
                evidence: format!(
                    "{} {}: certificate valid until {} ({} days left), issuer \"{}\"",
                    t.protocol.as_str(),
                    t.server,
                    t.not_after,
                    t.days_left,
                    t.issuer
                ),
            });
        }
    }
    for p in &obs.problems {
        let c = TextContext {
            server: &p.server,
            protocol: p.protocol.map(Protocol::as_str).unwrap_or(""),
            ..ctx("")
        };
        let (summary, action) = texts(p.category, lang, &c);
        findings.push(Finding {
            category: p.category,
            severity: p.category.default_severity(),
            stage: p.stage,
            summary,
            action,
            evidence: p.evidence.clone(),
        });
    }
    if obs.canary.folder.is_some() {
        if obs.canary.in_junk {
            let (summary, action) = texts(Category::Junk, lang, &ctx(""));
            findings.push(Finding {
                category: Category::Junk,
                severity: Severity::Warning,
                stage: Stage::Receive,
                summary,
                action,
                evidence: format!("found in folder {folder}"),
            });
        }
        if obs.canary.latency_ms.unwrap_or(0) > obs.late_after_ms && obs.late_after_ms > 0 {
            let (summary, action) = texts(Category::Late, lang, &ctx(""));
            findings.push(Finding {
                category: Category::Late,
                severity: Severity::Warning,
                stage: Stage::Receive,
                summary,
                action,
                evidence: format!(
                    "latency {} ms > {} ms",
                    obs.canary.latency_ms.unwrap_or(0),
                    obs.late_after_ms
                ),
            });
        }
    }
    // Attachment variants that failed while the plain canary arrived make a pattern.
    if obs.canary.folder.is_some() {
        for (outcome, category) in [
            (ProbeOutcome::Lost, Category::AttachmentBlocked),
            (ProbeOutcome::Interrupted, Category::DownloadInterrupted),
            (ProbeOutcome::Altered, Category::AttachmentAltered),
        ] {
            let failed: Vec<&ProbeResult> =
                obs.probes.iter().filter(|p| p.outcome == outcome).collect();
            if failed.is_empty() {
                continue;
            }
            let kinds: Vec<ProbeKind> = failed.iter().map(|p| p.variant).collect();
            let (mut summary, action) = attachment_texts(category, lang, &join_human(&kinds, lang));
            for k in &kinds {
                // A regularity once it has failed before too: "3 of 3 … since …".
                if let Some(t) = obs.probe_history.iter().find(|t| t.variant == *k)
                    && t.failed > 0
                {
                    let since = iso8601_utc(t.since_ms);
                    summary.push_str(&regularity_text(
                        lang,
                        k.human(lang),
                        t.failed + 1,
                        t.total + 1,
                        &since[..10],
                    ));
                }
            }
            findings.push(Finding {
                category,
                severity: category.default_severity(),
                stage: Stage::Receive,
                summary,
                action,
                evidence: failed
                    .iter()
                    .map(|p| format!("{}: {}", p.variant.as_str(), p.evidence))
                    .collect::<Vec<_>>()
                    .join("; "),
            });
        }
    }
    // A lockout with the provider's notice at hand: point to it from the lockout's action.
    let lockout = |c: Category| {
        matches!(
            c,
            Category::SendBlocked
                | Category::SendLimited
                | Category::AccountLocked
                | Category::AuthFailed
                | Category::AuthMethodRequired
        )
    };
    if let Some(n) = obs.notices.iter().find(|n| n.kind == "notice") {
        for f in findings.iter_mut().filter(|f| lockout(f.category)) {
            f.action.push_str(&notice_pointer(n, lang));
        }
    }
    for n in &obs.notices {
        let (summary, action) = notice_texts(n, lang);
        findings.push(Finding {
            category: Category::NoticeFound,
            severity: Severity::Warning,
            stage: Stage::Receive,
            summary,
            action,
            evidence: format!(
                "folder: {}; from: {}; subject: {}; date: {}; trusted: {}",
                n.folder,
                n.from,
                n.subject,
                n.date,
                match n.trusted {
                    Some(true) => "dkim/spf pass",
                    Some(false) => "no dkim/spf pass for the sender's domain",
                    None => "no authentication results",
                }
            ),
        });
    }
    // Worst first; the order of observation breaks ties (the first cause seen is primary).
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity.rank()));
    let (status, category, summary, action) = match findings.first() {
        Some(f) => (f.severity, f.category, f.summary.clone(), f.action.clone()),
        None => {
            let (s, a) = texts(Category::Ok, lang, &ctx(""));
            (Severity::Ok, Category::Ok, s, a)
        }
    };
    CheckReport {
        schema: 1,
        mailbox: obs.mailbox.clone(),
        status,
        category,
        summary,
        action,
        findings,
        stages: obs.stages.clone(),
        canary: obs.canary.clone(),
        notices: obs.notices.clone(),
        quota: obs.quota.clone(),
        tls: obs.tls.clone(),
        probes: obs.probes.clone(),
        scope: crate::scope::Scope::Mailbox,
        started_at_ms: obs.started_at_ms,
        duration_ms: obs.duration_ms,
        notice_scan: None,
        quota_read_at_ms: None,
    }
}

impl CheckReport {
    /// Sum of the stage times of one protocol's connection set-up and transfer, in seconds.
    pub fn protocol_secs(&self, protocol: Protocol) -> f64 {
        self.stages
            .iter()
            .filter(|s| s.protocol == Some(protocol) && s.stage != Stage::Receive)
            .map(|s| s.ms)
            .sum::<u64>() as f64
            / 1000.0
    }

    /// One Nagios plugin line with performance data.
    pub fn nagios_line(&self, warn_secs: u64, crit_secs: u64) -> String {
        let head = match (self.status, &self.canary.folder, self.canary.latency_ms) {
            (Severity::Ok, Some(folder), Some(ms)) => format!(
                "{}: canary arrived in {} after {:.2}s",
                self.mailbox,
                folder,
                ms as f64 / 1000.0
            ),
            _ => format!("{}: {}: {}", self.mailbox, self.category, self.summary),
        };
        let mut perf = Vec::new();
        if let Some(ms) = self.canary.latency_ms {
            perf.push(format!(
                "rtt={:.2}s;{warn_secs};{crit_secs}",
                ms as f64 / 1000.0
            ));
        }
        perf.push(format!("smtp={:.2}s", self.protocol_secs(Protocol::Smtp)));
        if self
            .stages
            .iter()
            .any(|s| s.protocol == Some(Protocol::Pop3))
        {
            perf.push(format!("pop3={:.2}s", self.protocol_secs(Protocol::Pop3)));
        } else {
            perf.push(format!("imap={:.2}s", self.protocol_secs(Protocol::Imap)));
        }
        format!(
            "MAILCANARY {} - {} | {}",
            self.status.label(),
            head.replace(['|', '\n'], " "),
            perf.join(" ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(stage: Stage, protocol: Protocol, ms: u64) -> StageRecord {
        StageRecord {
            stage,
            protocol: Some(protocol),
            ok: true,
            ms,
            detail: String::new(),
        }
    }

    fn healthy() -> Observations {
        Observations {
            mailbox: "office".into(),
            stages: vec![
                stage(Stage::Connect, Protocol::Imap, 10),
                stage(Stage::Auth, Protocol::Imap, 20),
                stage(Stage::Connect, Protocol::Smtp, 30),
                stage(Stage::Send, Protocol::Smtp, 20),
                stage(Stage::Receive, Protocol::Imap, 210),
            ],
            canary: CanaryOutcome {
                id: Some("X".into()),
                folder: Some("INBOX".into()),
                in_junk: false,
                latency_ms: Some(210),
                cleaned: true,
            },
            imap_login_ok: true,
            late_after_ms: 60_000,
            ..Default::default()
        }
    }

    #[test]
    fn healthy_check() {
        let r = diagnose(&healthy(), Lang::En);
        assert_eq!((r.status, r.category), (Severity::Ok, Category::Ok));
        assert!(r.findings.is_empty());
        assert_eq!(
            r.nagios_line(60, 600),
            "MAILCANARY OK - office: canary arrived in INBOX after 0.21s | rtt=0.21s;60;600 smtp=0.05s imap=0.03s"
        );
    }

    #[test]
    fn table() {
        let junk = |o: &mut Observations| {
            o.canary.folder = Some("迷惑メール".into());
            o.canary.in_junk = true;
        };
        let late = |o: &mut Observations| o.canary.latency_ms = Some(61_000);
        let blocked = |o: &mut Observations| {
            o.canary.folder = None;
            o.canary.latency_ms = None;
            o.problems.push(Problem {
                category: Category::SendBlocked,
                stage: Stage::Send,
                protocol: Some(Protocol::Smtp),
                server: "s:587".into(),
                evidence: "554 5.7.1 suspended".into(),
            });
        };
        let config = |o: &mut Observations| {
            o.problems.push(Problem {
                category: Category::ConfigError,
                stage: Stage::Auth,
                protocol: None,
                server: String::new(),
                evidence: "no password".into(),
            });
        };
        type Change = Box<dyn Fn(&mut Observations)>;
        let cases: Vec<(&str, Change, Severity, Category, usize)> = vec![
            ("junk", Box::new(junk), Severity::Warning, Category::Junk, 1),
            ("late", Box::new(late), Severity::Warning, Category::Late, 1),
            (
                "junk and late",
                Box::new(move |o| {
                    junk(o);
                    late(o)
                }),
                Severity::Warning,
                Category::Junk,
                2,
            ),
            (
                "blocked",
                Box::new(blocked),
                Severity::Critical,
                Category::SendBlocked,
                1,
            ),
            (
                "config and junk",
                Box::new(move |o| {
                    junk(o);
                    config(o)
                }),
                Severity::Unknown,
                Category::ConfigError,
                2,
            ),
        ];
        for (name, change, status, category, n) in cases {
            let mut o = healthy();
            change(&mut o);
            let r = diagnose(&o, Lang::En);
            assert_eq!(
                (r.status, r.category, r.findings.len()),
                (status, category, n),
                "{name}"
            );
        }
        let mut o = healthy();
        blocked(&mut o);
        let r = diagnose(&o, Lang::En);
        assert!(r.summary.contains("receiving still works"), "{}", r.summary);
        let line = r.nagios_line(60, 600);
        assert!(
            line.starts_with("MAILCANARY CRITICAL - office: send_blocked: Sending is blocked"),
            "{line}"
        );
        assert!(!line.contains("rtt="), "{line}");
    }

    #[test]
    fn attachment_patterns_in_both_languages() {
        use crate::probes::{ProbeKind, ProbeOutcome, ProbeResult};
        let mut o = healthy();
        for (variant, outcome) in [
            (ProbeKind::Pdf, ProbeOutcome::Delivered),
            (ProbeKind::Xlsm, ProbeOutcome::Lost),
            (ProbeKind::ZipZipcrypto, ProbeOutcome::Lost),
        ] {
            o.probes.push(ProbeResult {
                variant,
                outcome,
                folder: None,
                latency_ms: None,
                evidence: String::new(),
            });
        }
        o.probe_history.push(crate::probes::ProbeTally {
            variant: ProbeKind::Xlsm,
            failed: 2,
            total: 2,
            since_ms: 1_795_000_000_000,
        });
        let en = diagnose(&o, Lang::En);
        assert_eq!(en.category, Category::AttachmentBlocked);
        assert!(en.summary.starts_with("Messages with macro-enabled Excel files or password-protected ZIP files do not arrive; ordinary messages do."), "{}", en.summary);
        assert!(
            en.summary.contains(
                "3 of 3 test messages with macro-enabled Excel files have failed since 2026-11-18."
            ),
            "{}",
            en.summary
        );
        let ja = diagnose(&o, Lang::Ja);
        assert!(
            ja.summary.starts_with(
                "マクロ付き Excel ファイル・パスワード付き ZIP ファイルが付いたメールが届きません。"
            ),
            "{}",
            ja.summary
        );
        // Without the plain canary, there is no pattern to name.
        o.canary.folder = None;
        assert_ne!(diagnose(&o, Lang::En).category, Category::AttachmentBlocked);
    }

    #[test]
    fn json_shape() {
        let r = diagnose(&healthy(), Lang::Ja);
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(v["schema"], 1);
        assert_eq!(v["status"], "ok");
        assert_eq!(v["stages"][0]["stage"], "connect");
        assert_eq!(v["stages"][0]["protocol"], "imap");
        assert_eq!(v["canary"]["folder"], "INBOX");
        let back: CheckReport = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
    }
}

/// A Unix time in milliseconds as `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub fn iso8601_utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (year, month, day) = crate::canary::civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Parses a look-back like `30m`, `24h`, `7d`, `2w` into milliseconds.
pub fn parse_since(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = num.parse().ok()?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit_ms)
}

#[cfg(test)]
mod time_tests {
    use super::*;

    #[test]
    fn iso_and_since() {
        assert_eq!(iso8601_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601_utc(1_763_800_000_123), "2025-11-22T08:26:40Z");
        assert_eq!(parse_since("24h"), Some(86_400_000));
        assert_eq!(parse_since("7d"), Some(7 * 86_400_000));
        assert_eq!(parse_since("30m"), Some(1_800_000));
        for bad in ["", "h", "7", "7y", "-1d", "1.5h"] {
            assert_eq!(parse_since(bad), None, "{bad}");
        }
    }
}
