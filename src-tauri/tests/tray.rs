//! The tray icon, as a desktop's tray sees it: the app registers with a StatusNotifierWatcher
//! on a private session bus (under Xvfb), and the test reads its icon and menu over D-Bus and
//! clicks menu items as a user would.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mailcanary_tests::{MailServer, SessionBus, TrayItem, TrayWatcher, harness_config};

const USER: &str = "office@example.test";

/// The id of the menu item labelled `label` in a `GetLayout` answer.
struct Group(u32);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0)])
            .stderr(Stdio::null())
            .status();
    }
}

/// The processes of process group `pgid`: (pid, command name).
fn group_processes(pgid: u32) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...: the name may hold spaces, so split after ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let pgrp = stat[close + 1..].split_whitespace().nth(2);
        if pgrp.and_then(|g| g.parse::<u32>().ok()) == Some(pgid) {
            found.push((pid, stat[open + 1..close].to_string()));
        }
    }
    found
}

/// The pid of the process named `comm` (as /proc shows it: at most 15 bytes) in the group.
fn named(pgid: u32, comm: &str) -> Option<u32> {
    group_processes(pgid)
        .into_iter()
        .find(|(_, c)| c == comm)
        .map(|(p, _)| p)
}

/// Waits until the process named `comm` is there (`true`) or gone (`false`).
fn wait_process(pgid: u32, comm: &str, there: bool) -> Option<u32> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pid = named(pgid, comm);
        if pid.is_some() == there {
            return pid;
        }
        assert!(
            Instant::now() < deadline,
            "{comm} never {}: {:?}",
            if there { "started" } else { "ended" },
            group_processes(pgid)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The child's exit status if it ends within `limit`.
fn wait_until_exit(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

#[test]
fn the_tray_shows_the_state_and_its_menu_acts() {
    let ms = MailServer::start();
    let password = format!("tray-pw-{}", std::process::id());
    ms.add_user(USER, &password);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, harness_config(&ms, USER, "OFFICE_PW")).unwrap();
    let bus = SessionBus::start();
    let watcher = TrayWatcher::start(bus.address());
    let mut app = Command::new("xvfb-run")
        .args(["-a", env!("CARGO_BIN_EXE_mailcanary-app")])
        .env("DBUS_SESSION_BUS_ADDRESS", bus.address())
        .env("MAILCANARY_CONFIG", &config)
        .env("MAILCANARY_DATA_DIR", dir.path().join("data"))
        .env("OFFICE_PW", &password)
        .env("LANG", "C.UTF-8")
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("xvfb-run (package xvfb)");
    let app_group = Group(app.id());
    let tray = TrayItem::registered(&watcher, bus.address(), Duration::from_secs(60));
    let l = tray.wait_layout("the healthy mailbox", &|l| l.contains("'office: healthy'"));
    assert!(l.contains("'The mailbox is healthy'"), "{l}");
    for action in [
        "Check now",
        "Pause for 1 hour",
        "Open Mail Canary",
        "History",
        "Quit",
    ] {
        assert!(
            TrayItem::item_id(&l, action).is_some(),
            "{action} missing: {l}"
        );
    }
    tray.wait_icon("(26,127,55");

    // At rest, with no window, the app is one process that has not even loaded a web engine.
    let group = app.id();
    let pid = named(group, "mailcanary-app").expect("the app's process");
    assert_eq!(named(group, "mailcanary-wind"), None, "a window at rest");
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    assert!(
        !maps.contains("webkit") && !maps.contains("javascriptcore"),
        "the tray app maps a web engine"
    );

    // Pause: the icon turns to the grey pause sign and the menu offers Resume.
    tray.click("Pause for 1 hour");
    tray.wait_layout("Resume checks", &|l| l.contains("'Resume checks'"));
    tray.wait_icon("(95,99,104");
    tray.click("Resume checks");
    tray.wait_layout("Pause again", &|l| l.contains("'Pause for 1 hour'"));

    // A fault, then Check now from the tray: the mailbox's line and the icon turn critical.
    ms.ctl(&["suspend-sender", USER]);
    tray.click("Check now");
    let l = tray.wait_layout("the critical mailbox", &|l| {
        l.contains("'office: mail is not flowing'")
    });
    assert!(l.contains("'1 of 1 mailboxes need attention'"), "{l}");
    tray.wait_icon("(198,40,40");

    // A second start on the same desktop session hands over to the first and ends; the tray
    // keeps one icon.
    let mut second = Command::new("xvfb-run")
        .args(["-a", env!("CARGO_BIN_EXE_mailcanary-app")])
        .env("DBUS_SESSION_BUS_ADDRESS", bus.address())
        .env("MAILCANARY_CONFIG", &config)
        .env("MAILCANARY_DATA_DIR", dir.path().join("data"))
        .env("OFFICE_PW", &password)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the second start");
    let second_group = Group(second.id());
    let ended = wait_until_exit(&mut second, Duration::from_secs(30));
    drop(second_group);
    let _ = second.wait();
    let ended = ended.expect("the second start kept running beside the first");
    assert!(ended.success(), "{ended:?}");
    // ... having asked the first to open its window: a window process of the first app's.
    let window = wait_process(group, "mailcanary-wind", true).unwrap();
    // (The first app registers again whenever its icon changes; only another bus name would
    // be a second app.)
    while let Some(line) = watcher.registered_within(Duration::from_millis(500)) {
        assert!(
            line.contains(&format!("\"{}\"", tray.service())),
            "a second tray icon: {line}"
        );
    }

    // The window going (closed, or even killed) leaves the tray app running; History opens
    // a new one.
    let _ = Command::new("kill").arg(window.to_string()).status();
    wait_process(group, "mailcanary-wind", false);
    tray.click("Pause for 1 hour");
    tray.wait_layout("the menu after the window went", &|l| {
        l.contains("'Resume checks'")
    });
    tray.click("History");
    let again = wait_process(group, "mailcanary-wind", true).unwrap();
    assert_ne!(again, window);

    // Quit ends the app, and its window with it.
    tray.click("Quit");
    let quit = wait_until_exit(&mut app, Duration::from_secs(20));
    let window_left = wait_process(group, "mailcanary-wind", false);
    drop(app_group);
    let _ = app.wait();
    assert!(quit.is_some(), "Quit did not end the app");
    assert_eq!(window_left, None);
}
