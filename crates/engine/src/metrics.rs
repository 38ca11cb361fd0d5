//! Metrics in the Prometheus text exposition format, so that a support company can scrape many
//! offices and alert through Alertmanager. Names follow Prometheus conventions (base units,
//! `_total` counters, `_seconds`). The monitor updates them; [`serve`] answers `GET /metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailcanary_core::Severity;
use mailcanary_core::report::CheckReport;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::http::HttpUrl;

/// Upper bounds of the round-trip histogram, seconds.
const BUCKETS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

#[derive(Debug, Default, Clone)]
struct MailboxMetrics {
    checks: BTreeMap<&'static str, u64>,
    rtt_buckets: Vec<u64>,
    rtt_count: u64,
    rtt_sum: f64,
    stages: BTreeMap<(String, String), f64>,
    last_success_s: Option<f64>,
    last_check_s: f64,
    state: Option<Severity>,
}

/// The monitor's metrics, shared with the HTTP endpoint.
#[derive(Debug, Default, Clone)]
pub struct Metrics {
    inner: Arc<Mutex<BTreeMap<String, MailboxMetrics>>>,
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Empty metrics.
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Takes one finished check, and the mailbox's health state after it.
    pub fn record(&self, r: &CheckReport, state: Severity) {
        let mut all = self.inner.lock().expect("not poisoned");
        let m = all.entry(r.mailbox.clone()).or_default();
        *m.checks.entry(r.status.as_str()).or_default() += 1;
        if let Some(ms) = r.canary.latency_ms {
            let s = ms as f64 / 1000.0;
            if m.rtt_buckets.is_empty() {
                m.rtt_buckets = vec![0; BUCKETS.len()];
            }
            for (i, b) in BUCKETS.iter().enumerate() {
                if s <= *b {
                    m.rtt_buckets[i] += 1;
                }
            }
            m.rtt_count += 1;
            m.rtt_sum += s;
        }
        for st in &r.stages {
            let proto = st.protocol.map(|p| p.as_str()).unwrap_or("").to_string();
            m.stages.insert(
                (st.stage.as_str().to_string(), proto),
                st.ms as f64 / 1000.0,
            );
        }
        let end_s = (r.started_at_ms + r.duration_ms) as f64 / 1000.0;
        m.last_check_s = end_s;
        if r.status == Severity::Ok {
            m.last_success_s = Some(end_s);
        }
        m.state = Some(state);
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let all = self.inner.lock().expect("not poisoned");
        let mut o = String::new();
        let _ = writeln!(
            o,
            "# HELP mailcanary_checks_total Canary checks finished, by result."
        );
        let _ = writeln!(o, "# TYPE mailcanary_checks_total counter");
        for (mb, m) in all.iter() {
            for status in ["ok", "warning", "critical", "unknown"] {
                let n = m.checks.get(status).copied().unwrap_or(0);
                let _ = writeln!(
                    o,
                    "mailcanary_checks_total{{mailbox=\"{}\",status=\"{status}\"}} {n}",
                    escape(mb)
                );
            }
        }
        let _ = writeln!(
            o,
            "# HELP mailcanary_round_trip_seconds Time from submission until the canary was seen."
        );
        let _ = writeln!(o, "# TYPE mailcanary_round_trip_seconds histogram");
        for (mb, m) in all.iter() {
            let mb = escape(mb);
            for (i, b) in BUCKETS.iter().enumerate() {
                let n = m.rtt_buckets.get(i).copied().unwrap_or(0);
                let _ = writeln!(
                    o,
                    "mailcanary_round_trip_seconds_bucket{{mailbox=\"{mb}\",le=\"{b}\"}} {n}"
                );
            }
            let _ = writeln!(
                o,
                "mailcanary_round_trip_seconds_bucket{{mailbox=\"{mb}\",le=\"+Inf\"}} {}",
                m.rtt_count
            );
            let _ = writeln!(
                o,
                "mailcanary_round_trip_seconds_sum{{mailbox=\"{mb}\"}} {}",
                m.rtt_sum
            );
            let _ = writeln!(
                o,
                "mailcanary_round_trip_seconds_count{{mailbox=\"{mb}\"}} {}",
                m.rtt_count
            );
        }
        let _ = writeln!(
            o,
            "# HELP mailcanary_stage_duration_seconds Duration of each stage at the latest check."
        );
        let _ = writeln!(o, "# TYPE mailcanary_stage_duration_seconds gauge");
        for (mb, m) in all.iter() {
            for ((stage, proto), s) in &m.stages {
                let _ = writeln!(
                    o,
                    "mailcanary_stage_duration_seconds{{mailbox=\"{}\",stage=\"{stage}\",protocol=\"{proto}\"}} {s}",
                    escape(mb)
                );
            }
        }
        let _ = writeln!(
            o,
            "# HELP mailcanary_last_success_timestamp_seconds When the latest successful check ended."
        );
        let _ = writeln!(o, "# TYPE mailcanary_last_success_timestamp_seconds gauge");
        for (mb, m) in all.iter() {
            if let Some(s) = m.last_success_s {
                let _ = writeln!(
                    o,
                    "mailcanary_last_success_timestamp_seconds{{mailbox=\"{}\"}} {s}",
                    escape(mb)
                );
            }
        }
        let _ = writeln!(
            o,
            "# HELP mailcanary_last_check_timestamp_seconds When the latest check ended."
        );
        let _ = writeln!(o, "# TYPE mailcanary_last_check_timestamp_seconds gauge");
        for (mb, m) in all.iter() {
            let _ = writeln!(
                o,
                "mailcanary_last_check_timestamp_seconds{{mailbox=\"{}\"}} {}",
                escape(mb),
                m.last_check_s
            );
        }
        let _ = writeln!(
            o,
            "# HELP mailcanary_health_state The mailbox's confirmed health (1 for the current state)."
        );
        let _ = writeln!(o, "# TYPE mailcanary_health_state gauge");
        for (mb, m) in all.iter() {
            for state in ["ok", "warning", "critical", "unknown"] {
                let v = u8::from(m.state.map(|s| s.as_str()) == Some(state));
                let _ = writeln!(
                    o,
                    "mailcanary_health_state{{mailbox=\"{}\",state=\"{state}\"}} {v}",
                    escape(mb)
                );
            }
        }
        o
    }
}

