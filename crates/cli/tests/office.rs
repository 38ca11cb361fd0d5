//! The office's side of monitoring against real parts: drills through a real notification
//! server and a webhook receiver, acknowledging and snoozing a running monitor, reminders, and
//! the report's figures from a real incident.

use std::io::Write;
use std::process::Child;
use std::time::{Duration, Instant};

use mailcanary_tests::{
    Cli, HttpReceiver, MailServer, NotificationServer, is_check_line, lines, render_html_to_text,
    wait_for,
};

const BIN: &str = env!("CARGO_BIN_EXE_mailcanary");
const USER: &str = "office@example.test";

const RUNBOOK: &str = "
[runbook]
contact = \"Sato 090-1234-5678\"
provider_support = \"0120-000-000\"
webmail = \"https://webmail.example.test/\"
";

fn setup(ms: &MailServer, password: &str) -> Cli {
    ms.add_user(USER, password);
    let cli = Cli::new(BIN).env("OFFICE_PW", password);
    cli.add_harness_mailbox(ms, USER, &[]);
    cli
}

fn stop(child: &mut Child) -> std::process::ExitStatus {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().unwrap()
}

/// Waits for the child to end by itself within `limit`.
fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(Instant::now() < deadline, "did not end within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn report_json(cli: &Cli) -> serde_json::Value {
    let r = cli.run(&["report", "office", "--json"]);
    assert_eq!(r.code, 0, "{r:?}");
    serde_json::from_str(&r.stdout).unwrap()
}

#[test]
fn drill_goes_through_every_channel_and_is_kept_apart() {
    let ms = MailServer::start();
    let cli = setup(&ms, "drill-pw");
    cli.append_config(&format!(
        "{RUNBOOK}\n[alerts]\nnotify = true\nwebhook_env = \"HOOK_URL\"\n"
    ));
    let notifications = NotificationServer::start();
    let receiver = HttpReceiver::start();
    let url = format!("http://127.0.0.1:{}/hook", receiver.port());
    let out = cli.root().join("drill.out");
    let mut child = cli.spawn(
        &["drill", "office", "--wait", "60s"],
        &[
            ("DBUS_SESSION_BUS_ADDRESS", notifications.address()),
            ("HOOK_URL", &url),
        ],
        &out,
    );
    wait_for(&out, "the prompt", Duration::from_secs(20), |l| {
        l.iter().any(|l| l.starts_with("Press Enter"))
    });
    let text = lines(&out).join("\n");
    assert!(
        text.contains("Alert sent to: desktop notification, webhook."),
        "{text}"
    );
    assert!(text.contains("  Provider support: 0120-000-000"), "{text}");
    // The desktop got a drill, labelled, with the runbook.
    let shown = notifications.received();
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert_eq!(shown[0]["summary"], "Mail Canary DRILL: office");
    let body = shown[0]["body"].as_str().unwrap();
    assert!(body.starts_with("DRILL: this is a rehearsal"), "{body}");
    assert!(body.contains("Who to call: Sato 090-1234-5678"), "{body}");
    // So did the webhook, marked as a drill.
    let posts = receiver.received();
    assert_eq!(posts.len(), 1, "{posts:?}");
    let j: serde_json::Value = serde_json::from_str(&posts[0].1).unwrap();
    assert_eq!(j["drill"], true);
    assert_eq!(j["severity"], "critical");
    assert_eq!(j["runbook"][1]["value"], "0120-000-000");

    // Someone presses Enter.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"\n").unwrap();
    let status = wait_exit(&mut child, Duration::from_secs(20));
    assert!(status.success(), "{status:?}");
    assert!(
        lines(&out)
            .iter()
            .any(|l| l.starts_with("Drill acknowledged after")),
        "{:?}",
        lines(&out)
    );
    let shown = notifications.received();
    assert_eq!(
        shown.len(),
        2,
        "the end of the drill is told too: {shown:?}"
    );
    assert!(
        shown[1]["body"].as_str().unwrap().starts_with("DRILL over"),
        "{shown:?}"
    );
    let over: serde_json::Value = serde_json::from_str(&receiver.received()[1].1).unwrap();
    assert_eq!(
        (over["event"].as_str(), over["drill"].as_bool()),
        (Some("recovered"), Some(true))
    );

    // The history has the drill, acknowledged, and no incident.
    let rep = report_json(&cli);
    let mb = &rep["mailboxes"][0];
    assert_eq!(mb["incidents"].as_array().unwrap().len(), 0, "{rep}");
    let drills = mb["drills"].as_array().unwrap();
    assert_eq!(drills.len(), 1, "{rep}");
    let (started, acked, ended) = (
        drills[0]["started_at_ms"].as_u64().unwrap(),
        drills[0]["acknowledged_at_ms"].as_u64().unwrap(),
        drills[0]["ended_at_ms"].as_u64().unwrap(),
    );
    assert!(started <= acked && acked <= ended, "{drills:?}");
    assert_eq!(mb["checks"], 0, "a drill is not a check");
}

