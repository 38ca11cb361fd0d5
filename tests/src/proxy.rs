//! A TCP proxy on loopback that puts faults on the wire between Mail Canary and the real
//! servers: silence after connect, a hang, a reset or a clean close at a chosen point, bytes
//! dripped one at a time, garbage or an endless line instead of the server, a close in the
//! middle of the TLS handshake, a word (STARTTLS) cut out of the server's answers.
//!
//! Each connection takes the fault set when it is accepted. The proxy counts the connections
//! the client has not closed yet, so a test can tell a leaked connection from a closed one.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where in a connection a fault strikes.
#[derive(Debug, Clone)]
pub enum At {
    /// Once the server has sent this many bytes (0: before its first byte).
    ServerBytes(usize),
    /// Once the client has sent `pattern`, and the server then `then` more bytes.
    AfterClient { pattern: Vec<u8>, then: usize },
}

/// What the proxy does to a connection.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Passes everything.
    Pass,
    /// Accepts, reads what the client sends, and never answers.
    Silent,
    /// Passes until `At`, then nothing more either way; the connection stays open.
    Hang(At),
    /// Passes until `At`, then resets the connection (RST).
    Reset(At),
    /// Passes until `At`, then closes it cleanly (the answer is cut short).
    Close(At),
    /// Passes the server's bytes one at a time, this far apart.
    Drip(Duration),
    /// Passes everything, each piece of the server's answers after a random delay of up to
    /// this long (a slow, uneven server).
    Delay(Duration),
    /// Answers with these bytes instead of the server, then says nothing more.
    Reply(Vec<u8>),
    /// Closes the connection as soon as the client speaks (its TLS hello, say).
    CloseOnClientBytes,
    /// Cuts this advertisement of STARTTLS out of everything the server sends, and turns the
    /// client's STARTTLS into a command the server does not know, as a downgrading attacker in
    /// the middle does.
    StripStarttls(Vec<u8>),
}

struct State {
    fault: Mutex<Fault>,
    accepted: AtomicUsize,
    open: AtomicUsize,
    relayed: AtomicUsize,
    stop: AtomicBool,
}

pub struct FaultProxy {
    port: u16,
    state: Arc<State>,
}

impl FaultProxy {
    /// A proxy on 127.0.0.1 in front of `127.0.0.1:target`.
    pub fn start(target: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State {
            fault: Mutex::new(Fault::Pass),
            accepted: AtomicUsize::new(0),
            open: AtomicUsize::new(0),
            relayed: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let s = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = conn else { continue };
                s.accepted.fetch_add(1, Ordering::SeqCst);
                s.open.fetch_add(1, Ordering::SeqCst);
                let fault = s.fault.lock().unwrap().clone();
                let s2 = s.clone();
                std::thread::spawn(move || serve(client, target, fault, s2));
            }
        });
        FaultProxy { port, state }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The fault for connections accepted from now on.
    pub fn set(&self, fault: Fault) {
        *self.state.fault.lock().unwrap() = fault;
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }

    /// Bytes the servers sent to clients through the proxy so far.
    pub fn relayed(&self) -> usize {
        self.state.relayed.load(Ordering::SeqCst)
    }

    /// Connections the client has not closed.
    pub fn open(&self) -> usize {
        self.state.open.load(Ordering::SeqCst)
    }

    /// Waits until the client has closed every connection; answers how many are still open
    /// when `limit` runs out (0 when all closed).
    pub fn wait_all_closed(&self, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        while self.open() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.open()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // A connection's threads end when the client closes it.
        self.state.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees `stop`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Sets SO_LINGER to 0, so that closing sends RST.
fn reset(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a correctly sized option value.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    let _ = s.shutdown(Shutdown::Both);
}

/// Shared between a connection's two directions.
struct Conn {
    /// The client sent the trigger pattern: from then on the server's bytes count.
    triggered: AtomicBool,
    /// The fault struck: pass nothing more.
    struck: AtomicBool,
}

fn serve(client: TcpStream, target: u16, fault: Fault, state: Arc<State>) {
    let conn = Arc::new(Conn {
        triggered: AtomicBool::new(false),
        struck: AtomicBool::new(false),
    });
    let server = match &fault {
        Fault::Silent | Fault::Reply(_) => None,
        _ => TcpStream::connect(("127.0.0.1", target)).ok(),
    };
    if let Fault::Reply(bytes) = &fault {
        let _ = (&client).write_all(bytes);
    }
    // Server to client, on its own thread.
    let down = match &server {
        Some(server) => {
            let (server, client, fault, conn, state) = (
                server.try_clone().unwrap(),
                client.try_clone().unwrap(),
                fault.clone(),
                conn.clone(),
                state.clone(),
            );
            Some(std::thread::spawn(move || {
                downstream(server, client, fault, conn, &state)
            }))
        }
        None => None,
    };
    // Client to server, here: it also tells when the client closes.
    let mut seen: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match (&client).read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if matches!(fault, Fault::CloseOnClientBytes) {
            reset(&client);
            break;
        }
        if let Fault::Hang(At::AfterClient { pattern, .. })
        | Fault::Reset(At::AfterClient { pattern, .. })
        | Fault::Close(At::AfterClient { pattern, .. }) = &fault
            && !conn.triggered.load(Ordering::SeqCst)
        {
            seen.extend_from_slice(&buf[..n]);
            if seen.windows(pattern.len()).any(|w| w == pattern.as_slice()) {
                conn.triggered.store(true, Ordering::SeqCst);
            }
            let keep = seen.len().saturating_sub(pattern.len());
            seen.drain(..keep);
        }
        if conn.struck.load(Ordering::SeqCst) {
            continue;
        }
        if let Fault::StripStarttls(_) = &fault {
            replace(&mut buf[..n], b"STARTTLS", b"XSTRIPPD");
        }
        if let Some(mut s) = server.as_ref()
            && s.write_all(&buf[..n]).is_err()
        {
            break;
        }
    }
    state.open.fetch_sub(1, Ordering::SeqCst);
    if let Some(s) = &server {
        let _ = s.shutdown(Shutdown::Both);
    }
    let _ = client.shutdown(Shutdown::Both);
    if let Some(d) = down {
        let _ = d.join();
    }
}

