//! Mail Canary's window: the web view with the UI (`ui/`), started by the tray app
//! (`mailcanary-app`) when the window is opened, and ended when it is closed. It knows
//! nothing itself: each command of the page goes to the tray app, which runs it, over this
//! process's standard input and output (`wire.rs`); the tray app's events come back the same
//! way and are handed to the page.
//!
//! Started by hand, it has no tray app to talk to, and says so.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod wire;

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use tauri::{AppHandle, Emitter, Manager, WebviewUrl, WebviewWindowBuilder};
use tokio::sync::oneshot;

use wire::{Call, ToWindow};

const WINDOW: &str = "main";

/// The way to the tray app.
struct Bridge {
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, oneshot::Sender<(bool, Value)>>>,
    out: Mutex<Box<dyn Write + Send>>,
}

fn gone(why: &str) -> Value {
    json!({"kind": "monitor", "message": why})
}

/// The page's one command: `cmd` with `args`, run by the tray app; its answer or its error
/// (`{kind, message[, field]}`) as the tray app gave it.
#[tauri::command]
async fn call(
    bridge: tauri::State<'_, Bridge>,
    cmd: String,
    args: Option<Value>,
) -> Result<Value, Value> {
    let id = bridge.next.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = oneshot::channel();
    bridge.waiting.lock().expect("not poisoned").insert(id, tx);
    let line = wire::line(&Call {
        id,
        cmd,
        args: args.unwrap_or(Value::Null),
    });
    let sent = {
        let mut out = bridge.out.lock().expect("not poisoned");
        out.write_all(&line).and_then(|_| out.flush())
    };
    if sent.is_err() {
        bridge.waiting.lock().expect("not poisoned").remove(&id);
        return Err(gone("the Mail Canary tray app is not running"));
    }
    match rx.await {
        Ok((true, v)) => Ok(v),
        Ok((false, e)) => Err(e),
        Err(_) => Err(gone("the Mail Canary tray app ended")),
    }
}

/// Our own copy of standard output for the tray app's lines; fd 1 itself then points at
/// standard error, so that nothing a library prints can break a line in two.
#[cfg(unix)]
fn private_stdout() -> Box<dyn Write + Send> {
    use std::os::fd::AsFd;
    match std::io::stdout().as_fd().try_clone_to_owned() {
        Ok(ours) => {
            // SAFETY: dup2 of two descriptors this process holds open; nothing else has
            // written to standard output yet.
            unsafe { libc::dup2(2, 1) };
            Box::new(std::fs::File::from(ours))
        }
        Err(_) => Box::new(std::io::stdout()),
    }
}

#[cfg(not(unix))]
fn private_stdout() -> Box<dyn Write + Send> {
    Box::new(std::io::stdout())
}

fn show(app: &AppHandle) {
    if let Some(w) = app.get_webview_window(WINDOW) {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

/// Takes the tray app's lines until it goes; then the window goes too.
fn listen(app: AppHandle) {
    let mut input = std::io::stdin().lock();
    let mut buf = Vec::new();
    while wire::read_line(&mut input, &mut buf).is_some() {
        match serde_json::from_slice::<ToWindow>(&buf) {
            Ok(ToWindow::Answer { id, ok, value }) => {
                let bridge = app.state::<Bridge>();
                let waiting = bridge.waiting.lock().expect("not poisoned").remove(&id);
                if let Some(tx) = waiting {
                    let _ = tx.send((ok, value));
                }
            }
            Ok(ToWindow::Event { name, payload }) => {
                let _ = app.emit(&name, payload);
            }
            Ok(ToWindow::Show) => show(&app),
            Err(e) => eprintln!("mailcanary-window: a line from the tray app not understood: {e}"),
        }
    }
    // Calls still waiting fail now, not never.
    app.state::<Bridge>()
        .waiting
        .lock()
        .expect("not poisoned")
        .clear();
    app.exit(0);
}

fn main() {
    // As in the tray app (main.rs): GTK would map the OpenGL driver only to choose visuals.
    #[cfg(target_os = "linux")]
    if std::env::var_os("GDK_GL").is_none() {
        // SAFETY: the first statement of main; no other thread exists yet.
        unsafe { std::env::set_var("GDK_GL", "disable") };
    }
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        eprintln!(
            "mailcanary-window is the window of the Mail Canary tray app; start mailcanary-app"
        );
        std::process::exit(2);
    }
    let out = private_stdout();
    // The view to open at: a word of the page's own (`history`...), nothing else.
    let mut args = std::env::args().skip(1);
    let mut view = None;
    while let Some(a) = args.next() {
        if a == "--view" {
            view = args
                .next()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_lowercase()));
        }
    }
    let bridge = Bridge {
        next: AtomicU64::new(1),
        waiting: Mutex::new(HashMap::new()),
        out: Mutex::new(out),
    };
    tauri::Builder::default()
        .manage(bridge)
        .invoke_handler(tauri::generate_handler![call])
        .on_window_event(|window, event| {
            // Closed: the tray app hears it at once (its end of the pipe reads nothing more),
            // so that an "Open" from now on starts a new window rather than this dying one.
            if let tauri::WindowEvent::Destroyed = event {
                let bridge = window.state::<Bridge>();
                *bridge.out.lock().expect("not poisoned") = Box::new(std::io::sink());
            }
        })
        .setup(move |app| {
            // A new window reads the view it should show from the address.
            let page = match &view {
                Some(v) => format!("index.html#{v}"),
                None => "index.html".to_string(),
            };
            WebviewWindowBuilder::new(app, WINDOW, WebviewUrl::App(page.into()))
                .title("Mail Canary")
                .inner_size(880.0, 640.0)
                .build()?;
            let handle = app.handle().clone();
            std::thread::Builder::new()
                .name("tray-app".into())
                .spawn(move || listen(handle))?;
            Ok(())
        })
        .run(tauri::generate_context!("../tauri.conf.json"))
        .expect("the Mail Canary window could not start");
}
