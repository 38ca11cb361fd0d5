//! The canary header parser and the checks built on it, on any bytes: a message that merely
//! claims to be a canary must never verify, and nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailcanary_core::canary::{self, CanaryHeader, CanaryKey};

fuzz_target!(|data: &[u8]| {
    let key = CanaryKey::from_bytes([7; 32]);
    if let Ok(text) = std::str::from_utf8(data)
        && let Some(h) = CanaryHeader::parse(text)
    {
        // A header that parses round-trips, and a made-up one does not verify.
        assert!(CanaryHeader::parse(&h.value()).is_some());
        assert!(!h.verify(&key, "office@example.test") || text.contains(&h.value()));
    }
    // As a whole message: headers read, verification and body check never panic.
    let _ = canary::header_values(data, "X-Mail-Canary");
    if let Some(h) = canary::find_verified(data, &key, "office@example.test") {
        let _ = canary::check_body(data, &h);
    }
});
