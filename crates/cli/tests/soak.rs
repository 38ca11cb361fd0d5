//! A soak run: `mailcanary run` over 20 mailboxes at a short interval, through proxies that
//! delay every piece of the servers' answers at random, while faults are injected one mailbox
//! at a time (the provider suspends its sending). Every fault must raise an alert for its
//! mailbox and recover; nothing else may raise one.
//!
//! The size is `SOAK_CHECKS` checks (default 200, about a minute, in the test run);
//! `SOAK_CHECKS=2000 cargo test -p mailcanary-cli --test soak -- --nocapture` is the recorded
//! run of docs/RELIABILITY.md.

use std::time::{Duration, Instant};

use mailcanary_tests::{Cli, Fault, FaultProxy, MailServer, is_check_line, lines, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_mailcanary");
const MAILBOXES: usize = 20;

fn user(n: usize) -> String {
    format!("soak{n:02}@example.test")
}

#[test]
fn a_soak_with_random_delays_raises_every_injected_fault_and_nothing_else() {
    let target: usize = std::env::var("SOAK_CHECKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let ms = MailServer::start();
    let password = format!("soak-pw-{}", std::process::id());
    let imaps = FaultProxy::start(ms.port("MS_IMAPS_PORT"));
    let smtp = FaultProxy::start(ms.port("MS_SMTP_PORT"));
    imaps.set(Fault::Delay(Duration::from_millis(60)));
    smtp.set(Fault::Delay(Duration::from_millis(60)));
    let cli = Cli::new(BIN).env("OFFICE_PW", &password);
    for n in 0..MAILBOXES {
        ms.add_user(&user(n), &password);
        let imap = format!("localhost:{}", imaps.port());
        let submission = format!("localhost:{}", smtp.port());
        let r = cli.run(&[
            "mailbox",
            "add",
            &format!("mb{n:02}"),
            "--address",
            &user(n),
            "--imap",
            &imap,
            "--smtp",
            &submission,
            "--smtp-security",
            "starttls",
            "--ca-file",
            ms.ca_file().to_str().unwrap(),
            "--password-env",
            "OFFICE_PW",
        ]);
        assert_eq!(r.code, 0, "{r:?}");
    }
    let hooked = cli.root().join("hook.out");
    let hook = format!(
        "printf '%s %s %s\\n' \"$MAILCANARY_EVENT\" \"$MAILCANARY_MAILBOX\" \"$MAILCANARY_CATEGORY\" >> '{}'",
        hooked.display()
    );
    let out = cli.root().join("soak.out");
    let started = Instant::now();
    let mut run = cli.spawn(
        &[
            "run",
            "--interval",
            "4",
            "--timeout",
            "30",
            "--concurrency",
            "8",
            "--attachments-every",
            "off",
            "--hook",
            &hook,
        ],
        &[],
        &out,
    );
    let checks = |l: &[String]| l.iter().filter(|l| is_check_line(l)).count();
    // A fault every so many checks, each on the next mailbox.
    let faults_wanted = (target / 200).max(2);
    let mut injected = Vec::new();
    let mut detection = Vec::new();
    for f in 0..faults_wanted {
        let due = target * (f + 1) / (faults_wanted + 1);
        wait_for(
            &out,
            "checks before the next fault",
            Duration::from_secs(3600),
            |l| checks(l) >= due,
        );
        let n = (f * 7) % MAILBOXES;
        let name = format!("mb{n:02}");
        ms.ctl(&["suspend-sender", &user(n)]);
        let at = Instant::now();
        wait_for(
            &hooked,
            "the alert for the fault",
            Duration::from_secs(120),
            |l| {
                l.iter()
                    .any(|l| l == &format!("raised {name} send_blocked"))
            },
        );
        detection.push(at.elapsed());
        ms.ctl(&["unsuspend-sender", &user(n)]);
        wait_for(&hooked, "the recovery", Duration::from_secs(120), |l| {
            l.iter()
                .any(|l| l.starts_with(&format!("recovered {name} ")))
        });
        injected.push(name);
    }
    wait_for(&out, "all the checks", Duration::from_secs(3600), |l| {
        checks(l) >= target
    });
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &run.id().to_string()])
        .status();
    let status = run.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let took = started.elapsed();

    let l = lines(&out);
    let all: Vec<&String> = l.iter().filter(|l| is_check_line(l)).collect();
    let ok = all.iter().filter(|l| l.contains(" OK ok ")).count();
    let alerts = lines(&hooked);
    // Every alert raised is one of the injected faults', once each.
    let raised: Vec<&String> = alerts.iter().filter(|a| a.starts_with("raised ")).collect();
    let false_alarms: Vec<&&String> = raised
        .iter()
        .filter(|a| {
            !injected
                .iter()
                .any(|m| **a == &format!("raised {m} send_blocked"))
        })
        .collect();
    let missed: Vec<&String> = injected
        .iter()
        .filter(|m| {
            !raised
                .iter()
                .any(|a| *a == &format!("raised {m} send_blocked"))
        })
        .collect();
    let slowest = detection.iter().max().copied().unwrap_or_default();
    println!(
        "soak: {} checks over {MAILBOXES} mailboxes in {:.0} s ({} ok), answers delayed at \
         random by up to 60 ms per piece; {} faults injected, {} raised, {} recovered; \
         {} false alarms, {} missed; slowest detection {:.1} s",
        all.len(),
        took.as_secs_f64(),
        ok,
        injected.len(),
        raised.len(),
        alerts
            .iter()
            .filter(|a| a.starts_with("recovered "))
            .count(),
        false_alarms.len(),
        missed.len(),
        slowest.as_secs_f64()
    );
    assert!(false_alarms.is_empty(), "false alarms: {false_alarms:?}");
    assert!(missed.is_empty(), "missed: {missed:?}");
    assert_eq!(raised.len(), injected.len(), "{alerts:?}");
}
