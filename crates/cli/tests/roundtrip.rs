//! The `mailcanary` binary against real Dovecot + Postfix on loopback, run as a user runs it.

use std::time::Duration;

use mailcanary_tests::{Cli, MailServer, Run, SecretService, files_containing};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mailcanary");
const USER: &str = "office@example.test";

/// A password nobody else uses, so a leak check can grep for it.
fn unique_password(tag: &str) -> String {
    format!("Pw-{tag}-{}-q7Zx", std::process::id())
}

struct Setup {
    ms: MailServer,
    cli: Cli,
    password: String,
}

/// A server with one user, and a CLI with that mailbox added (password from an env var).
fn setup_with(ms: MailServer, tag: &str, extra: &[&str]) -> Setup {
    let password = unique_password(tag);
    ms.add_user(USER, &password);
    let cli = Cli::new(BIN).env("OFFICE_PW", &password);
    cli.add_harness_mailbox(&ms, USER, extra);
    Setup { ms, cli, password }
}

fn setup(tag: &str) -> Setup {
    setup_with(MailServer::start(), tag, &[])
}

fn stage<'a>(report: &'a Value, stage: &str, protocol: &str) -> Option<&'a Value> {
    report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == stage && s["protocol"] == protocol)
}

fn assert_no_leak(s: &Setup, runs: &[&Run]) {
    let needle = s.password.as_bytes();
    assert!(
        files_containing(s.cli.root(), needle).is_empty(),
        "password found in config or data: {:?}",
        files_containing(s.cli.root(), needle)
    );
    for r in runs {
        assert!(!r.stdout.contains(&s.password), "password in stdout");
        assert!(!r.stderr.contains(&s.password), "password in stderr");
    }
}

const PLAIN_MESSAGE: &str = "From: customer@example.test\r\nTo: office@example.test\r\n\
Subject: Order 1234\r\nMessage-ID: <order-1234@example.test>\r\n\r\nPlease send 3 boxes.\r\n";

