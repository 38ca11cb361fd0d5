//! Mail is never harmed: generated mailboxes (proptest) of ordinary mail, messages with forged
//! `X-Mail-Canary` headers, canaries of another install, canaries for another mailbox, and
//! this install's own leftover canaries, with flags staff set (`\Deleted` among them), in
//! INBOX and Junk, put into the harness's real Dovecot. Then what a monitor does at start (the
//! leftover sweep) and a full check run against it. Afterwards every message that is not this
//! install's verified canary is there, byte for byte, with the same flags; and this install's
//! canaries, and only they, are gone.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::TryStreamExt;
use mailcanary_engine::core::Lang;
use mailcanary_engine::core::canary::{self, CanaryId, CanaryKey, CanaryParams};
use mailcanary_engine::core::config::{MailboxConfig, RawMailbox};
use mailcanary_engine::probe::{self, CheckOptions, History};
use mailcanary_tests::MailServer;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const PASSWORD: &str = "harm-test-password-3";
const FOLDERS: [&str; 2] = ["INBOX", "Junk"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Office mail.
    Ordinary,
    /// An `X-Mail-Canary` header that does not verify (a changed MAC, or nonsense).
    Forged,
    /// A canary of another install (another key).
    OtherInstall,
    /// A canary of this install for another mailbox.
    OtherMailbox,
    /// A leftover canary of this install for this mailbox: the only kind that may go.
    Ours,
}

#[derive(Debug, Clone)]
struct Spec {
    kind: Kind,
    junk: bool,
    /// `\Seen`, `\Flagged`, `\Answered`, `\Deleted`.
    flags: [bool; 4],
    /// Lines of body text.
    lines: usize,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop_oneof![
            Just(Kind::Ordinary),
            Just(Kind::Forged),
            Just(Kind::OtherInstall),
            Just(Kind::OtherMailbox),
            Just(Kind::Ours),
        ],
        any::<bool>(),
        any::<[bool; 4]>(),
        0usize..60,
    )
        .prop_map(|(kind, junk, flags, lines)| Spec {
            kind,
            junk,
            flags,
            lines,
        })
}

fn flag_list(flags: [bool; 4]) -> Vec<&'static str> {
    ["\\Seen", "\\Flagged", "\\Answered", "\\Deleted"]
        .into_iter()
        .zip(flags)
        .filter_map(|(f, on)| on.then_some(f))
        .collect()
}

fn ordinary(n: usize, lines: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Customer {n} <customer{n}@example.jp>\r\nTo: office\r\nSubject: Order {n}\r\n\
         Message-ID: <harm-{n}@example.test>\r\nDate: Mon, 2 Nov 2026 09:00:00 +0900\r\n\r\n"
    );
    for i in 0..lines {
        m.push_str(&format!(
            "Line {i} of message {n}: please confirm the delivery.\r\n"
        ));
    }
    m.into_bytes()
}

