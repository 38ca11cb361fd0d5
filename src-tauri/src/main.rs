//! Mail Canary's tray app: the engine's monitor (the same as `mailcanary run`) with a tray icon
//! that shows the overall state, desktop notifications from the engine, and a window.
//!
//! This process holds the monitor, the tray (GTK on Linux, through tray-icon) and everything
//! the app knows. The window is another program, `mailcanary-window` (Tauri and its web view),
//! started when the window is opened and ended when it is closed; it sends the window's
//! commands here and shows the events pushed from here (`wire.rs`). An idle app so maps no
//! web engine at all (bench/app-idle).
//!
//! The window's commands are one-line calls into the engine; they answer `{kind, message}` on
//! error. The window never reads the database.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod handle;
mod host;
mod single;
mod wire;

use std::collections::BTreeMap;
use std::path::PathBuf;

use mailcanary_engine::config_file;
use mailcanary_engine::core::Lang;
use mailcanary_engine::core::config::Config;
use mailcanary_engine::monitor::MonitorCommand;
use tao::event::{Event, StartCause};
use tao::event_loop::{ControlFlow, EventLoopBuilder};
use tray_icon::menu::{Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tray_icon::{Icon, TrayIcon, TrayIconBuilder};

use handle::{AppHandle, UserEvent};
use host::{Card, Paths, Shared, now_ms};

const TRAY_ID: &str = "main";

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

fn tray_icon(state: &str) -> Icon {
    let bytes: &'static [u8] = match state {
        "ok" => include_bytes!("../../icons/tray-ok.png"),
        "warning" => include_bytes!("../../icons/tray-warning.png"),
        "critical" => include_bytes!("../../icons/tray-critical.png"),
        "paused" => include_bytes!("../../icons/tray-paused.png"),
        _ => include_bytes!("../../icons/tray-unknown.png"),
    };
    let (rgba, width, height) = rgba_of(bytes).expect("the tray icons are 8-bit RGBA PNG files");
    Icon::from_rgba(rgba, width, height).expect("the tray icons have the size their pixels say")
}

/// The pixels of an 8-bit RGBA PNG file, and its width and height.
fn rgba_of(png_bytes: &[u8]) -> Option<(Vec<u8>, u32, u32)> {
    let mut reader = png::Decoder::new(std::io::Cursor::new(png_bytes))
        .read_info()
        .ok()?;
    let mut buf = vec![0; reader.output_buffer_size()?];
    let frame = reader.next_frame(&mut buf).ok()?;
    if frame.color_type != png::ColorType::Rgba || frame.bit_depth != png::BitDepth::Eight {
        return None;
    }
    buf.truncate(frame.buffer_size());
    Some((buf, frame.width, frame.height))
}

