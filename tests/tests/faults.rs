//! Faults on the wire: a proxy ([`FaultProxy`]) between the engine and the harness's real
//! Dovecot and Postfix hangs, resets, closes, drips, sends garbage or an endless line, closes
//! in the middle of the TLS handshake, or strips STARTTLS. For each fault, on IMAP and on SMTP:
//! the check ends within its bound with the category the fault calls for, no connection is left
//! open, no file descriptor and no task is left behind, and the next check, on a clean wire,
//! is ok.
//!
//! The checks run in this process, on a runtime of their own, so that descriptors and tasks can
//! be counted. Each prints one line (`fault ...`), which `docs/RELIABILITY.md` tallies.

use std::time::{Duration, Instant};

use mailcanary_engine::core::Category;
use mailcanary_engine::core::canary::CanaryKey;
use mailcanary_engine::core::config::{MailboxConfig, RawMailbox};
use mailcanary_engine::core::report::CheckReport;
use mailcanary_engine::probe::{CheckOptions, History, ProbeSet, StageTimeouts, check};
use mailcanary_tests::{At, Fault, FaultProxy, MailServer};

const USER: &str = "faults@example.test";
const PASSWORD: &str = "faults-test-password-7";

/// Short stage limits, so that a hang costs seconds, not minutes.
fn timeouts() -> StageTimeouts {
    StageTimeouts {
        dns: Duration::from_secs(2),
        connect: Duration::from_secs(2),
        tls: Duration::from_secs(3),
        auth: Duration::from_secs(3),
        command: Duration::from_secs(3),
        send: Duration::from_secs(3),
        quit: Duration::from_secs(1),
    }
}

/// The whole check's bound: a canary not seen by then is lost.
const CHECK_BOUND: Duration = Duration::from_secs(15);

/// A check may take this much longer than its bound (the last stage's own limit, logout).
const GRACE: Duration = Duration::from_secs(5);

/// One fault test at a time: descriptors are counted for the whole process.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct Bed {
    ms: MailServer,
    key: CanaryKey,
    rt: tokio::runtime::Runtime,
}