fn downstream(
    mut server: TcpStream,
    client: TcpStream,
    fault: Fault,
    conn: Arc<Conn>,
    state: &State,
) {
    let mut random = Random::new();
    let mut sent = 0usize;
    // Bytes the server sent since the client's trigger.
    let mut since = 0usize;
    let mut buf = vec![0u8; 16 * 1024];
    let strike = |conn: &Conn| {
        conn.struck.store(true, Ordering::SeqCst);
        match &fault {
            Fault::Reset(_) => reset(&client),
            Fault::Close(_) => {
                let _ = client.shutdown(Shutdown::Write);
            }
            _ => {}
        }
    };
    let at = match &fault {
        Fault::Hang(a) | Fault::Reset(a) | Fault::Close(a) => Some(a.clone()),
        _ => None,
    };
    if let Some(At::ServerBytes(0)) = at {
        strike(&conn);
    }
    loop {
        let n = match server.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if conn.struck.load(Ordering::SeqCst) {
            continue;
        }
        state.relayed.fetch_add(n, Ordering::SeqCst);
        let mut chunk = buf[..n].to_vec();
        // How much of this chunk may pass before the fault strikes.
        let room = match &at {
            Some(At::ServerBytes(limit)) => Some(limit.saturating_sub(sent)),
            Some(At::AfterClient { then, .. }) if conn.triggered.load(Ordering::SeqCst) => {
                Some(then.saturating_sub(since))
            }
            _ => None,
        };
        if conn.triggered.load(Ordering::SeqCst) {
            since += n;
        }
        sent += n;
        if let Some(room) = room
            && room < chunk.len()
        {
            chunk.truncate(room);
            let _ = (&client).write_all(&chunk);
            strike(&conn);
            continue;
        }
        let written = match &fault {
            Fault::Drip(every) => chunk.iter().try_for_each(|b| {
                std::thread::sleep(*every);
                (&client).write_all(std::slice::from_ref(b))
            }),
            Fault::StripStarttls(advert) => (&client).write_all(&cut(&chunk, advert)),
            Fault::Delay(most) => {
                std::thread::sleep(most.mul_f64(random.next()));
                (&client).write_all(&chunk)
            }
            _ => (&client).write_all(&chunk),
        };
        if written.is_err() {
            break;
        }
    }
    let _ = client.shutdown(Shutdown::Write);
}

/// `data` without any occurrence of `word`.
fn cut(data: &[u8], word: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i..].starts_with(word) {
            i += word.len();
        } else {
            out.push(data[i]);
            i += 1;
        }
    }
    out
}

/// Overwrites every `word` in `data` with `with` (of the same length).
fn replace(data: &mut [u8], word: &[u8], with: &[u8]) {
    let mut i = 0;
    while i + word.len() <= data.len() {
        if data[i..].starts_with(word) {
            data[i..i + word.len()].copy_from_slice(with);
            i += word.len();
        } else {
            i += 1;
        }
    }
}

/// A small random source for delays (xorshift, seeded from the clock and a counter): the
/// delays need to be uneven, not unpredictable.
struct Random(u64);

impl Random {
    fn new() -> Random {
        static SEQ: AtomicUsize = AtomicUsize::new(1);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64;
        Random(
            t ^ (SEQ.fetch_add(1, Ordering::Relaxed) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
                | 1,
        )
    }

    /// A number in [0, 1).
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}
