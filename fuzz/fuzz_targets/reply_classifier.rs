//! The reply classifier on any server reply text, at every stage, for SMTP and IMAP.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailcanary_core::classify::{self, ReplyStage};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let smtp = classify::smtp_reply(&text);
    let imap = mailcanary_engine::imap::parse_imap_error_text(&text);
    for stage in [
        ReplyStage::Greeting,
        ReplyStage::Auth,
        ReplyStage::Send,
        ReplyStage::Mailbox,
    ] {
        let _ = classify::classify_smtp(stage, &smtp);
        let _ = classify::classify_imap(stage, &imap);
    }
});
