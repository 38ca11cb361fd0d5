//! What crosses between the tray process (`mailcanary-app`, which runs the monitor) and the
//! window process (`mailcanary-window`, started when the window is opened): one JSON object per
//! line, on the window process's standard input and output. Nothing else is written there.
//!
//! The window asks with a [`Call`]; the tray answers each with [`ToWindow::Answer`], and
//! pushes the monitor's events and "show yourself" when it likes. The pipes belong to the two
//! processes alone: no socket, no file, no argument carries a password typed in the wizard.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One command of the window (`ui/src/ipc.ts`), with its arguments as the window gave them.
/// Not `Debug`: the arguments may hold a password.
#[derive(Serialize, Deserialize)]
pub struct Call {
    pub id: u64,
    pub cmd: String,
    #[serde(default)]
    pub args: Value,
}

/// What the tray process tells the window process.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToWindow {
    /// The answer to the call `id`: its value, or the error the window shows.
    Answer { id: u64, ok: bool, value: Value },
    /// An event for the window's page (`monitor`, `stage`, `cards`, `open`...).
    Event { name: String, payload: Value },
    /// Come to the front (the tray's "Open", a second start).
    Show,
}

/// The longest line either side reads: far above any answer (a year of history is well under
/// a megabyte), and a bound on what a broken peer can make the other hold.
pub const MAX_LINE: usize = 16 << 20;

/// Reads one line of at most [`MAX_LINE`] bytes; `None` at the end of the stream, or when the
/// stream breaks or the line is longer (the peer is then not one of ours).
pub fn read_line(r: &mut impl std::io::BufRead, buf: &mut Vec<u8>) -> Option<()> {
    use std::io::{BufRead, Read};
    buf.clear();
    let n = r
        .by_ref()
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', buf)
        .ok()?;
    if n == 0 || (buf.len() > MAX_LINE && buf.last() != Some(&b'\n')) {
        return None;
    }
    Some(())
}

/// `value` as one line, newline included.
pub fn line(value: &impl Serialize) -> Vec<u8> {
    let mut out = serde_json::to_vec(value).expect("wire messages serialize");
    out.push(b'\n');
    out
}
