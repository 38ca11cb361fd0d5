//! The history: every check in SQLite (WAL, numbered migrations embedded in the binary, each
//! applied in one transaction, version in `PRAGMA user_version`, file mode 0600).

use std::path::{Path, PathBuf};
use std::time::Duration;

use mailcanary_core::health::Health;
use mailcanary_core::report::CheckReport;
use mailcanary_core::stats::{CheckPoint, Drill};
use mailcanary_core::{Category, Severity};
use rusqlite::{Connection, OptionalExtension, params};

/// Migrations in order; the database's `user_version` is how many have been applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_history.sql"),
    include_str!("../migrations/0002_health.sql"),
    include_str!("../migrations/0003_drills_controls.sql"),
];

/// The history file's name in the data directory.
pub const DB_FILE: &str = "history.sqlite3";

/// History errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("history database {path}: {source}")]
    Sqlite {
        /// File.
        path: PathBuf,
        /// Error.
        source: rusqlite::Error,
    },
    /// The disk holding the file is full.
    #[error("history database {path}: the disk is full; free some space (nothing kept is lost)")]
    DiskFull {
        /// File.
        path: PathBuf,
    },
    /// The file or its directory could not be prepared.
    #[error("history database {path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Error.
        source: std::io::Error,
    },
    /// The database was written by a newer Mail Canary.
    #[error(
        "history database {path} has schema version {found}, newer than this Mail Canary knows ({known}); it was left untouched"
    )]
    TooNew {
        /// File.
        path: PathBuf,
        /// Version found.
        found: i64,
        /// Version known.
        known: i64,
    },
    /// A stored report does not parse.
    #[error("history database {path}: check {id} has an unreadable report: {message}")]
    BadReport {
        /// File.
        path: PathBuf,
        /// Row id.
        id: i64,
        /// Parse error.
        message: String,
    },
}

impl StoreError {
    /// SQLite's error about the file at `path`; said plainly when the disk holding it is full
    /// (SQLite reports that as a full database, or as a bare I/O error when it cannot even
    /// make its write-ahead log).
    fn sqlite(path: &Path, source: rusqlite::Error) -> StoreError {
        let io_like = matches!(
            &source,
            rusqlite::Error::SqliteFailure(f, _) if matches!(
                f.code,
                rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::SystemIoFailure
            )
        );
        if io_like && path.parent().is_some_and(disk_full) {
            return StoreError::DiskFull {
                path: path.to_path_buf(),
            };
        }
        StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Whether the file system holding `dir` has no room left for us.
#[cfg(unix)]
fn disk_full(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a NUL-terminated path and a zeroed statvfs for the call to fill.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        libc::statvfs(c.as_ptr(), &mut st) == 0 && st.f_bavail == 0
    }
}

#[cfg(not(unix))]
fn disk_full(_dir: &Path) -> bool {
    false
}

/// Something staff told the monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// "I have seen it": no reminders for the current problem.
    Acknowledge,
    /// Hold notifications back until this time (Unix ms).
    Snooze {
        /// Until when.
        until_ms: u64,
    },
}

/// A control as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlRow {
    /// Row id; increases.
    pub id: i64,
    /// Mailbox name.
    pub mailbox: String,
    /// What.
    pub control: Control,
    /// When, Unix ms.
    pub at_ms: u64,
}

/// The open history.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    moved_aside: Option<PathBuf>,
}

/// The first bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Whether SQLite says the file is not a database, or a damaged one.
fn is_corrupt(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Sqlite {
            source: rusqlite::Error::SqliteFailure(f, _),
            ..
        } if matches!(
            f.code,
            rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt
        )
    )
}

