//! The sending side of a round trip: SMTP submission with lettre's low-level connection, so
//! that connecting, TLS, login and the submission (MAIL, RCPT and DATA together) are timed
//! and classified apart, each reply with its code, enhanced code and text.

use std::time::Instant;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use mailcanary_core::Category;
use mailcanary_core::classify::{Reply, ReplyStage, classify_smtp};
use mailcanary_core::config::{Address, Protocol, Security};
use mailcanary_core::report::Stage;
use rustls::pki_types::CertificateDer;
use secrecy::ExposeSecret;

use crate::net::{self, MailStream};
use crate::probe::{Failure, Login, Recorder, io_failure, refuse_plaintext};
use crate::tls::{classify_rustls, find_rustls_error};

const P: Protocol = Protocol::Smtp;

/// Turns a lettre error at `stage` into a failure with a category.
fn smtp_failure(stage: ReplyStage, err: &lettre::transport::smtp::Error) -> Failure {
    if let Some(r) = find_rustls_error(err) {
        return Failure::new(classify_rustls(r), format!("TLS: {r}"));
    }
    if let Some(code) = err.status() {
        let text = std::error::Error::source(err)
            .map(|s| s.to_string())
            .unwrap_or_default();
        let code_num: u16 = code.to_string().parse().unwrap_or(0);
        let reply = Reply {
            code: Some(code_num),
            resp_code: None,
            text: text.clone(),
        };
        return Failure::new(classify_smtp(stage, &reply), format!("{code_num} {text}"));
    }
    if err.is_timeout() {
        return Failure::new(Category::Timeout, err.to_string());
    }
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = src {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return io_failure(io);
        }
        src = e.source();
    }
    if err.is_client() && err.to_string().contains("authentication mechanism") {
        return Failure::new(
            Category::AuthMethodRequired,
            format!("the server offers no password login this client can use: {err}"),
        );
    }
    // lettre reads a reply until the connection ends; a reply cut off there is a broken
    // connection, as on IMAP, not a server speaking another protocol.
    if err.is_response() && err.to_string().contains("incomplete response") {
        return Failure::new(
            Category::ConnectFailed,
            format!("the connection ended in the middle of a reply ({err})"),
        );
    }
    let category = if err.is_response() {
        Category::ProtocolError
    } else {
        Category::ConnectFailed
    };
    Failure::new(category, err.to_string())
}

fn hello() -> ClientId {
    ClientId::Domain("mailcanary.localhost".to_string())
}

/// A logged-in submission connection.
pub struct SmtpConn {
    conn: AsyncSmtpConnection,
    server: String,
}

