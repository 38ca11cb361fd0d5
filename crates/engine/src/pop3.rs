//! A POP3 client (RFC 1939, CAPA RFC 2449, STLS RFC 2595), the way a POP3 mail program uses
//! the server: log in, list the messages with their unique ids (UIDL), read headers (TOP),
//! download in full (RETR), delete (DELE, applied at QUIT). Replies' response codes (RFC 2449,
//! RFC 3206: `[AUTH]`, `[SYS/TEMP]`, `[SYS/PERM]`, `[IN-USE]`, `[LOGIN-DELAY]`) are classified.
//!
//! A POP3 session sees the mailbox as it was at login: to notice new mail, log in again.

use std::time::Duration;

use mailcanary_core::Category;
use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::net::MailStream;
use crate::probe::Failure;

/// The longest multi-line answer read (a canary with its largest attachment is about 14 MB).
const MAX_ANSWER: usize = 64 << 20;

/// An open POP3 session.
pub struct Pop3Conn {
    stream: BufReader<MailStream>,
    /// What the server announced in CAPA.
    pub capabilities: Vec<String>,
    limit: Duration,
}

/// Where in the session a `-ERR` came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pop3Stage {
    Greeting,
    Auth,
    Mailbox,
}

/// The response code of a `-ERR` reply (RFC 2449: `-ERR [IN-USE] …` → `IN-USE`), upper case.
pub fn response_code(reply: &str) -> Option<String> {
    reply
        .strip_prefix("-ERR")
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix('['))
        .and_then(|r| r.split_once(']'))
        .map(|(c, _)| c.to_ascii_uppercase())
}

/// What a `-ERR` reply means, by its response code and where it came.
pub fn classify(stage: Pop3Stage, reply: &str) -> Category {
    match (response_code(reply).as_deref(), stage) {
        (Some("AUTH"), _) => Category::AuthFailed,
        // Another program has the mailbox open; or logins come too often for the server.
        (Some("IN-USE") | Some("LOGIN-DELAY") | Some("SYS/TEMP"), _) => Category::ServerError,
        // A permanent problem of the account (disabled, suspended) at login.
        (Some("SYS/PERM"), Pop3Stage::Auth) => Category::AccountLocked,
        (Some("SYS/PERM"), _) => Category::ServerError,
        (_, Pop3Stage::Auth) => Category::AuthFailed,
        _ => Category::ServerError,
    }
}

fn io_failure(e: std::io::Error) -> Failure {
    crate::probe::io_failure(&e)
}

impl Pop3Conn {
    /// Reads the greeting of a new connection; each later answer must come within `limit`.
    pub async fn greet(stream: MailStream, limit: Duration) -> Result<Pop3Conn, Failure> {
        let mut c = Pop3Conn {
            stream: BufReader::new(stream),
            capabilities: Vec::new(),
            limit,
        };
        c.status(Pop3Stage::Greeting).await?;
        Ok(c)
    }

    /// Goes on over `stream` after STLS and the TLS handshake (no second greeting comes).
    pub fn resumed(stream: MailStream, limit: Duration) -> Pop3Conn {
        Pop3Conn {
            stream: BufReader::new(stream),
            capabilities: Vec::new(),
            limit,
        }
    }

    async fn line(&mut self) -> Result<String, Failure> {
        let mut buf = Vec::new();
        let read = tokio::time::timeout(self.limit, self.stream.read_until(b'\n', &mut buf)).await;
        match read {
            Err(_) => Err(Failure::new(
                Category::Timeout,
                format!("no answer within {:.1} s", self.limit.as_secs_f64()),
            )),
            Ok(Err(e)) => Err(io_failure(e)),
            Ok(Ok(0)) => Err(Failure::new(
                Category::ConnectFailed,
                "the server closed the connection".to_string(),
            )),
            Ok(Ok(_)) => Ok(String::from_utf8_lossy(&buf)
                .trim_end_matches(['\r', '\n'])
                .to_string()),
        }
    }

    /// One `+OK` / `-ERR` line.
    async fn status(&mut self, stage: Pop3Stage) -> Result<String, Failure> {
        let line = self.line().await?;
        Self::interpret(stage, line)
    }

