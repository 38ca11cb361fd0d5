//! Mail Canary's engine: everything that touches the world.
//!
//! It drives the pure decisions of `mailcanary-core` with real I/O: DNS, TCP and TLS
//! (rustls with the platform's trust store), SMTP submission (lettre's low-level connection, so
//! each step is timed and classified), IMAP (async-imap), secrets (the OS keyring, a command or
//! an environment variable), the config file and the SQLite history. It knows nothing of the
//! desktop: the CLI and the tray app are two hosts of this one engine.

pub mod alerts;
pub mod attachments;
pub mod config_file;
pub mod discover;
pub mod dns;
pub mod http;
pub mod imap;
pub mod journal;
pub mod metrics;
pub mod monitor;
pub mod net;
pub mod oauth;
pub mod office;
pub mod pop3;
pub mod pop3_check;
pub mod probe;
pub mod reach;
pub mod secrets;
pub mod smtp;
pub mod store;
pub mod tls;
pub mod watch;

pub use mailcanary_core as core;

/// This machine's offset from UTC now, in seconds east (for showing days and times locally).
pub fn local_utc_offset_secs() -> i32 {
    use chrono::Offset;
    chrono::Local::now().offset().fix().local_minus_utc()
}