#[test]
fn healthy_round_trip_reports_every_stage_and_touches_nothing_else() {
    let s = setup("healthy");
    // A customer's message, one staff flagged \Deleted, and one with a forged canary header.
    s.ms.deliver(USER, "INBOX", PLAIN_MESSAGE);
    s.ms.deliver(
        USER,
        "INBOX",
        "From: x@example.test\r\nTo: office@example.test\r\nSubject: old\r\n\
         Message-ID: <flagged-deleted@example.test>\r\n\r\nold\r\n",
    );
    s.ms.ctl(&[
        "doveadm",
        "flags",
        "add",
        "-u",
        USER,
        "\\Deleted",
        "mailbox",
        "INBOX",
        "uid",
        "2",
    ]);
    let forged = "From: office@example.test\r\nTo: office@example.test\r\n\
        Subject: [Mail Canary] Automatic test message - safe to ignore\r\n\
        Message-ID: <forged@example.test>\r\n\
        X-Mail-Canary: v=1; id=01JD5Z3M8Q2V7K9T4R6W0X1Y2Z; t=1763800000; \
        h=0000000000000000000000000000000000000000000000000000000000000000; \
        mac=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n\r\nnot a canary\r\n";
    s.ms.deliver(USER, "INBOX", forged);
    let before = s.ms.messages(USER, "INBOX");
    assert_eq!(before.len(), 3);

    let (r, report) = s.cli.check_json(&[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(report["schema"], 1);
    assert_eq!(report["mailbox"], "office");
    assert_eq!(report["status"], "ok");
    assert_eq!(report["category"], "ok");
    assert_eq!(report["findings"].as_array().unwrap().len(), 0);
    for (st, proto) in [
        ("dns", "imap"),
        ("connect", "imap"),
        ("tls", "imap"),
        ("auth", "imap"),
        ("dns", "smtp"),
        ("connect", "smtp"),
        ("tls", "smtp"),
        ("auth", "smtp"),
        ("send", "smtp"),
        ("receive", "imap"),
        ("verify", "imap"),
        ("cleanup", "imap"),
    ] {
        let x = stage(&report, st, proto).unwrap_or_else(|| panic!("no {st}/{proto}: {report}"));
        assert_eq!(x["ok"], true, "{x}");
        assert!(x["ms"].is_u64(), "{x}");
    }
    let canary = &report["canary"];
    assert_eq!(canary["folder"], "INBOX");
    assert_eq!(canary["cleaned"], true);
    let latency = canary["latency_ms"].as_u64().unwrap();
    assert!(latency < 30_000, "latency {latency} ms");
    assert!(
        stage(&report, "cleanup", "imap").unwrap()["detail"]
            .as_str()
            .unwrap()
            .starts_with("UID EXPUNGE"),
        "{report}"
    );
    // Every other message is still there, flags included; the canary is gone.
    assert_eq!(s.ms.messages(USER, "INBOX"), before);
    assert!(s.ms.messages(USER, "Junk").is_empty());

    // The Nagios line; with every logger at its most verbose, the password still shows nowhere.
    let json_run = r;
    let r = s
        .cli
        .run_with_env(&["check", "office"], &[("MAILCANARY_LOG", "trace")]);
    assert_eq!(r.code, 0, "{r:?}");
    let line = r.stdout.trim_end();
    assert!(
        line.starts_with("MAILCANARY OK - office: canary arrived in INBOX after "),
        "{line}"
    );
    assert!(line.contains(" | rtt="), "{line}");
    assert!(line.contains(" smtp=") && line.contains(" imap="), "{line}");
    assert_eq!(s.ms.messages(USER, "INBOX"), before);
    assert!(!r.stderr.is_empty(), "trace logging produced output");
    assert_no_leak(&s, &[&json_run, &r]);
}

#[test]
fn wrong_password_is_auth_failed_with_the_server_reply() {
    let s = setup("wrongpw");
    let cli = Cli::new(BIN).env("OFFICE_PW", "not-the-password");
    // Same mailbox definition, wrong password.
    std::fs::create_dir_all(cli.config_path().parent().unwrap()).unwrap();
    std::fs::copy(s.cli.config_path(), cli.config_path()).unwrap();
    let (r, report) = cli.check_json(&[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(report["status"], "critical");
    assert_eq!(report["category"], "auth_failed");
    let f = &report["findings"][0];
    assert_eq!(f["stage"], "auth");
    assert!(
        f["evidence"]
            .as_str()
            .unwrap()
            .contains("AUTHENTICATIONFAILED"),
        "{f}"
    );
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .contains("refused the password"),
        "{f}"
    );
    // SMTP was still tried up to login (no canary sent), and refused too.
    let smtp_auth = stage(&report, "auth", "smtp").expect("smtp auth tried");
    assert_eq!(smtp_auth["ok"], false);
    assert!(stage(&report, "send", "smtp").is_none());
    assert!(
        s.ms.messages(USER, "INBOX").is_empty(),
        "no canary left behind"
    );
}

#[test]
fn locked_account_is_refused_at_login_and_recovers_when_unlocked() {
    // The harness's lock answers as Dovecot does for any refused login
    // (NO [AUTHENTICATIONFAILED]), so the honest diagnosis is auth_failed.
    let s = setup("locked");
    s.ms.ctl(&["lock", USER]);
    let (r, report) = s.cli.check_json(&[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(report["category"], "auth_failed");
    s.ms.ctl(&["unlock", USER]);
    let (r, report) = s.cli.check_json(&[]);
    assert_eq!(
        (r.code, report["category"].as_str()),
        (0, Some("ok")),
        "{r:?}"
    );
}

#[test]
fn sender_suspended_is_send_blocked_and_says_receiving_works() {
    let s = setup("suspended");
    s.ms.ctl(&["suspend-sender", USER]);
    let (r, report) = s.cli.check_json(&[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(report["category"], "send_blocked");
    let summary = report["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("Sending is blocked by the provider; receiving still works."),
        "{summary}"
    );
    let f = &report["findings"][0];
    assert_eq!(f["stage"], "send");
    let evidence = f["evidence"].as_str().unwrap();
    assert!(evidence.starts_with("554 5.7.1"), "{evidence}");
    assert!(evidence.contains("suspended"), "{evidence}");
    assert_eq!(stage(&report, "auth", "imap").unwrap()["ok"], true);
    // In Japanese too.
    let r = s.cli.run(&["--lang", "ja", "check", "--json"]);
    let ja = &r.json_lines()[0];
    assert!(
        ja["summary"]
            .as_str()
            .unwrap()
            .contains("送信を止めています"),
        "{ja}"
    );
    assert!(
        ja["summary"]
            .as_str()
            .unwrap()
            .contains("受信はできています"),
        "{ja}"
    );
}

#[test]
fn canary_in_junk_is_a_warning_and_is_cleaned_up() {
    let s = setup("junk");
    s.ms.ctl(&["junk", USER, "on"]);
    s.ms.deliver(USER, "Junk", PLAIN_MESSAGE);
    let junk_before = s.ms.messages(USER, "Junk");
    let (r, report) = s.cli.check_json(&[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(report["status"], "warning");
    assert_eq!(report["category"], "junk");
    assert_eq!(report["canary"]["folder"], "Junk");
    assert_eq!(report["canary"]["cleaned"], true);
    assert_eq!(s.ms.messages(USER, "Junk"), junk_before);
}

#[test]
fn japanese_junk_folder_name_is_decoded() {
    let s = setup_with(
        MailServer::start_with(&[("MS_JUNK_NAME", "迷惑メール")]),
        "junkja",
        &[],
    );
    s.ms.ctl(&["junk", USER, "on"]);
    let (r, report) = s.cli.check_json(&[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(report["category"], "junk");
    assert_eq!(report["canary"]["folder"], "迷惑メール");
    assert_eq!(report["canary"]["cleaned"], true);
}

#[test]
fn stopped_server_is_connect_failed() {
    let s = setup("stopped");
    s.ms.ctl(&["stop"]);
    let (r, report) = s.cli.check_json(&[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(report["category"], "connect_failed");
    assert_eq!(report["findings"][0]["stage"], "connect");
}

#[test]
fn hung_server_ends_as_timeout_well_within_the_bound() {
    let s = setup("hung");
    s.ms.ctl(&["pause"]);
    let (r, report) = s.cli.check_json(&["--timeout", "60"]);
    s.ms.ctl(&["resume"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(report["category"], "timeout");
    // The TLS stage's own limit (15 s) ends it, long before the 60 s bound.
    assert!(r.elapsed < Duration::from_secs(40), "took {:?}", r.elapsed);
}

#[test]
fn untrusted_certificate_is_refused() {
    let s = setup("untrusted");
    // Without the test CA, the harness certificate is not trusted.
    let cli = Cli::new(BIN).env("OFFICE_PW", &s.password);
    let imap = format!("localhost:{}", s.ms.port("MS_IMAPS_PORT"));
    let smtp = format!("localhost:{}", s.ms.port("MS_SMTP_PORT"));
    let r = cli.run(&[
        "mailbox",
        "add",
        "office",
        "--address",
        USER,
        "--imap",
        &imap,
        "--smtp",
        &smtp,
        "--password-env",
        "OFFICE_PW",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let (r, report) = cli.check_json(&[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(report["category"], "tls_untrusted");
    assert_eq!(report["findings"][0]["stage"], "tls");
    // With the CA file but a certificate from another CA: refused too.
    s.ms.ctl(&["cert", "untrusted"]);
    let (r, report) = s.cli.check_json(&[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(report["category"], "tls_untrusted");
    s.ms.ctl(&["cert", "good"]);
    let (r, _) = s.cli.check_json(&[]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn expired_certificate_is_tls_expired() {
    let s = setup("expired");
    s.ms.ctl(&["cert", "expired"]);
    let (r, report) = s.cli.check_json(&[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(report["category"], "tls_expired");
}

#[test]
fn every_bad_certificate_is_refused_on_both_sides_and_nothing_is_sent() {
    // IMAP over TLS (993) and submission with STARTTLS (587): both sides see the certificate.
    let s = setup("badcerts");
    for (variant, category) in [
        ("selfsigned", "tls_untrusted"),
        ("untrusted", "tls_untrusted"),
        ("otherca", "tls_untrusted"),
        ("wronghost", "tls_untrusted"),
        ("expired", "tls_expired"),
    ] {
        s.ms.ctl(&["cert", variant]);
        let (r, report) = s.cli.check_json(&[]);
        assert_eq!(r.code, 2, "{variant}: {r:?}");
        assert_eq!(report["category"], category, "{variant}: {report}");
        for protocol in ["imap", "smtp"] {
            let tls = stage(&report, "tls", protocol).expect("a tls stage");
            assert_eq!(
                tls["ok"], false,
                "{variant} accepted over {protocol}: {tls}"
            );
            assert!(
                stage(&report, "auth", protocol).is_none(),
                "{variant}: the password was sent over {protocol}"
            );
        }
        assert!(stage(&report, "send", "smtp").is_none(), "{variant}: sent");
        println!(
            "certificate {variant}: {category}; {}",
            report["findings"][0]["evidence"]
        );
    }
    s.ms.ctl(&["cert", "good"]);
    let (r, _) = s.cli.check_json(&[]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn implicit_tls_submission_and_starttls_imap_work() {
    let s = setup("ports");
    let cli = Cli::new(BIN).env("OFFICE_PW", &s.password);
    let imap = format!("localhost:{}", s.ms.port("MS_IMAP_PORT"));
    let smtp = format!("localhost:{}", s.ms.port("MS_SMTPS_PORT"));
    let ca = s.ms.ca_file();
    let r = cli.run(&[
        "mailbox",
        "add",
        "office",
        "--address",
        USER,
        "--imap",
        &imap,
        "--imap-security",
        "starttls",
        "--smtp",
        &smtp,
        "--smtp-security",
        "tls",
        "--ca-file",
        ca.to_str().unwrap(),
        "--password-env",
        "OFFICE_PW",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let (r, report) = cli.check_json(&[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        stage(&report, "tls", "imap").unwrap()["detail"]
            .as_str()
            .unwrap()
            .contains("STARTTLS"),
        "{report}"
    );
}

#[test]
fn plaintext_login_needs_the_opt_in() {
    let s = setup("plain");
    let cli = Cli::new(BIN).env("OFFICE_PW", &s.password);
    let imap = format!("localhost:{}", s.ms.port("MS_IMAP_PORT"));
    let smtp = format!("localhost:{}", s.ms.port("MS_SMTP_PORT"));
    let ca = s.ms.ca_file();
    let base = [
        "mailbox",
        "add",
        "office",
        "--address",
        USER,
        "--imap",
        &imap,
        "--imap-security",
        "plain",
        "--smtp",
        &smtp,
        "--ca-file",
        ca.to_str().unwrap(),
        "--password-env",
        "OFFICE_PW",
    ];
    let r = cli.run(&base);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("allow_plaintext_login"), "{}", r.stderr);
    assert!(
        !cli.config_path().exists()
            || !std::fs::read_to_string(cli.config_path())
                .unwrap()
                .contains("office")
    );
    let mut with = base.to_vec();
    with.push("--allow-plaintext-login");
    let r = cli.run(&with);
    assert_eq!(r.code, 0, "{r:?}");
    let (r, report) = cli.check_json(&[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        stage(&report, "tls", "imap").is_none(),
        "no TLS on a plain connection"
    );
}

#[test]
fn canary_never_delivered_is_lost() {
    let s = setup("lost");
    s.ms.ctl(&["defer", "on"]);
    let (r, report) = s.cli.check_json(&["--timeout", "4"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(report["category"], "lost");
    assert_eq!(report["findings"][0]["stage"], "receive");
    assert!(
        r.elapsed < Duration::from_secs(8),
        "bounded by --timeout: {:?}",
        r.elapsed
    );
    s.ms.ctl(&["defer", "off"]);
}

#[test]
fn protocol_error_when_the_port_speaks_something_else() {
    let s = setup("proto");
    let cli = Cli::new(BIN).env("OFFICE_PW", &s.password);
    // IMAP pointed at an SMTP port.
    let imap = format!("localhost:{}", s.ms.port("MS_MX_PORT"));
    let smtp = format!("localhost:{}", s.ms.port("MS_SMTP_PORT"));
    let ca = s.ms.ca_file();
    let r = cli.run(&[
        "mailbox",
        "add",
        "office",
        "--address",
        USER,
        "--imap",
        &imap,
        "--imap-security",
        "plain",
        "--allow-plaintext-login",
        "--smtp",
        &smtp,
        "--ca-file",
        ca.to_str().unwrap(),
        "--password-env",
        "OFFICE_PW",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let (r, report) = cli.check_json(&["--timeout", "20"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(report["category"], "protocol_error", "{report}");
    let evidence = report["findings"][0]["evidence"].as_str().unwrap();
    assert!(
        evidence.contains("220 mail.example.test ESMTP"),
        "{evidence}"
    );
}

#[test]
fn dns_failure_is_dns_failed() {
    // Resolve through a loopback resolver nobody answers on, in a private mount namespace,
    // so no query leaves the machine.
    let s = setup("dns");
    let cli = Cli::new(BIN).env("OFFICE_PW", &s.password);
    cli.add_unresolvable_mailbox("office", USER);
    let out = cli
        .no_name_service()
        .arg("--config")
        .arg(cli.config_path())
        .arg("--data-dir")
        .arg(cli.data_dir())
        .args(["check", "--json", "--timeout", "20"])
        .env("OFFICE_PW", &s.password)
        .output()
        .expect("unshare (util-linux)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(report["category"], "dns_failed", "{report}");
    assert_eq!(report["findings"][0]["stage"], "dns");
}

#[test]
fn missing_password_source_is_config_error_exit_3() {
    let s = setup("nopw");
    let cli = Cli::new(BIN); // OFFICE_PW not set
    std::fs::create_dir_all(cli.config_path().parent().unwrap()).unwrap();
    std::fs::copy(s.cli.config_path(), cli.config_path()).unwrap();
    let (r, report) = cli.check_json(&[]);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(report["status"], "unknown");
    assert_eq!(report["category"], "config_error");
    assert!(
        report["findings"][0]["evidence"]
            .as_str()
            .unwrap()
            .contains("OFFICE_PW")
    );
}

#[test]
fn history_keeps_every_check_with_stage_timings() {
    let s = setup("history");
    let (r1, _) = s.cli.check_json(&[]);
    s.ms.ctl(&["suspend-sender", USER]);
    let (r2, _) = s.cli.check_json(&[]);
    assert_eq!((r1.code, r2.code), (0, 2));

    let h = s.cli.run(&["history", "office", "--json"]);
    assert_eq!(h.code, 0, "{h:?}");
    let rows = h.json_lines();
    assert_eq!(rows.len(), 2, "{h:?}");
    assert_eq!(rows[0]["category"], "ok");
    assert_eq!(rows[1]["category"], "send_blocked");
    assert!(rows[0]["stages"].as_array().unwrap().len() >= 12);

    let text = s.cli.run(&["history"]);
    assert_eq!(text.code, 0);
    assert!(text.stdout.contains("smtp.send="), "{}", text.stdout);
    assert!(text.stdout.contains("send_blocked"), "{}", text.stdout);

    let csv = s.cli.run(&["history", "--csv", "--since", "7d"]);
    let mut lines = csv.stdout.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("started_at,mailbox,status,category,latency_ms")
    );
    assert_eq!(lines.count(), 2);

    let bad = s.cli.run(&["history", "--since", "yesterday"]);
    assert_eq!(bad.code, 3);
    assert_no_leak(&s, &[&r1, &r2, &h, &text, &csv]);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let db = s.cli.data_dir().join("history.sqlite3");
        let mode = std::fs::metadata(db).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn password_command_is_run_at_each_check() {
    let s = setup("cmd");
    let cli = Cli::new(BIN).env("SECRET_FILE_PW", &s.password);
    let imap = format!("localhost:{}", s.ms.port("MS_IMAPS_PORT"));
    let smtp = format!("localhost:{}", s.ms.port("MS_SMTP_PORT"));
    let ca = s.ms.ca_file();
    let r = cli.run(&[
        "mailbox",
        "add",
        "office",
        "--address",
        USER,
        "--imap",
        &imap,
        "--smtp",
        &smtp,
        "--ca-file",
        ca.to_str().unwrap(),
        "--password-command",
        "printf '%s\\n' \"$SECRET_FILE_PW\"",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let (r, report) = cli.check_json(&[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(report["category"], "ok");
}

#[test]
fn keyring_stores_the_password_and_remove_deletes_it() {
    let s = setup("keyring");
    let ss = SecretService::start();
    let cli = Cli::new(BIN).env("DBUS_SESSION_BUS_ADDRESS", ss.address());
    let imap = format!("localhost:{}", s.ms.port("MS_IMAPS_PORT"));
    let smtp = format!("localhost:{}", s.ms.port("MS_SMTP_PORT"));
    let ca = s.ms.ca_file();
    let add = cli.run_with_input(
        &[
            "mailbox",
            "add",
            "office",
            "--address",
            USER,
            "--imap",
            &imap,
            "--smtp",
            &smtp,
            "--ca-file",
            ca.to_str().unwrap(),
            "--password-stdin",
        ],
        format!("{}\n", s.password).as_bytes(),
    );
    assert_eq!(add.code, 0, "{add:?}");
    assert_eq!(
        ss.lookup("mailcanary", "mailbox:office").as_deref(),
        Some(s.password.as_str()),
        "the password is in the Secret Service"
    );
    let config = std::fs::read_to_string(cli.config_path()).unwrap();
    assert!(config.contains("password_keyring = true"), "{config}");

    let (r, report) = cli.check_json(&[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(report["category"], "ok");
    // The canary key went to the keyring, not to a file.
    assert!(ss.lookup("mailcanary", "install-key").is_some());
    assert!(!cli.data_dir().join("install.key").exists());

    let list = cli.run(&["mailbox", "list", "--json"]);
    assert_eq!(list.json_lines()[0]["password_source"], "keyring");
    let show = cli.run(&["mailbox", "show", "office"]);
    assert!(
        show.stdout.contains("last check:") && show.stdout.contains("OK"),
        "{show:?}"
    );

    let rm = cli.run(&["mailbox", "remove", "office"]);
    assert_eq!(rm.code, 0, "{rm:?}");
    assert!(rm.stdout.contains("removed from the OS keyring"), "{rm:?}");
    assert_eq!(ss.lookup("mailcanary", "mailbox:office"), None);
    let files = files_containing(cli.root(), s.password.as_bytes());
    assert!(files.is_empty(), "password on disk: {files:?}");
    for r in [&add, &r, &list, &show, &rm] {
        assert!(!r.stdout.contains(&s.password) && !r.stderr.contains(&s.password));
    }
}

#[test]
fn without_a_keyring_password_stdin_is_refused_and_nothing_is_written() {
    let cli = Cli::new(BIN).env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    let r = cli.run_with_input(
        &[
            "mailbox",
            "add",
            "office",
            "--address",
            USER,
            "--imap",
            "imap.example.test",
            "--smtp",
            "smtp.example.test",
            "--password-stdin",
        ],
        b"Some-Secret-9\n",
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("keyring"), "{}", r.stderr);
    assert!(!r.stderr.contains("Some-Secret-9"));
    assert!(!cli.config_path().exists());
}

#[test]
fn missing_starttls_is_an_alarm_not_a_fallback() {
    let s = setup("nostarttls");
    s.ms.ctl(&["starttls", "off"]);
    let (r, report) = s.cli.check_json(&[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(report["category"], "starttls_missing");
    let f = &report["findings"][0];
    assert_eq!(f["stage"], "tls");
    // The password was never offered over the plain connection.
    assert!(stage(&report, "auth", "smtp").is_none(), "{report}");
    assert!(s.ms.messages(USER, "INBOX").is_empty(), "nothing was sent");
    s.ms.ctl(&["starttls", "on"]);
    let (r, _) = s.cli.check_json(&[]);
    assert_eq!(r.code, 0, "{r:?}");
}

/// The provider's suspension notice (ISO-2022-JP subject), as incident 2's office received it.
const JP_NOTICE: &str = "From: =?ISO-2022-JP?B?GyRCJWEhPCVrJTUhPCVTJTkbKEI=?= <support@isp.example.jp>\r\n\
To: office@example.test\r\n\
Subject: =?ISO-2022-JP?B?GyRCIVo9RU1XIVslYSE8JWtBdz8uRGQ7XyROJCpDTiRpJDsbKEI=?=\r\n\
Date: Sun, 22 Nov 2026 09:00:00 +0900\r\n\
Message-ID: <notice-1@isp.example.jp>\r\n\
Authentication-Results: mx.example.test; dkim=pass header.d=isp.example.jp\r\n\
MIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n\r\n\
notice body\r\n";

#[test]
fn sending_suspended_with_the_providers_notice_in_a_japanese_junk_folder() {
    let s = setup_with(
        MailServer::start_with(&[("MS_JUNK_NAME", "迷惑メール")]),
        "notice",
        &[],
    );
    s.ms.ctl(&["suspend-sender", USER]);
    s.ms.deliver(USER, "迷惑メール", JP_NOTICE);
    let (r, report) = s.cli.check_json(&[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(report["category"], "send_blocked");
    assert!(
        report["summary"]
            .as_str()
            .unwrap()
            .contains("receiving still works"),
        "{report}"
    );
    let action = report["action"].as_str().unwrap();
    assert!(
        action.contains(
            "\u{201c}【重要】メール送信停止のお知らせ\u{201d} is in the junk folder (迷惑メール)"
        ),
        "{action}"
    );
    let notices = report["notices"].as_array().unwrap();
    assert_eq!(notices.len(), 1, "{report}");
    assert_eq!(notices[0]["folder"], "迷惑メール");
    assert_eq!(notices[0]["subject"], "【重要】メール送信停止のお知らせ");
    assert_eq!(
        notices[0]["from"],
        "メールサービス <support@isp.example.jp>"
    );
    assert_eq!(notices[0]["date"], "Sun, 22 Nov 2026 09:00:00 +0900");
    assert_eq!(notices[0]["trusted"], true);
    let found = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["category"] == "notice_found")
        .expect("a notice_found finding");
    assert_eq!(found["severity"], "warning");
    assert!(
        found["summary"]
            .as_str()
            .unwrap()
            .contains("staff may never have seen it"),
        "{found}"
    );
    // In Japanese.
    let r = s.cli.run(&["--lang", "ja", "check", "--json"]);
    let ja = &r.json_lines()[0];
    assert!(
        ja["action"].as_str().unwrap().contains(
            "「【重要】メール送信停止のお知らせ」が迷惑メールフォルダ（迷惑メール）に入っています"
        ),
        "{ja}"
    );
    // The notice was only read, never marked read or moved.
    let junk = s.ms.messages(USER, "迷惑メール");
    assert_eq!(junk.len(), 1);
    assert_eq!(junk[0].1, "", "not marked \\Seen");
}

#[test]
fn a_notice_in_inbox_is_found_in_the_open_inbox_and_left_alone() {
    // A healthy round trip leaves INBOX open; the notice scan reads it there (no second
    // EXAMINE) and must still see the newest messages, and touch none of them.
    let s = setup("inboxnotice");
    s.ms.deliver(USER, "INBOX", JP_NOTICE);
    for _ in 0..3 {
        s.ms.deliver(USER, "INBOX", PLAIN_MESSAGE);
    }
    let (r, report) = s.cli.check_json(&[]);
    assert_eq!(report["canary"]["folder"], "INBOX", "{report}");
    assert_eq!(r.code, 1, "a notice is a warning: {r:?}");
    let notices = report["notices"].as_array().unwrap();
    assert_eq!(notices.len(), 1, "{report}");
    assert_eq!(notices[0]["folder"], "INBOX");
    assert_eq!(notices[0]["subject"], "【重要】メール送信停止のお知らせ");
    let inbox = s.ms.messages(USER, "INBOX");
    assert_eq!(inbox.len(), 4, "the canary gone, the rest kept: {inbox:?}");
    assert!(
        inbox.iter().all(|m| m.1.is_empty()),
        "none marked: {inbox:?}"
    );
}

#[test]
fn later_scans_read_what_arrived_since_and_look_again_at_the_notices_found() {
    // The first check reads the newest UIDs; later ones read from where it left off, plus the
    // notices it found. So a notice stays reported under more new mail than a first scan
    // reads, and is no longer reported once someone deletes it.
    use mailcanary_engine::imap::NOTICE_SCAN_LIMIT;
    let s = setup("noticescan");
    s.ms.deliver(USER, "INBOX", JP_NOTICE);
    let (_, first) = s.cli.check_json(&[]);
    assert_eq!(first["notices"].as_array().unwrap().len(), 1, "{first}");
    let inbox = &first["notice_scan"]["folders"][0];
    assert_eq!(inbox["name"], "INBOX", "{first}");
    let uid = inbox["notice_uids"][0].as_u64().unwrap() as u32;
    let mark = inbox["next_uid"].as_u64().unwrap();
    for _ in 0..NOTICE_SCAN_LIMIT + 20 {
        s.ms.deliver(USER, "INBOX", PLAIN_MESSAGE);
    }
    let (r, second) = s.cli.check_json(&[]);
    assert_eq!(r.code, 1, "still a warning: {r:?}");
    let notices = second["notices"].as_array().unwrap();
    assert_eq!(notices.len(), 1, "{second}");
    assert_eq!(notices[0]["subject"], "【重要】メール送信停止のお知らせ");
    let next = second["notice_scan"]["folders"][0]["next_uid"]
        .as_u64()
        .unwrap();
    assert!(
        next > mark + u64::from(NOTICE_SCAN_LIMIT),
        "read up to the newest: {mark} -> {next}"
    );
    s.ms.expunge(USER, "INBOX", uid);
    let (r, third) = s.cli.check_json(&[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(third["notices"].as_array().unwrap().len(), 0, "{third}");
}

#[test]
fn ordinary_mail_is_not_a_notice() {
    let s = setup("nonotice");
    s.ms.deliver(USER, "INBOX", PLAIN_MESSAGE);
    let (r, report) = s.cli.check_json(&[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(report["notices"].as_array().unwrap().len(), 0);
}

/// A server whose user has a 200 KiB quota, with a CLI set up for it.
fn setup_quota(tag: &str) -> Setup {
    let ms = MailServer::start();
    let password = unique_password(tag);
    ms.add_user_with_quota(USER, &password, "200K");
    let s = setup_with(ms, tag, &[]);
    // setup_with set the password again (same value); keep the quota by re-adding it.
    s.ms.add_user_with_quota(USER, &s.password, "200K");
    s
}

#[test]
fn a_quota_well_under_the_limit_serves_the_next_checks_of_the_hour() {
    // Reading the quota can cost the server a recount of the mailbox; a reading under 80 %
    // is reported again, with its time, for an hour, while canaries come through. (From 80 %
    // on it is read every check: the test below fills a mailbox from 90 % between two checks.)
    let s = setup_quota("quotakept");
    let (r, first) = s.cli.check_json(&[]);
    assert_eq!(r.code, 0, "{r:?}");
    let at = first["quota_read_at_ms"].as_u64().expect("read");
    let pct = first["quota"]["percent"].as_f64().unwrap();
    assert!(pct < 80.0, "{pct}");
    assert!(at >= first["started_at_ms"].as_u64().unwrap(), "{first}");
    s.ms.deliver(USER, "INBOX", &MailServer::filler_message(50));
    let (_, second) = s.cli.check_json(&[]);
    assert_eq!(second["quota_read_at_ms"].as_u64(), Some(at), "{second}");
    assert_eq!(second["quota"], first["quota"], "{second}");
    // Filled past the limit within the hour: the canary cannot arrive, and then the quota is
    // read afresh and named as the cause.
    s.ms.deliver(USER, "Archive", &MailServer::filler_message(200));
    let (r, third) = s.cli.check_json(&["--timeout", "5"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(third["category"], "mailbox_full", "{third}");
    assert!(third["quota_read_at_ms"].as_u64().unwrap() > at, "{third}");
}

#[test]
fn quota_nearly_full_is_a_warning_and_full_is_critical() {
    let s = setup_quota("quota");
    s.ms.deliver(USER, "INBOX", &MailServer::filler_message(185));
    let (r, report) = s.cli.check_json(&[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(report["category"], "quota_warning", "{report}");
    let pct = report["quota"]["percent"].as_f64().unwrap();
    assert!((90.0..98.0).contains(&pct), "{pct}");
    assert_eq!(report["quota"]["limit_kb"], 200);
    assert!(
        report["summary"]
            .as_str()
            .unwrap()
            .contains(&format!("{pct:.0} %")),
        "{report}"
    );
    assert_eq!(report["canary"]["cleaned"], true);

    // Filled to the brim: delivery is refused, the canary cannot arrive; the cause comes first.
    let used = report["quota"]["used_kb"].as_u64().unwrap() as usize;
    // Past the limit (Dovecot lets one last message exceed it by its quota_grace, so "full"
    // is only certain beyond 100 %).
    s.ms.deliver(USER, "Archive", &MailServer::filler_message(200 - used + 2));
    let (r, report) = s.cli.check_json(&["--timeout", "5"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(report["category"], "mailbox_full", "{report}");
    assert!(report["quota"]["percent"].as_f64().unwrap() >= 98.0);
    let cats: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["category"].as_str().unwrap())
        .collect();
    assert!(cats.contains(&"lost"), "{cats:?}");
    let r = s
        .cli
        .run(&["--lang", "ja", "check", "--json", "--timeout", "5"]);
    let ja = &r.json_lines()[0];
    assert!(ja["summary"].as_str().unwrap().contains("満杯"), "{ja}");
}

#[test]
fn certificate_expiring_soon_is_a_warning_with_the_date() {
    let s = setup("expiring");
    s.ms.ctl(&["cert", "expiring"]);
    let (r, report) = s.cli.check_json(&[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(report["category"], "tls_expiring", "{report}");
    let tls = report["tls"].as_array().unwrap();
    assert_eq!(tls.len(), 2, "imap and smtp: {report}");
    for t in tls {
        let days = t["days_left"].as_i64().unwrap();
        assert!((3..=5).contains(&days), "{t}");
        assert!(
            t["issuer"]
                .as_str()
                .unwrap()
                .contains("Mail Canary Test CA"),
            "{t}"
        );
    }
    let summary = report["summary"].as_str().unwrap();
    assert!(summary.contains("expires in"), "{summary}");
    // A healthy certificate has years left and raises nothing.
    s.ms.ctl(&["cert", "good"]);
    let (r, report) = s.cli.check_json(&[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(report["tls"][0]["days_left"].as_i64().unwrap() > 3000);
}

#[test]
fn a_changed_certificate_issuer_is_reported_as_interception_until_it_ends() {
    let ms = MailServer::start();
    // A second CA that the office's PC also trusts, as a TLS-inspecting box would install.
    ms.ctl(&["cert", "otherca"]);
    ms.ctl(&["cert", "good"]);
    let both = tempfile_with(&[
        std::fs::read_to_string(ms.ca_file()).unwrap(),
        std::fs::read_to_string(ms.dir().join("tls/other-ca.pem")).unwrap(),
    ]);
    let s = setup_with(ms, "intercept", &["--ca-file", both.to_str().unwrap()]);
    let (r, _) = s.cli.check_json(&[]);
    assert_eq!(r.code, 0, "baseline: {r:?}");
    s.ms.ctl(&["cert", "otherca"]);
    for round in 0..2 {
        let (r, report) = s.cli.check_json(&[]);
        assert_eq!(r.code, 2, "round {round}: {r:?}");
        assert_eq!(report["category"], "tls_intercepted", "{report}");
        let summary = report["summary"].as_str().unwrap();
        assert!(
            summary.contains("Office Security Gateway CA")
                && summary.contains("Mail Canary Test CA"),
            "names both issuers: {summary}"
        );
    }
    s.ms.ctl(&["cert", "good"]);
    let (r, _) = s.cli.check_json(&[]);
    assert_eq!(r.code, 0, "back to the usual issuer: {r:?}");
}

/// A file (kept until the process ends) holding the concatenation of `parts`.
fn tempfile_with(parts: &[String]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mailcanary-ca.{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.pem", parts.len() + parts[0].len()));
    std::fs::write(&path, parts.concat()).unwrap();
    path
}

#[test]
fn attachment_probes_find_the_firewall_that_eats_attachments() {
    let s = setup("firewall");
    // Healthy first: every variant arrives intact and is removed.
    let (r, report) = s.cli.check_json(&["--probe", "attachments"]);
    assert_eq!(r.code, 0, "{r:?}");
    let probes = report["probes"].as_array().unwrap();
    assert_eq!(probes.len(), 7, "{report}");
    for p in probes {
        assert_eq!(p["outcome"], "delivered", "{p}");
        assert_eq!(p["folder"], "INBOX", "{p}");
        assert!(p["latency_ms"].is_u64(), "{p}");
    }
    assert!(
        s.ms.messages(USER, "INBOX").is_empty(),
        "all probes cleaned up"
    );

    // The firewall's "mail inspection" silently drops macro-enabled Office files and encrypted
    // ZIPs (Postfix still answers 250, as in real life).
    s.ms.ctl(&["drop-attachments", "on"]);
    let mut last = Value::Null;
    for round in 1..=2 {
        let (r, report) = s
            .cli
            .check_json(&["--probe", "attachments", "--timeout", "20"]);
        assert_eq!(r.code, 2, "round {round}: {r:?}");
        assert_eq!(report["category"], "attachment_blocked", "{report}");
        assert_eq!(
            report["canary"]["folder"], "INBOX",
            "the plain canary arrives"
        );
        let outcome = |v: &str| {
            report["probes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["variant"] == v)
                .unwrap()["outcome"]
                .as_str()
                .unwrap()
                .to_string()
        };
        for v in ["xlsm", "zip_zipcrypto", "zip_aes"] {
            assert_eq!(outcome(v), "lost", "{v}");
        }
        for v in ["pdf", "docx", "zip_exe", "large"] {
            assert_eq!(outcome(v), "delivered", "{v}");
        }
        let summary = report["summary"].as_str().unwrap();
        assert!(
            summary.starts_with(
                "Messages with macro-enabled Excel files, password-protected ZIP files or \
                 password-protected ZIP files (AES) do not arrive; ordinary messages do."
            ),
            "{summary}"
        );
        last = report;
    }
    // The second time, it is a regularity.
    let summary = last["summary"].as_str().unwrap();
    assert!(
        summary
            .contains("2 of 3 test messages with password-protected ZIP files have failed since"),
        "{summary}"
    );
    // Only the delivered probes were removed; nothing else was touched.
    assert!(s.ms.messages(USER, "INBOX").is_empty());
}

#[test]
fn slow_delivery_is_late_not_lost() {
    let s = setup_with(MailServer::start(), "late", &["--late-after", "1"]);
    s.ms.ctl(&["defer", "on"]);
    let cli_config = s.cli.config_path();
    let data = s.cli.data_dir();
    let password = s.password.clone();
    let checker = std::thread::spawn(move || {
        std::process::Command::new(BIN)
            .arg("--config")
            .arg(cli_config)
            .arg("--data-dir")
            .arg(data)
            .args(["check", "--json", "--timeout", "30"])
            .env("OFFICE_PW", password)
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .output()
            .expect("run mailcanary")
    });
    // The canary waits in the queue; the delay itself is the fault being simulated.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while s.ms.queue_len() < 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the canary never reached the queue"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(1500));
    s.ms.ctl(&["defer", "off"]);
    let out = checker.join().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["category"], "late", "{report}");
    assert!(report["canary"]["latency_ms"].as_u64().unwrap() >= 1500);
    assert_eq!(report["canary"]["cleaned"], true);
    assert!(
        report["summary"]
            .as_str()
            .unwrap()
            .starts_with("Mail is slow"),
        "{report}"
    );
}

#[test]
fn provider_replies_from_real_servers_are_classified_with_evidence() {
    let s = setup("replies");
    // Submission refused with a Gmail-style daily quota reply.
    s.ms.ctl(&[
        "sender-reply",
        USER,
        "550 5.4.5 Daily user sending quota exceeded",
    ]);
    let (r, report) = s.cli.check_json(&[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(report["category"], "send_limited", "{report}");
    let evidence = report["findings"][0]["evidence"].as_str().unwrap();
    assert!(evidence.starts_with("550 5.4.5"), "{evidence}");
    s.ms.ctl(&["sender-reply", USER, "off"]);

    // IMAP login refused until the user signs in with a browser.
    s.ms.ctl(&["login-reply", USER, "web-login"]);
    let (r, report) = s.cli.check_json(&[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(report["category"], "auth_method_required", "{report}");
    let f = &report["findings"][0];
    assert_eq!(f["stage"], "auth");
    assert!(
        f["evidence"]
            .as_str()
            .unwrap()
            .contains("Please log in via your web browser"),
        "{f}"
    );
    let r = s.cli.run(&["--lang", "ja", "check", "--json"]);
    assert!(
        r.json_lines()[0]["summary"]
            .as_str()
            .unwrap()
            .contains("通常のパスワードでのログインを受け付けなくなりました"),
        "{r:?}"
    );

    // A temporary failure on the provider's side.
    s.ms.ctl(&["login-reply", USER, "unavailable"]);
    let (r, report) = s.cli.check_json(&[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(report["category"], "server_error", "{report}");
    assert!(
        report["findings"][0]["evidence"]
            .as_str()
            .unwrap()
            .starts_with("NO [UNAVAILABLE]"),
        "{report}"
    );
    s.ms.ctl(&["login-reply", USER, "off"]);
    let (r, _) = s.cli.check_json(&[]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn an_attachment_rewritten_in_transit_is_attachment_altered() {
    let s = setup("altered");
    s.ms.ctl(&["alter-attachments", "on"]);
    let (r, report) = s
        .cli
        .check_json(&["--probe", "attachments", "--timeout", "30"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(report["category"], "attachment_altered", "{report}");
    let pdf = report["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["variant"] == "pdf")
        .unwrap();
    assert_eq!(pdf["outcome"], "altered", "{pdf}");
    assert!(
        report["summary"]
            .as_str()
            .unwrap()
            .starts_with("Messages with PDF files arrive with the attachment removed or changed"),
        "{report}"
    );
    // The altered canary is still ours (its header verifies), so it is removed all the same.
    assert!(s.ms.messages(USER, "INBOX").is_empty());
}
