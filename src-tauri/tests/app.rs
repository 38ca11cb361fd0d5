//! The tray app, end to end: started by WebDriver (tauri-driver + WebKitWebDriver) under Xvfb
//! with a real mail server behind it, its window shows each mailbox's state as the engine's
//! monitor reports it.

use std::path::PathBuf;
use std::time::Duration;

use mailcanary_tests::{AppDriver, MailServer, harness_config};

const USER: &str = "office@example.test";

#[test]
fn the_window_shows_each_mailbox_as_the_monitor_sees_it() {
    let ms = MailServer::start();
    let password = format!("app-pw-{}", std::process::id());
    ms.add_user(USER, &password);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let data = dir.path().join("data");
    std::fs::write(&config, harness_config(&ms, USER, "OFFICE_PW")).unwrap();
    let app = AppDriver::start(
        &PathBuf::from(env!("CARGO_BIN_EXE_mailcanary-app")),
        &["--open-window"],
        &[
            ("MAILCANARY_CONFIG", config.to_str().unwrap()),
            ("MAILCANARY_DATA_DIR", data.to_str().unwrap()),
            ("OFFICE_PW", &password),
            ("LANG", "C.UTF-8"),
        ],
    );
    // The card is there at once, and turns healthy when the first check is done.
    let card = ".card[data-mailbox='office']";
    let text = app.wait_text(card, Duration::from_secs(60), |t| t.contains("Healthy"));
    assert!(text.contains(USER), "{text}");
    assert!(text.contains("Mail is flowing"), "{text}");
    assert!(text.contains("Last check"), "{text}");
    app.wait_text("#overall", Duration::from_secs(10), |t| {
        t == "The mailbox is healthy."
    });
    // The check was the engine's: it is in the history like any other.
    assert!(data.join("history.sqlite3").exists());

    // The provider suspends sending. The next scheduled check is minutes away, but "Check now"
    // runs one at once, and its result is pushed to the card.
    ms.ctl(&["suspend-sender", USER]);
    app.click(&format!("{card} .check-now"));
    let text = app.wait_text(card, Duration::from_secs(60), |t| {
        t.contains("Mail is not flowing")
    });
    assert!(
        text.contains("Sending is blocked by the provider"),
        "{text}"
    );
    assert!(text.contains("Check now"), "the button is back: {text}");
    app.wait_text("#overall", Duration::from_secs(10), |t| {
        t == "1 of 1 mailboxes need attention."
    });
    // A command with a mailbox that does not exist is refused with a kind and a message.
    let refused = app.execute_async(
        "const done = arguments[0]; window.__TAURI__.core.invoke('check_now', {mailbox: 'nobody'})\
         .then(() => done('accepted'), (e) => done(e.kind + ': ' + e.message));",
    );
    assert_eq!(refused, "not_found: there is no mailbox named \"nobody\"");
}
