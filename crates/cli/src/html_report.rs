//! `mailcanary report --html FILE`: the history as one self-contained page for the provider's
//! support.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use mailcanary_engine::core::config::Config;
use mailcanary_engine::core::stats::CheckPoint;
use mailcanary_engine::office::{MailboxFigures, PageSpan, html_page};

use crate::Env;

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
    let store = crate::open_store(env)?;
    let span = PageSpan {
        from_ms,
        to_ms,
        utc_offset_secs: offset,
    };
    let page = html_page(&store, config, figs, &span, env.lang(config))?;
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
