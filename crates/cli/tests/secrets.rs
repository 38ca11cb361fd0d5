//! A known, unique password (and a webhook URL with a token) through everything the command
//! line does, with logs at the most talkative level: checks (the attachment canaries too),
//! the monitor with a failure, its alert through a hook and a webhook, its metrics, history,
//! reports, a refused login. Afterwards the password is nowhere but where the user put it
//! (the variable named by `--password-env`, in Mail Canary's own environment): not in any
//! file, output, log, report, metric, process argument, nor in the environment of the
//! programs Mail Canary starts; nor is the webhook's token.

use std::time::Duration;

use mailcanary_tests::{
    Cli, HttpReceiver, MailServer, files_containing, free_port, http_request, wait_for,
};

const BIN: &str = env!("CARGO_BIN_EXE_mailcanary");
const USER: &str = "office@example.test";

#[test]
fn the_password_and_the_webhook_token_appear_nowhere_they_should_not() {
    let ms = MailServer::start();
    let password = format!("Quartz-{}-leak-Canary-58", std::process::id());
    let token = format!("tok3n{}LEAK", std::process::id());
    ms.add_user(USER, &password);
    let receiver = HttpReceiver::start();
    let hook_url = format!(
        "http://127.0.0.1:{}/services/T0/B0/{token}",
        receiver.port()
    );
    let cli = Cli::new(BIN)
        .env("OFFICE_PW", &password)
        .env("HOOK_URL", &hook_url)
        .env("MAILCANARY_LOG", "trace");
    cli.add_harness_mailbox(&ms, USER, &[]);
    let mut said: Vec<String> = Vec::new();
    fn keep_run(said: &mut Vec<String>, r: &mailcanary_tests::Run) {
        said.push(r.stdout.clone());
        said.push(r.stderr.clone());
    }

    keep_run(&mut said, &cli.run(&["check", "--json", "--progress"]));
    keep_run(
        &mut said,
        &cli.run(&["check", "--probe", "attachments", "--json"]),
    );

    // The monitor, with a failure that raises an alert through a hook and a webhook.
    let dumps = cli.root().join("hook-env");
    std::fs::create_dir_all(&dumps).unwrap();
    let hook = format!("env > '{}'/env-$$.txt", dumps.display());
    let metrics_port = free_port();
    let out = cli.root().join("run.out");
    let mut run = cli.spawn_quick_monitor(
        &[
            "--metrics",
            &format!("127.0.0.1:{metrics_port}"),
            "--hook",
            &hook,
            "--webhook-env",
            "HOOK_URL",
            "--webhook-format",
            "slack",
        ],
        &[],
        &out,
    );
    wait_for(&out, "a healthy check", Duration::from_secs(60), |l| {
        l.iter().any(|l| l.contains(" office OK ok "))
    });
    ms.ctl(&["suspend-sender", USER]);
    wait_for(&out, "the alert", Duration::from_secs(60), |_| {
        std::fs::read_dir(&dumps).unwrap().count() > 0 && !receiver.received().is_empty()
    });
    ms.ctl(&["unsuspend-sender", USER]);
    let (status, metrics) = http_request(metrics_port, "GET", "/metrics", "").unwrap();
    assert_eq!(status, 200);
    said.push(metrics.clone());
    assert!(metrics.contains("mailcanary_checks_total"), "{metrics}");
    // What the system shows of the running monitor: its arguments.
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", run.id())).unwrap();
    said.push(String::from_utf8_lossy(&cmdline).into_owned());
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &run.id().to_string()])
        .status();
    let mut err = String::new();
    if let Some(mut e) = run.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    let _ = run.wait();
    said.push(err);
    for (path, body) in receiver.received() {
        said.push(format!("{path} {body}"));
    }

    keep_run(&mut said, &cli.run(&["history", "--json", "--since", "1d"]));
    keep_run(&mut said, &cli.run(&["report", "--json"]));
    let html = cli.root().join("report.html");
    keep_run(
        &mut said,
        &cli.run(&["report", "--html", html.to_str().unwrap()]),
    );
    assert!(html.exists());
    keep_run(&mut said, &cli.run(&["mailbox", "show", "office"]));
    // A refused login: the server's reply is shown, the password is not.
    let wrong = Cli::new(BIN)
        .env("OFFICE_PW", &format!("{password}-wrong"))
        .env("MAILCANARY_LOG", "trace");
    wrong.add_harness_mailbox(&ms, USER, &[]);
    let r = wrong.run(&["check", "--json"]);
    assert_eq!(r.code, 2, "{r:?}");
    keep_run(&mut said, &r);

    // The hook ran with the alert in its environment, but not the password nor the token.
    let envs: Vec<String> = std::fs::read_dir(&dumps)
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    assert!(!envs.is_empty());
    for env in &envs {
        assert!(env.contains("MAILCANARY_CATEGORY="), "{env}");
        assert!(!env.contains(&password), "the hook inherited the password");
        assert!(
            !env.contains(&token),
            "the hook inherited the webhook's token"
        );
    }
    // Everything written, shown, served or sent.
    for text in &said {
        assert!(!text.contains(&password), "the password in: {text}");
    }
    let files = files_containing(cli.root(), password.as_bytes());
    assert!(files.is_empty(), "the password in {files:?}");
    let files = files_containing(cli.root(), token.as_bytes());
    assert!(files.is_empty(), "the webhook's token in {files:?}");
    let files = files_containing(wrong.root(), password.as_bytes());
    assert!(files.is_empty(), "the password in {files:?}");
    println!(
        "secrets: {} outputs and {} hook environments looked through; the password in none",
        said.len(),
        envs.len()
    );
}
