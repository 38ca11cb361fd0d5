//! A very small HTTP client for the requests Mail Canary makes: a webhook's POST, a metrics
//! push's PUT, the GET of a domain's mail autoconfig file, and the POSTs to an OAuth2 token
//! endpoint. TLS through the same verified rustls set-up as mail. URLs are treated as secrets
//! (webhook URLs hold tokens): errors name only the host, and only where the caller adds it.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A parsed `http://` or `https://` URL.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// `https`.
    pub tls: bool,
    /// Host name or address (no brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl std::fmt::Debug for HttpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{scheme}://{}:{}/…", self.host, self.port)
    }
}

impl HttpUrl {
    /// Parses a URL; the error never repeats it.
    pub fn parse(url: &str) -> Result<HttpUrl, String> {
        let bad = || "not an http:// or https:// URL".to_string();
        let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(bad());
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') || path.contains(char::is_whitespace) {
            return Err(bad());
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
                h.trim_matches(['[', ']']).to_string(),
                p.parse().map_err(|_| bad())?,
            ),
            _ => (authority.to_string(), if tls { 443 } else { 80 }),
        };
        if host.is_empty() {
            return Err(bad());
        }
        Ok(HttpUrl {
            tls,
            host,
            port,
            path: path.to_string(),
        })
    }

    /// The same server with another path.
    /// The `Host` header: the host, with the port unless it is the scheme's own.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match (self.tls, self.port) {
            (true, 443) | (false, 80) => host,
            (_, p) => format!("{host}:{p}"),
        }
    }

    pub fn with_path(&self, path: String) -> HttpUrl {
        HttpUrl {
            path,
            ..self.clone()
        }
    }
}

/// Percent-encodes all but RFC 3986's unreserved characters (for query strings and forms).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Why a request gave no answer to use. The texts name no URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// Nothing (or not all of it) came back within the limit.
    #[error("no answer within {} s", .0.as_secs())]
    Timeout(Duration),
    /// The name, the connection, TLS or the transfer failed.
    #[error("{0}")]
    Transport(String),
    /// What came back is not an HTTP answer.
    #[error("no HTTP answer")]
    NoAnswer,
    /// The answer is larger than the caller takes.
    #[error("the answer is too large")]
    TooLarge,
    /// Not sent: plain HTTP to another computer would show the request to the network.
    #[error("refusing plain HTTP to another computer")]
    PlainToRemote,
}

fn transport(e: impl std::fmt::Display) -> HttpError {
    HttpError::Transport(e.to_string())
}

/// A connection to the URL's server: TLS, verified, for `https`.
async fn connect(url: &HttpUrl, limit: Duration) -> Result<crate::net::MailStream, HttpError> {
    let addrs = crate::net::resolve(&url.host, url.port)
        .await
        .map_err(transport)?;
    let tcp = crate::net::connect(&addrs, limit)
        .await
        .map_err(transport)?;
    if !url.tls {
        return Ok(crate::net::MailStream::plain(tcp));
    }
    let config = crate::tls::client_config(Vec::new()).map_err(transport)?;
    crate::net::tls_handshake(config, &url.host, tcp)
        .await
        .map_err(transport)
}

/// A connection with `head` and `body` sent.
async fn send(
    url: &HttpUrl,
    head: String,
    body: &[u8],
    limit: Duration,
) -> Result<crate::net::MailStream, HttpError> {
    let mut stream = connect(url, limit).await?;
    stream.write_all(head.as_bytes()).await.map_err(transport)?;
    stream.write_all(body).await.map_err(transport)?;
    Ok(stream)
}

/// The status code on an answer's first line.
fn status_of(head: &[u8]) -> Result<u16, HttpError> {
    String::from_utf8_lossy(head)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or(HttpError::NoAnswer)
}

/// `work`, bounded by `limit`.
async fn within<T>(
    limit: Duration,
    work: impl std::future::Future<Output = Result<T, HttpError>>,
) -> Result<T, HttpError> {
    tokio::time::timeout(limit, work)
        .await
        .map_err(|_| HttpError::Timeout(limit))?
}

/// Sends one request with a body and returns the status code (the rest of the answer is not
/// read); bounded by `limit`.
pub async fn request(
    method: &str,
    url: &HttpUrl,
    content_type: &str,
    body: &[u8],
    limit: Duration,
) -> Result<u16, HttpError> {
    let head = format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: mailcanary\r\n\
         Content-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        url.path,
        url.host_header(),
        body.len()
    );
    within(limit, async {
        let mut stream = send(url, head, body, limit).await?;
        let mut answer = Vec::new();
        let mut buf = [0u8; 512];
        while !answer.windows(2).any(|w| w == b"\r\n") && answer.len() < 4096 {
            let n = stream.read(&mut buf).await.map_err(transport)?;
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
        status_of(&answer)
    })
    .await
}

/// Fetches `url` (HTTP/1.0, so the answer comes whole, not in chunks): its status and at most
/// `max` bytes of its body; bounded by `limit`.
pub async fn get(url: &HttpUrl, limit: Duration, max: usize) -> Result<(u16, Vec<u8>), HttpError> {
    let head = format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: mailcanary\r\nAccept: text/xml\r\n\r\n",
        url.path,
        url.host_header()
    );
    exchange(url, head, &[], limit, max).await
}

/// POSTs a form (`application/x-www-form-urlencoded`) and reads the answer, as [`get`] does.
/// Plain HTTP goes only to this computer.
pub async fn post_form(
    url: &HttpUrl,
    body: &[u8],
    limit: Duration,
    max: usize,
) -> Result<(u16, Vec<u8>), HttpError> {
    if !url.tls && !mailcanary_core::config::is_loopback_host(&url.host) {
        return Err(HttpError::PlainToRemote);
    }
    let head = format!(
        "POST {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: mailcanary\r\nAccept: application/json\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        url.path,
        url.host_header(),
        body.len()
    );
    exchange(url, head, body, limit, max).await
}

/// Sends `head` and `body` (HTTP/1.0: the answer ends with the connection) and reads the
/// status and at most `max` bytes of body.
async fn exchange(
    url: &HttpUrl,
    head: String,
    body: &[u8],
    limit: Duration,
    max: usize,
) -> Result<(u16, Vec<u8>), HttpError> {
    within(limit, async {
        let mut stream = send(url, head, body, limit).await?;
        let mut answer = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = match stream.read(&mut buf).await {
                Ok(n) => n,
                // Many servers close without TLS's close_notify: the answer is what came.
                Err(e)
                    if e.kind() == std::io::ErrorKind::UnexpectedEof
                        && answer.windows(4).any(|w| w == b"\r\n\r\n") =>
                {
                    0
                }
                Err(e) => return Err(transport(e)),
            };
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
            if answer.len() > max + 16384 {
                return Err(HttpError::TooLarge);
            }
        }
        let split = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or(HttpError::NoAnswer)?;
        let status = status_of(&answer[..split])?;
        let mut body = answer.split_off(split + 4);
        body.truncate(max);
        Ok((status, body))
    })
    .await
}
