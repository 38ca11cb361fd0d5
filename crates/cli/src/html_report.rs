//! `mailcanary report --html FILE`.

use std::path::Path;

use anyhow::{Result, bail};
use mailcanary_engine::core::config::Config;
use mailcanary_engine::core::stats::CheckPoint;

use crate::Env;
use crate::office::MailboxFigures;

/// Writes the HTML report.
pub fn write(
    _env: &Env,
    _config: &Config,
    _path: &Path,
    _figs: Vec<(MailboxFigures, Vec<CheckPoint>)>,
    _from_ms: u64,
    _to_ms: u64,
    _offset: i32,
) -> Result<u8> {
    bail!("the HTML report is not built yet")
}
