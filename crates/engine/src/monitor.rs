//! The always-on monitor (`mailcanary run`, and later the tray app): checks every mailbox on
//! its schedule, keeps each mailbox's health, records every check, and tells about incidents
//! through the alert channels. One instance per data directory.
//!
//! It pushes what happens to its host through a channel (checks done, alerts raised); the host
//! decides how to show them. Shutdown waits a little for checks in flight, then abandons them:
//! the history is written in transactions, so nothing is left half-recorded. Before the first
//! check of each mailbox it sweeps the canaries that earlier checks left behind.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mailcanary_core::canary::CanaryKey;
use mailcanary_core::config::{MailboxConfig, Runbook};
use mailcanary_core::health::{Health, HealthEvent, HealthPolicy};
use mailcanary_core::report::CheckReport;
use mailcanary_core::schedule::{SchedulePolicy, next_due, start_at};
use mailcanary_core::scope::{self, Scope};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;

use crate::alerts::{Alert, AlertChannels, CommandHook, DesktopNotifier, Webhook};
use crate::probe::{CheckOptions, History, check};
use crate::store::{Control, Store};
use crate::watch::WatchEvent;

/// What the monitor tells its host.
#[derive(Debug, Clone)]
pub enum MonitorEvent {
    /// A check finished (and was recorded).
    Checked(Box<CheckReport>),
    /// An alert was raised, escalated, recovered or repeated.
    Alert(Box<Alert>),
    /// Scheduled checks are paused until this time (Unix ms), or resumed (`None`).
    Paused(Option<u64>),
    /// The IDLE watch of a mailbox connected, lost its connection, or is not offered.
    Watch {
        /// Mailbox name.
        mailbox: String,
        /// `watching`, `lost` or `unsupported`.
        state: &'static str,
        /// Why it was lost.
        detail: String,
    },
}

/// What the host asks of a running monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorCommand {
    /// Check this mailbox (every mailbox when `None`) now, even while paused.
    CheckNow(Option<String>),
    /// Start no scheduled check before this time (Unix ms).
    Pause {
        /// Until when.
        until_ms: u64,
    },
    /// End a pause.
    Resume,
}

/// How the monitor runs.
#[derive(Debug, Clone, Default)]
pub struct MonitorOptions {
    /// Options of each check.
    pub check: CheckOptions,
    /// When to check.
    pub schedule: SchedulePolicy,
    /// When to alert.
    pub health: HealthPolicy,
    /// Checks running at once, across mailboxes (at least 1).
    pub concurrency: usize,
    /// A command run for every alert, if set.
    pub hook: Option<String>,
    /// Show alerts as desktop notifications.
    pub desktop: bool,
    /// What a click on a notification does, if anything.
    pub on_click: Option<crate::alerts::OnClick>,
    /// Post alerts to a webhook.
    pub webhook: Option<Webhook>,
    /// Keep Prometheus metrics up to date here.
    pub metrics: Option<crate::metrics::Metrics>,
    /// Shown with every critical alert.
    pub runbook: Runbook,
    /// Days of history kept (0: forever).
    pub retention_days: u32,
    /// Attachment probes ride along with a check this often, per mailbox (0: never).
    pub probe_every_ms: u64,
    /// Other servers (`host:port`) tried when a mail server cannot be reached, to tell "this
    /// computer is offline" from "the provider is down". The other mailboxes' servers are
    /// tried too.
    pub references: Vec<String>,
    /// Keep an IDLE watch open per mailbox (where the server offers IDLE).
    pub watch: Option<crate::watch::WatchOptions>,
}

/// Why the monitor could not run.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// Another monitor holds the data directory.
    #[error(
        "another `mailcanary run` is already watching {0}; stop it first, or give this one its own --data-dir"
    )]
    Busy(PathBuf),
    /// The lock file cannot be created.
    #[error("cannot create the lock file {path}: {source}")]
    Lock {
        /// File.
        path: PathBuf,
        /// Error.
        source: std::io::Error,
    },
    /// The history cannot be opened.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Holds the data directory for one monitor; released when dropped.
pub struct InstanceLock {
    _file: File,
}

