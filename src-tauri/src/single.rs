//! One tray app per data directory: a second start (from the menu, at login, in a second
//! desktop session of the same user) asks the first to show its window, and ends. The first
//! holds a lock on `app.lock` in the data directory for its whole life; on Unix it listens
//! on `app.sock` beside it for "open".

use std::fs::File;
use std::path::Path;

/// What a start found.
pub enum Claim {
    /// This is the only app on the data directory; the lock lasts as long as the value.
    First {
        _lock: File,
        #[cfg(unix)]
        listener: Option<std::os::unix::net::UnixListener>,
    },
    /// Another app holds the data directory; it was asked to show its window if it could be
    /// reached (`false` when it could not).
    Another { told: bool },
}

/// The line a second start sends.
const OPEN: &[u8] = b"open\n";

pub fn claim(data: &Path) -> std::io::Result<Claim> {
    std::fs::create_dir_all(data)?;
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(data.join("app.lock"))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(Claim::Another { told: tell(data) }),
        Err(std::fs::TryLockError::Error(e)) => return Err(e),
    }
    #[cfg(unix)]
    {
        let path = data.join("app.sock");
        // Left by an app that did not end cleanly: the lock says no one listens there now.
        let _ = std::fs::remove_file(&path);
        let listener = match std::os::unix::net::UnixListener::bind(&path) {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(
                    "a second start will not be able to open this app's window: {}: {e}",
                    path.display()
                );
                None
            }
        };
        Ok(Claim::First {
            _lock: lock,
            listener,
        })
    }
    #[cfg(not(unix))]
    Ok(Claim::First { _lock: lock })
}

/// Asks the app running on `data` to show its window; answers whether one was reached.
#[cfg(unix)]
pub fn tell(data: &Path) -> bool {
    use std::io::Write;
    std::os::unix::net::UnixStream::connect(data.join("app.sock"))
        .and_then(|mut s| s.write_all(OPEN))
        .is_ok()
}

#[cfg(not(unix))]
pub fn tell(_data: &Path) -> bool {
    false
}

/// Calls `open` for every second start that asks, for as long as the app runs.
#[cfg(unix)]
pub fn listen(listener: std::os::unix::net::UnixListener, open: impl Fn() + Send + 'static) {
    use std::io::Read;
    let spawned = std::thread::Builder::new()
        .name("second-start".into())
        .spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(2)));
                let mut asked = Vec::new();
                // A few bytes, from a process of the same user (the socket is in the user's
                // data directory); anything else is ignored.
                if conn.take(OPEN.len() as u64).read_to_end(&mut asked).is_ok() && asked == OPEN {
                    open();
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("a second start will not be able to open this app's window: {e}");
    }
}
