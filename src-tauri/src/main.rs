//! Mail Canary's tray app: the engine's monitor (the same as `mailcanary run`) with a tray icon
//! that shows the overall state, desktop notifications from the engine, and a window that is
//! created only when asked for and destroyed when closed, so an idle app holds no web view.
//!
//! The window's commands are one-line calls into the engine; they answer `{kind, message}` on
//! error. What the monitor does is pushed to the window as `monitor` events; the window never
//! reads the database.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod host;

use std::collections::BTreeMap;
use std::path::PathBuf;

use mailcanary_engine::config_file;
use mailcanary_engine::core::Lang;
use mailcanary_engine::core::config::Config;
use mailcanary_engine::monitor::MonitorCommand;
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Emitter, Manager, RunEvent, WebviewUrl, WebviewWindowBuilder};

use host::{Card, Paths, Shared, now_ms};

const TRAY_ID: &str = "main";
const WINDOW: &str = "main";

/// Where the config and the history are: as for the `mailcanary` command.
fn paths() -> Result<(PathBuf, PathBuf), String> {
    let dirs = directories::ProjectDirs::from("", "", "mailcanary");
    let var = |k| std::env::var_os(k).map(PathBuf::from);
    let config = var("MAILCANARY_CONFIG")
        .or_else(|| dirs.as_ref().map(|d| d.config_dir().join("config.toml")))
        .ok_or("cannot find a config directory; set MAILCANARY_CONFIG")?;
    let data = var("MAILCANARY_DATA_DIR")
        .or_else(|| dirs.as_ref().map(|d| d.data_dir().to_path_buf()))
        .ok_or("cannot find a data directory; set MAILCANARY_DATA_DIR")?;
    Ok((config, data))
}

/// Shows the window (made anew if it was closed), at `view` if given.
pub(crate) fn open_window(app: &AppHandle, view: Option<&str>) {
    if let Some(w) = app.get_webview_window(WINDOW) {
        if let Some(v) = view {
            let _ = app.emit(
                "open",
                serde_json::json!({"view": v, "mailbox": null, "at_ms": null}),
            );
        }
        let _ = w.unminimize();
        let _ = w.set_focus();
        return;
    }
    // A new window reads the view it should show from the address.
    let page = match view {
        Some(v) => format!("index.html#{v}"),
        None => "index.html".to_string(),
    };
    let built = WebviewWindowBuilder::new(app, WINDOW, WebviewUrl::App(page.into()))
        .title("Mail Canary")
        .inner_size(880.0, 640.0)
        .build();
    if let Err(e) = built {
        tracing::warn!("cannot open the window: {e}");
    }
}

/// The overall state: the worst of the mailboxes'.
fn overall(cards: &BTreeMap<String, Card>) -> &'static str {
    let rank = |s: &str| match s {
        "critical" => 4,
        "unknown" => 3,
        "warning" => 2,
        "waiting" => 1,
        _ => 0,
    };
    cards
        .values()
        .map(|c| c.state)
        .max_by_key(|s| rank(s))
        .unwrap_or("waiting")
}

fn tray_icon(state: &str) -> Image<'static> {
    let bytes: &'static [u8] = match state {
        "ok" => include_bytes!("../../icons/tray-ok.png"),
        "warning" => include_bytes!("../../icons/tray-warning.png"),
        "critical" => include_bytes!("../../icons/tray-critical.png"),
        "paused" => include_bytes!("../../icons/tray-paused.png"),
        _ => include_bytes!("../../icons/tray-unknown.png"),
    };
    Image::from_bytes(bytes).expect("the tray icons are PNG files")
}