impl InstanceLock {
    /// Takes the lock of `data_dir`, or fails at once if another monitor holds it.
    pub fn acquire(data_dir: &Path) -> Result<InstanceLock, MonitorError> {
        let path = data_dir.join("monitor.lock");
        let err = |source| MonitorError::Lock {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(data_dir).map_err(err)?;
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(err)?;
        match file.try_lock() {
            Ok(()) => Ok(InstanceLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {
                Err(MonitorError::Busy(data_dir.to_path_buf()))
            }
            Err(std::fs::TryLockError::Error(e)) => Err(err(e)),
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

fn random_fraction() -> f64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

struct Watched {
    mb: MailboxConfig,
    health: Health,
    due_ms: u64,
    running: bool,
    history: History,
    /// Servers tried when this mailbox's cannot be reached.
    references: Vec<String>,
    /// When the next check sends the attachment probes.
    probe_due_ms: u64,
    /// The watch is connected.
    watching: bool,
    /// When a lost watch last brought a check forward.
    forced_ms: u64,
    /// The host asked for a check now.
    forced: bool,
    /// Leftover canaries were looked for (before the first check).
    swept: bool,
}

/// Runs until `shutdown` completes. Every check is recorded in the history of `data_dir`;
/// what happens is sent to `events`.
pub async fn run(
    mailboxes: Vec<MailboxConfig>,
    key: CanaryKey,
    data_dir: &Path,
    opts: MonitorOptions,
    events: UnboundedSender<MonitorEvent>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), MonitorError> {
    let (_none, commands) = tokio::sync::mpsc::unbounded_channel();
    run_controlled(mailboxes, key, data_dir, opts, events, commands, shutdown).await
}

/// As [`run`], also taking commands from the host (check now, pause, resume).
pub async fn run_controlled(
    mailboxes: Vec<MailboxConfig>,
    key: CanaryKey,
    data_dir: &Path,
    mut opts: MonitorOptions,
    events: UnboundedSender<MonitorEvent>,
    mut commands: tokio::sync::mpsc::UnboundedReceiver<MonitorCommand>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), MonitorError> {
    let _lock = InstanceLock::acquire(data_dir)?;
    // Before any hook runs: the passwords' variables are not passed on to it.
    crate::secrets::secret_vars_of(&mailboxes);
    // Canaries in flight are noted beside the history, so that a monitor killed mid-check
    // leaves none for good: the next start's sweep removes them.
    if opts.check.journal.is_none() {
        opts.check.journal = Some(crate::journal::Journal::new(data_dir));
    }
    let mut store = Store::open(data_dir)?;
    if let Some(aside) = store.moved_aside() {
        tracing::warn!(
            "the history database was damaged: moved aside to {} (kept), a new one started",
            aside.display()
        );
    }
    let channels = AlertChannels {
        hook: opts.hook.clone().map(CommandHook::new),
        desktop: opts
            .desktop
            .then(|| DesktopNotifier::new().with_click(opts.on_click.clone())),
        webhook: opts.webhook.clone(),
        lang: opts.check.lang,
    };
    let tell = |alert: Alert| {
        let alert = alert.with_runbook(&opts.runbook, opts.check.lang);
        let (channels, events) = (&channels, &events);
        async move {
            channels.deliver(&alert).await;
            let _ = events.send(MonitorEvent::Alert(Box::new(alert)));
        }
    };
    let start = now_ms();
    let references: Vec<Vec<String>> = mailboxes
        .iter()
        .map(|mb| references_for(mb, &mailboxes, &opts.references))
        .collect();
    let mut watched: HashMap<String, Watched> = mailboxes
        .into_iter()
        .zip(references)
        .enumerate()
        .map(|(i, (mb, references))| {
            let history = History::load(&store, mb.name.as_str(), start);
            // Probes go with the first check unless they ran recently (before a restart).
            let probe_due_ms = history
                .last_probed_ms
                .map(|t| t + opts.probe_every_ms)
                .unwrap_or(start);
            // The first checks are spread over a few seconds rather than all at once.
            let due_ms = start + (i as u64 * 250).min(opts.schedule.interval_ms);
            // The health a previous run left: an incident in progress is not raised again.
            let health = store
                .load_health(mb.name.as_str())
                .unwrap_or(None)
                .unwrap_or_default();
            let w = Watched {
                mb,
                health,
                due_ms,
                running: false,
                history,
                references,
                probe_due_ms,
                watching: false,
                forced_ms: 0,
                forced: false,
                swept: false,
            };
            (w.mb.name.to_string(), w)
        })
        .collect();
    // Canaries left by checks that gave up or crashed: removed once, before each mailbox's
    // first check (so with many mailboxes the sweeps follow the spread-out schedule rather than
    // holding up the start). Only those older than twice the check bound (and at least an
    // hour), so a check running elsewhere (a cron job's `mailcanary check`) keeps its own.
    let older_than = (opts.check.timeout.as_secs() * 2).max(3600);
    // The IDLE watches run beside the checks; they end with this function.
    let (watch_tx, mut watch_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut watches = JoinSet::new();
    if let Some(wo) = &opts.watch {
        for w in watched.values() {
            // Each watch connects a moment after its mailbox's first check is due, so that
            // with many mailboxes the logins are spread out as the checks are, not all at once.
            let wait = Duration::from_millis(w.due_ms.saturating_sub(start) + 1000);
            let run = crate::watch::watch(w.mb.clone(), wo.clone(), watch_tx.clone());
            watches.spawn(async move {
                tokio::time::sleep(wait).await;
                run.await
            });
        }
    }
    let concurrency = opts.concurrency.max(1);
    // Acknowledgements and snoozes given from other processes (`mailcanary ack`), applied as
    // they come. Stored ones are replayed (one may have been given while no monitor ran); an
    // acknowledgement counts only if it came after the last alert it could answer, so an old
    // one never silences a problem that got worse since.
    let mut last_control = 0;
    let mut offline_since: Option<u64> = None;
    let mut paused_until: u64 = 0;
    let mut next_prune_ms = 0;
    let mut tasks: JoinSet<(String, u64, CheckReport)> = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let now = now_ms();
        if opts.retention_days > 0 && now >= next_prune_ms {
            next_prune_ms = now + 86_400_000;
            let before = now.saturating_sub(opts.retention_days as u64 * 86_400_000);
            match store.prune(before) {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!("removed {n} checks older than {} days", opts.retention_days)
                }
                Err(e) => tracing::warn!("old history not removed: {e}"),
            }
        }
        match store.controls_after(last_control) {
            Ok(rows) => {
                for c in rows {
                    last_control = c.id;
                    let Some(w) = watched.get_mut(&c.mailbox) else {
                        continue;
                    };
                    match c.control {
                        Control::Acknowledge
                            if c.at_ms >= w.health.since_ms.max(w.health.last_notified_ms) =>
                        {
                            w.health.acknowledge()
                        }
                        Control::Snooze { until_ms } if until_ms > now => w.health.snooze(until_ms),
                        _ => continue,
                    }
                    if let Err(e) = store.save_health(&c.mailbox, &w.health, now) {
                        tracing::warn!("health of {} not saved: {e}", c.mailbox);
                    }
                }
            }
            Err(e) => tracing::warn!("acknowledgements not read: {e}"),
        }
        // A pause that ran out ends by itself, and the host hears of it.
        if paused_until != 0 && now >= paused_until {
            paused_until = 0;
            let _ = events.send(MonitorEvent::Paused(None));
        }
        // Start what is due, up to the concurrency limit; asked-for checks first.
        let mut due: Vec<&mut Watched> = watched
            .values_mut()
            .filter(|w| !w.running && (w.forced || now >= paused_until))
            .filter(|w| w.forced || start_at(w.due_ms, now) <= now)
            .collect();
        due.sort_by_key(|w| (!w.forced, w.due_ms));
        for w in due {
            if tasks.len() >= concurrency {
                break;
            }
            w.running = true;
            w.forced = false;
            let mut check_opts = opts.check.clone();
            if opts.probe_every_ms > 0 && now >= w.probe_due_ms {
                check_opts.probe = crate::probe::ProbeSet::Attachments;
            }
            let (mb, key, history) = (w.mb.clone(), key.clone(), w.history.clone());
            let references = w.references.clone();
            let sweep_first = !std::mem::replace(&mut w.swept, true);
            tasks.spawn(async move {
                if sweep_first {
                    match crate::probe::sweep(&mb, &key, &check_opts, older_than).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!("{}: removed {n} leftover canaries", mb.name),
                        Err(e) => tracing::warn!("{}: leftover canaries not swept: {e}", mb.name),
                    }
                }
                let started = now_ms();
                let mut report = check(&mb, &key, &check_opts, &history).await;
                if let Some(how) = scope::unreachable(&report) {
                    let reach = crate::reach::assess(&references, Duration::from_secs(5)).await;
                    scope::apply(&mut report, scope::decide(how, reach), check_opts.lang);
                }
                (mb.name.to_string(), started, report)
            });
        }
        // Reminders for unacknowledged critical states.
        for w in watched.values_mut() {
            for e in w.health.tick(now, &opts.health) {
                tell(Alert::new(&w.mb, e, None, opts.check.lang)).await;
            }
        }
        // With every slot busy, a finishing check wakes the loop; no need to look sooner.
        let next_start = watched
            .values()
            .filter(|w| !w.running && tasks.len() < concurrency)
            .map(|w| {
                if w.forced {
                    now
                } else {
                    w.due_ms.max(paused_until)
                }
            })
            .min()
            .unwrap_or(now + 60_000);
        let sleep = Duration::from_millis(next_start.saturating_sub(now).clamp(10, 60_000));
        tokio::select! {
            _ = &mut shutdown => break,
            Some(cmd) = commands.recv() => match cmd {
                MonitorCommand::CheckNow(which) => {
                    for w in watched.values_mut() {
                        if which.as_deref().is_none_or(|n| n == w.mb.name.as_str()) && !w.running {
                            w.forced = true;
                        }
                    }
                }
                MonitorCommand::Pause { until_ms } => {
                    paused_until = until_ms;
                    let _ = events.send(MonitorEvent::Paused(Some(until_ms)));
                }
                MonitorCommand::Resume => {
                    paused_until = 0;
                    let _ = events.send(MonitorEvent::Paused(None));
                }
            },
            Some((name, ev)) = watch_rx.recv() => {
                let Some(w) = watched.get_mut(&name) else { continue };
                let (state, detail) = match ev {
                    WatchEvent::Watching => {
                        w.watching = true;
                        ("watching", String::new())
                    }
                    WatchEvent::Lost { reason } => {
                        // The server went away between checks: check now rather than at the
                        // next turn (at most once in ten minutes: each check sends a canary).
                        let now = now_ms();
                        if w.watching && !w.running && now >= w.forced_ms + 600_000 {
                            w.due_ms = now;
                            w.forced_ms = now;
                        }
                        w.watching = false;
                        ("lost", reason)
                    }
                    WatchEvent::Unsupported => ("unsupported", String::new()),
                };
                let _ = events.send(MonitorEvent::Watch { mailbox: name, state, detail });
            }
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                let Ok((name, started, report)) = done else { continue };
                let Some(w) = watched.get_mut(&name) else { continue };
                w.running = false;
                if let Err(e) = store.record(&report) {
                    tracing::warn!("check of {name} not saved: {e}");
                }
                if !report.tls.is_empty() && report.category != mailcanary_core::Category::TlsIntercepted {
                    w.history.tls_baseline = Some(report.clone());
                }
                if report.notice_scan.is_some() {
                    w.history.notice_scan = report.notice_scan.clone();
                }
                if let Some(at) = report.quota_read_at_ms {
                    w.history.quota_reading = Some((at, report.quota.clone()));
                }
                if !report.probes.is_empty() {
                    w.probe_due_ms = started + opts.probe_every_ms;
                    (w.history.probe_tally, _) = History::probes(&store, &name, now_ms());
                }
                // Offline: recorded, told once, and kept out of the mailbox's health (it says
                // nothing about mail). Back online: told, with how long it lasted.
                if report.scope == Scope::Offline {
                    if offline_since.is_none() {
                        offline_since = Some(report.started_at_ms);
                        tell(Alert::offline(&name, &report)).await;
                    }
                } else if let Some(since) = offline_since.take() {
                    let lasted = Duration::from_millis(report.started_at_ms.saturating_sub(since));
                    tell(Alert::online(&name, opts.check.lang, lasted)).await;
                }
                let alerts = if report.scope == Scope::Offline {
                    Vec::new()
                } else {
                    w.health.observe(report.status, report.category, now_ms(), &opts.health)
                };
                if let Err(e) = store.save_health(&name, &w.health, now_ms()) {
                    tracing::warn!("health of {name} not saved: {e}");
                }
                if let Some(m) = &opts.metrics {
                    m.record(&report, w.health.severity());
                }
                w.due_ms = next_due(started, w.health.fail_streak, &opts.schedule, random_fraction());
                let _ = events.send(MonitorEvent::Checked(Box::new(report.clone())));
                for e in alerts {
                    tell(Alert::new(&w.mb, e, Some(&report), opts.check.lang)).await;
                }
            }
            _ = tokio::time::sleep(sleep) => {}
        }
    }
    // Let checks in flight finish for a moment; abandon the rest (their canaries, if any,
    // are verified canaries that a later check's sweep may remove).
    let grace = tokio::time::sleep(Duration::from_secs(5));
    tokio::pin!(grace);
    while !tasks.is_empty() {
        tokio::select! {
            Some(Ok((_, _, report))) = tasks.join_next() => {
                let _ = store.record(&report);
            }
            _ = &mut grace => {
                tasks.abort_all();
                break;
            }
        }
    }
    Ok(())
}

/// The servers to try when `mb`'s cannot be reached: the configured references and the
/// other mailboxes' servers on other hosts.
pub fn references_for(
    mb: &MailboxConfig,
    all: &[MailboxConfig],
    configured: &[String],
) -> Vec<String> {
    let own = [mb.incoming.host.as_str(), mb.smtp.host.as_str()];
    let mut out: Vec<String> = configured.to_vec();
    for other in all.iter().filter(|o| o.name != mb.name) {
        for e in [&other.incoming, &other.smtp] {
            let hp = e.host_port();
            if !own.contains(&e.host.as_str()) && !out.contains(&hp) {
                out.push(hp);
            }
        }
    }
    out
}

/// The event name used by alert channels.
pub fn event_name(e: &HealthEvent) -> &'static str {
    match e {
        HealthEvent::Raised { .. } => "raised",
        HealthEvent::Escalated { .. } => "escalated",
        HealthEvent::Recovered { .. } => "recovered",
        HealthEvent::Reminder { .. } => "reminder",
    }
}
