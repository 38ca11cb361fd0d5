//! The provider-notice detector on any message headers (MIME encoded words in any charset,
//! folded lines, broken encodings), in INBOX and in a junk folder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailcanary_core::notice;

fuzz_target!(|data: &[u8]| {
    let _ = notice::detect(data, "INBOX", false);
    let _ = notice::detect(data, "迷惑メール", true);
});
