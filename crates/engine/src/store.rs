//! The history: every check in SQLite (WAL, numbered migrations embedded in the binary, each
//! applied in one transaction, version in `PRAGMA user_version`, file mode 0600).

use std::path::{Path, PathBuf};
use std::time::Duration;

use mailcanary_core::health::Health;
use mailcanary_core::report::CheckReport;
use rusqlite::{Connection, OptionalExtension, params};

/// Migrations in order; the database's `user_version` is how many have been applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_history.sql"),
    include_str!("../migrations/0002_health.sql"),
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

/// The open history.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the history in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
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
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
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
        Ok(Store { conn, path })
    }

    fn sql(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Records one check; returns its row id.
    pub fn record(&mut self, r: &CheckReport) -> Result<i64, StoreError> {
        let json = serde_json::to_string(r).expect("a report serialises");
        let tx = self.conn.transaction().map_err(|e| StoreError::Sqlite {
            path: self.path.clone(),
            source: e,
        })?;
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
        let id = rows().map_err(|e| StoreError::Sqlite {
            path: self.path.clone(),
            source: e,
        })?;
        tx.commit().map_err(|e| StoreError::Sqlite {
            path: self.path.clone(),
            source: e,
        })?;
        Ok(id)
    }

    /// Checks since `since_ms` (Unix ms), oldest first, for one mailbox or all.
    pub fn history(
        &self,
        mailbox: Option<&str>,
        since_ms: u64,
    ) -> Result<Vec<CheckReport>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, report FROM checks
                 WHERE started_at_ms >= ?1 AND (?2 IS NULL OR mailbox = ?2)
                 ORDER BY started_at_ms, id",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![since_ms as i64, mailbox], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, json) = row.map_err(|e| self.sql(e))?;
            out.push(
                serde_json::from_str(&json).map_err(|e| StoreError::BadReport {
                    path: self.path.clone(),
                    id,
                    message: e.to_string(),
                })?,
            );
        }
        Ok(out)
    }

    /// The latest check of a mailbox that read certificates and found no interception: what
    /// today's certificates are compared with. A check that raised `tls_intercepted` never
    /// becomes the baseline, so an interception keeps being reported until it ends.
    pub fn tls_baseline(&self, mailbox: &str) -> Result<Option<CheckReport>, StoreError> {
        let json: Option<String> = self
            .conn
            .query_row(
                "SELECT report FROM checks c WHERE mailbox = ?1
                   AND report LIKE '%\"tls\":[{%'
                   AND NOT EXISTS (SELECT 1 FROM findings f
                                   WHERE f.check_id = c.id AND f.category = 'tls_intercepted')
                 ORDER BY started_at_ms DESC, id DESC LIMIT 1",
                params![mailbox],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
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
    fn refuses_newer_schema_without_touching_it() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        s.conn.pragma_update(None, "user_version", 99).unwrap();
        drop(s);
        let err = Store::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("schema version 99"), "{err}");
    }
}
