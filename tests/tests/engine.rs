//! The engine driven directly (no CLI) against the harness's real servers: a host with no
//! desktop and no command line around it.

use std::time::Duration;

use mailcanary_engine::core::Lang;
use mailcanary_engine::core::canary::{self, CanaryKey};
use mailcanary_engine::core::config::{MailboxConfig, RawMailbox};
use mailcanary_engine::core::{Category, Severity};
use mailcanary_engine::imap::Arrival;
use mailcanary_engine::probe::{CheckOptions, History, check};
use mailcanary_tests::MailServer;

fn mailbox(ms: &MailServer, user: &str, password: &str) -> MailboxConfig {
    RawMailbox {
        address: user.into(),
        imap: format!("localhost:{}", ms.port("MS_IMAPS_PORT")),
        smtp: format!("localhost:{}", ms.port("MS_SMTP_PORT")),
        ca_file: Some(ms.ca_file()),
        // A command, so that no test changes the process environment other threads read.
        password_command: Some(format!("printf '%s' '{password}'")),
        ..Default::default()
    }
    .resolve("engine")
    .expect("valid mailbox")
}

/// A logged-in IMAP connection to `mb` with INBOX selected, as a check opens it.
async fn logged_in(
    mb: &MailboxConfig,
) -> (
    mailcanary_engine::probe::StageTimeouts,
    mailcanary_engine::probe::Recorder,
    mailcanary_engine::imap::ImapConn,
) {
    use mailcanary_engine::probe::{MailboxSecrets, Recorder, StageTimeouts};
    let t = StageTimeouts::default();
    let mut rec = Recorder::new(std::time::Instant::now() + Duration::from_secs(20));
    let secrets = MailboxSecrets::load(mb, t.auth).await.expect("secrets");
    let mut conn = mailcanary_engine::imap::open(&mut rec, &t, &secrets.login(mb))
        .await
        .expect("login");
    conn.prepare(&mut rec, &t).await.expect("prepare");
    (t, rec, conn)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn idle_and_polling_both_find_the_canary() {
    let ms = MailServer::start();
    ms.add_user("idle@example.test", "idle-test-password-1");
    let mb = mailbox(&ms, "idle@example.test", "idle-test-password-1");
    let key = CanaryKey::from_bytes([3; 32]);
    let rt = runtime();
    for arrival in [Arrival::Idle, Arrival::Poll] {
        let opts = CheckOptions {
            arrival,
            timeout: Duration::from_secs(30),
            ..Default::default()
        };
        let r = rt.block_on(check(&mb, &key, &opts, &History::default()));
        assert_eq!(r.status, Severity::Ok, "{arrival:?}: {r:?}");
        assert!(r.canary.cleaned, "{arrival:?}");
        assert!(ms.messages("idle@example.test", "INBOX").is_empty());
    }
}

#[test]
fn only_this_installs_canary_is_counted_and_removed() {
    // Messages that arrive while the check waits: another install's canary for this very
    // mailbox, a forged canary header, and a customer's message. They are held in Postfix's
    // queue with the check's own canary and released together, so all of them are new to
    // the check and it must look at each one.
    let ms = MailServer::start();
    let user = "two@example.test";
    ms.add_user(user, "two-installs-pw-2");
    let mb = mailbox(&ms, user, "two-installs-pw-2");
    let a = CanaryKey::from_bytes([1; 32]);
    let b = CanaryKey::from_bytes([2; 32]);
    let foreign = canary::compose(
        &b,
        &canary::CanaryParams {
            id: canary::CanaryId::new("01JD5Z3M8Q2V7K9T4R6W0X1Y2Z").unwrap(),
            now: 1_763_800_000,
            address: user,
            mailbox_name: "engine",
            lang: Lang::En,
            attachment: None,
        },
    );
    let foreign = String::from_utf8(foreign.message).unwrap();
    let forged = foreign.replace(
        "Message-ID: <01JD5Z3M8Q2V7K9T4R6W0X1Y2Z",
        "Message-ID: <forged",
    );
    let forged = forged.replacen("mac=", "mac=AAAA", 1);
    let customer = "From: customer@example.test\r\nTo: two@example.test\r\nSubject: Order\r\n\
        Message-ID: <order@example.test>\r\n\r\nThree boxes, please.\r\n";

    ms.ctl(&["defer", "on"]);
    for m in [&foreign, &forged, customer] {
        ms.send_mx("outside@example.test", user, m);
    }
    let key = a.clone();
    let check_mb = mb.clone();
    let checker = std::thread::spawn(move || {
        let opts = CheckOptions {
            timeout: Duration::from_secs(60),
            ..Default::default()
        };
        runtime().block_on(check(&check_mb, &key, &opts, &History::default()))
    });
    // Release the queue once the check's own canary has joined the three held messages.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while ms.queue_len() < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "the canary never reached the queue"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    ms.ctl(&["defer", "off"]);
    let r = checker.join().expect("check thread");
    assert_eq!(r.status, Severity::Ok, "{r:?}");
    assert_eq!(r.category, Category::Ok);
    assert!(r.canary.cleaned);
    let left = ms.messages(user, "INBOX");
    assert_eq!(left.len(), 3, "{left:?}");
    for want in [
        "<01JD5Z3M8Q2V7K9T4R6W0X1Y2Z",
        "<forged",
        "<order@example.test>",
    ] {
        let m = left.iter().find(|(_, _, id)| id.starts_with(want));
        let (_, flags, _) = m.unwrap_or_else(|| panic!("{want} missing from {left:?}"));
        assert_eq!(flags, "", "{want}: nothing read, flagged or deleted");
    }
}

#[test]
fn a_message_with_the_awaited_id_but_a_bad_mac_is_not_the_canary() {
    // The check's own scanning, driven by hand so that the forged message can carry the very
    // id being waited for.
    use mailcanary_engine::imap::{self, Expected, WaitPlan};

    let ms = MailServer::start();
    let user = "mac@example.test";
    ms.add_user(user, "mac-test-pw-3");
    let mb = mailbox(&ms, user, "mac-test-pw-3");
    let ours = CanaryKey::from_bytes([5; 32]);
    let theirs = CanaryKey::from_bytes([6; 32]);
    let id = canary::CanaryId::new("01JD60000000000000000000AA").unwrap();
    let forged = canary::compose(
        &theirs,
        &canary::CanaryParams {
            id: id.clone(),
            now: 1_763_800_000,
            address: user,
            mailbox_name: "engine",
            lang: Lang::En,
            attachment: None,
        },
    );
    let rt = runtime();
    rt.block_on(async {
        let (t, mut rec, mut conn) = logged_in(&mb).await;
        // Arrives after the check noted where new mail starts, so it is looked at.
        ms.deliver(user, "INBOX", &String::from_utf8(forged.message).unwrap());
        let want = Expected {
            key: &ours,
            address: user,
            id: &id,
        };
        let plan = WaitPlan {
            sent_at: std::time::Instant::now(),
            until: std::time::Instant::now() + Duration::from_millis(800),
            arrival: imap::Arrival::Poll,
            command: t.command,
        };
        assert!(
            conn.wait_for(&mut rec, &want, &plan).await.is_none(),
            "not ours"
        );
        conn.logout(t.quit).await;
    });
    let left = ms.messages(user, "INBOX");
    assert_eq!(left.len(), 1, "the forged message stays: {left:?}");
    assert_eq!(left[0].1, "", "and is not flagged");
}

#[test]
fn a_canary_deleted_by_another_client_between_two_looks_is_canary_removed() {
    use mailcanary_engine::core::report::Stage;
    use mailcanary_engine::imap::{self, Expected, WaitPlan};

    let ms = MailServer::start();
    let user = "gone@example.test";
    ms.add_user(user, "gone-test-pw-4");
    let mb = mailbox(&ms, user, "gone-test-pw-4");
    let key = CanaryKey::from_bytes([8; 32]);
    let id = canary::CanaryId::new("01JD60000000000000000000BB").unwrap();
    let ours = canary::compose(
        &key,
        &canary::CanaryParams {
            id: id.clone(),
            now: 1_763_800_000,
            address: user,
            mailbox_name: "engine",
            lang: Lang::En,
            attachment: None,
        },
    );
    let rt = runtime();
    let (verified, problems) = rt.block_on(async {
        let (t, mut rec, mut conn) = logged_in(&mb).await;
        ms.deliver(user, "INBOX", &String::from_utf8(ours.message).unwrap());
        let want = Expected {
            key: &key,
            address: user,
            id: &id,
        };
        let plan = WaitPlan {
            sent_at: std::time::Instant::now(),
            until: std::time::Instant::now() + Duration::from_secs(5),
            arrival: imap::Arrival::Poll,
            command: t.command,
        };
        let found = conn.wait_for(&mut rec, &want, &plan).await.expect("seen");
        // Another PC's mail program, set to "remove from server", takes it now.
        ms.ctl(&["doveadm", "expunge", "-u", user, "mailbox", "INBOX", "all"]);
        let verified = conn.verify(&mut rec, &t, &found, &want).await;
        conn.logout(t.quit).await;
        (verified, rec.into_problems())
    });
    assert!(!verified);
    let p = problems.last().expect("a problem");
    assert_eq!(p.category, Category::CanaryRemoved, "{p:?}");
    assert_eq!(p.stage, Stage::Verify);
}
