//! Mail Canary's pure core.
//!
//! Everything here is a decision or a data shape: the config model and its validation, canary
//! messages and their verification, classification of server replies, the diagnosis vocabulary
//! with its plain-language texts (Japanese and English), and the report format shared by the
//! CLI, the history and the app. Nothing here performs I/O or needs an async runtime; the engine
//! feeds it inputs (replies, observations, the time, random bytes) and acts on what it returns.

pub mod canary;
pub mod category;
pub mod classify;
pub mod config;
pub mod diagnosis;
pub mod health;
pub mod html;
pub mod lang;
pub mod notice;
pub mod presets;
pub mod probes;
pub mod report;
pub mod schedule;
pub mod scope;
pub mod stats;
pub mod utf7;

pub use category::{Category, Severity};
pub use lang::Lang;