/// Answers `GET /metrics` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, metrics: Metrics) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut got = 0;
            // Read the request head (bounded); only its first line matters.
            while got < buf.len() {
                match tokio::time::timeout(
                    std::time::Duration::from_secs(5),
                    sock.read(&mut buf[got..]),
                )
                .await
                {
                    Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
                    Ok(Ok(n)) => {
                        got += n;
                        if buf[..got].windows(4).any(|w| w == b"\r\n\r\n") {
                            break;
                        }
                    }
                }
            }
            let head = String::from_utf8_lossy(&buf[..got]);
            let first = head.lines().next().unwrap_or("");
            let response = if first.starts_with("GET /metrics ") {
                let body = metrics.render();
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string()
            };
            let _ = sock.write_all(response.as_bytes()).await;
            let _ = sock.shutdown().await;
        });
    }
}

/// The instance label of pushed metrics: this computer's name, reduced to characters that
/// need no escaping in a Pushgateway URL.
pub fn default_instance() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let clean = path_segment(raw.trim());
    if clean.is_empty() {
        "mailcanary".into()
    } else {
        clean
    }
}

fn path_segment(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Pushes the metrics to a Prometheus Pushgateway every `every` (first at once), replacing
/// this instance's group each time (HTTP PUT to `/metrics/job/mailcanary/instance/NAME`), for
/// offices behind NAT where nobody can scrape. Runs until dropped. A failing push is logged
/// when pushing starts to fail and when it works again, not every time.
pub async fn push_loop(base: HttpUrl, instance: String, metrics: Metrics, every: Duration) {
    let path = format!(
        "{}/metrics/job/mailcanary/instance/{}",
        base.path.trim_end_matches('/'),
        path_segment(&instance)
    );
    let url = base.with_path(path);
    let mut failing = false;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let body = metrics.render();
        let result = crate::http::request(
            "PUT",
            &url,
            "text/plain; version=0.0.4",
            body.as_bytes(),
            Duration::from_secs(15),
        )
        .await;
        match result {
            Ok(code) if (200..300).contains(&code) => {
                if failing {
                    tracing::warn!("metrics push to {} works again", url.host);
                }
                failing = false;
            }
            other => {
                if !failing {
                    let why = match other {
                        Ok(code) => format!("HTTP {code}"),
                        Err(e) => e.to_string(),
                    };
                    tracing::warn!("metrics push to {} failed: {why}", url.host);
                }
                failing = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailcanary_core::Lang;
    use mailcanary_core::report::{CanaryOutcome, Observations, diagnose};

    #[test]
    fn instance_names_are_path_safe() {
        assert_eq!(path_segment("office-pc.local"), "office-pc.local");
        assert_eq!(path_segment("事務所 PC/1"), "____PC_1");
        assert!(!default_instance().is_empty());
    }

    #[test]
    fn exposition_counts_and_buckets() {
        let m = Metrics::new();
        let ok = diagnose(
            &Observations {
                mailbox: "office".into(),
                started_at_ms: 1_000_000,
                duration_ms: 500,
                canary: CanaryOutcome {
                    folder: Some("INBOX".into()),
                    latency_ms: Some(300),
                    ..Default::default()
                },
                late_after_ms: 60_000,
                ..Default::default()
            },
            Lang::En,
        );
        m.record(&ok, Severity::Ok);
        m.record(&ok, Severity::Ok);
        let text = m.render();
        assert!(
            text.contains("mailcanary_checks_total{mailbox=\"office\",status=\"ok\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("mailcanary_round_trip_seconds_bucket{mailbox=\"office\",le=\"0.25\"} 0")
        );
        assert!(
            text.contains("mailcanary_round_trip_seconds_bucket{mailbox=\"office\",le=\"0.5\"} 2")
        );
        assert!(text.contains("mailcanary_round_trip_seconds_count{mailbox=\"office\"} 2"));
        assert!(
            text.contains("mailcanary_last_success_timestamp_seconds{mailbox=\"office\"} 1000.5")
        );
        assert!(text.contains("mailcanary_health_state{mailbox=\"office\",state=\"ok\"} 1"));
    }
}
