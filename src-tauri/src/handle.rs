//! The tray process's handle on itself, given to the monitor's events and the window's
//! commands: what the app knows ([`Shared`]), the tray (redrawn on the main thread), and the
//! window, which is a process of its own (`mailcanary-window`) started when it is opened and
//! gone when it is closed. An idle app so holds no web view, and does not even map WebKit.

use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use serde::Serialize;
use tao::event_loop::EventLoopProxy;

use crate::host::Shared;
use crate::wire::{self, Call, ToWindow};

/// What other threads ask of the main thread, where the tray lives.
#[derive(Debug)]
pub enum UserEvent {
    /// Show what the cards, the pause and the trouble are now.
    Refresh,
    /// A menu item was chosen.
    Menu(String),
    /// End the app.
    Quit,
}

/// A running window process: where to write to it.
struct Window {
    /// Lines for the writer thread, which owns the process's standard input.
    to: mpsc::Sender<Vec<u8>>,
    /// Lines given to the writer thread and not written yet.
    queued: Arc<AtomicU64>,
    /// Tells this process from a later one.
    generation: u64,
}

/// Events beyond this many unwritten lines are dropped: a window that stopped reading must
/// not make the tray hold ever more memory. (Answers always go.)
const MAX_QUEUED: u64 = 10_000;

impl Window {
    fn send(&self, line: Vec<u8>) -> bool {
        self.queued.fetch_add(1, Ordering::Relaxed);
        self.to.send(line).is_ok()
    }
}

struct Inner {
    shared: Shared,
    proxy: Mutex<EventLoopProxy<UserEvent>>,
    runtime: tokio::runtime::Handle,
    window: Mutex<Option<Window>>,
    generations: AtomicU64,
}

/// Cheap to clone; every clone is the same app.
#[derive(Clone)]
pub struct AppHandle(Arc<Inner>);

impl AppHandle {
    pub fn new(
        shared: Shared,
        proxy: EventLoopProxy<UserEvent>,
        runtime: tokio::runtime::Handle,
    ) -> AppHandle {
        AppHandle(Arc::new(Inner {
            shared,
            proxy: Mutex::new(proxy),
            runtime,
            window: Mutex::new(None),
            generations: AtomicU64::new(0),
        }))
    }

    pub fn shared(&self) -> &Shared {
        &self.0.shared
    }

    fn tell_main(&self, ev: UserEvent) {
        // Fails only once the event loop has ended, when there is nothing left to show.
        let _ = self.0.proxy.lock().expect("not poisoned").send_event(ev);
    }

    /// Brings the tray up to date (on the main thread, soon).
    pub fn refresh_tray(&self) {
        self.tell_main(UserEvent::Refresh);
    }

    /// Ends the app.
    pub fn exit(&self) {
        self.tell_main(UserEvent::Quit);
    }

    /// Pushes an event to the window's page, if a window is open; answers whether one was.
    pub fn emit(&self, name: &str, payload: impl Serialize) -> bool {
        let Ok(payload) = serde_json::to_value(payload) else {
            return false;
        };
        let ev = ToWindow::Event {
            name: name.to_string(),
            payload,
        };
        self.send(&ev)
    }

    fn send(&self, msg: &ToWindow) -> bool {
        let window = self.0.window.lock().expect("not poisoned");
        window.as_ref().is_some_and(|w| {
            if w.queued.load(Ordering::Relaxed) > MAX_QUEUED {
                tracing::warn!("the window reads nothing: an event was dropped");
                return false;
            }
            w.send(wire::line(msg))
        })
    }

    /// Shows the window (a new window process if none is running), at `view` if given.
    pub fn open_window(&self, view: Option<&str>) {
        let mut window = self.0.window.lock().expect("not poisoned");
        if let Some(w) = window.as_ref() {
            let mut alive = true;
            if let Some(v) = view {
                let open = ToWindow::Event {
                    name: "open".into(),
                    payload: serde_json::json!({"view": v, "mailbox": null, "at_ms": null}),
                };
                alive = w.send(wire::line(&open));
            }
            if alive && w.send(wire::line(&ToWindow::Show)) {
                return;
            }
        }
        let generation = self.0.generations.fetch_add(1, Ordering::Relaxed) + 1;
        match self.start_window(view, generation) {
            Ok((to, queued)) => {
                *window = Some(Window {
                    to,
                    queued,
                    generation,
                })
            }
            Err(e) => tracing::warn!("cannot open the window: {e}"),
        }
    }

