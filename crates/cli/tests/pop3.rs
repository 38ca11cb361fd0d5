//! A mailbox read over POP3: `mailbox add --pop3`, then `mailcanary check` against Dovecot's
//! POP3 service and Postfix on loopback.

use std::time::{Duration, Instant};

use mailcanary_tests::{Cli, MailServer};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mailcanary");
const USER: &str = "office@example.test";

/// A server with one user and that mailbox added, read over POP3 with `security` on the
/// harness port for it (POP3S for tls, the STLS port for starttls).
fn setup(tag: &str, security: &str) -> (MailServer, Cli) {
    let ms = MailServer::start();
    let password = format!("Pw-pop3-{tag}-{}", std::process::id());
    ms.add_user(USER, &password);
    let cli = Cli::new(BIN).env("OFFICE_PW", &password);
    let port = match security {
        "tls" => ms.port("MS_POP3S_PORT"),
        _ => ms.port("MS_POP3_PORT"),
    };
    let pop3 = format!("localhost:{port}");
    let smtp = format!("localhost:{}", ms.port("MS_SMTP_PORT"));
    let ca = ms.ca_file();
    let r = cli.run(&[
        "mailbox",
        "add",
        "office",
        "--address",
        USER,
        "--pop3",
        &pop3,
        "--pop3-security",
        security,
        "--smtp",
        &smtp,
        "--password-env",
        "OFFICE_PW",
        "--ca-file",
        ca.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("POP3, which sees the inbox only"),
        "{r:?}"
    );
    (ms, cli)
}

fn stage<'a>(report: &'a Value, stage: &str) -> &'a Value {
    report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == stage && s["protocol"] == "pop3")
        .unwrap_or_else(|| panic!("no {stage}/pop3 stage: {report}"))
}

fn categories(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["category"].as_str().unwrap().to_string())
        .collect()
}

const CUSTOMER: &str = "From: customer@example.test\r\nTo: office@example.test\r\n\
Subject: Order 1234\r\nMessage-ID: <order-1234@example.test>\r\n\r\nPlease send 3 boxes.\r\n";

/// Looks like a canary, but its MAC does not verify: never to be touched.
const FORGED: &str = "From: office@example.test\r\nTo: office@example.test\r\n\
Subject: [Mail Canary] Automatic test message - safe to ignore\r\n\
Message-ID: <forged@example.test>\r\n\
X-Mail-Canary: v=1; id=01JD5Z3M8Q2V7K9T4R6W0X1Y2Z; t=1763800000; \
h=0000000000000000000000000000000000000000000000000000000000000000; \
mac=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n\r\nnot a canary\r\n";

#[test]
fn a_pop3_mailbox_is_checked_over_pop3_and_only_the_canary_is_deleted() {
    for security in ["tls", "starttls"] {
        let (ms, cli) = setup(security, security);
        ms.deliver(USER, "INBOX", CUSTOMER);
        ms.deliver(USER, "INBOX", FORGED);
        let before = ms.messages(USER, "INBOX");
        assert_eq!(before.len(), 2);

        let (r, report) = cli.check_json(&[]);
        assert_eq!(r.code, 0, "{security}: {r:?}");
        assert_eq!(report["category"], "ok", "{security}: {report}");
        for st in [
            "dns", "connect", "tls", "auth", "receive", "verify", "cleanup",
        ] {
            assert_eq!(stage(&report, st)["ok"], true, "{security} {st}: {report}");
        }
        assert!(
            report["stages"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["protocol"] != "imap"),
            "no IMAP at all: {report}"
        );
        let detail = stage(&report, "tls")["detail"].as_str().unwrap();
        let want = if security == "tls" {
            "TLS established"
        } else {
            "STLS established"
        };
        assert!(detail.starts_with(want), "{detail}");
        assert_eq!(report["canary"]["folder"], "INBOX");
        assert_eq!(report["canary"]["cleaned"], true);
        // The report says what POP3 cannot see.
        let action = report["action"].as_str().unwrap();
        assert!(action.contains("inbox only"), "{action}");
        // The customer's message and the forged canary are there as they were, flags too.
        assert_eq!(ms.messages(USER, "INBOX"), before, "{security}");
        // Dovecot logged a POP3 session that deleted one message and fetched one in full.
        let log = std::fs::read_to_string(ms.dir().join("log/dovecot.log")).unwrap();
        assert!(
            log.lines()
                .any(|l| l.contains("pop3(") && l.contains("retr=1/") && l.contains("del=1/")),
            "{log}"
        );
        let r = cli.run(&["check", "office"]);
        assert_eq!(r.code, 0, "{r:?}");
        assert!(
            r.stdout.contains(" pop3=") && !r.stdout.contains("imap="),
            "{r:?}"
        );
        // `mailbox show` names POP3.
        let show = cli.run(&["mailbox", "show", "office"]);
        assert!(show.stdout.contains("pop3:"), "{show:?}");
        assert!(!show.stdout.contains("imap:"), "{show:?}");
    }
}

