//! The canaries a check has sent and not yet removed, one small file each under `sent/` in
//! the data directory. A check that is killed (kill -9, a power cut) between sending its canary
//! and removing it leaves its file behind; the next start of the monitor removes the canaries
//! of checks whose process is gone, whatever their age, instead of waiting an hour for the
//! age-based sweep. A file names the mailbox and the process, nothing secret.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use mailcanary_core::canary::CanaryId;

/// Whether this system can tell if a process still runs.
const CAN_ASK: bool = cfg!(unix);

/// Where it cannot, a noted canary is taken for an orphan once this old (the age-based
/// sweep's bound).
const ASSUME_GONE_AFTER: Duration = Duration::from_secs(3600);

fn older_than(path: &Path, age: Duration) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|a| a >= age)
}

/// How long an orphan's file is kept when its canary was not found: a canary still on its way
/// when the sweep ran arrives within this, or never.
const KEEP_UNFOUND: Duration = Duration::from_secs(600);

/// The `sent/` directory of one data directory.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
}

/// This process, as the journal names it: its pid and, where the system tells, when it
/// started (so that a pid used again by another process is not taken for it).
fn this_process() -> String {
    let pid = std::process::id();
    format!("{pid} {}", start_time(pid).unwrap_or_default())
}

/// A process's start time in clock ticks since boot (Linux), if it runs.
#[cfg(target_os = "linux")]
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // pid (comm) state ... : the name may hold spaces; field 22 is the start time.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19).map(str::to_string)
}

#[cfg(not(target_os = "linux"))]
fn start_time(_pid: u32) -> Option<String> {
    None
}

/// Whether the process a journal file names still runs.
fn alive(who: &str) -> bool {
    let mut parts = who.split_whitespace();
    let Some(pid) = parts.next().and_then(|p| p.parse::<u32>().ok()) else {
        return false;
    };
    let started = parts.next().unwrap_or("");
    #[cfg(target_os = "linux")]
    {
        match start_time(pid) {
            Some(now) => started.is_empty() || now == started,
            None => false,
        }
    }
    #[cfg(all(unix, not(target_os = "linux")))]
    {
        let _ = started;
        // SAFETY: signal 0 only asks whether the process exists.
        let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
        r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        // No cheap way to ask here: `orphans` goes by the file's age instead.
        let _ = (pid, started);
        true
    }
}

impl Journal {
    pub fn new(data_dir: &Path) -> Journal {
        Journal {
            dir: data_dir.join("sent"),
        }
    }

    fn file(&self, id: &CanaryId) -> PathBuf {
        // A canary id is 10 to 40 ASCII letters and digits: a safe file name.
        self.dir.join(id.as_str())
    }

    /// Notes that this process is about to send canary `id` for `mailbox`.
    pub fn sending(&self, mailbox: &str, id: &CanaryId) -> io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        std::fs::write(self.file(id), format!("{mailbox}\n{}\n", this_process()))
    }

    /// The canary is gone: removed by its check, or never accepted by the server.
    pub fn gone(&self, id: &CanaryId) {
        let _ = std::fs::remove_file(self.file(id));
    }

    /// The canaries of `mailbox` whose checks' processes no longer run.
    pub fn orphans(&self, mailbox: &str) -> Vec<CanaryId> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(id) = name.to_str().and_then(CanaryId::new) else {
                continue;
            };
            let Ok(text) = std::fs::read_to_string(e.path()) else {
                continue;
            };
            let mut lines = text.lines();
            if lines.next() != Some(mailbox) {
                continue;
            }
            let who = lines.next().unwrap_or("");
            if !alive(who) || (!CAN_ASK && older_than(&e.path(), ASSUME_GONE_AFTER)) {
                found.push(id);
            }
        }
        found.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        found
    }

    /// After a sweep for `orphans`: forgets those it removed (`removed`), and those not found
    /// that were sent long enough ago to have arrived if they ever will.
    pub fn swept(&self, orphans: &[CanaryId], removed: &[CanaryId]) {
        for id in orphans {
            if removed.contains(id) || older_than(&self.file(id), KEEP_UNFOUND) {
                self.gone(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_canary_of_a_process_that_is_gone_is_an_orphan_and_ours_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path());
        let ours = CanaryId::new("OURS000000000001").unwrap();
        let dead = CanaryId::new("DEAD000000000001").unwrap();
        let other = CanaryId::new("OTHR000000000001").unwrap();
        j.sending("office", &ours).unwrap();
        j.sending("elsewhere", &other).unwrap();
        // A process that ran and ended: its pid is free (or taken by another since).
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        std::fs::write(j.file(&dead), format!("office\n{pid} 1\n")).unwrap();
        assert_eq!(j.orphans("office"), vec![dead.clone()]);
        assert!(j.orphans("nobody").is_empty());
        // Removed: forgotten. Not found but young: kept for a later sweep.
        let orphans = [dead.clone()];
        j.swept(&orphans, &[]);
        assert_eq!(j.orphans("office"), vec![dead.clone()]);
        j.swept(&orphans, &orphans);
        assert!(j.orphans("office").is_empty());
        j.gone(&ours);
        assert!(!j.file(&ours).exists());
    }
}
