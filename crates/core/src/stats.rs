//! Figures from the history: uptime, daily latency percentiles, and incidents (each with start,
//! end, duration and cause). Incidents are found by replaying the health machine over the
//! recorded checks, so a history written by cron-driven `mailcanary check` runs has incidents
//! too, decided by the same rules as the monitor's alerts.

use serde::{Deserialize, Serialize};

use crate::canary::civil_from_days;
use crate::health::{Health, HealthEvent, HealthPolicy};
use crate::report::CheckReport;
use crate::{Category, Severity};

/// What the figures need of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckPoint {
    /// Start, Unix ms.
    pub at_ms: u64,
    /// Overall status.
    pub severity: Severity,
    /// Primary category.
    pub category: Category,
    /// Send-to-arrival time of the canary, when it arrived.
    pub latency_ms: Option<u64>,
    /// Primary summary, in the language of the check.
    pub summary: String,
    /// This computer was offline: the check says nothing about mail.
    #[serde(default)]
    pub offline: bool,
}

impl From<&CheckReport> for CheckPoint {
    fn from(r: &CheckReport) -> CheckPoint {
        CheckPoint {
            at_ms: r.started_at_ms,
            severity: r.status,
            category: r.category,
            latency_ms: r.canary.latency_ms,
            summary: r.summary.clone(),
            offline: r.scope == crate::scope::Scope::Offline,
        }
    }
}

/// Mail counts as flowing in a check that ended ok or with a warning (late, in Junk, a quota
/// warning...). Critical checks count as down. Unknown checks (the check itself could not
/// decide, e.g. this PC was offline) count neither way.
pub fn is_up(s: Severity) -> Option<bool> {
    match s {
        Severity::Ok | Severity::Warning => Some(true),
        Severity::Critical => Some(false),
        Severity::Unknown => None,
    }
}

/// Uptime in percent over `points`, or `None` when no check reached a verdict.
pub fn uptime_pct(points: &[CheckPoint]) -> Option<f64> {
    let (up, verdicts) = points
        .iter()
        .filter_map(|p| is_up(p.severity))
        .fold((0u32, 0u32), |(u, n), up| (u + up as u32, n + 1));
    (verdicts > 0).then(|| 100.0 * up as f64 / verdicts as f64)
}

/// The nearest-rank percentile (`q` in 0..=100) of `values`, which it sorts.
pub fn percentile(values: &mut [u64], q: u32) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = (q.min(100) as usize * values.len()).div_ceil(100).max(1);
    Some(values[rank - 1])
}

/// One day's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayStats {
    /// The day, `YYYY-MM-DD`, in the time zone given to [`daily`].
    pub day: String,
    /// Checks that day.
    pub checks: u32,
    /// Checks that reached a verdict (not unknown).
    pub verdicts: u32,
    /// Verdicts where mail flowed.
    pub up: u32,
    /// `up / verdicts` in percent.
    pub uptime_pct: Option<f64>,
    /// Median canary latency, ms.
    pub p50_ms: Option<u64>,
    /// 95th percentile canary latency, ms.
    pub p95_ms: Option<u64>,
}