fn canary_for(key: &CanaryKey, address: &str, n: usize) -> Vec<u8> {
    let id = CanaryId::new(&format!("HARM{n:010}")).unwrap();
    canary::compose(
        key,
        &CanaryParams {
            id,
            // Two hours old: well past the sweep's bound.
            now: now_secs() - 7200,
            address,
            mailbox_name: "office",
            lang: Lang::En,
            attachment: None,
        },
    )
    .message
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// This install's canary with its header's last character changed: it no longer verifies.
fn forged(key: &CanaryKey, address: &str, n: usize) -> Vec<u8> {
    let mut m = canary_for(key, address, n);
    if n.is_multiple_of(2) {
        let text = String::from_utf8(m).unwrap();
        let start = text.find("X-Mail-Canary:").unwrap();
        let end = start + text[start..].find("\r\n").unwrap();
        let last = text.as_bytes()[end - 1];
        let swapped = if last == b'A' { 'B' } else { 'A' };
        m = format!("{}{swapped}{}", &text[..end - 1], &text[end..]).into_bytes();
    } else {
        m = format!(
            "X-Mail-Canary: v=1; id=HARM{n:010}; nonsense\r\n{}",
            String::from_utf8(ordinary(n, 3)).unwrap()
        )
        .into_bytes();
    }
    m
}

type Imap = async_imap::Session<tokio::net::TcpStream>;

/// A message as it was put in: its folder, its flags, its bytes, and whether it may go.
type Expected = (&'static str, Vec<String>, Vec<u8>, bool);

async fn login(port: u16, user: &str) -> Imap {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap();
    client
        .login(user, PASSWORD)
        .await
        .map_err(|(e, _)| e)
        .unwrap()
}

/// Every message of `folder`: Message-ID → (flags without `\Recent`, bytes).
async fn contents(s: &mut Imap, folder: &str) -> Vec<(String, Vec<String>, Vec<u8>)> {
    let mb = s.select(folder).await.unwrap();
    if mb.exists == 0 {
        return Vec::new();
    }
    let fetches: Vec<_> = s
        .fetch("1:*", "(FLAGS BODY.PEEK[])")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    fetches
        .iter()
        .map(|f| {
            let body = f.body().unwrap_or_default().to_vec();
            let mut flags: Vec<String> = f
                .flags()
                .map(|fl| format!("{fl:?}"))
                .filter(|fl| fl != "Recent")
                .collect();
            flags.sort();
            let id = canary::header_values(&body, "Message-ID")
                .first()
                .cloned()
                .unwrap_or_default();
            (id, flags, body)
        })
        .collect()
}

fn mailbox(ms: &MailServer, user: &str) -> MailboxConfig {
    RawMailbox {
        address: user.into(),
        imap: format!("localhost:{}", ms.port("MS_IMAPS_PORT")),
        smtp: format!("localhost:{}", ms.port("MS_SMTP_PORT")),
        smtp_security: Some("starttls".into()),
        ca_file: Some(ms.ca_file()),
        password_command: Some(format!("printf '%s' '{PASSWORD}'")),
        ..Default::default()
    }
    .resolve("office")
    .unwrap()
}

#[test]
fn checks_remove_only_this_installs_canaries_and_leave_all_else_as_it_was() {
    let ms = MailServer::start();
    let port = ms.port("MS_IMAP_PORT");
    let key = CanaryKey::from_bytes([42; 32]);
    let other_key = CanaryKey::from_bytes([43; 32]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let case_no = AtomicUsize::new(0);
    let (kept_total, removed_total, messages_total) = (Cell::new(0), Cell::new(0), Cell::new(0));
    let mut runner = TestRunner::new(Config {
        cases: 4,
        // Each case is a real mailbox on a real server: shrinking would repeat them all.
        max_shrink_iters: 0,
        ..Config::default()
    });
    let strategy = (
        prop::collection::vec(spec(), 20..120),
        800usize..1600,
        any::<u64>(),
    );
    let result = runner.run(&strategy, |(specs, bulk, seed)| {
        let n = case_no.fetch_add(1, Ordering::SeqCst);
        let user = format!("harm{n}@example.test");
        ms.add_user(&user, PASSWORD);
        let mb = mailbox(&ms, &user);
        let (kept, removed, total) = rt.block_on(async {
            let mut s = login(port, &user).await;
            let _ = s.create("Junk").await;
            // What each message is, by Message-ID: its folder, its flags, its bytes, and
            // whether it may go.
            let mut expect: BTreeMap<String, Expected> = BTreeMap::new();
            let mut all: Vec<(Spec, Vec<u8>)> = specs
                .iter()
                .enumerate()
                .map(|(i, sp)| {
                    let raw = match sp.kind {
                        Kind::Ordinary => ordinary(i, sp.lines),
                        Kind::Forged => forged(&key, &user, i),
                        Kind::OtherInstall => canary_for(&other_key, &user, i),
                        Kind::OtherMailbox => canary_for(&key, "someone@example.test", i),
                        Kind::Ours => canary_for(&key, &user, i),
                    };
                    (sp.clone(), raw)
                })
                .collect();
            // And the bulk of the mailbox: office mail, with flags varied by the seed.
            for j in 0..bulk {
                let bits = seed.rotate_left(j as u32 % 64);
                let sp = Spec {
                    kind: Kind::Ordinary,
                    junk: j % 10 == 0,
                    flags: [bits & 1 != 0, bits & 2 != 0, bits & 4 != 0, bits & 8 != 0],
                    lines: j % 40,
                };
                all.push((sp, ordinary(10_000 + j, j % 40)));
            }
            for (sp, raw) in &all {
                let folder = FOLDERS[sp.junk as usize];
                let flags = flag_list(sp.flags);
                let list = format!("({})", flags.join(" "));
                s.append(folder, Some(&list), None, raw).await.unwrap();
                let id = canary::header_values(raw, "Message-ID")
                    .first()
                    .cloned()
                    .unwrap();
                let mut names: Vec<String> = flags
                    .iter()
                    .map(|f| f.trim_start_matches('\\').to_string())
                    .collect();
                names.sort();
                let goes = sp.kind == Kind::Ours;
                assert!(
                    expect
                        .insert(id.clone(), (folder, names, raw.clone(), goes))
                        .is_none(),
                    "two messages with {id}"
                );
            }
            s.logout().await.unwrap();

            // What a monitor does: sweep at start, then check.
            let opts = CheckOptions {
                timeout: Duration::from_secs(60),
                ..Default::default()
            };
            let swept = probe::sweep(&mb, &key, &opts, 600).await.unwrap();
            let r = probe::check(&mb, &key, &opts, &History::default()).await;
            assert_eq!(r.category.as_str(), "ok", "{}", r.summary);

            let mut s = login(port, &user).await;
            let (mut seen, mut deleted_kept) = (0, 0);
            for folder in FOLDERS {
                for (id, flags, body) in contents(&mut s, folder).await {
                    let Some((f, want_flags, want_body, goes)) = expect.remove(&id) else {
                        panic!("{folder}: a message that was not there before: {id}");
                    };
                    assert!(!goes, "this install's canary {id} is still in {folder}");
                    assert_eq!(f, folder, "{id} moved");
                    assert_eq!(flags, want_flags, "{id}: flags changed");
                    assert!(body == want_body, "{id}: bytes changed");
                    seen += 1;
                    deleted_kept += flags.iter().any(|f| f == "Deleted") as usize;
                }
            }
            s.logout().await.unwrap();
            let missing: Vec<_> = expect
                .iter()
                .filter(|(_, v)| !v.3)
                .map(|(k, _)| k)
                .collect();
            assert!(missing.is_empty(), "messages lost: {missing:?}");
            // Staff's \Deleted messages were there all along, and are still: the checks
            // expunged nothing but their own.
            assert!(deleted_kept > 0, "no message flagged \\Deleted to keep");
            let removed = expect.len();
            assert_eq!(swept, removed, "the sweep's count");
            (seen, removed, all.len())
        });
        kept_total.set(kept_total.get() + kept);
        removed_total.set(removed_total.get() + removed);
        messages_total.set(messages_total.get() + total);
        Ok::<(), TestCaseError>(())
    });
    println!(
        "harm: {} mailboxes, {} messages, {} kept unchanged, {} of this install's canaries \
         removed, 0 lost",
        case_no.load(Ordering::SeqCst),
        messages_total.get(),
        kept_total.get(),
        removed_total.get()
    );
    result.unwrap();
}
