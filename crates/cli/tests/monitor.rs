//! `mailcanary run` against the real harness: one alert per incident, one recovery, a lock per
//! data directory, a clean stop on SIGTERM.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mailcanary_tests::{
    Cli, HttpReceiver, MailServer, NotificationServer, free_port, is_check_line, lines, wait_for,
};

const BIN: &str = env!("CARGO_BIN_EXE_mailcanary");
const USER: &str = "office@example.test";

fn setup(ms: &MailServer, password: &str) -> Cli {
    Cli::with_harness_user(BIN, ms, USER, password)
}

fn spawn_run(cli: &Cli, password: &str, args: &[&str], out: &Path) -> Child {
    spawn_run_env(cli, password, args, out, &[])
}

fn spawn_run_env(
    cli: &Cli,
    password: &str,
    args: &[&str],
    out: &Path,
    envs: &[(&str, &str)],
) -> Child {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    // The attachment probes (10 MB among them) only where a test asks for them.
    if !args.contains(&"--attachments-every") {
        all.extend_from_slice(&["--attachments-every", "off"]);
    }
    let mut env = vec![("OFFICE_PW", password)];
    env.extend_from_slice(envs);
    cli.spawn(&all, &env, out)
}

fn ok_checks(l: &[String]) -> usize {
    l.iter().filter(|l| l.contains(" office OK ok ")).count()
}

fn stop(child: &mut Child) -> std::process::ExitStatus {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().unwrap()
}

#[test]
fn one_alert_per_incident_and_one_recovery() {
    let ms = MailServer::start();
    let password = format!("run-pw-{}", std::process::id());
    let cli = setup(&ms, &password);
    let out = cli.root().join("run.out");
    let hooked = cli.root().join("hook.out");
    let hook = format!(
        "printf '%s %s %s %s\\n' \"$MAILCANARY_EVENT\" \"$MAILCANARY_MAILBOX\" \"$MAILCANARY_CATEGORY\" \"$MAILCANARY_SEVERITY\" >> '{}'",
        hooked.display()
    );
    // A real notification server on its own session bus receives the desktop notifications.
    let notifications = NotificationServer::start();
    // And a webhook receiver on loopback, Slack-shaped; its URL (with a token) goes by env.
    let receiver = HttpReceiver::start();
    let hook_url = format!("http://127.0.0.1:{}/services/T0/B0/tok3n", receiver.port());
    let mut child = spawn_run_env(
        &cli,
        &password,
        &[
            "--interval",
            "2",
            "--timeout",
            "10",
            "--notify",
            "--hook",
            &hook,
            "--webhook-env",
            "HOOK_URL",
            "--webhook-format",
            "slack",
        ],
        &out,
        &[
            ("DBUS_SESSION_BUS_ADDRESS", notifications.address()),
            ("HOOK_URL", &hook_url),
        ],
    );
    wait_for(&out, "two healthy checks", Duration::from_secs(30), |l| {
        ok_checks(l) >= 2
    });
    assert!(lines(&hooked).is_empty(), "no alert while healthy");

    // The provider suspends sending: a certain cause, alerted at the next check.
    ms.ctl(&["suspend-sender", USER]);
    let injected = Instant::now();
    wait_for(&hooked, "the alert", Duration::from_secs(30), |l| {
        !l.is_empty()
    });
    assert!(
        injected.elapsed() < Duration::from_secs(2 + 1 + 10),
        "within one interval (2 s, jittered) plus a check: {:?}",
        injected.elapsed()
    );
    // More failing checks of the same incident raise nothing new.
    let before = ok_checks(&lines(&out));
    wait_for(
        &out,
        "two more failed checks",
        Duration::from_secs(60),
        |l| {
            l.iter()
                .filter(|l| l.contains(" office CRITICAL send_blocked"))
                .count()
                >= 3
        },
    );
    assert_eq!(ok_checks(&lines(&out)), before);
    assert_eq!(lines(&hooked), vec!["raised office send_blocked critical"]);

    ms.ctl(&["unsuspend-sender", USER]);
    wait_for(&hooked, "the recovery", Duration::from_secs(60), |l| {
        l.len() >= 2
    });
    let after = ok_checks(&lines(&out));
    wait_for(
        &out,
        "two more healthy checks",
        Duration::from_secs(60),
        |l| ok_checks(l) >= after + 2,
    );
    assert_eq!(
        lines(&hooked),
        vec![
            "raised office send_blocked critical",
            "recovered office send_blocked ok"
        ]
    );
    let alerts: Vec<String> = lines(&out)
        .into_iter()
        .filter(|l| l.starts_with("ALERT "))
        .collect();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert!(
        alerts[0].contains("Sending is blocked by the provider"),
        "{alerts:?}"
    );
    assert!(
        alerts[1].starts_with("ALERT recovered office ok send_blocked: Mail works again"),
        "{alerts:?}"
    );

    // The same two alerts reached the desktop, critical then low urgency.
    let shown = notifications.received();
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert_eq!(shown[0]["app"], "Mail Canary");
    assert_eq!(shown[0]["summary"], "Mail Canary: problem with office");
    assert!(
        shown[0]["body"]
            .as_str()
            .unwrap()
            .starts_with("Sending is blocked by the provider"),
        "{shown:?}"
    );
    assert_eq!(shown[0]["urgency"], 2);
    assert_eq!(shown[1]["summary"], "Mail Canary: office works again");
    assert_eq!(shown[1]["urgency"], 0);

    // And the webhook got both, in Slack's shape.
    let posts = receiver.received();
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert_eq!(posts[0].0, "/services/T0/B0/tok3n");
    let first: serde_json::Value = serde_json::from_str(&posts[0].1).unwrap();
    assert!(
        first["text"]
            .as_str()
            .unwrap()
            .starts_with("*Mail Canary: office raised (send_blocked)*\nSending is blocked"),
        "{first}"
    );
    let second: serde_json::Value = serde_json::from_str(&posts[1].1).unwrap();
    assert!(
        second["text"].as_str().unwrap().contains("recovered"),
        "{second}"
    );

    let status = stop(&mut child);
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    // Every check was recorded.
    let h = cli.run(&["history", "office", "--json"]);
    assert!(h.json_lines().len() >= ok_checks(&lines(&out)) + 3);
}