/// Connects, secures and logs in; records the dns, connect, tls and auth stages.
pub async fn open(
    rec: &mut Recorder,
    t: &crate::probe::StageTimeouts,
    plan: &Login<'_>,
) -> Option<SmtpConn> {
    let ep = plan.endpoint;
    let server = ep.host_port();
    let tcp = crate::probe::dns_and_connect(rec, t, P, ep).await?;
    let (mut conn, cert) = match ep.security {
        Security::Tls => {
            let tls = plan.tls.clone();
            let host = ep.host.clone();
            rec.stage(Stage::Tls, P, &server, t.tls, async move {
                let stream = net::tls_handshake(tls, &host, tcp)
                    .await
                    .map_err(|e| io_failure(&e))?;
                let cert = stream.peer_certificate();
                let conn = AsyncSmtpConnection::connect_with_transport(Box::new(stream), &hello())
                    .await
                    .map_err(|e| smtp_failure(ReplyStage::Greeting, &e))?;
                Ok(((conn, cert), "TLS established; EHLO accepted".to_string()))
            })
            .await?
        }
        Security::Starttls | Security::Plain => {
            let mut conn = rec
                .stage(Stage::Connect, P, &server, t.command, async move {
                    let conn = AsyncSmtpConnection::connect_with_transport(
                        Box::new(MailStream::plain(tcp)),
                        &hello(),
                    )
                    .await
                    .map_err(|e| smtp_failure(ReplyStage::Greeting, &e))?;
                    Ok((conn, "greeting and EHLO accepted".to_string()))
                })
                .await?;
            if ep.security == Security::Starttls {
                let params = match starttls_params(&ep.host, plan.extra_roots) {
                    Ok(p) => p,
                    Err(f) => {
                        rec.fail(Stage::Tls, P, &server, f);
                        return None;
                    }
                };
                rec.stage(Stage::Tls, P, &server, t.tls, async {
                    if !conn.can_starttls() {
                        return Err(Failure::new(
                            Category::StarttlsMissing,
                            "the server's EHLO reply does not offer STARTTLS".to_string(),
                        ));
                    }
                    conn.starttls(params, &hello())
                        .await
                        .map_err(|e| smtp_failure(ReplyStage::Greeting, &e))?;
                    Ok(((), "STARTTLS established".to_string()))
                })
                .await?;
                let cert = conn.peer_certificate().ok();
                (conn, cert)
            } else {
                (conn, None)
            }
        }
    };
    rec.certificate(P, &server, cert);
    if refuse_plaintext(rec, P, &server, plan) {
        return None;
    }
    let creds = Credentials::new(
        plan.login.to_string(),
        plan.password.expose_secret().to_string(),
    );
    rec.stage(Stage::Auth, P, &server, t.auth, async {
        if plan.oauth {
            // SASL XOAUTH2 with the initial response; a refused token gets a 334 challenge
            // that is answered with an empty line, and then the refusal.
            let first = crate::oauth::xoauth2_base64(plan.login, plan.password);
            let line = format!("AUTH XOAUTH2 {}\r\n", first.expose_secret());
            let r = conn
                .command(line)
                .await
                .map_err(|e| smtp_failure(ReplyStage::Auth, &e))?;
            if r.has_code(334) {
                conn.command("\r\n")
                    .await
                    .map_err(|e| smtp_failure(ReplyStage::Auth, &e))?;
            }
            return Ok(((), "signed in (XOAUTH2)".to_string()));
        }
        conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds)
            .await
            .map_err(|e| smtp_failure(ReplyStage::Auth, &e))?;
        Ok(((), "logged in".to_string()))
    })
    .await?;
    drop(creds);
    Some(SmtpConn { conn, server })
}

impl SmtpConn {
    /// Submits `message` from `address` to itself; returns when the server accepted it.
    pub async fn send(
        &mut self,
        rec: &mut Recorder,
        t: &crate::probe::StageTimeouts,
        address: &Address,
        message: &[u8],
    ) -> Option<Instant> {
        let envelope = match address
            .as_str()
            .parse::<lettre::Address>()
            .map_err(|e| e.to_string())
            .and_then(|a| Envelope::new(Some(a.clone()), vec![a]).map_err(|e| e.to_string()))
        {
            Ok(e) => e,
            Err(e) => {
                let f = Failure::new(Category::ConfigError, format!("address {address}: {e}"));
                rec.fail(Stage::Send, P, &self.server, f);
                return None;
            }
        };
        let server = self.server.clone();
        rec.stage(Stage::Send, P, &server, t.send, async {
            let resp = self
                .conn
                .send(&envelope, message)
                .await
                .map_err(|e| smtp_failure(ReplyStage::Send, &e))?;
            let accepted = Instant::now();
            let text: Vec<&str> = resp.message().collect();
            Ok((accepted, format!("{} {}", resp.code(), text.join(" "))))
        })
        .await
    }

    /// Says goodbye, bounded in time; failures here change nothing.
    pub async fn quit(mut self, limit: std::time::Duration) {
        let _ = tokio::time::timeout(limit, self.conn.quit()).await;
    }
}

fn starttls_params(
    host: &str,
    extra_roots: &[CertificateDer<'static>],
) -> Result<TlsParameters, Failure> {
    let mut b = TlsParameters::builder(host.to_string());
    for der in extra_roots {
        let cert = Certificate::from_der(der.to_vec())
            .map_err(|e| Failure::new(Category::ConfigError, format!("CA certificate: {e}")))?;
        b = b.add_root_certificate(cert);
    }
    b.build_rustls()
        .map_err(|e| Failure::new(Category::ConfigError, format!("TLS set-up: {e}")))
}