#[test]
fn a_canary_put_in_junk_is_lost_over_pop3_and_the_report_points_to_webmail() {
    let (ms, cli) = setup("junk", "tls");
    ms.ctl(&["junk", USER, "on"]);
    let (r, report) = cli.check_json(&["--timeout", "6"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(report["category"], "lost", "{report}");
    let summary = report["summary"].as_str().unwrap();
    assert!(summary.contains("cannot see over POP3"), "{summary}");
    assert!(
        report["action"].as_str().unwrap().contains("junk folder"),
        "{report}"
    );
    // It is in Junk, where POP3 does not look; IMAP would have seen it.
    assert_eq!(ms.messages(USER, "Junk").len(), 1);
    assert!(ms.messages(USER, "INBOX").is_empty());
}

#[test]
fn a_lost_canary_that_comes_late_is_swept_by_the_next_check() {
    let (ms, cli) = setup("late", "tls");
    ms.ctl(&["defer", "on"]);
    let (r, report) = cli.check_json(&["--timeout", "4"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(report["category"], "lost", "{report}");
    ms.ctl(&["defer", "off"]);
    let until = Instant::now() + Duration::from_secs(15);
    while ms.messages(USER, "INBOX").is_empty() {
        assert!(Instant::now() < until, "the late canary never came");
        std::thread::sleep(Duration::from_millis(100));
    }
    ms.deliver(USER, "INBOX", CUSTOMER);
    let (r, report) = cli.check_json(&[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(report["category"], "ok", "{report}");
    // The late canary went with this check; the customer's message stayed.
    let left = ms.messages(USER, "INBOX");
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].2, "<order-1234@example.test>");
}

#[test]
fn another_pop3_program_deleting_mail_is_warned_about() {
    let (ms, cli) = setup("thief", "tls");
    ms.deliver(USER, "INBOX", CUSTOMER);
    let log = ms.dir().join("log/dovecot.log");
    let logged_out = |text: &str| {
        text.lines()
            .filter(|l| l.contains("pop3(office@example.test)") && l.contains("Logged out"))
            .count()
    };
    let sessions_before = logged_out(&std::fs::read_to_string(&log).unwrap());
    let check = std::thread::scope(|scope| {
        let run = scope.spawn(|| cli.check_json(&["--timeout", "8"]));
        // The other program: once the check has had its first look, it takes everything off
        // the server, again and again, as a mail program set not to leave copies does.
        let until = Instant::now() + Duration::from_secs(20);
        while logged_out(&std::fs::read_to_string(&log).unwrap()) == sessions_before {
            assert!(Instant::now() < until, "the check never logged in");
            std::thread::sleep(Duration::from_millis(20));
        }
        while !run.is_finished() {
            ms.ctl(&["doveadm", "expunge", "-u", USER, "mailbox", "INBOX", "all"]);
            std::thread::sleep(Duration::from_millis(50));
        }
        run.join().unwrap()
    });
    let (_, report) = check;
    let found = categories(&report);
    assert!(found.contains(&"canary_removed".to_string()), "{report}");
    let f = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["category"] == "canary_removed")
        .unwrap();
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .contains("Another mail program"),
        "{f}"
    );
    assert!(
        f["action"].as_str().unwrap().contains("leave a copy"),
        "{f}"
    );
    assert!(
        f["evidence"].as_str().unwrap().contains("gone at the next"),
        "{f}"
    );
}

#[test]
fn pop3_and_imap_together_or_neither_are_refused_with_a_reason() {
    let cli = Cli::new(BIN);
    for (extra, said) in [
        (
            &["--imap", "localhost", "--smtp", "localhost"][..],
            "--imap",
        ),
        (&[][..], "give --smtp with --pop3"),
        (
            &["--pop3-security", "plain", "--smtp", "localhost"][..],
            "pop3_security",
        ),
    ] {
        let mut args = vec![
            "mailbox",
            "add",
            "office",
            "--address",
            USER,
            "--pop3",
            "localhost",
            "--password-env",
            "X",
        ];
        args.extend_from_slice(extra);
        let r = cli.run(&args);
        assert_ne!(r.code, 0, "{r:?}");
        assert!(r.stderr.contains(said), "{said}: {r:?}");
    }
}

#[test]
fn attachment_probes_are_read_over_pop3_and_a_filter_that_drops_some_is_named() {
    let (ms, cli) = setup("probes", "tls");
    ms.deliver(USER, "INBOX", CUSTOMER);
    let (r, report) = cli.check_json(&["--probe", "attachments"]);
    assert_eq!(r.code, 0, "{r:?}");
    let probes = report["probes"].as_array().unwrap();
    assert!(probes.len() >= 4, "{report}");
    for p in probes {
        assert_eq!(p["outcome"], "delivered", "{p}");
        assert_eq!(p["folder"], "INBOX", "{p}");
    }
    // Every canary was deleted in the sessions that read them; the customer's mail stayed.
    let left = ms.messages(USER, "INBOX");
    assert_eq!(left.len(), 1, "{left:?}");

    ms.ctl(&["drop-attachments", "on"]);
    let (_, report) = cli.check_json(&["--probe", "attachments", "--timeout", "12"]);
    assert_eq!(report["canary"]["folder"], "INBOX", "{report}");
    let blocked = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["category"] == "attachment_blocked")
        .unwrap_or_else(|| panic!("{report}"));
    assert!(
        blocked["evidence"].as_str().unwrap().contains("never seen"),
        "{blocked}"
    );
    assert_eq!(ms.messages(USER, "INBOX").len(), 1);
}

#[test]
fn the_monitor_checks_a_pop3_mailbox_on_its_schedule() {
    let (ms, cli) = setup("run", "starttls");
    ms.deliver(USER, "INBOX", CUSTOMER);
    let out = cli.root().join("run.out");
    let mut child = cli.spawn_quick_monitor(&[], &[], &out);
    Cli::wait_checks(&out, "office", "OK ok", 3, Duration::from_secs(60));
    mailcanary_tests::terminate(&mut child);
    // Each check took its canary away again; the customer's message stayed.
    let left = ms.messages(USER, "INBOX");
    assert_eq!(left.len(), 1, "{left:?}");
    let history = cli.run(&["history", "office", "--json"]);
    assert!(history.stdout.contains("\"pop3\""), "{history:?}");
}