/// The calendar day of `ms` at `utc_offset_secs` east of UTC.
pub fn day_of(ms: u64, utc_offset_secs: i32) -> String {
    let local_secs = (ms / 1000) as i64 + utc_offset_secs as i64;
    let (y, m, d) = civil_from_days(local_secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Figures per calendar day, oldest first. `points` must be in time order.
pub fn daily(points: &[CheckPoint], utc_offset_secs: i32) -> Vec<DayStats> {
    let mut out: Vec<DayStats> = Vec::new();
    let mut latencies: Vec<u64> = Vec::new();
    let finish = |d: &mut DayStats, lat: &mut Vec<u64>| {
        d.uptime_pct = (d.verdicts > 0).then(|| 100.0 * d.up as f64 / d.verdicts as f64);
        d.p50_ms = percentile(lat, 50);
        d.p95_ms = percentile(lat, 95);
        lat.clear();
    };
    for p in points {
        let day = day_of(p.at_ms, utc_offset_secs);
        if out.last().map(|d| d.day != day).unwrap_or(true) {
            if let Some(d) = out.last_mut() {
                finish(d, &mut latencies);
            }
            out.push(DayStats {
                day,
                checks: 0,
                verdicts: 0,
                up: 0,
                uptime_pct: None,
                p50_ms: None,
                p95_ms: None,
            });
        }
        let d = out.last_mut().expect("pushed above");
        d.checks += 1;
        if let Some(up) = is_up(p.severity) {
            d.verdicts += 1;
            d.up += up as u32;
        }
        if let Some(l) = p.latency_ms {
            latencies.push(l);
        }
    }
    if let Some(d) = out.last_mut() {
        finish(d, &mut latencies);
    }
    out
}

/// One incident: a confirmed problem from its first failed check to the check that found mail
/// working again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// Mailbox name.
    pub mailbox: String,
    /// First failed check, Unix ms.
    pub start_ms: u64,
    /// The check that found mail working again; `None` while it goes on.
    pub end_ms: Option<u64>,
    /// Worst severity reached.
    pub severity: Severity,
    /// The cause of the check that confirmed it.
    pub category: Category,
    /// Every cause seen from its first failed check on, in order of first sighting.
    pub causes: Vec<Category>,
    /// The plain-words summary of the check that raised it.
    pub summary: String,
    /// When someone acknowledged it, if anyone did.
    pub acknowledged_at_ms: Option<u64>,
}

impl Incident {
    /// How long it lasted (until `now_ms` if it goes on).
    pub fn duration_ms(&self, now_ms: u64) -> u64 {
        self.end_ms.unwrap_or(now_ms).saturating_sub(self.start_ms)
    }
}

/// Replays the health machine over one mailbox's checks (in time order), leaving out the ones
/// made while this computer was offline, as the monitor does. `acks` are the times someone
/// acknowledged this mailbox's problem; the first inside an incident is its acknowledgement.
pub fn incidents(
    mailbox: &str,
    points: &[CheckPoint],
    policy: &HealthPolicy,
    acks: &[u64],
) -> Vec<Incident> {
    let mut health = Health::default();
    let mut out: Vec<Incident> = Vec::new();
    let mut open: Option<Incident> = None;
    // Causes of the failed checks in a row so far, which become the incident's when raised.
    let mut streak: Vec<Category> = Vec::new();
    for p in points.iter().filter(|p| !p.offline) {
        if p.severity == Severity::Ok {
            streak.clear();
        } else if !streak.contains(&p.category) {
            streak.push(p.category);
        }
        for e in health.observe(p.severity, p.category, p.at_ms, policy) {
            match e {
                HealthEvent::Raised { severity, category } => {
                    open = Some(Incident {
                        mailbox: mailbox.to_string(),
                        start_ms: health.since_ms,
                        end_ms: None,
                        severity,
                        category,
                        causes: streak.clone(),
                        summary: p.summary.clone(),
                        acknowledged_at_ms: None,
                    });
                }
                HealthEvent::Escalated { severity, .. } => {
                    if let Some(i) = open.as_mut() {
                        i.severity = i.severity.worst(severity);
                    }
                }
                HealthEvent::Recovered { .. } => {
                    if let Some(mut i) = open.take() {
                        i.end_ms = Some(p.at_ms);
                        out.push(i);
                    }
                }
                HealthEvent::Reminder { .. } => {}
            }
        }
        if let Some(i) = open.as_mut()
            && p.severity != Severity::Ok
            && !i.causes.contains(&p.category)
        {
            i.causes.push(p.category);
        }
    }
    out.extend(open);
    for i in &mut out {
        i.acknowledged_at_ms = acks
            .iter()
            .copied()
            .filter(|&a| a >= i.start_ms && i.end_ms.is_none_or(|e| a <= e))
            .min();
    }
    out
}

/// One rehearsal of an outage (`mailcanary drill`), kept apart from real incidents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drill {
    /// Row id.
    pub id: i64,
    /// Mailbox name.
    pub mailbox: String,
    /// When the drill's alert went out, Unix ms.
    pub started_at_ms: u64,
    /// When someone acknowledged it.
    pub acknowledged_at_ms: Option<u64>,
    /// When the drill was ended.
    pub ended_at_ms: Option<u64>,
}

