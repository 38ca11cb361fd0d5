//! When to check next: a steady interval with jitter (so many monitors do not knock at once), a
//! quick second look after a first failure (so hysteresis confirms within one interval), then
//! backing off while a mailbox keeps failing (so a locked account is not hammered). After a
//! sleep or a clock jump a missed check runs once, now, never as a burst. Pure: the caller
//! supplies the time and a random fraction.

/// Tunables.
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulePolicy {
    /// The usual time between checks, ms.
    pub interval_ms: u64,
    /// Random spread, as a fraction of the interval (0.1 = ±10 %).
    pub jitter: f64,
    /// After the first failure, look again this soon, ms.
    pub confirm_after_ms: u64,
    /// Longest wait while failing, ms.
    pub max_backoff_ms: u64,
}

impl SchedulePolicy {
    /// A policy for an interval, with the defaults for the rest.
    pub fn every(interval_ms: u64) -> SchedulePolicy {
        SchedulePolicy {
            interval_ms,
            jitter: 0.1,
            confirm_after_ms: (interval_ms / 5).clamp(1_000.min(interval_ms), 60_000),
            max_backoff_ms: (interval_ms * 6).max(interval_ms),
        }
    }
}

impl Default for SchedulePolicy {
    fn default() -> Self {
        SchedulePolicy::every(5 * 60_000)
    }
}

/// The next time to check, given when the last check started, how many checks in a row have
/// failed, and `random` in [0, 1).
pub fn next_due(last_started_ms: u64, fail_streak: u32, p: &SchedulePolicy, random: f64) -> u64 {
    let base = match fail_streak {
        0 => p.interval_ms,
        1 => p.confirm_after_ms,
        n => p
            .interval_ms
            .saturating_mul(1u64 << (n - 2).min(16))
            .min(p.max_backoff_ms),
    };
    let spread = (base as f64 * p.jitter * (2.0 * random.clamp(0.0, 1.0) - 1.0)) as i64;
    last_started_ms.saturating_add_signed(base as i64 + spread)
}

/// When a check due at `due_ms` should start, seen at `now_ms`: at its time, or now if it was
/// missed (a sleeping PC wakes to one check, not to every one it slept through).
pub fn start_at(due_ms: u64, now_ms: u64) -> u64 {
    due_ms.max(now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_confirmations_and_backoff() {
        let p = SchedulePolicy {
            jitter: 0.0,
            ..SchedulePolicy::every(300_000)
        };
        let table = [
            (0, 300_000),
            (1, 60_000),
            (2, 300_000),
            (3, 600_000),
            (4, 1_200_000),
            (5, 1_800_000),
            (30, 1_800_000),
        ];
        for (streak, want) in table {
            assert_eq!(
                next_due(1_000, streak, &p, 0.5),
                1_000 + want,
                "streak {streak}"
            );
        }
    }

    #[test]
    fn jitter_stays_within_its_spread() {
        let p = SchedulePolicy::every(300_000);
        assert_eq!(next_due(0, 0, &p, 0.0), 270_000);
        assert_eq!(next_due(0, 0, &p, 0.5), 300_000);
        assert!(next_due(0, 0, &p, 0.999_999) <= 330_000);
    }

    #[test]
    fn a_missed_check_runs_once_now() {
        assert_eq!(start_at(1_000, 5_000_000), 5_000_000);
        assert_eq!(start_at(9_000, 5_000), 9_000);
    }

    #[test]
    fn short_intervals_for_tests_still_confirm_quickly() {
        let p = SchedulePolicy::every(2_000);
        assert_eq!(p.confirm_after_ms, 1_000);
        let p = SchedulePolicy::every(500);
        assert_eq!(p.confirm_after_ms, 500);
    }
}