/// The tray's menu: one status line per mailbox, then the actions.
fn tray_menu(
    app: &AppHandle,
    cards: &BTreeMap<String, Card>,
    lang: Lang,
    paused: bool,
    trouble: Option<&str>,
) -> tauri::Result<Menu<tauri::Wry>> {
    let menu = Menu::new(app)?;
    let add = |id: String, text: String, enabled: bool| -> tauri::Result<()> {
        // `&` would mark a keyboard accelerator in some trays.
        let text = text.replace('&', "&&");
        menu.append(&MenuItem::with_id(app, id, text, enabled, None::<&str>)?)
    };
    match trouble {
        Some(t) => add("summary".into(), t.to_string(), false)?,
        None => add("summary".into(), summary_line(cards, lang), false)?,
    }
    for c in cards.values() {
        let line = format!("{}: {}", c.mailbox, state_word(c.state, lang));
        add(format!("mb:{}", c.mailbox), line, false)?;
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    let ja = lang == Lang::Ja;
    let pick = |en: &str, jp: &str| if ja { jp.to_string() } else { en.to_string() };
    add("check".into(), pick("Check now", "今すぐ確認"), true)?;
    if paused {
        add("resume".into(), pick("Resume checks", "確認を再開"), true)?;
    } else {
        add(
            "pause".into(),
            pick("Pause for 1 hour", "1 時間一時停止"),
            true,
        )?;
    }
    add(
        "open".into(),
        pick("Open Mail Canary", "Mail Canary を開く"),
        true,
    )?;
    add("history".into(), pick("History", "履歴"), true)?;
    add("quit".into(), pick("Quit", "終了"), true)?;
    Ok(menu)
}

fn state_word(state: &str, lang: Lang) -> &'static str {
    match (state, lang) {
        ("ok", Lang::En) => "healthy",
        ("ok", Lang::Ja) => "正常",
        ("warning", Lang::En) => "needs attention",
        ("warning", Lang::Ja) => "要注意",
        ("critical", Lang::En) => "mail is not flowing",
        ("critical", Lang::Ja) => "メールが届いていません",
        ("waiting", Lang::En) => "first check running",
        ("waiting", Lang::Ja) => "最初の確認中",
        (_, Lang::En) => "cannot tell",
        (_, Lang::Ja) => "判定できません",
    }
}

/// "All 2 mailboxes healthy" and the like: the tooltip's words (Linux trays show no tooltip,
/// so it is also the menu's first line).
fn summary_line(cards: &BTreeMap<String, Card>, lang: Lang) -> String {
    let n = cards.len();
    // A mailbox still waiting for its first check needs no attention yet.
    let bad = cards
        .values()
        .filter(|c| c.state != "ok" && c.state != "waiting")
        .count();
    match (lang, n, bad) {
        (Lang::En, 0, _) => "No mailboxes yet".to_string(),
        (Lang::Ja, 0, _) => "メールボックスがまだありません".to_string(),
        (Lang::En, 1, 0) => "The mailbox is healthy".to_string(),
        (Lang::Ja, 1, 0) => "メールボックスは正常です".to_string(),
        (Lang::En, _, 0) => format!("All {n} mailboxes healthy"),
        (Lang::Ja, _, 0) => format!("{n} 件のメールボックスはすべて正常です"),
        (Lang::En, _, _) => format!("{bad} of {n} mailboxes need attention"),
        (Lang::Ja, _, _) => format!("{n} 件中 {bad} 件のメールボックスが要注意です"),
    }
}

/// The tooltip: the summary and when the latest check ran ("All 2 mailboxes healthy — last
/// check 10:32").
fn tooltip(summary: &str, cards: &BTreeMap<String, Card>, lang: Lang) -> String {
    let Some(last) = cards.values().filter_map(|c| c.checked_at_ms).max() else {
        return summary.to_string();
    };
    let local = last as i64 / 1000 + mailcanary_engine::local_utc_offset_secs() as i64;
    let minutes = local.rem_euclid(86_400) / 60;
    let at = format!("{:02}:{:02}", minutes / 60, minutes % 60);
    match lang {
        Lang::En => format!("{summary} — last check {at}"),
        Lang::Ja => format!("{summary}（最終確認 {at}）"),
    }
}

/// Brings the tray up to date: only when what it shows changed, so an open menu is not
/// rebuilt under the user's pointer for nothing.
pub(crate) fn refresh_tray(app: &AppHandle) {
    let shared = app.state::<Shared>();
    let lang = shared.lang();
    let cards = shared.cards.lock().expect("not poisoned").clone();
    let paused = shared
        .paused_until
        .lock()
        .expect("not poisoned")
        .is_some_and(|t| t > now_ms());
    let trouble = shared.trouble.lock().expect("not poisoned").clone();
    let Some(tray): Option<TrayIcon> = app.tray_by_id(TRAY_ID) else {
        return;
    };
    // The tooltip tells the time of the latest check, so it follows every check.
    let summary = match &trouble {
        Some(t) => t.clone(),
        None => summary_line(&cards, lang),
    };
    let _ = tray.set_tooltip(Some(tooltip(&summary, &cards, lang)));
    // A monitor that is not running must never look healthy.
    let state = match (&trouble, paused) {
        (Some(_), _) => "unknown",
        (None, true) => "paused",
        (None, false) => overall(&cards),
    };
    let lines: Vec<String> = cards
        .values()
        .map(|c| format!("{}:{}", c.mailbox, c.state))
        .collect();
    let shown = format!(
        "{state}|{paused}|{trouble:?}|{}|{}",
        lang.as_str(),
        lines.join(",")
    );
    {
        let mut last = shared.tray_shown.lock().expect("not poisoned");
        if *last == shown {
            return;
        }
        *last = shown;
    }
    let _ = tray.set_icon(Some(tray_icon(state)));
    if let Ok(menu) = tray_menu(app, &cards, lang, paused, trouble.as_deref()) {
        let _ = tray.set_menu(Some(menu));
    }
}