impl Drill {
    /// How long the office took to acknowledge.
    pub fn time_to_ack_ms(&self) -> Option<u64> {
        self.acknowledged_at_ms
            .map(|a| a.saturating_sub(self.started_at_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(at_s: u64, severity: Severity, category: Category, lat: Option<u64>) -> CheckPoint {
        CheckPoint {
            at_ms: at_s * 1000,
            severity,
            category,
            latency_ms: lat,
            summary: category.as_str().to_string(),
            offline: false,
        }
    }

    #[test]
    fn percentile_nearest_rank() {
        let table: &[(&[u64], u32, Option<u64>)] = &[
            (&[], 50, None),
            (&[7], 50, Some(7)),
            (&[7], 95, Some(7)),
            (&[4, 1, 3, 2], 50, Some(2)),
            (&[4, 1, 3, 2], 95, Some(4)),
            (&[10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 95, Some(100)),
            (&[10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 90, Some(90)),
            (&[5, 5, 5, 100], 0, Some(5)),
        ];
        for (values, q, want) in table {
            assert_eq!(
                percentile(&mut values.to_vec(), *q),
                *want,
                "{values:?} q{q}"
            );
        }
    }

    #[test]
    fn daily_figures_split_at_local_midnight() {
        use Category::*;
        use Severity::{Critical, Unknown, Warning};
        const OK: Severity = Severity::Ok;
        // 2026-11-21 23:59:00 UTC and 2026-11-22 00:01:00 UTC.
        let before = 1_795_305_540;
        let points = vec![
            pt(before, OK, Category::Ok, Some(100)),
            pt(before + 120, OK, Category::Ok, Some(300)),
            pt(before + 180, Critical, Lost, None),
            pt(before + 240, Unknown, DnsFailed, None),
            pt(before + 300, Warning, Late, Some(9000)),
        ];
        let utc = daily(&points, 0);
        assert_eq!(
            utc.iter().map(|d| d.day.as_str()).collect::<Vec<_>>(),
            ["2026-11-21", "2026-11-22"]
        );
        assert_eq!((utc[0].checks, utc[0].verdicts, utc[0].up), (1, 1, 1));
        let d = &utc[1];
        assert_eq!((d.checks, d.verdicts, d.up), (4, 3, 2));
        assert!((d.uptime_pct.unwrap() - 66.666).abs() < 0.01);
        assert_eq!((d.p50_ms, d.p95_ms), (Some(300), Some(9000)));
        // In Japan (UTC+9) all five fall on the 22nd.
        let jst = daily(&points, 9 * 3600);
        assert_eq!(jst.len(), 1);
        assert_eq!(jst[0].day, "2026-11-22");
        assert_eq!(jst[0].checks, 5);
        assert_eq!(uptime_pct(&points), Some(75.0));
        assert_eq!(uptime_pct(&points[3..4]), None);
    }

    #[test]
    fn incidents_follow_the_health_rules() {
        use Category::*;
        use Severity::{Critical, Warning};
        const OK: Severity = Severity::Ok;
        let p = HealthPolicy::default();
        let points = vec![
            pt(0, OK, Category::Ok, Some(50)),
            // One lost canary is a fluke: no incident.
            pt(300, Critical, Lost, None),
            pt(600, OK, Category::Ok, Some(50)),
            // Two in a row are one: it starts at the first.
            pt(900, Warning, Late, Some(90_000)),
            pt(1200, Critical, Lost, None),
            pt(1500, Critical, ServerError, None),
            pt(1800, OK, Category::Ok, Some(50)),
            // A lockout is one at once, and goes on to the end of the history.
            pt(2100, Critical, AccountLocked, None),
        ];
        let acks = [1_300_000, 5_000_000];
        // Checks made while offline are left out: they neither raise nor end an incident.
        let mut points = points;
        for at in [60, 120, 2050] {
            let mut off = pt(at, Severity::Unknown, ConnectFailed, None);
            off.offline = true;
            points.push(off);
        }
        points.sort_by_key(|p| p.at_ms);
        let got = incidents("office", &points, &p, &acks);
        assert_eq!(got.len(), 2, "{got:#?}");
        let first = &got[0];
        assert_eq!(
            (first.start_ms, first.end_ms, first.severity, first.category),
            (900_000, Some(1_800_000), Critical, Lost)
        );
        assert_eq!(first.causes, [Late, Lost, ServerError]);
        assert_eq!(first.acknowledged_at_ms, Some(1_300_000));
        assert_eq!(first.duration_ms(0), 900_000);
        let second = &got[1];
        assert_eq!(
            (second.start_ms, second.end_ms, second.category),
            (2_100_000, None, AccountLocked)
        );
        assert_eq!(second.acknowledged_at_ms, Some(5_000_000));
        assert_eq!(second.duration_ms(2_400_000), 300_000);
    }
}