/// The tray's menu: one status line per mailbox, then the actions.
fn tray_menu(
    cards: &BTreeMap<String, Card>,
    lang: Lang,
    paused: bool,
    trouble: Option<&str>,
) -> Result<Menu, tray_icon::menu::Error> {
    let menu = Menu::new();
    let add = |id: String, text: String, enabled: bool| {
        // `&` would mark a keyboard accelerator in some trays.
        let text = text.replace('&', "&&");
        menu.append(&MenuItem::with_id(id, text, enabled, None))
    };
    match trouble {
        Some(t) => add("summary".into(), t.to_string(), false)?,
        None => add("summary".into(), summary_line(cards, lang), false)?,
    }
    for c in cards.values() {
        let line = format!("{}: {}", c.mailbox, state_word(c.state, lang));
        add(format!("mb:{}", c.mailbox), line, false)?;
    }
    menu.append(&PredefinedMenuItem::separator())?;
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
/// rebuilt under the user's pointer for nothing. On the main thread.
fn refresh_tray(app: &AppHandle, tray: &TrayIcon) {
    let shared = app.shared();
    let lang = shared.lang();
    let cards = shared.cards.lock().expect("not poisoned").clone();
    let paused = shared
        .paused_until
        .lock()
        .expect("not poisoned")
        .is_some_and(|t| t > now_ms());
    let trouble = shared.trouble.lock().expect("not poisoned").clone();
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
    match tray_menu(&cards, lang, paused, trouble.as_deref()) {
        Ok(menu) => tray.set_menu(Some(Box::new(menu))),
        Err(e) => tracing::warn!("cannot build the tray's menu: {e}"),
    }
}

/// What a menu item does.
fn on_menu(app: &AppHandle, id: &str) {
    let shared = app.shared();
    match id {
        "open" => app.open_window(None),
        "history" => app.open_window(Some("history")),
        "check" => {
            let _ = shared.tell(MonitorCommand::CheckNow(None));
        }
        "pause" => {
            let until_ms = now_ms() + 3_600_000;
            let _ = shared.tell(MonitorCommand::Pause { until_ms });
        }
        "resume" => {
            let _ = shared.tell(MonitorCommand::Resume);
        }
        "quit" => app.exit(),
        _ => {}
    }
}

fn main() {
    // On X11, GTK 3 opens OpenGL as soon as it connects, only to choose its visuals. That maps
    // the graphics driver (Mesa's, with LLVM: about 45 MB resident) into a process that spends
    // its life in the tray. The window process sets the same (window.rs).
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
    if let Ok((_, data)) = &found {
        // A `mailcanary check` from cron beside the app refreshes a sign-in in turn with it.
        mailcanary_engine::oauth::share_refreshes_in(data);
    }
    // First of all: a second start (from the menu, at login) only opens the first one's
    // window, so there is never a second monitor on the same history.
    let claim = match &found {
        Ok((_, data)) => match single::claim(data) {
            Ok(single::Claim::Another { told }) => {
                if !told {
                    eprintln!(
                        "Mail Canary is already running on {}; its window could not be asked \
                         to open",
                        data.display()
                    );
                }
                return;
            }
            Ok(first) => Some(first),
            Err(e) => {
                if single::tell(data) {
                    return;
                }
                tracing::warn!("cannot tell whether Mail Canary is already running: {e}");
                None
            }
        },
        Err(_) => None,
    };
    let loaded = found
        .as_ref()
        .map_err(|e| e.clone())
        .and_then(|(config, _)| config_file::load(config).map_err(|e| e.to_string()));
    let (config, trouble) = match loaded {
        Ok(c) => (c, None),
        Err(e) => (Config::default(), Some(e)),
    };
    // Before any program is started (the window, a hook): none inherits a password.
    mailcanary_engine::secrets::secret_vars_of_config(&config);
    let lang = host::language(&config);
    let paths = found.ok().map(|(config, data)| Paths { config, data });
    let shared = Shared::new(paths, lang, trouble.clone());
    // Until the monitor has read the history, each mailbox waits for its first check.
    *shared.cards.lock().expect("not poisoned") = config
        .mailboxes
        .values()
        .map(|mb| {
            let card = Card::of(mb);
            (card.mailbox.clone(), card)
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let event_loop = EventLoopBuilder::<UserEvent>::with_user_event().build();
    let app = AppHandle::new(shared, event_loop.create_proxy(), runtime.handle().clone());
    let proxy = event_loop.create_proxy();
    MenuEvent::set_event_handler(Some(move |e: MenuEvent| {
        let _ = proxy.send_event(UserEvent::Menu(e.id.0));
    }));
    #[cfg(unix)]
    let claim = match claim {
        Some(single::Claim::First { _lock, listener }) => {
            if let Some(l) = listener {
                let app = app.clone();
                single::listen(l, move || app.open_window(None));
            }
            Some(_lock)
        }
        _ => None,
    };
    if trouble.is_none() {
        let app = app.clone();
        runtime.spawn(async move {
            let _ = host::restart(&app).await;
        });
    }
    if open_at_start {
        app.open_window(None);
    }
    let mut tray: Option<TrayIcon> = None;
    event_loop.run(move |event, _, control_flow| {
        *control_flow = ControlFlow::Wait;
        // Both live as long as the app: the lock on the data directory, the monitor's runtime.
        let _ = (&claim, &runtime);
        match event {
            // Made once the loop runs (macOS wants it so).
            Event::NewEvents(StartCause::Init) => {
                let built = TrayIconBuilder::new()
                    .with_id(TRAY_ID)
                    .with_icon(tray_icon("waiting"))
                    .build();
                match built {
                    Ok(t) => {
                        refresh_tray(&app, &t);
                        tray = Some(t);
                    }
                    Err(e) => tracing::warn!("cannot show the tray icon: {e}"),
                }
            }
            Event::UserEvent(UserEvent::Refresh) => {
                if let Some(t) = &tray {
                    refresh_tray(&app, t);
                }
            }
            Event::UserEvent(UserEvent::Menu(id)) => on_menu(&app, &id),
            Event::UserEvent(UserEvent::Quit) => {
                // A wizard left open with a tested, unsaved mailbox leaves no password behind.
                commands::forget_tested(&app);
                tray = None;
                // Now, without waiting for the runtime's blocking work (a keyring prompt) to
                // end; the window process ends when its pipe closes.
                std::process::exit(0);
            }
            _ => {}
        }
    });
}