    fn interpret(stage: Pop3Stage, line: String) -> Result<String, Failure> {
        if let Some(rest) = line.strip_prefix("+OK") {
            return Ok(rest.trim().to_string());
        }
        if line.starts_with("-ERR") {
            return Err(Failure::new(classify(stage, &line), line));
        }
        Err(Failure::new(
            Category::ProtocolError,
            format!(
                "not a POP3 answer: {}",
                line.chars().take(80).collect::<String>()
            ),
        ))
    }

    async fn send(&mut self, command: &str) -> Result<(), Failure> {
        let w = self.stream.get_mut();
        let sent = async {
            w.write_all(command.as_bytes()).await?;
            w.write_all(b"\r\n").await?;
            w.flush().await
        };
        tokio::time::timeout(self.limit, sent)
            .await
            .map_err(|_| Failure::new(Category::Timeout, "the server takes nothing".into()))?
            .map_err(io_failure)
    }

    async fn command(&mut self, command: &str, stage: Pop3Stage) -> Result<String, Failure> {
        self.send(command).await?;
        self.status(stage).await
    }

    /// The body of a multi-line answer, dot-unstuffed, lines ending in CRLF.
    async fn multiline(&mut self) -> Result<Vec<u8>, Failure> {
        let mut out = Vec::new();
        loop {
            let mut buf = Vec::new();
            let read = tokio::time::timeout(self.limit, self.stream.read_until(b'\n', &mut buf))
                .await
                .map_err(|_| Failure::new(Category::Timeout, "the answer stopped".into()))?
                .map_err(io_failure)?;
            if read == 0 {
                return Err(Failure::new(
                    Category::ConnectFailed,
                    "the connection ended in the middle of an answer".into(),
                ));
            }
            let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line == b"." {
                return Ok(out);
            }
            let line = line.strip_prefix(b".").unwrap_or(line);
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
            if out.len() > MAX_ANSWER {
                return Err(Failure::new(
                    Category::ProtocolError,
                    "an answer larger than any canary".into(),
                ));
            }
        }
    }

    /// CAPA: what the server offers (empty when it does not know CAPA).
    pub async fn capa(&mut self) -> Result<&[String], Failure> {
        self.send("CAPA").await?;
        match self.status(Pop3Stage::Greeting).await {
            Ok(_) => {
                let body = self.multiline().await?;
                self.capabilities = String::from_utf8_lossy(&body)
                    .lines()
                    .map(|l| l.trim().to_ascii_uppercase())
                    .filter(|l| !l.is_empty())
                    .collect();
            }
            Err(f) if f.category != Category::Timeout && f.category != Category::ConnectFailed => {
                self.capabilities.clear();
            }
            Err(f) => return Err(f),
        }
        Ok(&self.capabilities)
    }

    /// STLS: the connection, ready for the TLS handshake (the server said yes).
    pub async fn stls(mut self) -> Result<tokio::net::TcpStream, Failure> {
        self.command("STLS", Pop3Stage::Greeting)
            .await
            .map_err(|f| {
                Failure::new(
                    Category::StarttlsMissing,
                    format!("STLS refused: {}", f.evidence),
                )
            })?;
        if !self.stream.buffer().is_empty() {
            return Err(Failure::new(
                Category::ProtocolError,
                "the server sent more after accepting STLS".into(),
            ));
        }
        self.stream.into_inner().into_plain().ok_or_else(|| {
            Failure::new(
                Category::ProtocolError,
                "STLS on a connection already encrypted".into(),
            )
        })
    }

    /// USER and PASS. The password goes only to the server.
    pub async fn login(&mut self, user: &str, password: &SecretString) -> Result<(), Failure> {
        if user.contains(['\r', '\n']) || password.expose_secret().contains(['\r', '\n']) {
            return Err(Failure::new(
                Category::ConfigError,
                "a login or password with a line break".into(),
            ));
        }
        self.command(&format!("USER {user}"), Pop3Stage::Auth)
            .await?;
        let pass = format!("PASS {}", password.expose_secret());
        self.send(&pass).await?;
        self.status(Pop3Stage::Auth).await.map(|_| ())
    }

    /// The SASL mechanisms CAPA announced (its `SASL` line), upper case.
    pub fn sasl_mechanisms(&self) -> Vec<String> {
        self.capabilities
            .iter()
            .filter_map(|c| c.strip_prefix("SASL "))
            .flat_map(|l| l.split_whitespace().map(str::to_string))
            .collect()
    }

