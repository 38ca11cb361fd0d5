//! The per-mailbox health state machine: it turns a stream of check results into alerts that
//! staff can trust. It alerts fast on what is certain (a lockout reply is an alarm at once),
//! waits for confirmation of what may be a fluke (one late or lost canary is not), reports
//! recovery, can be acknowledged or snoozed, and reminds when a critical state goes
//! unacknowledged. Pure: the caller supplies results and the time.

use serde::{Deserialize, Serialize};

use crate::{Category, Severity};

/// Tunables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthPolicy {
    /// Consecutive failed checks before a category that may be a fluke raises an alert.
    pub raise_after: u32,
    /// Consecutive good checks before a raised state recovers.
    pub recover_after: u32,
    /// An unacknowledged critical state is notified again after this long.
    pub renotify_after_ms: u64,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            raise_after: 2,
            recover_after: 1,
            renotify_after_ms: 4 * 3_600_000,
        }
    }
}

/// Categories that are certain from one check: the server said so, or a setting is wrong.
pub fn raises_at_once(c: Category) -> bool {
    use Category::*;
    matches!(
        c,
        AuthFailed
            | AuthMethodRequired
            | AccountLocked
            | SendBlocked
            | MailboxFull
            | TlsUntrusted
            | TlsExpired
            | TlsIntercepted
            | StarttlsMissing
            | AttachmentBlocked
            | AttachmentAltered
            | ConfigError
    )
}

/// What staff should hear about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum HealthEvent {
    /// A problem is confirmed.
    Raised {
        /// How bad.
        severity: Severity,
        /// What.
        category: Category,
    },
    /// An existing problem got worse.
    Escalated {
        /// How bad now.
        severity: Severity,
        /// What now.
        category: Category,
    },
    /// The problem is over.
    Recovered {
        /// What it was.
        category: Category,
        /// How long it lasted, ms.
        lasted_ms: u64,
    },
    /// Still critical and nobody acknowledged it.
    Reminder {
        /// What.
        category: Category,
        /// Since when, Unix ms.
        since_ms: u64,
    },
}

/// One mailbox's health.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Health {
    /// The confirmed state.
    pub state: Option<(Severity, Category)>,
    /// When the confirmed problem began (its first failed check), Unix ms.
    pub since_ms: u64,
    /// Failed checks in a row (not yet or already confirmed).
    pub fail_streak: u32,
    /// When the current streak of failures began.
    pub streak_since_ms: u64,
    /// Good checks in a row.
    pub ok_streak: u32,
    /// Someone acknowledged the current problem.
    pub acknowledged: bool,
    /// Notifications are held back until then (Unix ms).
    pub snoozed_until_ms: u64,
    /// When staff were last told about the current problem.
    pub last_notified_ms: u64,
}

impl Health {
    /// The state as a severity (`ok` when nothing is confirmed).
    pub fn severity(&self) -> Severity {
        self.state.map(|s| s.0).unwrap_or(Severity::Ok)
    }

    /// Takes one check's primary result; returns what to tell.
    pub fn observe(
        &mut self,
        severity: Severity,
        category: Category,
        at_ms: u64,
        p: &HealthPolicy,
    ) -> Vec<HealthEvent> {
        let mut events = Vec::new();
        if severity == Severity::Ok {
            self.fail_streak = 0;
            self.ok_streak += 1;
            if let Some((_, was)) = self.state
                && self.ok_streak >= p.recover_after
            {
                events.push(HealthEvent::Recovered {
                    category: was,
                    lasted_ms: at_ms.saturating_sub(self.since_ms),
                });
                self.state = None;
                self.acknowledged = false;
            }
            return self.gate(events, at_ms);
        }
        self.ok_streak = 0;
        if self.fail_streak == 0 {
            self.streak_since_ms = at_ms;
        }
        self.fail_streak += 1;
        match self.state {
            None => {
                if raises_at_once(category) || self.fail_streak >= p.raise_after {
                    self.state = Some((severity, category));
                    self.since_ms = self.streak_since_ms;
                    self.acknowledged = false;
                    events.push(HealthEvent::Raised { severity, category });
                }
            }
            Some((current, _)) => {
                if severity.rank() > current.rank() {
                    self.state = Some((severity, category));
                    self.acknowledged = false;
                    events.push(HealthEvent::Escalated { severity, category });
                } else {
                    // Same or milder: the incident goes on (grouped, no new alert); its
                    // latest cause is kept for the record.
                    self.state = Some((current, category));
                }
            }
        }
        self.gate(events, at_ms)
    }

    /// Drops notifications while snoozed; notes when staff were told.
    fn gate(&mut self, events: Vec<HealthEvent>, at_ms: u64) -> Vec<HealthEvent> {
        if at_ms < self.snoozed_until_ms {
            return Vec::new();
        }
        if !events.is_empty() {
            self.last_notified_ms = at_ms;
        }
        events
    }

