//! The config loader on any text: it answers a config or an error, never panics, and its
//! errors never repeat a value that could be a password.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailcanary_core::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = Config::parse(text) {
        let message = e.to_string();
        // The marker stands for a secret typed as a value where it does not belong (the
        // seed corpus has one): the message may name keys, never repeat values.
        let anywhere = text.matches("S3CR3T-marker").count();
        if anywhere > 0 && anywhere == text.matches("\"S3CR3T-marker\"").count() {
            assert!(!message.contains("S3CR3T-marker"), "{message}");
        }
    }
});