    /// Starts a window process: one thread writes to it, one reads its calls and hands them
    /// to the runtime; when it ends, the window is gone.
    #[allow(clippy::type_complexity)]
    fn start_window(
        &self,
        view: Option<&str>,
        generation: u64,
    ) -> std::io::Result<(mpsc::Sender<Vec<u8>>, Arc<AtomicU64>)> {
        let exe = window_exe()?;
        let mut cmd = Command::new(&exe);
        if let Some(v) = view {
            cmd.args(["--view", v]);
        }
        // The window needs no password nor the webhook's URL; WebKit's processes neither.
        for var in mailcanary_engine::secrets::secret_var_names() {
            cmd.env_remove(var);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", exe.display())))?;
        let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::other("the window process has no pipes"));
        };
        let (to, lines) = mpsc::channel::<Vec<u8>>();
        let queued = Arc::new(AtomicU64::new(0));
        let written = queued.clone();
        let writer = std::thread::Builder::new()
            .name("window-out".into())
            .spawn(move || {
                for line in lines {
                    written.fetch_sub(1, Ordering::Relaxed);
                    if stdin.write_all(&line).and_then(|_| stdin.flush()).is_err() {
                        break;
                    }
                }
            });
        let app = self.clone();
        let answers = Window {
            to: to.clone(),
            queued: queued.clone(),
            generation,
        };
        let reader = writer.and_then(|_| {
            std::thread::Builder::new()
                .name("window-in".into())
                .spawn(move || app.serve_window(child, stdout, answers))
        });
        // (Without its reader thread, the child was dropped with the closure: its pipes
        // closed, it ends by itself.)
        reader.map(|_| (to, queued))
    }

    /// Answers the window's calls until it ends; then forgets it.
    fn serve_window(self, mut child: Child, stdout: ChildStdout, answers: Window) {
        let answers = Arc::new(answers);
        let generation = answers.generation;
        let mut input = BufReader::new(stdout);
        let mut buf = Vec::new();
        while wire::read_line(&mut input, &mut buf).is_some() {
            let call: Call = match serde_json::from_slice(&buf) {
                Ok(c) => c,
                // Only what is wrong is logged, never the line: it may hold a password.
                Err(e) => {
                    tracing::warn!("the window sent a line that is not a call: {e}");
                    continue;
                }
            };
            let app = self.clone();
            let answers = answers.clone();
            let runtime = self.0.runtime.clone();
            self.0.runtime.spawn(async move {
                let id = call.id;
                // On its own task, so that even a panic in a command is answered.
                let ran = runtime
                    .spawn(async move { crate::commands::call(&app, &call.cmd, call.args).await })
                    .await;
                let (ok, value) = match ran {
                    Ok(Ok(v)) => (true, v),
                    Ok(Err(e)) => (false, serde_json::to_value(e).unwrap_or_default()),
                    Err(_) => (false, failed("the command failed inside the app")),
                };
                let mut line = wire::line(&ToWindow::Answer { id, ok, value });
                if line.len() > wire::MAX_LINE {
                    line = wire::line(&ToWindow::Answer {
                        id,
                        ok: false,
                        value: failed("the answer is too large to show"),
                    });
                }
                answers.send(line);
            });
        }
        drop(answers);
        // The window is gone (closed, or its process ended): the next "Open" starts anew.
        {
            let mut window = self.0.window.lock().expect("not poisoned");
            if window.as_ref().is_some_and(|w| w.generation == generation) {
                *window = None;
            }
        }
        // A wizard left open with a tested, unsaved mailbox leaves no password behind.
        crate::commands::forget_tested(&self);
        // A window process that closed its end but does not end is ended.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// An error answer of the app's own.
fn failed(message: &str) -> serde_json::Value {
    serde_json::json!({"kind": "io", "message": message})
}

/// The window program: beside this one.
fn window_exe() -> std::io::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let name = format!("mailcanary-window{}", std::env::consts::EXE_SUFFIX);
    Ok(me.with_file_name(name))
}
