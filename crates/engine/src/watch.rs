//! The IDLE watch: one more IMAP connection per mailbox, kept open between checks. It opens
//! INBOX read-only (EXAMINE) and waits in IDLE, so it can change nothing and reads no mail.
//! When the connection drops it says so at once, so the monitor can check without waiting for
//! the next turn; then it reconnects with a growing pause.
//!
//! It does not time the canaries' arrival: Dovecot sends its IDLE news 500 ms after a message
//! is written (measured on the test harness, five of five), while the check's own looks come
//! every 5 ms in the first two seconds, so the check always sees the canary first.

use std::time::{Duration, Instant};

use mailcanary_core::Category;
use mailcanary_core::config::MailboxConfig;
use tokio::sync::mpsc::UnboundedSender;

use crate::imap;
use crate::probe::{MailboxSecrets, Recorder, StageTimeouts};

/// What the watch tells the monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// Connected and waiting in IDLE.
    Watching,
    /// The connection dropped (or could not be made again).
    Lost {
        /// What happened, without secrets.
        reason: String,
    },
    /// The server offers no IDLE: the watch ends; checks go on as before.
    Unsupported,
}

/// How the watch behaves.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Limits of connecting and of each command.
    pub stage_timeouts: StageTimeouts,
    /// IDLE is renewed this often (RFC 2177 asks for less than 29 minutes).
    pub idle_period: Duration,
    /// The longest pause between reconnection attempts.
    pub max_backoff: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            stage_timeouts: StageTimeouts::default(),
            idle_period: Duration::from_secs(25 * 60),
            max_backoff: Duration::from_secs(300),
        }
    }
}

/// How one connection ended.
enum Ended {
    /// No IDLE here.
    Unsupported,
    /// It failed; `was_up` when it had been watching.
    Failed {
        reason: String,
        category: Category,
        was_up: bool,
    },
}

/// Watches `mb` until the task is dropped; events go to `tx` with the mailbox's name.
pub async fn watch(
    mb: MailboxConfig,
    opts: WatchOptions,
    tx: UnboundedSender<(String, WatchEvent)>,
) {
    let name = mb.name.to_string();
    let send = |e: WatchEvent| {
        let _ = tx.send((name.clone(), e));
    };
    if mb.incoming_protocol == mailcanary_core::config::Protocol::Pop3 {
        // POP3 has no IDLE: the scheduled checks are all there is.
        send(WatchEvent::Unsupported);
        return;
    }
    let mut backoff = Duration::from_secs(1);
    let mut told_lost = false;
    // A connection that had been watching for a while and drops is tried again at once,
    // quietly (at most once in ten minutes): servers and NAT boxes close idle connections,
    // which is no news.
    let mut last_quiet: Option<Instant> = None;
    loop {
        let began = Instant::now();
        match session(&mb, &opts, &send).await {
            Ended::Unsupported => {
                send(WatchEvent::Unsupported);
                return;
            }
            Ended::Failed {
                reason,
                category,
                was_up,
            } => {
                if was_up {
                    told_lost = false;
                    if began.elapsed() > Duration::from_secs(10)
                        && last_quiet.is_none_or(|t| t.elapsed() > Duration::from_secs(600))
                    {
                        last_quiet = Some(Instant::now());
                        continue;
                    }
                }
                if !told_lost {
                    send(WatchEvent::Lost { reason });
                    told_lost = true;
                }
                if was_up && began.elapsed() > Duration::from_secs(60) {
                    backoff = Duration::from_secs(1);
                }
                // A refused password is the checks' business; trying it again and again
                // could get the account locked.
                if matches!(
                    category,
                    Category::AuthFailed | Category::AccountLocked | Category::AuthMethodRequired
                ) {
                    backoff = opts.max_backoff;
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(opts.max_backoff);
    }
}

async fn session(mb: &MailboxConfig, opts: &WatchOptions, send: &impl Fn(WatchEvent)) -> Ended {
    let t = &opts.stage_timeouts;
    let failed = |reason: String, category, was_up| Ended::Failed {
        reason,
        category,
        was_up,
    };
    let connect_bound = t.dns + t.connect + t.tls + t.auth + t.command;
    let mut rec = Recorder::new(Instant::now() + t.auth + connect_bound);
    // A refused or revoked sign-in is an auth failure here too (the back-off applies).
    let Some(secrets) = MailboxSecrets::load_recorded(mb, t.auth, &mut rec).await else {
        let f = rec.failure();
        return failed(f.evidence, f.category, false);
    };
    let login = secrets.login(mb);
    let Some(mut conn) = imap::open(&mut rec, t, &login).await else {
        let f = rec.failure();
        if login.oauth && f.category == Category::AuthFailed {
            // The server refused the token in hand: the next session asks for a new one.
            crate::oauth::forget(&mb.name);
        }
        return failed(f.evidence, f.category, false);
    };
    if !conn.has_idle() {
        conn.logout(t.quit).await;
        return Ended::Unsupported;
    }
    match tokio::time::timeout(t.command, conn.examine_inbox()).await {
        Ok(Ok(_)) => {}
        Ok(Err(f)) => return failed(f.evidence, f.category, false),
        Err(_) => {
            return failed(
                "EXAMINE INBOX got no answer".into(),
                Category::Timeout,
                false,
            );
        }
    };
    send(WatchEvent::Watching);
    loop {
        // IDLE itself is bounded: a server that stops answering is noticed at the renewal.
        match tokio::time::timeout(opts.idle_period + t.command, conn.idle(opts.idle_period)).await
        {
            Ok(Ok(())) => {}
            Ok(Err(f)) => return failed(f.evidence, f.category, true),
            Err(_) => {
                return failed(
                    "the server stopped answering during IDLE".into(),
                    Category::Timeout,
                    true,
                );
            }
        }
    }
}