#[test]
fn drill_acknowledged_from_another_terminal_or_not_at_all() {
    let ms = MailServer::start();
    let cli = setup(&ms, "drill-pw-2");
    let out = cli.root().join("drill.out");
    // No channel configured: the drill still runs, and says so.
    let mut child = cli.spawn(&["drill", "office", "--wait", "60s"], &[], &out);
    wait_for(&out, "the prompt", Duration::from_secs(20), |l| {
        l.iter().any(|l| l.starts_with("Press Enter"))
    });
    let text = lines(&out).join("\n");
    assert!(text.contains("Alert sent to: no channel"), "{text}");
    assert!(text.contains("No runbook yet"), "{text}");
    let r = cli.run(&["ack", "office"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("Drill for \"office\" acknowledged"),
        "{r:?}"
    );
    assert!(wait_exit(&mut child, Duration::from_secs(20)).success());

    // Nobody answers: it ends at --wait, unacknowledged, with exit code 1.
    let r = cli.run(&["drill", "office", "--wait", "1s"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("Nobody acknowledged"), "{r:?}");
    let rep = report_json(&cli);
    let drills = rep["mailboxes"][0]["drills"].as_array().unwrap().clone();
    assert_eq!(drills.len(), 2, "{rep}");
    assert!(drills[0]["acknowledged_at_ms"].is_u64());
    assert!(drills[1]["acknowledged_at_ms"].is_null());
    assert!(drills[1]["ended_at_ms"].is_u64());

    let text = cli.run(&["report", "office"]).stdout;
    assert!(text.contains("acknowledged after"), "{text}");
    assert!(text.contains("not acknowledged"), "{text}");
    // Bad input is refused with the flag named.
    let r = cli.run(&["drill", "office", "--wait", "soon"]);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("--wait \"soon\""), "{r:?}");
    let r = cli.run(&["snooze", "office", "--for", "30d"]);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("at most a week"), "{r:?}");
    // With no drill and no open problem there is nothing to acknowledge, and it says so.
    let r = cli.run(&["ack", "office"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("No problem is open"), "{r:?}");
    let r = cli.run(&["ack", "nobody"]);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("no mailbox \"nobody\""), "{r:?}");
}

fn events(path: &std::path::Path, name: &str) -> usize {
    lines(path).iter().filter(|l| l.starts_with(name)).count()
}

fn checks(path: &std::path::Path) -> usize {
    lines(path)
        .iter()
        .filter(|l| is_check_line(l) && l.contains(" office "))
        .count()
}