    /// Called now and then: a reminder when a critical state stays unacknowledged.
    pub fn tick(&mut self, now_ms: u64, p: &HealthPolicy) -> Vec<HealthEvent> {
        match self.state {
            Some((Severity::Critical, category))
                if !self.acknowledged
                    && now_ms >= self.snoozed_until_ms
                    && now_ms.saturating_sub(self.last_notified_ms) >= p.renotify_after_ms =>
            {
                self.last_notified_ms = now_ms;
                vec![HealthEvent::Reminder {
                    category,
                    since_ms: self.since_ms,
                }]
            }
            _ => Vec::new(),
        }
    }

    /// Someone has seen the current problem: no reminders until it changes.
    pub fn acknowledge(&mut self) {
        if self.state.is_some() {
            self.acknowledged = true;
        }
    }

    /// Holds notifications back until `until_ms`.
    pub fn snooze(&mut self, until_ms: u64) {
        self.snoozed_until_ms = until_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Category::{AccountLocked, AuthFailed, Junk, Late, Lost, SendBlocked, Timeout};
    use Severity::{Critical, Warning};
    const OK: (Severity, Category) = (Severity::Ok, Category::Ok);

    /// (severity, category) per check, one minute apart → the events of each check.
    fn run(steps: &[(Severity, Category)]) -> Vec<Vec<HealthEvent>> {
        let p = HealthPolicy::default();
        let mut h = Health::default();
        steps
            .iter()
            .enumerate()
            .map(|(i, (s, c))| h.observe(*s, *c, i as u64 * 60_000, &p))
            .collect()
    }

    fn raised(s: Severity, c: Category) -> HealthEvent {
        HealthEvent::Raised {
            severity: s,
            category: c,
        }
    }

    #[test]
    fn table() {
        let e: Vec<HealthEvent> = Vec::new();
        type Steps = Vec<(Severity, Category)>;
        let cases: Vec<(&str, Steps, Vec<Vec<HealthEvent>>)> = vec![
            ("all well", vec![OK; 3], vec![e.clone(); 3]),
            (
                "one late canary is not an alarm",
                vec![(Warning, Late), OK],
                vec![e.clone(), e.clone()],
            ),
            (
                "two lost canaries are",
                vec![(Critical, Lost), (Critical, Lost), OK],
                vec![
                    e.clone(),
                    vec![raised(Critical, Lost)],
                    vec![HealthEvent::Recovered {
                        category: Lost,
                        lasted_ms: 120_000,
                    }],
                ],
            ),
            (
                "a lockout reply is an alarm at once",
                vec![
                    (Critical, SendBlocked),
                    (Critical, SendBlocked),
                    (Critical, SendBlocked),
                ],
                vec![vec![raised(Critical, SendBlocked)], e.clone(), e.clone()],
            ),
            (
                "a warning that becomes critical escalates once",
                vec![
                    (Warning, Junk),
                    (Warning, Junk),
                    (Critical, Lost),
                    (Critical, Timeout),
                ],
                vec![
                    e.clone(),
                    vec![raised(Warning, Junk)],
                    vec![HealthEvent::Escalated {
                        severity: Critical,
                        category: Lost,
                    }],
                    e.clone(),
                ],
            ),
            (
                "flapping below the threshold stays quiet",
                vec![(Critical, Timeout), OK, (Critical, Timeout), OK],
                vec![e.clone(); 4],
            ),
        ];
        for (name, steps, want) in cases {
            assert_eq!(run(&steps), want, "{name}");
        }
    }

    #[test]
    fn reminders_acknowledge_and_snooze() {
        let p = HealthPolicy {
            renotify_after_ms: 3_600_000,
            ..Default::default()
        };
        let mut h = Health::default();
        assert_eq!(h.observe(Critical, AccountLocked, 0, &p).len(), 1);
        assert!(h.tick(3_599_999, &p).is_empty());
        assert_eq!(
            h.tick(3_600_000, &p),
            vec![HealthEvent::Reminder {
                category: AccountLocked,
                since_ms: 0
            }]
        );
        assert!(h.tick(3_600_001, &p).is_empty(), "one reminder per period");
        h.acknowledge();
        assert!(h.tick(99_000_000, &p).is_empty(), "acknowledged");
        // Snoozed: the recovery happens (state changes) but nobody is woken.
        h.snooze(100_000_000);
        assert!(h.observe(OK.0, OK.1, 99_500_000, &p).is_empty());
        assert_eq!(h.severity(), Severity::Ok);
        // After the snooze, a new incident is told again.
        assert_eq!(h.observe(Critical, AuthFailed, 100_000_001, &p).len(), 1);
    }
}