impl Bed {
    fn new() -> Bed {
        let ms = MailServer::start();
        ms.add_user(USER, PASSWORD);
        Bed {
            ms,
            key: CanaryKey::from_bytes([7; 32]),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    /// The mailbox with IMAP at `imap` and SMTP at `smtp` (ports on localhost), with these
    /// securities.
    fn mailbox(&self, imap: (u16, &str), smtp: (u16, &str)) -> MailboxConfig {
        RawMailbox {
            address: USER.into(),
            imap: format!("localhost:{}", imap.0),
            imap_security: Some(imap.1.into()),
            smtp: format!("localhost:{}", smtp.0),
            smtp_security: Some(smtp.1.into()),
            ca_file: Some(self.ms.ca_file()),
            allow_plaintext_login: imap.1 == "plain",
            password_command: Some(format!("printf '%s' '{PASSWORD}'")),
            ..Default::default()
        }
        .resolve("faults")
        .expect("valid mailbox")
    }

    fn check(&self, mb: &MailboxConfig, probe: ProbeSet) -> (CheckReport, Duration) {
        let opts = CheckOptions {
            timeout: CHECK_BOUND,
            stage_timeouts: timeouts(),
            probe,
            ..Default::default()
        };
        let started = Instant::now();
        let r = self
            .rt
            .block_on(check(mb, &self.key, &opts, &History::default()));
        (r, started.elapsed())
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// One fault: the check under it, then everything the fault must not leave behind, then a
/// clean check. Answers the category the fault gave.
#[allow(clippy::too_many_arguments)]
fn case(
    bed: &Bed,
    name: &str,
    proxy: &FaultProxy,
    mb: &MailboxConfig,
    fault: Fault,
    allowed: &[Category],
    probe: ProbeSet,
) -> Category {
    let fds = open_fds();
    proxy.set(fault);
    let before = proxy.accepted();
    let (r, took) = bed.check(mb, probe);
    let got = r.category;
    proxy.set(Fault::Pass);
    let evidence = r
        .findings
        .first()
        .map(|f| f.evidence.clone())
        .unwrap_or_default();
    println!(
        "fault {name}: {} in {} ms ({} connection(s) through the fault): {evidence}",
        r.category.as_str(),
        took.as_millis(),
        proxy.accepted() - before
    );
    assert!(
        proxy.accepted() > before,
        "{name}: the check never went through the proxy"
    );
    assert!(
        allowed.contains(&r.category),
        "{name}: {} ({}) not one of {allowed:?}",
        r.category.as_str(),
        r.summary
    );
    assert!(
        took <= CHECK_BOUND + GRACE,
        "{name}: took {took:?}, more than its bound"
    );
    let left = proxy.wait_all_closed(Duration::from_secs(5));
    assert_eq!(left, 0, "{name}: connections left open");
    let tasks = bed.rt.metrics().num_alive_tasks();
    assert_eq!(tasks, 0, "{name}: tasks left running");
    // Other tests' threads open files too: a leak shows as more descriptors than before the
    // fault that stay so.
    let deadline = Instant::now() + Duration::from_secs(5);
    while open_fds() > fds && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        open_fds() <= fds,
        "{name}: {} descriptors open, {fds} before",
        open_fds()
    );
    let (r, _) = bed.check(mb, ProbeSet::Plain);
    assert_eq!(
        r.category,
        Category::Ok,
        "{name}: the next check did not recover: {}",
        r.summary
    );
    got
}

#[test]
fn imap_faults_end_in_time_with_their_category_and_leave_nothing_behind() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let bed = Bed::new();
    let imaps = FaultProxy::start(bed.ms.port("MS_IMAPS_PORT"));
    let imap = FaultProxy::start(bed.ms.port("MS_IMAP_PORT"));
    let smtp = (bed.ms.port("MS_SMTP_PORT"), "starttls");
    let tls = bed.mailbox((imaps.port(), "tls"), smtp);
    let plain = bed.mailbox((imap.port(), "plain"), smtp);
    let starttls = bed.mailbox((imap.port(), "starttls"), smtp);
    let (r, _) = bed.check(&tls, ProbeSet::Plain);
    assert_eq!(r.category, Category::Ok, "{}", r.summary);

    use Category::*;
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    let cases: Vec<(&str, &FaultProxy, &MailboxConfig, Fault, &[Category])> = vec![
        (
            "imap silent after connect",
            &imaps,
            &tls,
            Fault::Silent,
            &[Timeout],
        ),
        (
            "imap closed during the TLS handshake",
            &imaps,
            &tls,
            Fault::CloseOnClientBytes,
            &[ConnectFailed],
        ),
        (
            "imap garbage instead of the TLS handshake",
            &imaps,
            &tls,
            Fault::Reply(garbage.clone()),
            &[ProtocolError],
        ),
        (
            "imap dripped a byte every 300 ms",
            &imaps,
            &tls,
            Fault::Drip(Duration::from_millis(300)),
            &[Timeout],
        ),
        (
            "imap reset mid-greeting (TLS)",
            &imaps,
            &tls,
            Fault::Reset(At::ServerBytes(40)),
            &[ConnectFailed],
        ),
        (
            "imap garbage instead of the greeting",
            &imap,
            &plain,
            Fault::Reply(garbage.clone()),
            &[ProtocolError],
        ),
        (
            "imap greeting line of 8 MB",
            &imap,
            &plain,
            Fault::Reply([b"* OK ".as_slice(), &vec![b'x'; 8 << 20]].concat()),
            &[ProtocolError],
        ),
        (
            "imap hangs mid-command (LOGIN)",
            &imap,
            &plain,
            Fault::Hang(At::AfterClient {
                pattern: b"LOGIN".to_vec(),
                then: 0,
            }),
            &[Timeout],
        ),
        (
            "imap reset mid-command (SELECT)",
            &imap,
            &plain,
            Fault::Reset(At::AfterClient {
                pattern: b"SELECT".to_vec(),
                then: 10,
            }),
            &[ConnectFailed],
        ),
        (
            "imap hangs mid-FETCH of the canary",
            &imap,
            &plain,
            Fault::Hang(At::AfterClient {
                pattern: b"BODY.PEEK[]".to_vec(),
                then: 100,
            }),
            &[Timeout, DownloadInterrupted],
        ),
        (
            "imap reset mid-FETCH of the canary",
            &imap,
            &plain,
            Fault::Reset(At::AfterClient {
                pattern: b"BODY.PEEK[]".to_vec(),
                then: 100,
            }),
            &[DownloadInterrupted],
        ),
        (
            "imap FETCH of the canary cut short",
            &imap,
            &plain,
            Fault::Close(At::AfterClient {
                pattern: b"BODY.PEEK[]".to_vec(),
                then: 100,
            }),
            &[DownloadInterrupted],
        ),
        (
            "imap STARTTLS stripped from the capabilities",
            &imap,
            &starttls,
            Fault::StripStarttls(b" STARTTLS".to_vec()),
            &[StarttlsMissing],
        ),
    ];
    for (name, proxy, mb, fault, allowed) in cases {
        case(&bed, name, proxy, mb, fault, allowed, ProbeSet::Plain);
    }
}

#[test]
fn smtp_faults_end_in_time_with_their_category_and_leave_nothing_behind() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let bed = Bed::new();
    let smtps = FaultProxy::start(bed.ms.port("MS_SMTPS_PORT"));
    let smtp = FaultProxy::start(bed.ms.port("MS_SMTP_PORT"));
    let imap = (bed.ms.port("MS_IMAPS_PORT"), "tls");
    let tls = bed.mailbox(imap, (smtps.port(), "tls"));
    let starttls = bed.mailbox(imap, (smtp.port(), "starttls"));
    let (r, _) = bed.check(&tls, ProbeSet::Plain);
    assert_eq!(r.category, Category::Ok, "{}", r.summary);

    use Category::*;
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    let cases: Vec<(&str, &FaultProxy, &MailboxConfig, Fault, &[Category])> = vec![
        (
            "smtp silent after connect",
            &smtps,
            &tls,
            Fault::Silent,
            &[Timeout],
        ),
        (
            "smtp closed during the TLS handshake",
            &smtps,
            &tls,
            Fault::CloseOnClientBytes,
            &[ConnectFailed],
        ),
        (
            "smtp garbage instead of the TLS handshake",
            &smtps,
            &tls,
            Fault::Reply(garbage.clone()),
            &[ProtocolError],
        ),
        (
            "smtp dripped a byte every 300 ms",
            &smtps,
            &tls,
            Fault::Drip(Duration::from_millis(300)),
            &[Timeout],
        ),
        (
            "smtp garbage instead of the greeting",
            &smtp,
            &starttls,
            Fault::Reply(garbage.clone()),
            &[ProtocolError],
        ),
        (
            "smtp greeting line of 8 MB",
            &smtp,
            &starttls,
            Fault::Reply([b"220 ".as_slice(), &vec![b'x'; 8 << 20]].concat()),
            &[ProtocolError],
        ),
        (
            "smtp hangs mid-command (EHLO)",
            &smtp,
            &starttls,
            Fault::Hang(At::AfterClient {
                pattern: b"EHLO".to_vec(),
                then: 10,
            }),
            &[Timeout],
        ),
        (
            "smtp reset mid-command (EHLO)",
            &smtp,
            &starttls,
            Fault::Reset(At::AfterClient {
                pattern: b"EHLO".to_vec(),
                then: 10,
            }),
            &[ConnectFailed],
        ),
        (
            "smtp answer cut short (EHLO)",
            &smtp,
            &starttls,
            Fault::Close(At::AfterClient {
                pattern: b"EHLO".to_vec(),
                then: 10,
            }),
            &[ConnectFailed],
        ),
        (
            "smtp STARTTLS stripped from EHLO",
            &smtp,
            &starttls,
            Fault::StripStarttls(b"250-STARTTLS\r\n".to_vec()),
            &[StarttlsMissing],
        ),
    ];
    for (name, proxy, mb, fault, allowed) in cases {
        case(&bed, name, proxy, mb, fault, allowed, ProbeSet::Plain);
    }
}

/// Resets at ten points spread over a whole clean conversation, inside TLS where the proxy
/// cannot read the commands: each ends as a broken connection, a protocol error, an interrupted
/// download or a timeout, or, once the check has what it needs (the reset falls on the
/// logout), as ok.
#[test]
fn resets_anywhere_in_the_conversation_end_cleanly() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let bed = Bed::new();
    let imaps = FaultProxy::start(bed.ms.port("MS_IMAPS_PORT"));
    let smtps = FaultProxy::start(bed.ms.port("MS_SMTPS_PORT"));
    let mb = bed.mailbox((imaps.port(), "tls"), (smtps.port(), "tls"));
    // How much each server says in a clean check.
    let (i0, s0) = (imaps.relayed(), smtps.relayed());
    let (r, _) = bed.check(&mb, ProbeSet::Plain);
    assert_eq!(r.category, Category::Ok, "{}", r.summary);
    let whole = [
        ("imap", &imaps, imaps.relayed() - i0),
        ("smtp", &smtps, smtps.relayed() - s0),
    ];
    use Category::*;
    let allowed = &[
        Ok,
        ConnectFailed,
        ProtocolError,
        Timeout,
        DownloadInterrupted,
    ];
    for (side, proxy, total) in whole {
        let mut failed = 0;
        for tenth in 0..10 {
            let at = (total * tenth / 10).max(1);
            let name = format!("{side} reset after {at} of {total} bytes from the server");
            let fault = Fault::Reset(At::ServerBytes(at));
            if case(&bed, &name, proxy, &mb, fault, allowed, ProbeSet::Plain) != Ok {
                failed += 1;
            }
        }
        // Most of a conversation is before the canary is in: those resets must show.
        assert!(
            failed >= 5,
            "{side}: only {failed} of 10 resets were noticed"
        );
    }
}

/// A reset in the middle of the 10 MB attachment canary's download, as a mail program would
/// meet it: the plain canary came through, so the finding is the interrupted download.
#[test]
fn a_reset_in_the_middle_of_a_large_canary_is_download_interrupted() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let bed = Bed::new();
    let imap = FaultProxy::start(bed.ms.port("MS_IMAP_PORT"));
    let mb = bed.mailbox(
        (imap.port(), "plain"),
        (bed.ms.port("MS_SMTP_PORT"), "starttls"),
    );
    let fault = Fault::Reset(At::AfterClient {
        pattern: b"BODY.PEEK[]".to_vec(),
        then: 3 << 20,
    });
    case(
        &bed,
        "imap reset 3 MB into the attachment canaries' downloads",
        &imap,
        &mb,
        fault,
        &[Category::DownloadInterrupted],
        ProbeSet::Attachments,
    );
}