impl Store {
    /// Opens (creating if needed) the history in `data_dir`. A file that is not a database, or
    /// a damaged one, is moved aside (`history.sqlite3.corrupt-<unix seconds>`, with its `-wal`
    /// and `-shm` files), never deleted, and a new history is started; [`Store::moved_aside`]
    /// then says where the old one went, for the caller to tell.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        let first = Store::try_open(data_dir);
        if !matches!(&first, Err(e) if is_corrupt(e)) {
            return first;
        }
        // One repair at a time across processes; and another may have just made it.
        let path = data_dir.join(DB_FILE);
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        let lock = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(data_dir.join("history.repair.lock"))
            .map_err(io)?;
        lock.lock().map_err(io)?;
        let opened = Store::try_open(data_dir);
        match opened {
            Err(e) if is_corrupt(&e) => {
                let secs = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs();
                let aside = data_dir.join(format!("{DB_FILE}.corrupt-{secs}"));
                if aside.exists() {
                    return Err(e);
                }
                std::fs::rename(&path, &aside).map_err(io)?;
                for suffix in ["-wal", "-shm"] {
                    let side = data_dir.join(format!("{DB_FILE}{suffix}"));
                    if side.exists() {
                        let to = data_dir.join(format!("{DB_FILE}.corrupt-{secs}{suffix}"));
                        std::fs::rename(&side, &to).map_err(io)?;
                    }
                }
                let mut store = Store::connect(data_dir)?;
                store.moved_aside = Some(aside);
                Ok(store)
            }
            other => other,
        }
    }

    /// Opens the history, calling a file that does not even start as a database damaged
    /// before SQLite opens it (SQLite would reset a write-ahead log beside it that it cannot
    /// use).
    fn try_open(data_dir: &Path) -> Result<Store, StoreError> {
        let path = data_dir.join(DB_FILE);
        let mut head = [0u8; 16];
        let foreign = std::fs::File::open(&path)
            .and_then(|mut f| {
                use std::io::Read;
                let n = f.read(&mut head)?;
                Ok(n > 0 && head[..n] != SQLITE_HEADER[..n])
            })
            .unwrap_or(false);
        if foreign {
            return Err(StoreError::Sqlite {
                path,
                source: rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_NOTADB),
                    None,
                ),
            });
        }
        Store::connect(data_dir)
    }

    /// Where a damaged history was moved when this one was opened, if it was.
    pub fn moved_aside(&self) -> Option<&Path> {
        self.moved_aside.as_deref()
    }

    fn connect(data_dir: &Path) -> Result<Store, StoreError> {
        let path = data_dir.join(DB_FILE);
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(data_dir).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            // Create the file 0600 before SQLite does, so it is never readable by others.
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&path)
                .map_err(io)?;
            let meta = std::fs::metadata(&path).map_err(io)?;
            if meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .map_err(io)?;
            }
        }
        let sql = |source| StoreError::sqlite(&path, source);
        let mut conn = Connection::open(&path).map_err(sql)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sql)?;
        let known = MIGRATIONS.len() as i64;
        loop {
            // IMMEDIATE takes the write lock before the version is read, so two processes
            // opening a new database (the app and a cron job, say) cannot both migrate it.
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(sql)?;
            let version: i64 = tx
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .map_err(sql)?;
            if version > known {
                return Err(StoreError::TooNew {
                    path,
                    found: version,
                    known,
                });
            }
            let Some(m) = MIGRATIONS.get(version as usize) else {
                break;
            };
            tx.execute_batch(m).map_err(sql)?;
            tx.pragma_update(None, "user_version", version + 1)
                .map_err(sql)?;
            tx.commit().map_err(sql)?;
        }
        Ok(Store {
            conn,
            path,
            moved_aside: None,
        })
    }

    fn sql(&self, source: rusqlite::Error) -> StoreError {
        StoreError::sqlite(&self.path, source)
    }

    /// Records one check; returns its row id.
    pub fn record(&mut self, r: &CheckReport) -> Result<i64, StoreError> {
        let json = serde_json::to_string(r).expect("a report serialises");
        let tx = self
            .conn
            .transaction()
            .map_err(|e| StoreError::sqlite(&self.path, e))?;
        let rows = || -> rusqlite::Result<i64> {
            tx.execute(
                "INSERT INTO checks (mailbox, started_at_ms, duration_ms, status, category, summary,
                    action, canary_id, canary_folder, canary_latency_ms, canary_cleaned, report)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    r.mailbox,
                    r.started_at_ms as i64,
                    r.duration_ms as i64,
                    r.status.as_str(),
                    r.category.as_str(),
                    r.summary,
                    r.action,
                    r.canary.id,
                    r.canary.folder,
                    r.canary.latency_ms.map(|v| v as i64),
                    r.canary.cleaned,
                    json,
                ],
            )?;
            let id = tx.last_insert_rowid();
            for (seq, s) in r.stages.iter().enumerate() {
                tx.execute(
                    "INSERT INTO stages (check_id, seq, stage, protocol, ok, ms, detail)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        id,
                        seq as i64,
                        s.stage.as_str(),
                        s.protocol.map(|p| p.as_str()),
                        s.ok,
                        s.ms as i64,
                        s.detail
                    ],
                )?;
            }
            for (seq, f) in r.findings.iter().enumerate() {
                tx.execute(
                    "INSERT INTO findings (check_id, seq, category, severity, stage, summary,
                        action, evidence) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        id,
                        seq as i64,
                        f.category.as_str(),
                        f.severity.as_str(),
                        f.stage.as_str(),
                        f.summary,
                        f.action,
                        f.evidence
                    ],
                )?;
            }
            Ok(id)
        };
        // On error the transaction is dropped, which rolls it back.
        let id = rows().map_err(|e| StoreError::sqlite(&self.path, e))?;
        tx.commit().map_err(|e| StoreError::sqlite(&self.path, e))?;
        Ok(id)
    }

    /// Checks since `since_ms` (Unix ms), oldest first, for one mailbox or all.
    pub fn history(
        &self,
        mailbox: Option<&str>,
        since_ms: u64,
    ) -> Result<Vec<CheckReport>, StoreError> {
        let out = self.reports(
            "SELECT id, report FROM checks
                 WHERE started_at_ms >= ?1 AND (?2 IS NULL OR mailbox = ?2)
                 ORDER BY started_at_ms, id",
            params![since_ms as i64, mailbox],
        )?;
        Ok(out)
    }

    /// The latest report of a mailbox that meets `condition` (SQL on `checks c`; written here,
    /// never from input).
    fn latest_report(
        &self,
        mailbox: &str,
        condition: &str,
    ) -> Result<Option<CheckReport>, StoreError> {
        let json: Option<String> = self
            .conn
            .query_row(
                &format!(
                    "SELECT report FROM checks c WHERE mailbox = ?1 AND {condition}
                     ORDER BY started_at_ms DESC, id DESC LIMIT 1"
                ),
                params![mailbox],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// The latest check of a mailbox that read certificates and found no interception: what
    /// today's certificates are compared with. A check that raised `tls_intercepted` never
    /// becomes the baseline, so an interception keeps being reported until it ends.
    pub fn tls_baseline(&self, mailbox: &str) -> Result<Option<CheckReport>, StoreError> {
        self.latest_report(
            mailbox,
            "report LIKE '%\"tls\":[{%'
             AND NOT EXISTS (SELECT 1 FROM findings f
                             WHERE f.check_id = c.id AND f.category = 'tls_intercepted')",
        )
    }

    /// Where the latest check of a mailbox that finished its scan for notices left off.
    pub fn notice_scan(
        &self,
        mailbox: &str,
    ) -> Result<Option<mailcanary_core::notice::NoticeScan>, StoreError> {
        Ok(self
            .latest_report(mailbox, "report LIKE '%\"notice_scan\":{%'")?
            .and_then(|r| r.notice_scan))
    }

    /// The latest quota reading of a mailbox: when, and what (`None`: no quota).
    pub fn quota_reading(
        &self,
        mailbox: &str,
    ) -> Result<Option<(u64, Option<mailcanary_core::report::QuotaUsage>)>, StoreError> {
        Ok(self
            .latest_report(mailbox, "report LIKE '%\"quota_read_at_ms\":%'")?
            .and_then(|r| Some((r.quota_read_at_ms?, r.quota))))
    }

    /// The health the monitor last saved for a mailbox.
    pub fn load_health(&self, mailbox: &str) -> Result<Option<Health>, StoreError> {
        let json: Option<String> = self
            .conn
            .query_row(
                "SELECT state FROM health WHERE mailbox = ?1",
                params![mailbox],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// Saves a mailbox's health.
    pub fn save_health(&self, mailbox: &str, h: &Health, now_ms: u64) -> Result<(), StoreError> {
        let json = serde_json::to_string(h).expect("health serialises");
        self.conn
            .execute(
                "INSERT INTO health (mailbox, state, updated_at_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (mailbox) DO UPDATE SET state = ?2, updated_at_ms = ?3",
                params![mailbox, json, now_ms as i64],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// The figures' view of checks since `since_ms`, oldest first (read from the columns, not
    /// the whole reports, so a year of checks loads quickly).
    pub fn points(&self, mailbox: &str, since_ms: u64) -> Result<Vec<CheckPoint>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT started_at_ms, status, category, canary_latency_ms, summary,
                        coalesce(json_extract(report, '$.scope'), '') = 'offline'
                 FROM checks
                 WHERE mailbox = ?1 AND started_at_ms >= ?2 ORDER BY started_at_ms, id",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![mailbox, since_ms as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, bool>(5)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (at, status, category, latency, summary, offline) = row.map_err(|e| self.sql(e))?;
            out.push(CheckPoint {
                at_ms: at as u64,
                severity: Severity::parse(&status).unwrap_or(Severity::Unknown),
                category: Category::parse(&category).unwrap_or(Category::ServerError),
                latency_ms: latency.map(|l| l as u64),
                summary,
                offline,
            });
        }
        Ok(out)
    }

    /// The latest `limit` checks since `since_ms` that were not ok, whole, oldest first.
    pub fn failures(
        &self,
        mailbox: &str,
        since_ms: u64,
        limit: usize,
    ) -> Result<Vec<CheckReport>, StoreError> {
        let mut out = self.reports(
            "SELECT id, report FROM checks WHERE mailbox = ?1 AND started_at_ms >= ?2
                   AND status != 'ok' ORDER BY started_at_ms DESC, id DESC LIMIT ?3",
            params![mailbox, since_ms as i64, limit as i64],
        )?;
        out.reverse();
        Ok(out)
    }

    /// Whole reports from a query whose columns are `id, report`, in its order.
    fn reports(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<CheckReport>, StoreError> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(args, |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, json) = row.map_err(|e| self.sql(e))?;
            out.push(self.parse_report(id, &json)?);
        }
        Ok(out)
    }

    fn parse_report(&self, id: i64, json: &str) -> Result<CheckReport, StoreError> {
        serde_json::from_str(json).map_err(|e| StoreError::BadReport {
            path: self.path.clone(),
            id,
            message: e.to_string(),
        })
    }

    /// Records what staff told the monitor; returns the row id.
    pub fn add_control(
        &self,
        mailbox: &str,
        control: Control,
        at_ms: u64,
    ) -> Result<i64, StoreError> {
        let (kind, until) = match control {
            Control::Acknowledge => ("ack", None),
            Control::Snooze { until_ms } => ("snooze", Some(until_ms as i64)),
        };
        self.conn
            .execute(
                "INSERT INTO controls (mailbox, kind, at_ms, until_ms) VALUES (?1, ?2, ?3, ?4)",
                params![mailbox, kind, at_ms as i64, until],
            )
            .map_err(|e| self.sql(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Controls with a row id above `after_id`, oldest first.
    pub fn controls_after(&self, after_id: i64) -> Result<Vec<ControlRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, mailbox, kind, at_ms, until_ms FROM controls WHERE id > ?1 ORDER BY id",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![after_id], |r| {
                let until: Option<i64> = r.get(4)?;
                let control = match r.get::<_, String>(2)?.as_str() {
                    "snooze" => Control::Snooze {
                        until_ms: until.unwrap_or(0) as u64,
                    },
                    _ => Control::Acknowledge,
                };
                Ok(ControlRow {
                    id: r.get(0)?,
                    mailbox: r.get(1)?,
                    control,
                    at_ms: r.get::<_, i64>(3)? as u64,
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.sql(e))
    }

    /// When a mailbox's problems were acknowledged, oldest first.
    pub fn acks(&self, mailbox: &str) -> Result<Vec<u64>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT at_ms FROM controls WHERE mailbox = ?1 AND kind = 'ack' ORDER BY at_ms",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![mailbox], |r| r.get::<_, i64>(0))
            .map_err(|e| self.sql(e))?;
        rows.map(|r| r.map(|v| v as u64))
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.sql(e))
    }

    /// Starts a drill; returns it.
    pub fn start_drill(&self, mailbox: &str, at_ms: u64) -> Result<Drill, StoreError> {
        self.conn
            .execute(
                "INSERT INTO drills (mailbox, started_at_ms) VALUES (?1, ?2)",
                params![mailbox, at_ms as i64],
            )
            .map_err(|e| self.sql(e))?;
        Ok(Drill {
            id: self.conn.last_insert_rowid(),
            mailbox: mailbox.to_string(),
            started_at_ms: at_ms,
            acknowledged_at_ms: None,
            ended_at_ms: None,
        })
    }

    /// Notes the drill's acknowledgement (the first one counts); true if this was the first.
    pub fn ack_drill(&self, id: i64, at_ms: u64) -> Result<bool, StoreError> {
        let n = self
            .conn
            .execute(
                "UPDATE drills SET acknowledged_at_ms = ?2 WHERE id = ?1 AND acknowledged_at_ms IS NULL",
                params![id, at_ms as i64],
            )
            .map_err(|e| self.sql(e))?;
        Ok(n > 0)
    }

    /// Ends a drill.
    pub fn end_drill(&self, id: i64, at_ms: u64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE drills SET ended_at_ms = ?2 WHERE id = ?1 AND ended_at_ms IS NULL",
                params![id, at_ms as i64],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// A mailbox's drills since `since_ms` (all mailboxes' when `None`), oldest first.
    pub fn drills(&self, mailbox: Option<&str>, since_ms: u64) -> Result<Vec<Drill>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, mailbox, started_at_ms, acknowledged_at_ms, ended_at_ms FROM drills
                 WHERE started_at_ms >= ?1 AND (?2 IS NULL OR mailbox = ?2)
                 ORDER BY started_at_ms, id",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![since_ms as i64, mailbox], |r| {
                let opt = |i| r.get::<_, Option<i64>>(i).map(|v| v.map(|v| v as u64));
                Ok(Drill {
                    id: r.get(0)?,
                    mailbox: r.get(1)?,
                    started_at_ms: r.get::<_, i64>(2)? as u64,
                    acknowledged_at_ms: opt(3)?,
                    ended_at_ms: opt(4)?,
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.sql(e))
    }

    /// Deletes checks, drills and controls older than `before_ms`; returns the checks deleted.
    /// Each mailbox's latest check is kept whatever its age, so `mailbox show` and the TLS
    /// baseline survive a long pause.
    pub fn prune(&mut self, before_ms: u64) -> Result<usize, StoreError> {
        let tx = self
            .conn
            .transaction()
            .map_err(|e| StoreError::sqlite(&self.path, e))?;
        let before = before_ms as i64;
        let run = || -> rusqlite::Result<usize> {
            let n = tx.execute(
                "DELETE FROM checks WHERE started_at_ms < ?1 AND id NOT IN
                   (SELECT max(id) FROM checks GROUP BY mailbox)",
                params![before],
            )?;
            tx.execute(
                "DELETE FROM drills WHERE started_at_ms < ?1",
                params![before],
            )?;
            tx.execute("DELETE FROM controls WHERE at_ms < ?1", params![before])?;
            Ok(n)
        };
        let n = run().map_err(|e| StoreError::sqlite(&self.path, e))?;
        tx.commit().map_err(|e| StoreError::sqlite(&self.path, e))?;
        Ok(n)
    }

    /// Checks since `since_ms` that sent attachment probes, oldest first.
    pub fn with_probes(
        &self,
        mailbox: &str,
        since_ms: u64,
    ) -> Result<Vec<CheckReport>, StoreError> {
        let out = self.reports(
            "SELECT id, report FROM checks WHERE mailbox = ?1 AND started_at_ms >= ?2
                   AND report LIKE '%\"probes\":[{%' ORDER BY started_at_ms, id",
            params![mailbox, since_ms as i64],
        )?;
        Ok(out)
    }

    /// The latest check of a mailbox, if any.
    pub fn latest(&self, mailbox: &str) -> Result<Option<CheckReport>, StoreError> {
        let json: Option<String> = self
            .conn
            .query_row(
                "SELECT report FROM checks WHERE mailbox = ?1 ORDER BY started_at_ms DESC, id DESC LIMIT 1",
                params![mailbox],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailcanary_core::Lang;
    use mailcanary_core::report::{Observations, diagnose};

    fn report(mailbox: &str, at: u64) -> CheckReport {
        diagnose(
            &Observations {
                mailbox: mailbox.into(),
                started_at_ms: at,
                ..Default::default()
            },
            Lang::En,
        )
    }

    #[test]
    fn a_damaged_database_is_moved_aside_not_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = b"this is no database, but a file someone copied over it\n".repeat(200);
        std::fs::write(dir.path().join(DB_FILE), &garbage).unwrap();
        std::fs::write(dir.path().join(format!("{DB_FILE}-wal")), b"old wal").unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        let aside = s.moved_aside().expect("moved aside").to_path_buf();
        assert_eq!(std::fs::read(&aside).unwrap(), garbage, "kept as it was");
        let wal = format!("{}-wal", aside.display());
        assert_eq!(std::fs::read(wal).unwrap(), b"old wal");
        s.record(&report("a", 1000)).unwrap();
        assert_eq!(s.history(Some("a"), 0).unwrap().len(), 1);
        // Opened again: nothing more is moved.
        assert!(Store::open(dir.path()).unwrap().moved_aside().is_none());
    }

    #[test]
    fn records_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        s.record(&report("a", 1000)).unwrap();
        s.record(&report("b", 2000)).unwrap();
        s.record(&report("a", 3000)).unwrap();
        assert_eq!(s.history(Some("a"), 0).unwrap().len(), 2);
        assert_eq!(s.history(None, 1500).unwrap().len(), 2);
        assert_eq!(s.latest("a").unwrap().unwrap().started_at_ms, 3000);
        drop(s);
        // Reopening applies no migration twice and keeps the history.
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.history(None, 0).unwrap().len(), 3);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(DB_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn health_survives_a_reopen() {
        use mailcanary_core::health::HealthPolicy;
        use mailcanary_core::{Category, Severity};
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.load_health("office").unwrap(), None);
        let mut h = Health::default();
        h.observe(
            Severity::Critical,
            Category::SendBlocked,
            5,
            &HealthPolicy::default(),
        );
        s.save_health("office", &h, 6).unwrap();
        h.acknowledge();
        s.save_health("office", &h, 7).unwrap();
        drop(s);
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.load_health("office").unwrap(), Some(h));
    }

    #[test]
    fn controls_drills_and_pruning() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        for at in [1_000, 2_000, 3_000] {
            s.record(&report("a", at)).unwrap();
        }
        s.record(&report("b", 500)).unwrap();
        let first = s.add_control("a", Control::Acknowledge, 1_500).unwrap();
        s.add_control("a", Control::Snooze { until_ms: 9_000 }, 2_500)
            .unwrap();
        let later = s.controls_after(first).unwrap();
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].control, Control::Snooze { until_ms: 9_000 });
        assert_eq!(s.controls_after(0).unwrap().len(), 2);
        assert_eq!(s.acks("a").unwrap(), [1_500]);
        let d = s.start_drill("a", 2_000).unwrap();
        assert!(s.ack_drill(d.id, 2_100).unwrap());
        assert!(!s.ack_drill(d.id, 2_200).unwrap(), "the first ack counts");
        s.end_drill(d.id, 2_300).unwrap();
        let drills = s.drills(Some("a"), 0).unwrap();
        assert_eq!(drills.len(), 1);
        assert_eq!(drills[0].time_to_ack_ms(), Some(100));
        assert_eq!(drills[0].ended_at_ms, Some(2_300));
        assert!(s.drills(Some("b"), 0).unwrap().is_empty());
        // Pruning before 2 500 removes a's checks at 1 000 and 2 000 (with their stages and
        // findings), keeps b's only check although it is old, and the old ack and drill.
        assert_eq!(s.prune(2_500).unwrap(), 2);
        let left: Vec<u64> = s
            .history(None, 0)
            .unwrap()
            .iter()
            .map(|r| r.started_at_ms)
            .collect();
        assert_eq!(left, [500, 3_000]);
        let orphans: i64 = s
            .conn
            .query_row(
                "SELECT count(*) FROM findings WHERE check_id NOT IN (SELECT id FROM checks)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(orphans, 0);
        assert!(s.drills(None, 0).unwrap().is_empty());
        assert_eq!(s.controls_after(0).unwrap().len(), 1);
        let points = s.points("a", 0).unwrap();
        assert_eq!(points.len(), 1);
        assert_eq!(points[0].at_ms, 3_000);
    }

    #[test]
    fn refuses_newer_schema_without_touching_it() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        s.conn.pragma_update(None, "user_version", 99).unwrap();
        drop(s);
        let err = Store::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("schema version 99"), "{err}");
    }
}
