//! The engine driven directly (no CLI) against the harness's real servers: a host with no
//! desktop and no command line around it.

use std::time::Duration;

use mailcanary_engine::core::Lang;
use mailcanary_engine::core::canary::{self, CanaryKey};
use mailcanary_engine::core::config::{MailboxConfig, RawMailbox};
use mailcanary_engine::core::{Category, Severity};
use mailcanary_engine::imap::Arrival;
use mailcanary_engine::probe::{CheckOptions, check};
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
        let r = rt.block_on(check(&mb, &key, &opts));
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
        runtime().block_on(check(&check_mb, &key, &opts))
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
    let ids: Vec<String> = ms
        .messages(user, "INBOX")
        .into_iter()
        .map(|(_, _, id)| id)
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    for want in [
        "<01JD5Z3M8Q2V7K9T4R6W0X1Y2Z",
        "<forged",
        "<order@example.test>",
    ] {
        assert!(
            ids.iter().any(|i| i.starts_with(want)),
            "{want} missing from {ids:?}"
        );
    }
}