fn main() {
    // On X11, GTK 3 opens OpenGL as soon as it connects, only to choose its visuals. That maps
    // the graphics driver (Mesa's, with LLVM: about 45 MB resident) into a process that spends
    // its life in the tray (bench/app-idle: 126 -> 74 MB). The web view still draws its window
    // (the end-to-end test's screenshots, under Xvfb; not tried on a GPU desktop).
    #[cfg(target_os = "linux")]
    if std::env::var_os("GDK_GL").is_none() {
        // SAFETY: the first statement of main; no other thread exists yet.
        unsafe { std::env::set_var("GDK_GL", "disable") };
    }
    let filter = format!(
        "{},async_imap=off,imap_proto=off,lettre=off,rustls=off,tokio_rustls=off,zbus=off,keyring=off",
        std::env::var("MAILCANARY_LOG").unwrap_or_else(|_| "warn".into())
    );
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
    let open_at_start = std::env::args().any(|a| a == "--open-window");
    let found = paths();
    let loaded = found
        .as_ref()
        .map_err(|e| e.clone())
        .and_then(|(config, _)| config_file::load(config).map_err(|e| e.to_string()));
    let (config, trouble) = match loaded {
        Ok(c) => (c, None),
        Err(e) => (Config::default(), Some(e)),
    };
    let lang = host::language(&config);
    let paths = found.ok().map(|(config, data)| Paths { config, data });
    let shared = Shared::new(paths, lang, trouble.clone());
    // Until the monitor has read the history, each mailbox waits for its first check.
    *shared.cards.lock().expect("not poisoned") = config
        .mailboxes
        .values()
        .map(|mb| {
            let card = Card::waiting(mb.name.as_str(), mb.address.as_str());
            (card.mailbox.clone(), card)
        })
        .collect();
    let app = tauri::Builder::default()
        // First of all plugins: a second start (from the menu, at login) only opens the first
        // one's window, so there is never a second monitor.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            open_window(app, None)
        }))
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            None,
        ))
        .manage(shared)
        .invoke_handler(tauri::generate_handler![
            commands::overview,
            commands::check_now,
            commands::pause,
            commands::presets,
            commands::test_mailbox,
            commands::add_mailbox,
            commands::remove_mailbox,
            commands::cancel_add,
            commands::history,
            commands::export_report,
            commands::runbook,
            commands::save_runbook,
            commands::start_drill,
            commands::ack_drill,
            commands::drills,
            commands::settings,
            commands::save_settings,
        ])
        .setup(move |app| {
            let handle = app.handle().clone();
            let cards = app
                .state::<Shared>()
                .cards
                .lock()
                .expect("not poisoned")
                .clone();
            TrayIconBuilder::with_id(TRAY_ID)
                .icon(tray_icon(overall(&cards)))
                .tooltip(summary_line(&cards, lang))
                .menu(&tray_menu(&handle, &cards, lang, false, None)?)
                .on_menu_event(|app, event| match event.id.as_ref() {
                    "open" => open_window(app, None),
                    "history" => open_window(app, Some("history")),
                    "check" => {
                        let _ = app.state::<Shared>().tell(MonitorCommand::CheckNow(None));
                    }
                    "pause" => {
                        let until_ms = now_ms() + 3_600_000;
                        let _ = app
                            .state::<Shared>()
                            .tell(MonitorCommand::Pause { until_ms });
                    }
                    "resume" => {
                        let _ = app.state::<Shared>().tell(MonitorCommand::Resume);
                    }
                    "quit" => app.exit(0),
                    _ => {}
                })
                .build(app)?;
            if trouble.is_none() {
                let h = handle.clone();
                tauri::async_runtime::spawn(async move {
                    let _ = host::restart(&h).await;
                });
            } else {
                refresh_tray(&handle);
            }
            if open_at_start {
                open_window(&handle, None);
            }
            Ok(())
        })
        .build(tauri::generate_context!("../tauri.conf.json"))
        .expect("the Tauri application could not be built");
    app.run(|app, event| match event {
        // Closing the last window leaves the app in the tray; only Quit ends it.
        RunEvent::ExitRequested {
            api, code: None, ..
        } => api.prevent_exit(),
        // A wizard left open with a tested, unsaved mailbox leaves no password behind.
        RunEvent::WindowEvent {
            event: tauri::WindowEvent::Destroyed,
            ..
        }
        | RunEvent::Exit => commands::forget_tested(app),
        _ => {}
    });
}