#[test]
fn one_monitor_per_data_directory() {
    let ms = MailServer::start();
    let password = format!("lock-pw-{}", std::process::id());
    let cli = setup(&ms, &password);
    let out = cli.root().join("run1.out");
    let mut first = spawn_run(&cli, &password, &["--interval", "60"], &out);
    wait_for(&out, "the first check", Duration::from_secs(30), |l| {
        ok_checks(l) >= 1
    });
    let second = Command::new(BIN)
        .arg("--config")
        .arg(cli.config_path())
        .arg("--data-dir")
        .arg(cli.data_dir())
        .args(["run", "--interval", "60"])
        .env("OFFICE_PW", &password)
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(3), "{second:?}");
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("already watching"), "{err}");
    assert!(stop(&mut first).success());
}

#[test]
fn leftover_canaries_are_swept_at_start_and_nothing_else() {
    use mailcanary_engine::core::Lang;
    use mailcanary_engine::core::canary::{CanaryId, CanaryKey, CanaryParams, compose};

    let ms = MailServer::start();
    let password = format!("sweep-pw-{}", std::process::id());
    let cli = setup(&ms, &password).env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    // A first check makes the install's key (a file: there is no keyring here).
    let r = cli.run(&["check"]);
    assert_eq!(r.code, 0, "{r:?}");
    let ours =
        CanaryKey::decode(&std::fs::read_to_string(cli.data_dir().join("install.key")).unwrap())
            .unwrap();
    let theirs = CanaryKey::from_bytes([9; 32]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let canary = |key: &CanaryKey, id: &str, at: u64| {
        let c = compose(
            key,
            &CanaryParams {
                id: CanaryId::new(id).unwrap(),
                now: at,
                address: USER,
                mailbox_name: "office",
                lang: Lang::En,
                attachment: None,
            },
        );
        String::from_utf8(c.message).unwrap()
    };
    ms.deliver(
        USER,
        "INBOX",
        &canary(&ours, "01JD7000000000000000000OLD", now - 7200),
    );
    ms.deliver(
        USER,
        "INBOX",
        &canary(&ours, "01JD700000000000000000FRSH", now),
    );
    ms.deliver(
        USER,
        "INBOX",
        &canary(&theirs, "01JD70000000000000000THEIR", now - 7200),
    );
    ms.deliver(
        USER,
        "INBOX",
        "From: customer@example.test\r\nSubject: Order\r\nMessage-ID: <order@example.test>\r\n\r\nHi\r\n",
    );
    ms.deliver(
        USER,
        "Junk",
        &canary(&ours, "01JD70000000000000000JUNKO", now - 7200),
    );

    let out = cli.root().join("sweep.out");
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(cli.config_path())
        .arg("--data-dir")
        .arg(cli.data_dir())
        .args(["run", "--interval", "60"])
        .env("OFFICE_PW", &password)
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&out, "the first check", Duration::from_secs(30), |l| {
        ok_checks(l) >= 1
    });
    assert!(stop(&mut child).success());
    let ids: Vec<String> = ms
        .messages(USER, "INBOX")
        .into_iter()
        .map(|(_, flags, id)| {
            assert_eq!(flags, "", "untouched: {id}");
            id
        })
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(
        ids.iter()
            .any(|i| i.starts_with("<01JD700000000000000000FRSH")),
        "a young one stays: {ids:?}"
    );
    assert!(
        ids.iter()
            .any(|i| i.starts_with("<01JD70000000000000000THEIR")),
        "another install's stays"
    );
    assert!(ids.iter().any(|i| i == "<order@example.test>"));
    assert!(
        ms.messages(USER, "Junk").is_empty(),
        "the old one in Junk is gone"
    );
}

