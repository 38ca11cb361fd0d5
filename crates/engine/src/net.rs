//! Name lookup, TCP connection and the stream type both protocols run on.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// The longest line a server may send: mail protocols' lines are under 1,000 bytes (RFC 5321)
/// or a few thousand (RFC 3501's advice is 8,000 octets), and messages come in lines of their
/// own. A server sending more without a line feed is broken or hostile: the read fails as
/// InvalidData (a protocol error) instead of buffering without end.
pub const MAX_LINE: usize = 1 << 20;

/// A connection, plain or TLS, that refuses lines longer than [`MAX_LINE`].
#[derive(Debug)]
pub struct MailStream {
    conn: Conn,
    /// Bytes read since the last line feed.
    line: usize,
}

#[derive(Debug)]
enum Conn {
    /// Unencrypted TCP (before STARTTLS, or with `security = plain`).
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
}

impl MailStream {
    /// An unencrypted connection.
    pub fn plain(tcp: TcpStream) -> MailStream {
        MailStream {
            conn: Conn::Plain(tcp),
            line: 0,
        }
    }

    fn tls(tls: TlsStream<TcpStream>) -> MailStream {
        MailStream {
            conn: Conn::Tls(Box::new(tls)),
            line: 0,
        }
    }

    /// The TCP connection of a stream not encrypted yet (for STARTTLS).
    pub fn into_plain(self) -> Option<TcpStream> {
        match self.conn {
            Conn::Plain(tcp) => Some(tcp),
            Conn::Tls(_) => None,
        }
    }

    /// The certificate the server presented (DER), once TLS is up.
    pub fn peer_certificate(&self) -> Option<Vec<u8>> {
        match &self.conn {
            Conn::Plain(_) => None,
            Conn::Tls(s) => s
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.as_ref().to_vec()),
        }
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        match &self.conn {
            Conn::Plain(s) => s.peer_addr(),
            Conn::Tls(s) => s.get_ref().0.peer_addr(),
        }
    }
}

impl AsyncRead for MailStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        quick_ack(match &this.conn {
            Conn::Plain(s) => s,
            Conn::Tls(s) => s.get_ref().0,
        });
        let before = buf.filled().len();
        let read = match &mut this.conn {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        };
        if let Poll::Ready(Ok(())) = read {
            let new = &buf.filled()[before..];
            this.line = match new.iter().rposition(|&b| b == b'\n') {
                Some(i) => new.len() - i - 1,
                None => this.line + new.len(),
            };
            if this.line > MAX_LINE {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("the server sent a line longer than {} KiB", MAX_LINE >> 10),
                )));
            }
        }
        read
    }
}

/// Asks Linux to acknowledge what arrives at once rather than after its delayed-ACK timer
/// (the kernel drops back to delayed ACKs by itself, so it is asked before every read). A
/// server whose small replies wait for the ACK of what it sent before (Nagle's algorithm:
/// Postfix's EHLO reply after the TLS session ticket) then answers about 40 ms sooner.
fn quick_ack(tcp: &TcpStream) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let on: libc::c_int = 1;
        // SAFETY: a valid socket descriptor borrowed for the call, and a c_int option value
        // of the size given; a failure only leaves delayed ACKs as they were.
        unsafe {
            libc::setsockopt(
                tcp.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_QUICKACK,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = tcp;
}

impl AsyncWrite for MailStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().conn {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().conn {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().conn {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl lettre::transport::smtp::client::AsyncTokioStream for MailStream {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        MailStream::peer_addr(self)
    }
}

/// Looks up a host's addresses.
pub async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no address for {host}"),
        ));
    }
    Ok(addrs)
}

/// Connects to the first address that answers, each attempt bounded by `per_attempt`.
pub async fn connect(addrs: &[SocketAddr], per_attempt: Duration) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
    for addr in addrs {
        match tokio::time::timeout(per_attempt, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Ok(Err(e)) => last = e,
            Err(_) => {
                last = io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no answer from {addr} within {per_attempt:?}"),
                )
            }
        }
    }
    Err(last)
}

/// Performs a verified TLS handshake for `host` over `tcp`.
pub async fn tls_handshake(
    config: Arc<ClientConfig>,
    host: &str,
    tcp: TcpStream,
) -> io::Result<MailStream> {
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let tls = TlsConnector::from(config).connect(name, tcp).await?;
    Ok(MailStream::tls(tls))
}