    /// AUTH with a bearer token (RFC 5034) in two steps: the command, then the initial
    /// response after the server's `+` (a token is too long for the command line: RFC 5034
    /// caps it at 255 octets, and Microsoft's server wants two lines). A refused token gets a
    /// second `+` challenge, answered as the mechanism says, and then the `-ERR`.
    pub async fn login_bearer(
        &mut self,
        sasl: crate::oauth::Sasl,
        first: &SecretString,
    ) -> Result<(), Failure> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        self.send(&format!("AUTH {}", sasl.name())).await?;
        let line = self.line().await?;
        if !(line == "+" || line.starts_with("+ ")) {
            Self::interpret(Pop3Stage::Auth, line)?;
            return Err(Failure::new(
                Category::ProtocolError,
                format!(
                    "the server accepted AUTH {} without asking for the token",
                    sasl.name()
                ),
            ));
        }
        let encoded = SecretString::from(b64.encode(first.expose_secret()));
        self.send(encoded.expose_secret()).await?;
        let line = self.line().await?;
        if line == "+" || line.starts_with("+ ") {
            self.send(&b64.encode(sasl.error_answer())).await?;
            return self.status(Pop3Stage::Auth).await.map(|_| ());
        }
        Self::interpret(Pop3Stage::Auth, line).map(|_| ())
    }

    /// A command whose answer has a body (UIDL, TOP, RETR): the body.
    async fn listing(&mut self, command: &str) -> Result<Vec<u8>, Failure> {
        self.command(command, Pop3Stage::Mailbox).await?;
        self.multiline().await
    }

    /// UIDL: (message number, unique id) of every message.
    pub async fn uidl(&mut self) -> Result<Vec<(u32, String)>, Failure> {
        let body = self.listing("UIDL").await?;
        Ok(String::from_utf8_lossy(&body)
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                Some((w.next()?.parse().ok()?, w.next()?.to_string()))
            })
            .collect())
    }

    /// TOP n 0: the headers of message `n`.
    pub async fn top(&mut self, n: u32) -> Result<Vec<u8>, Failure> {
        self.listing(&format!("TOP {n} 0")).await
    }

    /// RETR n: message `n` in full.
    pub async fn retr(&mut self, n: u32) -> Result<Vec<u8>, Failure> {
        self.listing(&format!("RETR {n}")).await
    }

    /// DELE n: marks message `n` deleted (done at QUIT).
    pub async fn dele(&mut self, n: u32) -> Result<(), Failure> {
        self.command(&format!("DELE {n}"), Pop3Stage::Mailbox)
            .await
            .map(|_| ())
    }

    /// QUIT: the deletions take effect; an error means they may not have.
    pub async fn quit(mut self) -> Result<(), Failure> {
        self.command("QUIT", Pop3Stage::Mailbox).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_codes_are_classified() {
        let c = |s, r| classify(s, r);
        assert_eq!(
            c(Pop3Stage::Auth, "-ERR [AUTH] Authentication failed."),
            Category::AuthFailed
        );
        assert_eq!(
            c(Pop3Stage::Auth, "-ERR [SYS/PERM] Account disabled"),
            Category::AccountLocked
        );
        assert_eq!(
            c(Pop3Stage::Mailbox, "-ERR [SYS/PERM] Cannot"),
            Category::ServerError
        );
        assert_eq!(
            c(Pop3Stage::Auth, "-ERR [IN-USE] Mailbox locked"),
            Category::ServerError
        );
        assert_eq!(
            c(Pop3Stage::Auth, "-ERR [LOGIN-DELAY] wait"),
            Category::ServerError
        );
        assert_eq!(
            c(Pop3Stage::Auth, "-ERR [sys/temp] try later"),
            Category::ServerError
        );
        assert_eq!(c(Pop3Stage::Auth, "-ERR no"), Category::AuthFailed);
        assert_eq!(
            c(Pop3Stage::Mailbox, "-ERR no such message"),
            Category::ServerError
        );
        assert_eq!(c(Pop3Stage::Mailbox, "-ERR"), Category::ServerError);
    }
}