#[test]
fn a_restart_during_an_incident_does_not_raise_it_again() {
    let ms = MailServer::start();
    let password = format!("restart-pw-{}", std::process::id());
    let cli = setup(&ms, &password);
    let hooked = cli.root().join("hook.out");
    let hook = format!(
        "printf '%s %s\\n' \"$MAILCANARY_EVENT\" \"$MAILCANARY_CATEGORY\" >> '{}'",
        hooked.display()
    );
    ms.ctl(&["suspend-sender", USER]);
    let args = [
        "--interval",
        "2",
        "--timeout",
        "10",
        "--hook",
        hook.as_str(),
    ];
    let out1 = cli.root().join("run1.out");
    let mut first = spawn_run(&cli, &password, &args, &out1);
    wait_for(&hooked, "the alert", Duration::from_secs(30), |l| {
        !l.is_empty()
    });
    assert!(stop(&mut first).success());
    // Started again while the incident goes on: checks fail, nobody is alerted twice.
    let out2 = cli.root().join("run2.out");
    let mut second = spawn_run(&cli, &password, &args, &out2);
    wait_for(&out2, "two failed checks", Duration::from_secs(30), |l| {
        l.iter()
            .filter(|l| l.contains(" CRITICAL send_blocked"))
            .count()
            >= 2
    });
    assert_eq!(lines(&hooked), vec!["raised send_blocked"]);
    ms.ctl(&["unsuspend-sender", USER]);
    wait_for(&hooked, "the recovery", Duration::from_secs(30), |l| {
        l.len() >= 2
    });
    assert_eq!(
        lines(&hooked),
        vec!["raised send_blocked", "recovered send_blocked"]
    );
    assert!(stop(&mut second).success());
}

