//! The tray app, end to end, as a newcomer meets it: started by WebDriver (tauri-driver +
//! WebKitWebDriver) under Xvfb, on a session bus with a real keyring (gnome-keyring), a real
//! notification server and a tray (a StatusNotifierWatcher), with the real mail harness
//! behind it. The mailbox is added through the wizard; a fault turns the card and the tray
//! red and brings a notification; History shows the incident; a drill is run and
//! acknowledged; settings are saved. Screenshots of each screen are left in
//! `target/test-artifacts/app`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mailcanary_tests::{
    AppDriver, MailServer, NotificationServer, SecretService, TrayItem, TrayWatcher,
    files_containing, gdbus_call,
};

const USER: &str = "office@example.test";
const CARD: &str = ".card[data-mailbox='office']";
const GREEN: &str = "(26,127,55";
const RED: &str = "(198,40,40";

/// Waits until a notification satisfies `pred`; returns it.
fn wait_notification(
    notes: &NotificationServer,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(n) = notes.received().into_iter().find(&pred) {
            return n;
        }
        assert!(
            Instant::now() < deadline,
            "no notification {what}: {:?}",
            notes.received()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The app with a config, data directory and home of its own, `ms` as its demo server and
/// `bus` as its session bus, its window open on an empty start.
struct Desk {
    /// First, so the app stops before its directory goes.
    app: AppDriver,
    /// Holds config.toml, data/ and home/.
    dir: tempfile::TempDir,
    config: PathBuf,
    home: PathBuf,
}

impl Desk {
    fn open(ms: &MailServer, bus: &str, extra_env: &[(&str, &str)]) -> Desk {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let config = dir.path().join("config.toml");
        let data = dir.path().join("data");
        let demo = format!(
            "localhost:{} localhost:{} {} {USER} localhost:{}",
            ms.port("MS_IMAPS_PORT"),
            ms.port("MS_SMTP_PORT"),
            ms.ca_file().display(),
            ms.port("MS_POP3S_PORT")
        );
        let xdg_config = home.join(".config");
        // The tray library writes its icon files under $XDG_RUNTIME_DIR/tray-icon with names
        // from the icon's id: apps side by side on one runtime directory delete each other's.
        let runtime = dir.path().join("runtime");
        std::fs::create_dir_all(&runtime).unwrap();
        std::fs::set_permissions(
            &runtime,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        let mut env = vec![
            ("XDG_RUNTIME_DIR", runtime.to_str().unwrap()),
            ("MAILCANARY_CONFIG", config.to_str().unwrap()),
            ("MAILCANARY_DATA_DIR", data.to_str().unwrap()),
            ("MAILCANARY_DEMO_SERVER", &demo),
            ("DBUS_SESSION_BUS_ADDRESS", bus),
            ("HOME", home.to_str().unwrap()),
            ("XDG_CONFIG_HOME", xdg_config.to_str().unwrap()),
            ("LANG", "C.UTF-8"),
        ];
        env.extend_from_slice(extra_env);
        let app = AppDriver::start(
            &PathBuf::from(env!("CARGO_BIN_EXE_mailcanary-app")),
            &["--open-window"],
            &env,
        );
        // An empty start: no mailboxes yet.
        app.wait_text("#overall", Duration::from_secs(30), |t| {
            t == "No mailboxes yet."
        });
        Desk {
            app,
            dir,
            config,
            home,
        }
    }

    /// Opens the wizard and picks the demo server's preset, which fills in the servers, the
    /// address and the CA file.
    fn wizard_on_demo_preset(&self) {
        let app = &self.app;
        app.click("nav button[data-view='add']");
        app.wait_text("#view-add", Duration::from_secs(10), |t| {
            t.contains("Local demo server")
        });
        app.set_value("#preset", "demo");
        app.wait_until("the preset fills the form", |a| {
            a.execute("return document.querySelector('#wizard').imap_host.value;") == "localhost"
        });
    }
}

fn count(app: &AppDriver, css: &str) -> u64 {
    app.execute(&format!(
        "return document.querySelectorAll({}).length;",
        serde_json::Value::from(css)
    ))
    .as_u64()
    .unwrap_or(0)
}

#[test]
fn a_newcomer_adds_the_demo_mailbox_and_sees_a_fault_through_to_history() {
    let ms = MailServer::start();
    // A strong password, unique to this run, looked for everywhere afterwards.
    let password = format!("Kite-{}-orbit-Lantern-93", std::process::id());
    ms.add_user(USER, &password);
    let keyring = SecretService::start();
    let bus = keyring.address().to_string();
    let notes = NotificationServer::start_on(&bus);
    let watcher = TrayWatcher::start(&bus);
    // An empty start: no mailboxes yet.
    let desk = Desk::open(&ms, &bus, &[]);
    let (app, config, home, dir) = (&desk.app, &desk.config, &desk.home, &desk.dir);
    let tray = TrayItem::registered(&watcher, &bus, Duration::from_secs(60));
    app.screenshot("1-status-empty");

    // The wizard: the demo server's preset fills the servers, the address and the CA file.
    desk.wizard_on_demo_preset();
    let filled = app.execute(
        "const f = document.querySelector('#wizard'); return [f.imap_host.value, \
         f.smtp_port.value, f.address.value, f.ca_file.value].join(' ');",
    );
    let filled = filled.as_str().unwrap();
    assert!(filled.starts_with("localhost "), "{filled}");
    assert!(filled.contains(USER), "{filled}");
    // POP3 chosen: the demo server's POP3 port comes in; IMAP again: its IMAP port.
    for (receive, key) in [("pop3", "MS_POP3S_PORT"), ("imap", "MS_IMAPS_PORT")] {
        app.set_value("#wizard select[name='receive']", receive);
        let want = ms.port(key).to_string();
        app.wait_until(&format!("{receive}: port {want}"), |a| {
            a.execute("return document.querySelector('#wizard').imap_port.value;") == want.as_str()
        });
    }
    app.set_value("#wizard input[name='name']", "office");
    // A weak password is warned about while it is typed.
    app.set_value("#wizard input[name='password']", "sakura123");
    assert!(app.visible("#password-warning"), "no weak-password warning");
    app.set_value("#wizard input[name='password']", &password);
    assert!(
        !app.visible("#password-warning"),
        "a strong password warned"
    );

    // "Test now": a complete round trip before saving, its steps shown as they happen.
    app.click("#test-now");
    let result = app.wait_text("#test-result", Duration::from_secs(60), |t| {
        t.contains("INBOX")
    });
    assert!(result.contains("Mail is flowing"), "{result}");
    // (The last steps' events may reach the window just after the answer.)
    for stage in ["tls", "auth", "send", "receive"] {
        let done = format!("#test-stages li[data-stage='{stage}'][data-state='ok']");
        let deadline = Instant::now() + Duration::from_secs(10);
        while count(app, &done) == 0 {
            let list = app.execute("return document.querySelector('#test-stages').outerHTML;");
            assert!(
                Instant::now() < deadline,
                "{stage} not shown as done: {list}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    app.screenshot("2-wizard-tested");
    // The password went to the keyring, and only there.
    let stored = keyring.lookup("mailcanary", "mailbox:office");
    assert_eq!(stored.as_deref().map(str::trim), Some(password.as_str()));

    app.click("#save");
    let text = app.wait_text(CARD, Duration::from_secs(60), |t| t.contains("Healthy"));
    assert!(text.contains(USER), "{text}");
    assert!(text.contains("Last check"), "{text}");
    app.wait_text("#overall", Duration::from_secs(10), |t| {
        t == "The mailbox is healthy."
    });
    let saved = std::fs::read_to_string(config).unwrap();
    assert!(saved.contains("[mailboxes.office]"), "{saved}");
    assert!(saved.contains("password_keyring = true"), "{saved}");
    tray.wait_layout("the healthy mailbox", &|l| l.contains("'office: healthy'"));
    tray.wait_icon(GREEN);
    app.screenshot("3-status-healthy");

    // The provider suspends sending. "Check now" shows the check's steps on the card, then
    // the finding; the tray turns red and a notification says it in plain words.
    ms.ctl(&["suspend-sender", USER]);
    app.click(&format!("{CARD} .check-now"));
    let text = app.wait_text(CARD, Duration::from_secs(60), |t| {
        t.contains("Mail is not flowing")
    });
    assert!(
        text.contains("Sending is blocked by the provider"),
        "{text}"
    );
    assert!(count(app, &format!("{CARD} ol.stages li")) >= 1, "no steps");
    tray.wait_layout("the critical mailbox", &|l| {
        l.contains("'office: mail is not flowing'")
    });
    tray.wait_icon(RED);
    let raised = wait_notification(&notes, "for the problem", |n| {
        n["summary"] == "Mail Canary: problem with office"
    });
    let body = raised["body"].as_str().unwrap();
    assert!(
        body.contains("Sending is blocked by the provider"),
        "{body}"
    );
    assert_eq!(raised["urgency"], 2, "critical: {raised}");
    app.screenshot("4-status-critical");

    // Mended: the next check is healthy, and a notification says so.
    ms.ctl(&["unsuspend-sender", USER]);
    app.click(&format!("{CARD} .check-now"));
    app.wait_text(CARD, Duration::from_secs(60), |t| t.contains("Healthy"));
    tray.wait_icon(GREEN);
    let recovered = wait_notification(&notes, "for the recovery", |n| {
        n["summary"] == "Mail Canary: office works again"
    });

    // Clicking the notification opens History, where the incident is: started, ended, how
    // long, and the failed check with the server's exact reply.
    app.click("nav button[data-view='status']");
    let id = recovered["id"].as_u64().unwrap().to_string();
    gdbus_call(
        &bus,
        "org.freedesktop.Notifications",
        "/org/freedesktop/Notifications",
        "test.mailcanary.Clicker.Click",
        &[&id, "default"],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !app.visible("#view-history") {
        assert!(Instant::now() < deadline, "the click did not open History");
        std::thread::sleep(Duration::from_millis(100));
    }
    let incidents = app.wait_text("table.incidents", Duration::from_secs(30), |t| {
        t.contains("provider blocks sending")
    });
    assert!(!incidents.contains("ongoing"), "{incidents}");
    assert_eq!(count(app, "table.incidents tbody tr"), 1, "{incidents}");
    assert!(count(app, "svg.latency-chart rect.incident") >= 1);
    assert!(count(app, "svg.latency-chart circle.point") >= 3);
    let failures = app.text("#history-body").unwrap_or_default();
    assert!(failures.contains("Sending is blocked"), "{failures}");
    app.click("#export-html");
    let written = app.wait_text("#export-result", Duration::from_secs(30), |t| {
        t.contains(".html")
    });
    let page = written
        .split_whitespace()
        .find(|w| w.ends_with(".html"))
        .expect("a path");
    let html = std::fs::read_to_string(page).unwrap();
    assert!(
        html.contains("Sending is blocked"),
        "the report holds the failure"
    );
    app.screenshot("5-history");

    // A drill through the real channels, acknowledged in the window, with the runbook.
    app.click("nav button[data-view='drill']");
    app.wait_until("the runbook loaded", |a| {
        a.visible("form#runbook[data-loaded]")
    });
    app.set_value("#runbook textarea[name='contact']", "Sato, 090-1234-5678");
    app.click("#save-runbook");
    app.wait_text("#runbook-saved", Duration::from_secs(30), |t| !t.is_empty());
    assert!(
        std::fs::read_to_string(config)
            .unwrap()
            .contains("contact = \"Sato, 090-1234-5678\"")
    );
    app.click("#start-drill");
    let drill = wait_notification(&notes, "for the drill", |n| {
        n["summary"] == "Mail Canary DRILL: office"
    });
    assert!(
        drill["body"]
            .as_str()
            .unwrap()
            .contains("Sato, 090-1234-5678"),
        "the runbook is in the drill: {drill}"
    );
    app.wait_text("#drill-active", Duration::from_secs(30), |t| !t.is_empty());
    app.screenshot("6-drill-running");
    app.click("#ack-drill");
    app.wait_text("table#drills", Duration::from_secs(30), |t| {
        t.contains("office") && t.contains("after ") && !t.contains("not acknowledged")
    });
    app.screenshot("7-drill-done");

    // Settings: saved to the config file, start at login through the desktop's autostart.
    app.click("nav button[data-view='settings']");
    // The form is filled from the config first.
    app.wait_until("the settings loaded", |a| {
        a.visible("form#settings[data-loaded]")
    });
    app.set_value("#settings input[name='interval_minutes']", "10");
    app.execute(
        "const c = document.querySelector(\"#settings input[name='start_at_login']\"); \
         if (!c.checked) c.click();",
    );
    app.screenshot("8-settings");
    app.click("#save-settings");
    app.wait_text("#settings-saved", Duration::from_secs(30), |t| {
        !t.is_empty()
    });
    let saved = std::fs::read_to_string(config).unwrap();
    assert!(saved.contains("interval = \"10m\""), "{saved}");
    let autostart = home.join(".config/autostart");
    let entries: Vec<_> = std::fs::read_dir(&autostart)
        .map(|d| d.filter_map(Result::ok).collect())
        .unwrap_or_default();
    assert_eq!(entries.len(), 1, "one autostart entry in {autostart:?}");

    // Japanese: the whole window switches.
    app.set_value("#settings select[name='lang']", "ja");
    app.click("#save-settings");
    app.wait_until("the window in Japanese, or an error", |a| {
        a.text("nav").is_some_and(|t| t.contains("履歴")) || a.visible("#settings-error")
    });
    assert!(
        !app.visible("#settings-error"),
        "{:?}",
        app.text("#settings-error")
    );
    app.click("nav button[data-view='status']");
    app.wait_text(CARD, Duration::from_secs(30), |t| t.contains("正常"));
    app.screenshot("9-status-japanese");

    // A command with a mailbox that does not exist is refused with a kind and a message, in
    // the window's language; so are malformed arguments and a command that does not exist,
    // by the tray app, past the window process.
    let call = |cmd: &str, args: &str| {
        app.execute_async(&format!(
            "const done = arguments[0]; window.__TAURI__.core.invoke('call', {{cmd: '{cmd}', args: {args}}})\
             .then(() => done('accepted'), (e) => done(e.kind + ': ' + (e.field || '') + ': ' + e.message));"
        ))
        .as_str()
        .unwrap_or_default()
        .to_string()
    };
    assert_eq!(
        call("check_now", "{mailbox: 'nobody'}"),
        "not_found: : 「nobody」という名前のメールボックスはありません。"
    );
    let wrong_type = call("pause", "{minutes: 'ten'}");
    assert!(wrong_type.starts_with("invalid: minutes: "), "{wrong_type}");
    let missing = call("history", "{mailbox: null}");
    assert!(missing.starts_with("invalid: days: "), "{missing}");
    let unknown = call("drop_tables", "{}");
    assert!(unknown.starts_with("invalid: : "), "{unknown}");

    // The password is nowhere but in the keyring: not in the config, the history, the
    // exported report, nor anything else the app wrote.
    let leaks = files_containing(dir.path(), password.as_bytes());
    assert!(leaks.is_empty(), "the password leaked into {leaks:?}");
}

/// An office whose provider takes no password signs in through the wizard in the browser
/// (played by `tests/harness/fake-browser`), against the test authorization server and the
/// harness checking tokens; a revoked sign-in turns the card red with "Sign in again", and
/// that one click mends it.
#[test]
fn an_office_signs_in_with_oauth_in_the_wizard_and_signs_in_again_after_a_revocation() {
    let oauth = mailcanary_tests::OAuthServer::start();
    let ms = MailServer::start_with(&[("MS_OAUTH2_URL", &oauth.url())]);
    ms.add_user(USER, &format!("never-given-{}", std::process::id()));
    let keyring = SecretService::start();
    let bus = keyring.address().to_string();
    let browser = mailcanary_tests::harness_script().with_file_name("fake-browser");
    let desk = Desk::open(&ms, &bus, &[("BROWSER", browser.to_str().unwrap())]);
    let (app, config, dir) = (&desk.app, &desk.config, &desk.dir);
    desk.wizard_on_demo_preset();
    app.set_value("#wizard input[name='name']", "office");
    app.set_value("#wizard select[name='auth']", "custom");
    assert!(!app.visible("#password-box"), "a password asked for");
    for (field, value) in [
        ("oauth_client_id", "mailcanary-test".to_string()),
        ("oauth_authorize_url", format!("{}/authorize", oauth.url())),
        ("oauth_token_url", format!("{}/token", oauth.url())),
        ("oauth_scope", "mail offline_access".to_string()),
    ] {
        app.set_value(&format!("#wizard input[name='{field}']"), &value);
    }
    app.click("#sign-in");
    app.wait_text("#sign-in-status", Duration::from_secs(60), |t| {
        t.starts_with("Signed in")
    });
    assert_eq!(oauth.stats()["token_authorization_code"], 1);
    assert!(keyring.lookup("mailcanary", "oauth:office").is_some());

    app.click("#test-now");
    let result = app.wait_text("#test-result", Duration::from_secs(60), |t| {
        t.contains("INBOX")
    });
    assert!(result.contains("Mail is flowing"), "{result}");
    app.click("#save");
    app.wait_text(CARD, Duration::from_secs(60), |t| t.contains("Healthy"));
    let saved = std::fs::read_to_string(config).unwrap();
    assert!(saved.contains("oauth = \"custom\""), "{saved}");
    assert!(!saved.contains("password_keyring"), "{saved}");
    assert!(keyring.lookup("mailcanary", "mailbox:office").is_none());
    assert!(!app.visible(&format!("{CARD} .sign-in-again")));

    // The provider revokes the sign-in: the next check says so, and offers to sign in again.
    oauth.admin("revoke-user", &format!("user={USER}"));
    app.click(&format!("{CARD} .check-now"));
    let text = app.wait_text(CARD, Duration::from_secs(60), |t| {
        t.contains("revoked or has expired")
    });
    assert!(text.contains("Sign in again"), "{text}");
    assert!(app.visible(&format!("{CARD} .sign-in-again")));
    app.screenshot("oauth-sign-in-again");
    app.click(&format!("{CARD} .sign-in-again"));
    app.wait_text(CARD, Duration::from_secs(60), |t| t.contains("Healthy"));
    assert!(!app.visible(&format!("{CARD} .sign-in-again")));
    assert_eq!(oauth.stats()["token_authorization_code"], 2);
    // No token in the config or the data directory.
    let token = keyring.lookup("mailcanary", "oauth:office").unwrap();
    assert!(files_containing(dir.path(), token.trim().as_bytes()).is_empty());
}
