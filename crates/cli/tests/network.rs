//! "This computer is offline", "the provider is down" and "this mailbox has a problem", told
//! apart by a running monitor. The office computer and the internet are two network
//! namespaces made by the test; the provider's servers (the harness) live on the internet
//! side, with one more server there that stays up (a reference).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mailcanary_tests::{Cli, MailServer, NetNs, lines, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_mailcanary");
const USER: &str = "office@example.test";

/// A TCP server on the internet side that accepts connections and says nothing.
fn reference_server(ns: &NetNs, port: u16) -> Child {
    let script = format!(
        "import socket,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
         s.bind(('{}',{port}))\ns.listen(64)\nprint('ready',flush=True)\n\
         while True:\n  c,_=s.accept()\n  c.close()\n",
        ns.net_addr
    );
    let mut child = Command::new("ip")
        .args(["netns", "exec", &ns.net, "python3", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut ready = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready.trim(), "ready");
    child
}

fn history(cli: &Cli) -> Vec<serde_json::Value> {
    cli.run(&["history", "office", "--json"]).json_lines()
}

#[test]
fn offline_provider_down_and_mailbox_problem_are_told_apart() {
    let ns = NetNs::new();
    let ms = MailServer::start_in(Some(&ns.net), &[("MS_ADDR", &ns.net_addr)]);
    let password = format!("net-pw-{}", std::process::id());
    ms.add_user(USER, &password);
    let cli = Cli::new(BIN).env("OFFICE_PW", &password);
    cli.add_harness_mailbox(&ms, USER, &[]);
    let ref_port = ms.port("MS_IMAPS_PORT") + 100;
    let mut reference = reference_server(&ns, ref_port);
    cli.append_config(&format!(
        "\n[network]\nreferences = [\"{}:{ref_port}\"]\n",
        ns.net_addr
    ));
    let out = cli.root().join("run.out");
    let hooked = cli.root().join("hook.out");
    let hook = format!(
        "echo \"$MAILCANARY_EVENT $MAILCANARY_CATEGORY\" >> '{}'",
        hooked.display()
    );
    let mut child = cli.spawn_in(
        &ns,
        &[
            "run",
            "--interval",
            "1",
            "--timeout",
            "4",
            "--attachments-every",
            "off",
            "--hook",
            &hook,
        ],
        &[],
        &out,
    );
    let ok = |l: &[String]| l.iter().filter(|l| l.contains(" office OK ok ")).count();
    wait_for(&out, "a healthy check", Duration::from_secs(30), |l| {
        ok(l) >= 1
    });

    // The provider's servers hang (the processes are stopped); the internet still works.
    ms.ctl(&["pause"]);
    wait_for(
        &hooked,
        "the provider alert",
        Duration::from_secs(60),
        |l| !l.is_empty(),
    );
    assert_eq!(lines(&hooked), ["raised timeout"]);
    let down = history(&cli)
        .into_iter()
        .rev()
        .find(|r| r["status"] != "ok")
        .unwrap();
    assert_eq!(down["scope"], "provider", "{down}");
    assert!(
        down["summary"]
            .as_str()
            .unwrap()
            .contains("provider's side"),
        "{down}"
    );
    ms.ctl(&["resume"]);
    wait_for(&hooked, "the recovery", Duration::from_secs(60), |l| {
        l.len() >= 2
    });

    // The computer loses its network: told once, kept out of the mailbox's health.
    let before = ok(&lines(&out));
    wait_for(&out, "a healthy check", Duration::from_secs(30), |l| {
        ok(l) > before
    });
    ns.set_online(false);
    wait_for(&out, "three offline checks", Duration::from_secs(60), |l| {
        l.iter()
            .filter(|l| l.contains(" office UNKNOWN connect_failed"))
            .count()
            >= 3
    });
    assert_eq!(
        lines(&hooked),
        [
            "raised timeout",
            "recovered timeout",
            "offline connect_failed"
        ]
    );
    let offline = history(&cli).into_iter().last().unwrap();
    assert_eq!(
        (offline["scope"].as_str(), offline["status"].as_str()),
        (Some("offline"), Some("unknown")),
        "{offline}"
    );
    ns.set_online(true);
    wait_for(&hooked, "back online", Duration::from_secs(60), |l| {
        l.len() >= 4
    });
    assert_eq!(lines(&hooked)[3], "online ok");
    // The hook may run before the monitor's own line about it reaches its output.
    wait_for(
        &out,
        "the back-online alert",
        Duration::from_secs(30),
        |l| l.iter().any(|l| l.starts_with("ALERT online")),
    );
    let back = lines(&out)
        .into_iter()
        .find(|l| l.starts_with("ALERT online"))
        .unwrap();
    assert!(back.contains("online again, after "), "{back}");

    // The mailbox's own problem: its password no longer works.
    ms.ctl(&["lock", USER]);
    wait_for(&hooked, "the mailbox alert", Duration::from_secs(60), |l| {
        l.len() >= 5
    });
    assert_eq!(lines(&hooked)[4], "raised auth_failed");
    let locked = history(&cli).into_iter().last().unwrap();
    assert_eq!(locked["scope"], "mailbox", "{locked}");

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
    let _ = reference.kill();
    let _ = reference.wait();
}