/// A free port on loopback (bound and released; the monitor binds it right after).
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn metrics_are_exposed_in_prometheus_format() {
    let ms = MailServer::start();
    let password = format!("metrics-pw-{}", std::process::id());
    let cli = setup(&ms, &password);
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let out = cli.root().join("metrics.out");
    // A real Pushgateway (loopback only, no persistence) receives the pushed copy.
    let push_port = free_port();
    let mut gateway = Command::new("prometheus-pushgateway")
        .arg(format!("--web.listen-address=127.0.0.1:{push_port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus-pushgateway (package prometheus-pushgateway)");
    let push_url = format!("http://127.0.0.1:{push_port}");
    let mut child = spawn_run_env(
        &cli,
        &password,
        &[
            "--interval",
            "2",
            "--metrics",
            &addr,
            "--push-env",
            "PUSH_URL",
            "--push-interval",
            "1",
            "--push-instance",
            "office-pc",
        ],
        &out,
        &[("PUSH_URL", &push_url)],
    );
    wait_for(&out, "two checks", Duration::from_secs(30), |l| {
        ok_checks(l) >= 2
    });
    let response = http_get(port, "/metrics");
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    let count: u64 = body
        .lines()
        .find(|l| l.starts_with("mailcanary_checks_total{mailbox=\"office\",status=\"ok\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .expect("an ok counter");
    assert!(count >= 2, "{body}");
    assert!(body.contains("mailcanary_health_state{mailbox=\"office\",state=\"ok\"} 1"));
    assert!(body.contains("mailcanary_round_trip_seconds_count{mailbox=\"office\"}"));
    assert!(body.contains(
        "mailcanary_stage_duration_seconds{mailbox=\"office\",stage=\"send\",protocol=\"smtp\"}"
    ));
    // Prometheus' own linter accepts it.
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (package prometheus)");
    use std::io::Write;
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(http_get(port, "/other").starts_with("HTTP/1.1 404"));

    // A real Prometheus (loopback only) scrapes it.
    let prom_dir = cli.root().join("prometheus");
    std::fs::create_dir_all(&prom_dir).unwrap();
    let config = prom_dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: mailcanary\n    \
             static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    )
    .unwrap();
    let prom_port = free_port();
    let mut prometheus = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            prom_dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus (package prometheus)");
    let query = "/api/v1/query?query=mailcanary_checks_total%7Bstatus%3D%22ok%22%7D";
    let deadline = Instant::now() + Duration::from_secs(30);
    let scraped = loop {
        let answer = std::net::TcpStream::connect(("127.0.0.1", prom_port))
            .ok()
            .map(|_| http_get(prom_port, query));
        if let Some(a) = answer
            && let Some((_, json)) = a.split_once("\r\n\r\n")
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(json)
            && let Some(first) = v["data"]["result"].as_array().and_then(|r| r.first())
        {
            break first.clone();
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never scraped the endpoint"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = prometheus.kill();
    let _ = prometheus.wait();
    assert_eq!(scraped["metric"]["mailbox"], "office", "{scraped}");
    let value: f64 = scraped["value"][1].as_str().unwrap().parse().unwrap();
    assert!(value >= 2.0, "{scraped}");

    // The Pushgateway has the same counters, grouped under this job and instance.
    let want = "mailcanary_checks_total{instance=\"office-pc\",job=\"mailcanary\",mailbox=\"office\",status=\"ok\"}";
    let deadline = Instant::now() + Duration::from_secs(30);
    let pushed = loop {
        let body = std::net::TcpStream::connect(("127.0.0.1", push_port))
            .map(|_| http_get(push_port, "/metrics"))
            .unwrap_or_default();
        if let Some(line) = body.lines().find(|l| l.starts_with(want)) {
            break line.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "nothing pushed; the gateway has:\n{body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = gateway.kill();
    let _ = gateway.wait();
    let pushed: f64 = pushed.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(pushed >= 2.0, "{pushed}");
    assert!(stop(&mut child).success());
}

#[test]
fn attachment_probes_ride_along_on_their_own_interval() {
    let ms = MailServer::start();
    let password = format!("probe-pw-{}", std::process::id());
    let cli = setup(&ms, &password);
    let run = |name: &str| {
        let out = cli.root().join(name);
        let args = ["--interval", "1", "--attachments-every", "1h"];
        (spawn_run(&cli, &password, &args, &out), out)
    };
    let probes_per_check = || -> Vec<usize> {
        cli.run(&["history", "office", "--json"])
            .json_lines()
            .iter()
            .map(|r| r["probes"].as_array().map(Vec::len).unwrap_or(0))
            .collect()
    };
    let (mut child, out) = run("run1.out");
    wait_for(&out, "three checks", Duration::from_secs(60), |l| {
        ok_checks(l) >= 3
    });
    assert!(stop(&mut child).success());
    let first = probes_per_check();
    assert!(
        first[0] >= 7,
        "the first check carries every probe: {first:?}"
    );
    assert!(
        first[1..].iter().all(|&n| n == 0),
        "then not for an hour: {first:?}"
    );
    // A restart remembers when they last ran.
    let (mut child, out) = run("run2.out");
    wait_for(&out, "two checks", Duration::from_secs(60), |l| {
        ok_checks(l) >= 2
    });
    assert!(stop(&mut child).success());
    let all = probes_per_check();
    assert!(all[first.len()..].iter().all(|&n| n == 0), "{all:?}");
    // No canary of any kind is left behind.
    assert!(ms.messages(USER, "INBOX").is_empty());
}

#[test]
fn a_healthy_run_of_200_checks_raises_no_alert() {
    let ms = MailServer::start();
    let password = format!("quiet-pw-{}", std::process::id());
    let cli = Cli::new(BIN).env("OFFICE_PW", &password);
    let names: Vec<String> = (0..10).map(|i| format!("desk{i}")).collect();
    for n in &names {
        let user = format!("{n}@example.test");
        ms.add_user(&user, &password);
        cli.add_harness_mailbox_named(n, &ms, &user, &[]);
    }
    let out = cli.root().join("quiet.out");
    let hooked = cli.root().join("hook.out");
    let hook = format!(
        "echo \"$MAILCANARY_EVENT $MAILCANARY_MAILBOX\" >> '{}'",
        hooked.display()
    );
    let mut child = spawn_run(
        &cli,
        &password,
        &["--interval", "1", "--concurrency", "4", "--hook", &hook],
        &out,
    );
    let checks = |l: &[String]| l.iter().filter(|l| is_check_line(l)).count();
    wait_for(&out, "200 checks", Duration::from_secs(240), |l| {
        checks(l) >= 200
    });
    assert!(stop(&mut child).success());
    let l = lines(&out);
    let not_ok: Vec<&String> = l
        .iter()
        .filter(|l| is_check_line(l) && !l.contains(" OK ok "))
        .collect();
    assert!(
        not_ok.is_empty(),
        "{} of {} checks not ok: {not_ok:?}",
        not_ok.len(),
        checks(&l)
    );
    assert!(!l.iter().any(|l| l.starts_with("ALERT")), "an alert: {l:?}");
    assert!(lines(&hooked).is_empty(), "{:?}", lines(&hooked));
    // Every mailbox had its turn.
    for n in &names {
        assert!(
            l.iter().any(|l| l.contains(&format!(" {n} OK "))),
            "{n} never checked"
        );
    }
}

#[test]
fn the_idle_watch_notices_a_lost_server_at_once() {
    let ms = MailServer::start();
    let password = format!("watch-pw-{}", std::process::id());
    let cli = setup(&ms, &password);
    // The next check is ten minutes away...
    let out = cli.root().join("watch.out");
    let mut child = spawn_run(
        &cli,
        &password,
        &["--interval", "600", "--timeout", "5"],
        &out,
    );
    wait_for(
        &out,
        "the watch and a check",
        Duration::from_secs(30),
        |l| l.iter().any(|l| l == "WATCH office watching") && ok_checks(l) >= 1,
    );
    // ...but when the server goes away, the watch notices and a check runs at once.
    ms.ctl(&["stop"]);
    wait_for(&out, "a check right away", Duration::from_secs(30), |l| {
        l.iter()
            .any(|l| is_check_line(l) && l.contains(" office CRITICAL connect_failed"))
    });
    let l = lines(&out);
    assert!(
        l.iter().any(|l| l.starts_with("WATCH office lost")),
        "{l:?}"
    );
    assert!(stop(&mut child).success());
}

#[test]
fn a_server_restart_and_a_name_that_does_not_resolve_leave_the_monitor_running() {
    let ms = MailServer::start();
    let password = format!("restart-pw-{}", std::process::id());
    let cli = setup(&ms, &password);
    // A second mailbox whose servers' names do not resolve: name lookups go to a loopback
    // resolver nobody answers on (a private mount namespace), so no query leaves the machine.
    cli.add_unresolvable_mailbox("faraway", USER);
    let unshare = cli.no_name_service();
    let out = cli.root().join("restart.out");
    let mut child = cli.spawn_from(
        unshare,
        &mailcanary_tests::QUICK_MONITOR,
        &[("OFFICE_PW", &password)],
        &out,
    );
    let faraway = |l: &String| is_check_line(l) && l.contains(" faraway CRITICAL dns_failed");
    wait_for(
        &out,
        "office ok, faraway dns_failed",
        Duration::from_secs(60),
        |l| {
            ok_checks(l) >= 2
                && l.iter().any(&faraway)
                && l.iter().any(|l| l == "WATCH office watching")
        },
    );
    // The servers go and come back: every open connection (the watch's too) ends.
    let before = lines(&out).len();
    ms.ctl(&["restart"]);
    wait_for(
        &out,
        "the monitor back to healthy",
        Duration::from_secs(60),
        |l| {
            let after = &l[before.min(l.len())..];
            ok_checks(after) >= 2
                && after.iter().filter(|l| faraway(l)).count() >= 1
                && after.iter().any(|l| l == "WATCH office watching")
        },
    );
    let l = lines(&out);
    assert!(
        l[before..]
            .iter()
            .any(|l| l.starts_with("WATCH office lost")),
        "the watch did not see the restart: {:?}",
        &l[before..]
    );
    assert!(child.try_wait().unwrap().is_none(), "the monitor ended");
    assert!(stop(&mut child).success());
}

/// This install's canaries in every folder of the mailbox.
fn canaries_left(ms: &MailServer) -> usize {
    ms.ctl(&[
        "doveadm",
        "search",
        "-u",
        USER,
        "header",
        "X-Mail-Canary",
        "v=1",
    ])
    .lines()
    .filter(|l| !l.trim().is_empty())
    .count()
}

#[test]
fn a_check_killed_at_any_step_leaves_no_canary_after_the_next_start() {
    use std::io::BufRead;

    let ms = MailServer::start();
    let password = format!("kill-pw-{}", std::process::id());
    let cli = setup(&ms, &password);
    // The office's own mail, one message of it marked \Deleted by staff: nothing may touch it.
    for n in 1..=3 {
        ms.deliver(
            USER,
            "INBOX",
            &format!(
                "From: a{n}@example.jp\r\nTo: {USER}\r\nSubject: order {n}\r\n\
                 Message-ID: <kill-{n}@example.jp>\r\n\r\nbody {n}\r\n"
            ),
        );
    }
    ms.ctl(&[
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
    let office_mail = ms.messages(USER, "INBOX");
    assert_eq!(office_mail.len(), 3);
    let steps = [
        ("dns", "imap"),
        ("connect", "smtp"),
        ("tls", "imap"),
        ("auth", "smtp"),
        ("send", "smtp"),
        ("receive", "imap"),
        ("verify", "imap"),
        ("cleanup", "imap"),
    ];
    for (stage, protocol) in steps {
        let out = cli.root().join(format!("kill-{stage}.out"));
        let mut check = cli.spawn(
            &["check", "--progress", "--timeout", "20"],
            &[("OFFICE_PW", &password)],
            &out,
        );
        let stderr = check.stderr.take().unwrap();
        let mut reached = false;
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let Ok(ev) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if ev["stage"] == stage && ev["protocol"] == protocol && ev["state"] == "started" {
                check.kill().unwrap();
                reached = true;
                break;
            }
        }
        let _ = check.wait();
        assert!(reached, "the check never started {stage} ({protocol})");
        // Once the canary was handed over, let the server deliver it: the next start must
        // find it in the mailbox, not on its way.
        if ["receive", "verify", "cleanup"].contains(&stage) {
            let deadline = Instant::now() + Duration::from_secs(20);
            while ms.queue_len() > 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let orphaned = canaries_left(&ms);
        // The next start: the monitor's first check sweeps, then checks.
        let run_out = cli.root().join(format!("run-after-{stage}.out"));
        let mut run = spawn_run(&cli, &password, &["--interval", "600"], &run_out);
        wait_for(&run_out, "the first check", Duration::from_secs(60), |l| {
            ok_checks(l) >= 1
        });
        assert!(stop(&mut run).success());
        let left = canaries_left(&ms);
        println!(
            "kill -9 at {stage} ({protocol}): {orphaned} canary left behind, {left} after the \
             next start"
        );
        assert_eq!(
            left, 0,
            "a canary left after a kill at {stage} and the next start"
        );
        assert_eq!(
            ms.messages(USER, "INBOX"),
            office_mail,
            "the office's mail changed after a kill at {stage}"
        );
    }
    // Where no monitor runs (checks from cron), the next check removes what a killed one
    // left behind.
    let mut check = cli.spawn(
        &["check", "--progress", "--timeout", "20"],
        &[("OFFICE_PW", &password)],
        &cli.root().join("kill-cron.out"),
    );
    let stderr = check.stderr.take().unwrap();
    for line in std::io::BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        if line.contains("\"stage\":\"receive\"") && line.contains("\"started\"") {
            check.kill().unwrap();
            break;
        }
    }
    let _ = check.wait();
    let deadline = Instant::now() + Duration::from_secs(20);
    while ms.queue_len() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(canaries_left(&ms), 1, "the killed check's canary");
    let r = cli.run(&["check"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(canaries_left(&ms), 0, "left after the next check from cron");
    assert_eq!(ms.messages(USER, "INBOX"), office_mail);
}