#[test]
fn acknowledge_snooze_and_report_real_incidents() {
    let ms = MailServer::start();
    let password = "remind-pw";
    let cli = setup(&ms, password);
    cli.append_config(&format!("{RUNBOOK}\n[alerts]\nrenotify_after = \"3s\"\n"));
    let out = cli.root().join("run.out");
    let hooked = cli.root().join("hook.out");
    let hook = format!(
        "printf '%s %s\\n' \"$MAILCANARY_EVENT\" \"$(printf '%s' \"$MAILCANARY_RUNBOOK\" | head -n1)\" >> '{}'",
        hooked.display()
    );
    let mut child = cli.spawn(
        &["run", "--interval", "1", "--timeout", "10", "--hook", &hook],
        &[],
        &out,
    );
    wait_for(&out, "a healthy check", Duration::from_secs(30), |l| {
        l.iter().any(|l| l.contains(" office OK ok "))
    });
    ms.ctl(&["suspend-sender", USER]);
    wait_for(
        &hooked,
        "the alert and a reminder",
        Duration::from_secs(30),
        |l| l.iter().any(|l| l.starts_with("reminder")),
    );
    // Critical alerts carry the runbook.
    assert_eq!(
        lines(&hooked)[0],
        "raised Who to call: Sato 090-1234-5678",
        "{:?}",
        lines(&hooked)
    );
    let r = cli.run(&["ack", "office"]);
    assert_eq!(r.code, 0, "{r:?}");
    // The monitor applies it before its next check starts; from then on, no reminder.
    let seen = checks(&out);
    wait_for(&out, "the next check", Duration::from_secs(30), |_| {
        checks(&out) > seen
    });
    let reminders = events(&hooked, "reminder");
    let (seen, applied) = (checks(&out), Instant::now());
    // Two more checks, and well past the 3 s reminder interval.
    wait_for(&out, "more checks", Duration::from_secs(60), |_| {
        checks(&out) >= seen + 2 && applied.elapsed() > Duration::from_secs(7)
    });
    assert_eq!(
        events(&hooked, "reminder"),
        reminders,
        "{:?}",
        lines(&hooked)
    );

    // Recovery, then a snooze: the next incident is recorded but not told.
    ms.ctl(&["unsuspend-sender", USER]);
    wait_for(&hooked, "the recovery", Duration::from_secs(30), |l| {
        l.iter().any(|l| l.starts_with("recovered"))
    });
    let r = cli.run(&["snooze", "office", "--for", "1h"]);
    assert_eq!(r.code, 0, "{r:?}");
    let seen = checks(&out);
    wait_for(&out, "the next check", Duration::from_secs(30), |_| {
        checks(&out) > seen
    });
    let told = lines(&hooked).len();
    let failed = |l: &[String]| {
        l.iter()
            .filter(|l| l.contains(" office CRITICAL send_blocked"))
            .count()
    };
    let before = failed(&lines(&out));
    ms.ctl(&["suspend-sender", USER]);
    wait_for(&out, "three failed checks", Duration::from_secs(60), |l| {
        failed(l) >= before + 3
    });
    assert_eq!(lines(&hooked).len(), told, "{:?}", lines(&hooked));
    assert!(stop(&mut child).success());

    // The report: two incidents (the second still going on), the first acknowledged.
    let rep = report_json(&cli);
    let incidents = rep["mailboxes"][0]["incidents"].as_array().unwrap().clone();
    assert_eq!(incidents.len(), 2, "{rep}");
    assert_eq!(incidents[0]["category"], "send_blocked");
    assert!(incidents[0]["end_ms"].is_u64());
    assert!(incidents[0]["acknowledged_at_ms"].is_u64());
    assert!(incidents[1]["end_ms"].is_null());
    let uptime = rep["mailboxes"][0]["uptime_pct"].as_f64().unwrap();
    assert!(uptime > 0.0 && uptime < 100.0, "{uptime}");
    let text = cli.run(&["report", "office"]).stdout;
    assert!(text.contains("ongoing"), "{text}");

    // The HTML report, as a browser renders it: the incidents, the exact server reply of a
    // failed check with what was tried, and the runbook.
    let html = cli.root().join("report.html");
    let r = cli.run(&["report", "office", "--html", html.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg"), "charts are inline SVG");
    let shown = render_html_to_text(&html);
    let flat = shown.split_whitespace().collect::<Vec<_>>().join(" ");
    for want in [
        "office@example.test",
        "send_blocked",
        "Sato 090-1234-5678",
        "ongoing",
        "Sending is blocked by the provider",
    ] {
        assert!(flat.contains(want), "{want:?} not shown in:\n{shown}");
    }
    let reply = latest_failed_reply(&cli);
    assert!(
        flat.contains(&reply.split_whitespace().collect::<Vec<_>>().join(" ")),
        "the exact reply {reply:?} is not shown in:\n{shown}"
    );
}

/// The server's reply recorded for the latest failed check.
fn latest_failed_reply(cli: &Cli) -> String {
    let h = cli.run(&["history", "office", "--json"]);
    let failed = h
        .json_lines()
        .into_iter()
        .rev()
        .find(|r| r["status"] == "critical")
        .expect("a failed check");
    failed["findings"][0]["evidence"]
        .as_str()
        .unwrap()
        .to_string()
}
