//! `mailcanary report --html FILE`: the history as one self-contained page for the provider's
//! support.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use mailcanary_engine::core::config::Config;
use mailcanary_engine::core::html::{HtmlReport, MailboxSection, render};
use mailcanary_engine::core::stats::CheckPoint;
use mailcanary_engine::store::Store;

use crate::office::MailboxFigures;
use crate::{Env, now_ms};

/// Failed checks shown in full per mailbox (the latest ones).
const FAILURES_SHOWN: usize = 50;

/// Writes the HTML report to `path` (through a temporary file, so a reader never sees half).
pub fn write(
    env: &Env,
    config: &Config,
    path: &Path,
    figs: Vec<(MailboxFigures, Vec<CheckPoint>)>,
    from_ms: u64,
    to_ms: u64,
    offset: i32,
) -> Result<u8> {
    let lang = env.lang(config);
    let store = Store::open(&env.data_dir)?;
    let mut mailboxes = Vec::new();
    for (f, points) in figs {
        mailboxes.push(MailboxSection {
            failures: store.failures(&f.name, from_ms, FAILURES_SHOWN)?,
            name: f.name,
            address: f.address,
            points,
            days: f.days,
            uptime_pct: f.uptime_pct,
            incidents: f.incidents,
            drills: f.drills,
        });
    }
    let title = match mailboxes.as_slice() {
        [one] => format!("Mail Canary: {} <{}>", one.name, one.address),
        _ => "Mail Canary".to_string(),
    };
    let page = render(&HtmlReport {
        lang,
        title,
        generated_at_ms: now_ms(),
        from_ms,
        to_ms,
        utc_offset_secs: offset,
        runbook: config
            .runbook
            .lines(lang)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        mailboxes,
    });
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let err = || format!("cannot write the report to {}", path.display());
    let mut tmp = tempfile::NamedTempFile::new_in(dir).with_context(err)?;
    tmp.write_all(page.as_bytes()).with_context(err)?;
    tmp.persist(path).map_err(|e| e.error).with_context(err)?;
    println!(
        "Report written to {} ({} KB).",
        path.display(),
        page.len().div_ceil(1024)
    );
    Ok(0)
}
