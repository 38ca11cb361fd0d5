//! The receiving side of a round trip: IMAP login, finding the canary in INBOX or Junk,
//! downloading it in full, and removing it by UID.
//!
//! Work per check depends on new messages only: the UIDNEXT of INBOX and of the junk folder are
//! noted before the canary is sent, and only UIDs from there on are fetched. Nothing is ever
//! stored, moved or flagged unless its `X-Mail-Canary` MAC verifies for this mailbox.

use std::time::{Duration, Instant};

use async_imap::types::{Fetch, NameAttribute};
use async_imap::{Client, Session};
use futures::TryStreamExt;
use mailcanary_core::canary::{self, CanaryHeader, CanaryId, CanaryKey};
use mailcanary_core::classify::{Reply, ReplyStage, classify_imap};
use mailcanary_core::config::{Protocol, Security};
use mailcanary_core::notice::{self, Notice, NoticeScan, ScannedFolder};
use mailcanary_core::report::{QuotaUsage, Stage};
use mailcanary_core::{Category, utf7};
use secrecy::ExposeSecret;

use crate::net::{self, MailStream};
use crate::probe::{Failure, Login, Recorder, StageTimeouts, io_failure, refuse_plaintext};

const P: Protocol = Protocol::Imap;

/// Runs `fut` for at most `d`; past that, a `timeout` failure.
async fn limit<T>(
    d: Duration,
    fut: impl std::future::Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    tokio::time::timeout(d, fut).await.unwrap_or_else(|_| {
        Err(Failure::new(
            Category::Timeout,
            format!("no answer within {:.1} s", d.as_secs_f64()),
        ))
    })
}

/// Turns an async-imap error into a failure with a category for `stage`.
fn imap_failure(stage: ReplyStage, err: async_imap::error::Error) -> Failure {
    use async_imap::error::Error as E;
    match err {
        E::No(ref s) | E::Bad(ref s) => {
            let word = if matches!(err, E::No(_)) { "NO" } else { "BAD" };
            let reply = parse_imap_error_text(s);
            let evidence = match &reply.resp_code {
                Some(c) => format!("{word} [{c}] {}", reply.text),
                None => format!("{word} {}", reply.text),
            };
            Failure::new(classify_imap(stage, &reply), evidence)
        }
        E::Io(e) => io_failure(&e),
        E::ConnectionLost => Failure::new(
            Category::ConnectFailed,
            "the server closed the connection".to_string(),
        ),
        E::Parse(e) => Failure::new(Category::ProtocolError, format!("unparsable reply: {e}")),
        other => Failure::new(Category::ProtocolError, other.to_string()),
    }
}

/// async-imap reports `NO`/`BAD` as `code: Some(Alert), info: Some("text")` (Debug forms);
/// this recovers the response code and the text. Codes it does not parse (RFC 5530's
/// `AUTHENTICATIONFAILED` among them) stay in brackets at the start of the text.
pub fn parse_imap_error_text(s: &str) -> Reply {
    let mut code = s
        .strip_prefix("code: Some(")
        .and_then(|r| r.split_once(')'))
        .map(|(c, _)| c.split('(').next().unwrap_or(c).to_ascii_uppercase());
    let mut text = match s.find("info: Some(\"") {
        Some(i) => {
            let inner = &s[i + "info: Some(\"".len()..];
            let inner = inner.strip_suffix("\")").unwrap_or(inner);
            inner.replace("\\\"", "\"").replace("\\\\", "\\")
        }
        None => s.to_string(),
    };
    if let Some(rest) = text.strip_prefix('[')
        && let Some((c, after)) = rest.split_once(']')
    {
        if code.is_none() {
            code = Some(
                c.split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase(),
            );
        }
        text = after.trim().to_string();
    }
    Reply {
        code: None,
        resp_code: code.filter(|c| !c.is_empty()),
        text,
    }
}

/// A folder's first scan for notices looks at this many of its newest messages (later scans go
/// on from where it stopped), so the work does not grow with the mailbox.
pub const NOTICE_SCAN_LIMIT: u32 = 100;

/// At most this many of the newest UIDs are read by a scan that goes on from an earlier one.
pub const NOTICE_SCAN_CATCH_UP: u32 = 1000;

/// How the arrival of a canary is noticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Arrival {
    /// Ask for new UIDs every few milliseconds at first, backing off as the wait grows.
    #[default]
    Poll,
    /// IMAP IDLE on INBOX (where offered), with a look at the junk folder between IDLEs.
    Idle,
}

/// A logged-in IMAP connection with INBOX selected.
pub struct ImapConn {
    /// `None` only while IDLE holds it, or after it was lost.
    session: Option<Session<MailStream>>,
    has_idle: bool,
    has_quota: bool,
    server: String,
    /// Raw (modified UTF-7) name of the junk folder, and its name for people.
    junk: Option<(String, String)>,
    /// Raw name of the trash folder.
    trash: Option<String>,
    has_uidplus: bool,
    has_move: bool,
    inbox_next: u32,
    junk_next: u32,
    /// UIDVALIDITY of the junk folder when the check began.
    junk_validity: u32,
    selected: String,
    /// UIDVALIDITY of the selected folder: a UID means the same message only under it.
    selected_validity: u32,
}

/// How long and how to wait for a canary.
#[derive(Debug, Clone, Copy)]
pub struct WaitPlan {
    /// When the server accepted the canary.
    pub sent_at: Instant,
    /// Give up after this.
    pub until: Instant,
    /// How arrival is noticed.
    pub arrival: Arrival,
    /// Limit of each IMAP command while waiting.
    pub command: Duration,
}

/// The canary being waited for, and what verifies it.
pub struct Expected<'a> {
    /// The per-install key.
    pub key: &'a CanaryKey,
    /// The mailbox address the canary was composed for.
    pub address: &'a str,
    /// Its id.
    pub id: &'a CanaryId,
}

/// Where a verified canary was found.
#[derive(Debug, Clone)]
pub struct Found {
    /// Raw folder name.
    pub folder_raw: String,
    /// Folder name for people.
    pub folder: String,
    /// Whether it is the junk folder.
    pub in_junk: bool,
    /// Its UID there.
    pub uid: u32,
    /// The folder's UIDVALIDITY when it was found.
    pub uid_validity: u32,
    /// When it was seen.
    pub seen_at: Instant,
    /// Its verified header.
    pub header: CanaryHeader,
}

/// Connects, secures and logs in; records the dns, connect, tls and auth stages.
pub async fn open(rec: &mut Recorder, t: &StageTimeouts, l: &Login<'_>) -> Option<ImapConn> {
    let ep = l.endpoint;
    let server = ep.host_port();
    let tcp = crate::probe::dns_and_connect(rec, t, P, ep).await?;
    let (client, cert, mechanisms) = match ep.security {
        Security::Tls => {
            let tls = l.tls.clone();
            let host = ep.host.clone();
            rec.stage(Stage::Tls, P, &server, t.tls, async move {
                let stream = net::tls_handshake(tls, &host, tcp)
                    .await
                    .map_err(|e| io_failure(&e))?;
                let cert = stream.peer_certificate();
                let mut client = Client::new(stream);
                let mechanisms = read_greeting(&mut client).await?;
                Ok((
                    (client, cert, mechanisms),
                    "TLS established; greeting received".to_string(),
                ))
            })
            .await?
        }
        Security::Starttls => {
            let tls = l.tls.clone();
            let host = ep.host.clone();
            rec.stage(Stage::Tls, P, &server, t.tls, async move {
                let mut client = Client::new(MailStream::plain(tcp));
                let mechanisms = read_greeting(&mut client).await?;
                if let Err(e) = client.run_command_and_check_ok("STARTTLS", None).await {
                    let f = imap_failure(ReplyStage::Greeting, e);
                    return Err(Failure::new(
                        Category::StarttlsMissing,
                        format!("STARTTLS refused: {}", f.evidence),
                    ));
                }
                let Some(tcp) = client.into_inner().into_plain() else {
                    unreachable!("the stream is plain before STARTTLS")
                };
                let stream = net::tls_handshake(tls, &host, tcp)
                    .await
                    .map_err(|e| io_failure(&e))?;
                let cert = stream.peer_certificate();
                Ok((
                    (Client::new(stream), cert, mechanisms),
                    "STARTTLS established".to_string(),
                ))
            })
            .await?
        }
        Security::Plain => {
            let mut client = Client::new(MailStream::plain(tcp));
            let greeting = read_greeting(&mut client);
            let mechanisms =
                crate::probe::plain_greeting(rec, P, &server, t.command, greeting).await?;
            (client, None, mechanisms)
        }
    };
    rec.certificate(P, &server, cert);
    if refuse_plaintext(rec, P, &server, l) {
        return None;
    }
    let login = l.login.to_string();
    let password = l.password.clone();
    // OAUTHBEARER where the greeting offers it, else XOAUTH2.
    let sasl = l.oauth.then(|| crate::oauth::Sasl::choose(&mechanisms));
    let (host, port) = (ep.host.clone(), ep.port);
    let mut session = rec
        .stage(Stage::Auth, P, &server, t.auth, async move {
            let (s, how) = match sasl {
                Some(sasl) => {
                    let answer = SaslToken {
                        first: Some(sasl.initial(&login, &host, port, &password)),
                        error_answer: sasl.error_answer(),
                    };
                    let s = client
                        .authenticate(sasl.name(), answer)
                        .await
                        .map_err(|(e, _)| imap_failure(ReplyStage::Auth, e))?;
                    (s, format!("signed in ({})", sasl.name()))
                }
                None => {
                    let s = client
                        .login(&login, password.expose_secret())
                        .await
                        .map_err(|(e, _)| imap_failure(ReplyStage::Auth, e))?;
                    (s, "logged in".to_string())
                }
            };
            Ok((s, how))
        })
        .await?;
    let caps = rec
        .stage(Stage::Auth, P, &server, t.command, async {
            let caps = session
                .capabilities()
                .await
                .map_err(|e| imap_failure(ReplyStage::Mailbox, e))?;
            Ok((caps, "capabilities read".to_string()))
        })
        .await?;
    rec.set_imap_login_ok();
    Some(ImapConn {
        server,
        junk: None,
        trash: None,
        has_uidplus: caps.has_str("UIDPLUS"),
        has_move: caps.has_str("MOVE"),
        has_idle: caps.has_str("IDLE"),
        has_quota: caps.has_str("QUOTA"),
        inbox_next: 0,
        junk_next: 0,
        junk_validity: 0,
        selected: String::new(),
        selected_validity: 0,
        session: Some(session),
    })
}

/// SASL with a bearer token: the token at the first challenge; the mechanism's answer to the
/// server's error challenge, after which it says NO.
struct SaslToken {
    first: Option<secrecy::SecretString>,
    error_answer: &'static [u8],
}

impl async_imap::Authenticator for SaslToken {
    type Response = Vec<u8>;

    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        match self.first.take() {
            Some(first) => first.expose_secret().as_bytes().to_vec(),
            None => self.error_answer.to_vec(),
        }
    }
}

/// Reads the greeting; returns the SASL mechanisms it announces (`AUTH=…` in its CAPABILITY
/// code, upper case), if it announces any.
async fn read_greeting(client: &mut Client<MailStream>) -> Result<Vec<String>, Failure> {
    use async_imap::imap_proto::{Capability, Outcome, Response, ResponseCode, Status};
    match client.read_response().await {
        Ok(Some(resp)) => match resp.parsed() {
            other @ Response::Data {
                status: Status::Bye,
                ..
            } => Err(Failure::new(
                Category::ServerError,
                format!("the server said goodbye: {other:?}"),
            )),
            Response::Data {
                outcome:
                    Outcome {
                        code: Some(ResponseCode::Capabilities(caps)),
                        ..
                    },
                ..
            } => Ok(caps
                .iter()
                .filter_map(|c| match c {
                    Capability::Auth(m) => Some(m.to_ascii_uppercase()),
                    _ => None,
                })
                .collect()),
            _ => Ok(Vec::new()),
        },
        Ok(None) => Err(Failure::new(
            Category::ConnectFailed,
            "the server closed the connection before its greeting".to_string(),
        )),
        Err(e) => Err(io_failure(&e)),
    }
}

/// Junk folder names used by servers that do not mark `\Junk` (checked case-insensitively,
/// after decoding from modified UTF-7).
const JUNK_NAMES: &[&str] = &[
    "Junk",
    "Spam",
    "Junk E-mail",
    "Junk Email",
    "Bulk Mail",
    "[Gmail]/Spam",
    "INBOX.Junk",
    "INBOX.Spam",
    "INBOX/Junk",
    "迷惑メール",
    "迷惑メールフォルダ",
];

impl ImapConn {
    fn sess(&mut self) -> Result<&mut Session<MailStream>, Failure> {
        self.session.as_mut().ok_or_else(|| {
            Failure::new(
                Category::ConnectFailed,
                "the IMAP connection was lost".to_string(),
            )
        })
    }

    /// `FETCH set query` (`UID FETCH` when `by_uid`), every answer collected; unsolicited
    /// responses that came with them are dropped.
    async fn fetch_all(
        &mut self,
        set: &str,
        query: &str,
        by_uid: bool,
    ) -> Result<Vec<Fetch>, Failure> {
        let sess = self.sess()?;
        let fetches = if by_uid {
            sess.uid_fetch(set, query)
                .await
                .map_err(|e| imap_failure(ReplyStage::Mailbox, e))?
                .try_collect()
                .await
        } else {
            sess.fetch(set, query)
                .await
                .map_err(|e| imap_failure(ReplyStage::Mailbox, e))?
                .try_collect()
                .await
        }
        .map_err(|e| imap_failure(ReplyStage::Mailbox, e))?;
        self.drain_unsolicited();
        Ok(fetches)
    }

    fn drain_unsolicited(&mut self) {
        if let Some(s) = self.session.as_mut() {
            while s.unsolicited_responses.try_recv().is_ok() {}
        }
    }

    /// Finds the junk and trash folders, selects INBOX and notes where new mail will start.
    pub async fn prepare(&mut self, rec: &mut Recorder, t: &StageTimeouts) -> Option<()> {
        let server = self.server.clone();
        rec.stage(Stage::Auth, P, &server, t.command, async {
            let names: Vec<_> = self
                .sess()?
                .list(Some(""), Some("*"))
                .await
                .map_err(|e| imap_failure(ReplyStage::Mailbox, e))?
                .try_collect()
                .await
                .map_err(|e| imap_failure(ReplyStage::Mailbox, e))?;
            let mut junk_by_name = None;
            for n in &names {
                let raw = n.name().to_string();
                let shown = utf7::decode(&raw).unwrap_or_else(|| raw.clone());
                if n.attributes().contains(&NameAttribute::Junk) && self.junk.is_none() {
                    self.junk = Some((raw.clone(), shown.clone()));
                }
                if n.attributes().contains(&NameAttribute::Trash) && self.trash.is_none() {
                    self.trash = Some(raw.clone());
                }
                if junk_by_name.is_none()
                    && JUNK_NAMES.iter().any(|j| j.eq_ignore_ascii_case(&shown))
                {
                    junk_by_name = Some((raw, shown));
                }
            }
            if self.junk.is_none() {
                self.junk = junk_by_name;
            }
            let inbox = self
                .sess()?
                .select("INBOX")
                .await
                .map_err(|e| imap_failure(ReplyStage::Mailbox, e))?;
            self.selected = "INBOX".to_string();
            self.selected_validity = inbox.uid_validity.unwrap_or(0);
            self.inbox_next = inbox.uid_next.unwrap_or(1);
            if let Some((raw, _)) = self.junk.clone() {
                let st = self
                    .sess()?
                    .status(&raw, "(UIDNEXT UIDVALIDITY)")
                    .await
                    .map_err(|e| imap_failure(ReplyStage::Mailbox, e))?;
                self.junk_next = st.uid_next.unwrap_or(1);
                self.junk_validity = st.uid_validity.unwrap_or(0);
            }
            self.drain_unsolicited();
            let detail = format!(
                "INBOX has {} messages; junk folder: {}",
                inbox.exists,
                self.junk
                    .as_ref()
                    .map(|j| j.1.as_str())
                    .unwrap_or("none found")
            );
            Ok(((), detail))
        })
        .await
    }

    async fn select(&mut self, raw: &str) -> Result<u32, Failure> {
        let mb = self
            .sess()?
            .select(raw)
            .await
            .map_err(|e| imap_failure(ReplyStage::Mailbox, e))?;
        self.selected = raw.to_string();
        self.selected_validity = mb.uid_validity.unwrap_or(0);
        Ok(mb.uid_next.unwrap_or(1))
    }

    /// Whether the server offers IDLE.
    pub fn has_idle(&self) -> bool {
        self.has_idle
    }

    /// Opens INBOX read-only (EXAMINE): the watch can change nothing. Returns its UIDNEXT.
    pub async fn examine_inbox(&mut self) -> Result<u32, Failure> {
        let mb = self
            .sess()?
            .examine("INBOX")
            .await
            .map_err(|e| imap_failure(ReplyStage::Mailbox, e))?;
        self.selected = "INBOX".to_string();
        self.selected_validity = mb.uid_validity.unwrap_or(0);
        Ok(mb.uid_next.unwrap_or(1))
    }

    /// Waits in IDLE until the server reports a change, or `dur` passes.
    pub async fn idle(&mut self, dur: Duration) -> Result<(), Failure> {
        self.idle_for(dur).await
    }

    /// Fetches headers of messages from `from_uid` on in the selected folder; returns the
    /// verified canaries among `ids` (any of ours when `None`) and the next UID to look at.
    async fn scan_new(
        &mut self,
        from_uid: u32,
        key: &CanaryKey,
        address: &str,
        ids: Option<&[CanaryId]>,
    ) -> Result<(Vec<(u32, CanaryHeader)>, u32), Failure> {
        let fetches = self
            .fetch_all(
                &format!("{from_uid}:*"),
                "(UID BODY.PEEK[HEADER.FIELDS (X-MAIL-CANARY)])",
                true,
            )
            .await?;
        let mut next = from_uid;
        let mut found = Vec::new();
        for f in &fetches {
            let Some(uid) = f.uid else { continue };
            // `n:*` also returns the last message when no UID is >= n.
            if uid < from_uid {
                continue;
            }
            next = next.max(uid + 1);
            if let Some(h) = f.header()
                && let Some(hdr) = canary::find_verified(h, key, address)
                && ids.is_none_or(|ids| ids.contains(&hdr.id))
            {
                found.push((uid, hdr));
            }
        }
        Ok((found, next))
    }

    /// Canaries just seen in the selected folder.
    fn found_here(
        &self,
        raw: &str,
        shown: &str,
        in_junk: bool,
        hits: Vec<(u32, CanaryHeader)>,
    ) -> Vec<Found> {
        let now = Instant::now();
        hits.into_iter()
            .map(|(uid, header)| Found {
                folder_raw: raw.to_string(),
                folder: shown.to_string(),
                in_junk,
                uid,
                uid_validity: self.selected_validity,
                seen_at: now,
                header,
            })
            .collect()
    }

    /// Selects the folder a canary was found in (the wait may have moved on since); `false`
    /// when its UIDVALIDITY changed, so the UID may name another message now.
    async fn select_found(&mut self, found: &Found) -> Result<bool, Failure> {
        if self.selected != found.folder_raw {
            self.select(&found.folder_raw).await?;
        }
        Ok(self.selected_validity == found.uid_validity)
    }

    /// `UID STORE set +FLAGS.SILENT flags`.
    async fn flag_deleted(&mut self, set: &str, flags: &str) -> Result<(), Failure> {
        let _: Vec<_> = self
            .sess()?
            .uid_store(set, format!("+FLAGS.SILENT {flags}"))
            .await
            .map_err(|e| imap_failure(ReplyStage::Mailbox, e))?
            .try_collect()
            .await
            .map_err(|e| imap_failure(ReplyStage::Mailbox, e))?;
        Ok(())
    }

    /// `UID EXPUNGE set` (UIDPLUS): expunges those UIDs only, never other `\Deleted` mail.
    async fn uid_expunge_set(&mut self, set: &str) -> Result<(), Failure> {
        let _: Vec<_> = self
            .sess()?
            .uid_expunge(set)
            .await
            .map_err(|e| imap_failure(ReplyStage::Mailbox, e))?
            .try_collect()
            .await
            .map_err(|e| imap_failure(ReplyStage::Mailbox, e))?;
        self.drain_unsolicited();
        Ok(())
    }

    /// Waits in IDLE until the server reports a change to the selected folder, or `dur` passes.
    async fn idle_for(&mut self, dur: Duration) -> Result<(), Failure> {
        let session = self.session.take().ok_or_else(|| {
            Failure::new(
                Category::ConnectFailed,
                "the IMAP connection was lost".to_string(),
            )
        })?;
        let mut handle = session.idle();
        handle
            .init()
            .await
            .map_err(|e| imap_failure(ReplyStage::Mailbox, e))?;
        {
            let (wait, _interrupt) = handle.wait_with_timeout(dur);
            wait.await
                .map_err(|e| imap_failure(ReplyStage::Mailbox, e))?;
        }
        let session = handle
            .done()
            .await
            .map_err(|e| imap_failure(ReplyStage::Mailbox, e))?;
        self.session = Some(session);
        self.drain_unsolicited();
        Ok(())
    }

    /// Waits until every canary in `ids` shows up in INBOX or the junk folder, or `until`
    /// passes. Returns those found (in the order seen), how many looks it took, and the error
    /// that ended the wait early, if one did.
    pub async fn wait_many(
        &mut self,
        key: &CanaryKey,
        address: &str,
        ids: &[CanaryId],
        plan: &WaitPlan,
    ) -> (Vec<Found>, u32, Option<Failure>) {
        let WaitPlan {
            sent_at,
            until,
            arrival,
            command,
        } = *plan;
        let mut polls = 0u32;
        let mut found: Vec<Found> = Vec::new();
        // Every command is bounded too: a server that stops answering after login must not
        // hold the check past its deadline.
        let bounded = |now: Instant| {
            command
                .min(until.saturating_duration_since(now))
                .max(Duration::from_millis(100))
        };
        let result: Result<(), Failure> = async {
            loop {
                polls += 1;
                let pending: Vec<CanaryId> = ids
                    .iter()
                    .filter(|id| !found.iter().any(|f| &f.header.id == *id))
                    .cloned()
                    .collect();
                let (hits, next) = limit(
                    bounded(Instant::now()),
                    self.scan_new(self.inbox_next, key, address, Some(&pending)),
                )
                .await?;
                self.inbox_next = next;
                found.extend(self.found_here("INBOX", "INBOX", false, hits));
                if found.len() == ids.len() {
                    return Ok(());
                }
                if let Some((raw, shown)) = self.junk.clone() {
                    let st = limit(bounded(Instant::now()), async {
                        self.sess()?
                            .status(&raw, "(UIDNEXT)")
                            .await
                            .map_err(|e| imap_failure(ReplyStage::Mailbox, e))
                    })
                    .await?;
                    self.drain_unsolicited();
                    if st.uid_next.unwrap_or(0) > self.junk_next {
                        limit(bounded(Instant::now()), self.select(&raw)).await?;
                        let (hits, next) = limit(
                            bounded(Instant::now()),
                            self.scan_new(self.junk_next, key, address, Some(&pending)),
                        )
                        .await?;
                        self.junk_next = next;
                        found.extend(self.found_here(&raw, &shown, true, hits));
                        limit(bounded(Instant::now()), self.select("INBOX")).await?;
                        if found.len() == ids.len() {
                            return Ok(());
                        }
                    }
                }
                let now = Instant::now();
                if now >= until {
                    return Ok(());
                }
                // Poll fast while delivery is most likely (servers deliver in tens of ms),
                // then back off so a long wait costs little.
                let waited = now.duration_since(sent_at);
                let pause = if waited < Duration::from_secs(2) {
                    Duration::from_millis(5)
                } else if waited < Duration::from_secs(10) {
                    Duration::from_millis(100)
                } else {
                    Duration::from_millis(500)
                };
                let pause = pause.min(until - now);
                if arrival == Arrival::Idle && self.has_idle {
                    // INBOX news comes from the server; the junk folder is looked at
                    // when the IDLE times out.
                    let wait = (pause * 10).min(until - now);
                    limit(wait + bounded(Instant::now()), self.idle_for(wait)).await?;
                } else {
                    tokio::time::sleep(pause).await;
                }
            }
        }
        .await;
        (found, polls, result.err())
    }

    /// Waits until the canary `want.id` shows up in INBOX or the junk folder, or `until`
    /// passes; records the receive stage (and `lost` when it never shows up).
    pub async fn wait_for(
        &mut self,
        rec: &mut Recorder,
        want: &Expected<'_>,
        plan: &WaitPlan,
    ) -> Option<Found> {
        let sent_at = plan.sent_at;
        let server = self.server.clone();
        let started = Instant::now();
        let (mut found, polls, err) = self
            .wait_many(want.key, want.address, std::slice::from_ref(want.id), plan)
            .await;
        let result = match (found.pop(), err) {
            (Some(f), _) => Ok(Some(f)),
            (None, Some(e)) => Err(e),
            (None, None) => Ok(None),
        };
        let ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(Some(found)) => {
                rec.record(
                    Stage::Receive,
                    P,
                    true,
                    found.seen_at.duration_since(sent_at).as_millis() as u64,
                    format!(
                        "found in {} (UID {}) after {polls} looks",
                        found.folder, found.uid
                    ),
                );
                Some(found)
            }
            Ok(None) => {
                rec.record(
                    Stage::Receive,
                    P,
                    false,
                    ms,
                    format!("not found after {polls} looks"),
                );
                rec.problem(
                    Stage::Receive,
                    P,
                    &server,
                    Failure::new(
                        Category::Lost,
                        format!(
                            "canary {} not in INBOX{} after {:.1} s",
                            want.id.as_str(),
                            self.junk
                                .as_ref()
                                .map(|j| format!(" or {}", j.1))
                                .unwrap_or_default(),
                            sent_at.elapsed().as_secs_f64()
                        ),
                    ),
                );
                None
            }
            Err(f) => {
                rec.record(Stage::Receive, P, false, ms, f.evidence.clone());
                rec.problem(Stage::Receive, P, &server, f);
                None
            }
        }
    }

    /// Downloads the canary in full, as a mail program would, and checks it. Returns whether
    /// the downloaded message is this canary (its MAC verifies for this id): only then may it
    /// be removed. A changed body is reported, but the message is still ours.
    pub async fn verify(
        &mut self,
        rec: &mut Recorder,
        t: &StageTimeouts,
        found: &Found,
        want: &Expected<'_>,
    ) -> bool {
        let server = self.server.clone();
        let uid = found.uid;
        let started = Instant::now();
        rec.begin(Stage::Verify, P);
        let limit = t.command.min(rec.remaining());
        let fetched = tokio::time::timeout(limit, async {
            // The wait may have moved on to another folder since it saw this one.
            if !self.select_found(found).await? {
                return Ok(None);
            }
            let fetches = self
                .fetch_all(&uid.to_string(), "(UID BODY.PEEK[])", true)
                .await
                .map_err(|f| match f.category {
                    // The server was there a moment ago and the canary found: the download
                    // broke, as a mail program's would.
                    Category::ConnectFailed => Failure::new(
                        Category::DownloadInterrupted,
                        format!("the connection broke during the download: {}", f.evidence),
                    ),
                    _ => f,
                })?;
            Ok::<_, Failure>(
                fetches
                    .iter()
                    .find(|f| f.uid == Some(uid))
                    .and_then(|f| f.body())
                    .map(<[u8]>::to_vec),
            )
        })
        .await;
        let (ours, result) = match fetched {
            Err(_) => (
                false,
                Err(Failure::new(
                    Category::Timeout,
                    format!("no answer within {:.1} s", limit.as_secs_f64()),
                )),
            ),
            Ok(Err(f)) => (false, Err(f)),
            Ok(Ok(None)) => (
                false,
                Err(Failure::new(
                    Category::CanaryRemoved,
                    format!("UID {uid} vanished before it could be downloaded"),
                )),
            ),
            Ok(Ok(Some(body))) => crate::probe::check_download(
                &body,
                want.key,
                want.address,
                want.id,
                &format!("UID {uid}"),
            ),
        };
        let ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(detail) => rec.record(Stage::Verify, P, true, ms, detail),
            Err(f) => {
                rec.record(Stage::Verify, P, false, ms, f.evidence.clone());
                rec.problem(Stage::Verify, P, &server, f);
            }
        }
        ours
    }

    /// Removes the verified canary by UID: `UID EXPUNGE` of that UID alone (UIDPLUS), else
    /// `UID MOVE` to Trash; without either it is flagged `\Seen \Deleted` and left, because a
    /// plain `EXPUNGE` would also purge messages that staff flagged deleted.
    pub async fn cleanup(&mut self, rec: &mut Recorder, t: &StageTimeouts, found: &Found) -> bool {
        let server = self.server.clone();
        let uid = found.uid.to_string();
        let same = match self.select_found(found).await {
            Ok(same) => same,
            Err(f) => {
                rec.fail(Stage::Cleanup, P, &server, f);
                return false;
            }
        };
        if !same {
            let f = Failure::new(
                Category::ProtocolError,
                format!(
                    "the folder's UIDVALIDITY changed ({} to {}): UID {} may name another \
                     message now, so nothing was removed",
                    found.uid_validity, self.selected_validity, found.uid
                ),
            );
            rec.fail(Stage::Cleanup, P, &server, f);
            return false;
        }
        let (has_uidplus, has_move, trash) = (self.has_uidplus, self.has_move, self.trash.clone());
        rec.stage(Stage::Cleanup, P, &server, t.command, async {
            let flags = if has_uidplus {
                "(\\Deleted)"
            } else {
                "(\\Seen \\Deleted)"
            };
            self.flag_deleted(&uid, flags).await?;
            let (cleaned, detail) = if has_uidplus {
                self.uid_expunge_set(&uid).await?;
                (true, format!("UID EXPUNGE {uid}"))
            } else if let (true, Some(trash)) = (has_move, trash) {
                self.sess()?
                    .uid_mv(&uid, &trash)
                    .await
                    .map_err(|e| imap_failure(ReplyStage::Mailbox, e))?;
                let shown = utf7::decode(&trash).unwrap_or_else(|| trash.clone());
                (true, format!("UID MOVE {uid} to {shown}"))
            } else {
                (
                    false,
                    format!(
                        "server has neither UIDPLUS nor MOVE: UID {uid} flagged \\Seen \\Deleted \
                         and left in place"
                    ),
                )
            };
            self.drain_unsolicited();
            Ok((cleaned, detail))
        })
        .await
        .unwrap_or(false)
    }

    /// Looks for provider notices and bounces from the last 14 days in INBOX and the junk
    /// folder. Read-only (EXAMINE, BODY.PEEK): nothing is marked read. Bounded by `limit`; on
    /// any failure it returns what it found so far (and no [`NoticeScan`]), since the round
    /// trip's result matters more.
    ///
    /// With `before`, where the previous check's scan left off, only the messages that arrived
    /// since are read, plus the notices found then (to see whether they are still there): the
    /// work does not grow with the size of the mailbox. The junk folder is not even opened when
    /// nothing arrived there. Without it (or when a folder's UIDVALIDITY changed), the newest
    /// [`NOTICE_SCAN_LIMIT`] UIDs of each folder are read.
    pub async fn scan_notices(
        &mut self,
        limit: Duration,
        before: Option<&NoticeScan>,
    ) -> (Vec<Notice>, Option<NoticeScan>) {
        let mut out = Vec::new();
        let mut scan = NoticeScan::default();
        let folders: Vec<(String, String, bool)> =
            std::iter::once(("INBOX".to_string(), "INBOX".to_string(), false))
                .chain(self.junk.clone().map(|(raw, shown)| (raw, shown, true)))
                .collect();
        let since = chrono::Utc::now() - chrono::Duration::days(14);
        let finished = tokio::time::timeout(limit, async {
            const HEADERS: &str = "(UID INTERNALDATE BODY.PEEK[HEADER.FIELDS (FROM SUBJECT \
                                   DATE AUTHENTICATION-RESULTS X-MAIL-CANARY)])";
            for (raw, shown, in_junk) in folders {
                let last = before.and_then(|b| b.folders.iter().find(|f| f.name == raw));
                if in_junk
                    && let Some(last) = last
                    && last.uid_validity == self.junk_validity
                    && self.junk_next <= last.next_uid
                    && last.notice_uids.is_empty()
                {
                    // Nothing arrived in the junk folder (STATUS when the check began) and
                    // nothing there to look at again.
                    scan.folders.push(last.clone());
                    continue;
                }
                // INBOX is open already: opening it again costs the server a re-read of the
                // whole folder (300 ms with 100,000 Maildir messages).
                let (validity, next, exists) = if raw == "INBOX" && self.selected == raw {
                    (self.selected_validity, self.inbox_next, None)
                } else {
                    let mb = self
                        .sess()?
                        .examine(&raw)
                        .await
                        .map_err(|e| imap_failure(ReplyStage::Mailbox, e))?;
                    self.selected = raw.clone();
                    self.selected_validity = mb.uid_validity.unwrap_or(0);
                    if mb.exists == 0 {
                        scan.folders.push(ScannedFolder {
                            name: raw.clone(),
                            uid_validity: self.selected_validity,
                            next_uid: mb.uid_next.unwrap_or(1),
                            notice_uids: Vec::new(),
                        });
                        continue;
                    }
                    (
                        self.selected_validity,
                        mb.uid_next.unwrap_or(1),
                        Some(mb.exists),
                    )
                };
                let last = last.filter(|l| l.uid_validity == validity);
                // From where the last scan stopped, but never more than the newest
                // NOTICE_SCAN_CATCH_UP UIDs: after a long outage or on a very busy mailbox, one
                // scan must still fit in its time and move the mark on.
                let from = match last {
                    Some(l) => l
                        .next_uid
                        .max(next.saturating_sub(NOTICE_SCAN_CATCH_UP))
                        .max(1),
                    None => next.saturating_sub(NOTICE_SCAN_LIMIT).max(1),
                };
                let again: Vec<u32> = last.map(|l| l.notice_uids.clone()).unwrap_or_default();
                // A folder opened for the first time: its newest messages by number (its
                // newest UIDs may be mostly canaries, long removed). Otherwise by UID, from
                // the mark on, with the notices found before.
                let first_look = last.is_none() && exists.is_some();
                let set = match exists.filter(|_| first_look) {
                    Some(exists) => {
                        let first = exists.saturating_sub(NOTICE_SCAN_LIMIT - 1).max(1);
                        format!("{first}:{exists}")
                    }
                    None => again
                        .iter()
                        .map(u32::to_string)
                        .chain(std::iter::once(format!("{from}:*")))
                        .collect::<Vec<_>>()
                        .join(","),
                };
                // (BODY.PEEK leaves flags alone in a read-write INBOX too.)
                let fetches = self.fetch_all(&set, HEADERS, !first_look).await?;
                let mut folder = ScannedFolder {
                    name: raw.clone(),
                    uid_validity: validity,
                    // Every message below the folder's UIDNEXT (when the check began for
                    // INBOX, when it was opened for the others) and from `from` on was in
                    // the range just read.
                    next_uid: from.max(next),
                    notice_uids: Vec::new(),
                };
                for f in &fetches {
                    let Some(uid) = f.uid else { continue };
                    // `N:*` past the newest UID still answers with the newest message.
                    if uid < from && !again.contains(&uid) && !first_look {
                        continue;
                    }
                    if uid >= from {
                        folder.next_uid = folder.next_uid.max(uid.saturating_add(1));
                    }
                    if f.internal_date().is_some_and(|d| d < since) {
                        continue;
                    }
                    let Some(h) = f.header() else { continue };
                    if !canary::header_values(h, canary::HEADER_NAME).is_empty() {
                        continue; // a canary (ours or another install's) is not a notice
                    }
                    if let Some(n) = notice::detect(h, &shown, in_junk) {
                        out.push(n);
                        folder.notice_uids.push(uid);
                    }
                }
                scan.folders.push(folder);
            }
            Ok::<(), Failure>(())
        })
        .await;
        match finished {
            Ok(Ok(())) => (out, Some(scan)),
            _ => (out, None),
        }
    }

    /// The storage quota of INBOX's quota root, where the server has QUOTA; bounded by
    /// `limit`. `Some(None)` when unsupported or unlimited, `None` when it could not be read.
    pub async fn quota(&mut self, limit: Duration) -> Option<Option<QuotaUsage>> {
        if !self.has_quota {
            return Some(None);
        }
        let (_, quotas) = tokio::time::timeout(limit, async {
            self.sess().ok()?.get_quota_root("INBOX").await.ok()
        })
        .await
        .ok()??;
        self.drain_unsolicited();
        Some(
            quotas
                .iter()
                .flat_map(|q| q.resources.iter())
                .filter(|r| r.name == async_imap::types::QuotaResourceName::Storage)
                .find_map(|r| QuotaUsage::new(r.usage, r.limit)),
        )
    }

    /// Removes this install's verified canaries for this mailbox that were composed more than
    /// `older_than_secs` ago (left behind by a check that gave up or crashed), and those in
    /// `orphans` (sent by a check whose process is gone) whatever their age, from INBOX and
    /// the junk folder; other young ones may belong to a check still running elsewhere. Only
    /// UIDs whose header verifies are flagged and expunged, by UID. Returns how many were
    /// removed, and which of `orphans`.
    pub async fn sweep(
        &mut self,
        key: &CanaryKey,
        address: &str,
        now_unix: u64,
        older_than_secs: u64,
        orphans: &[CanaryId],
        limit: Duration,
    ) -> Result<(usize, Vec<CanaryId>), Failure> {
        if !self.has_uidplus {
            // Without UID EXPUNGE a sweep could purge staff's deleted mail.
            return Ok((0, Vec::new()));
        }
        let mut orphans_removed = Vec::new();
        let folders: Vec<String> = std::iter::once("INBOX".to_string())
            .chain(self.junk.clone().map(|(raw, _)| raw))
            .collect();
        let mut removed = 0;
        let result = tokio::time::timeout(limit, async {
            for folder in folders {
                self.select(&folder).await?;
                let candidates: Vec<u32> = self
                    .sess()?
                    .uid_search("HEADER X-Mail-Canary \"v=1\"")
                    .await
                    .map_err(|e| imap_failure(ReplyStage::Mailbox, e))?
                    .into_iter()
                    .collect();
                self.drain_unsolicited();
                if candidates.is_empty() {
                    continue;
                }
                let set = candidates
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(",");
                let fetches = self
                    .fetch_all(&set, "(UID BODY.PEEK[HEADER.FIELDS (X-MAIL-CANARY)])", true)
                    .await?;
                let mut stale: Vec<String> = Vec::new();
                let mut orphans_here = Vec::new();
                for f in &fetches {
                    let Some(h) = f
                        .header()
                        .and_then(|h| canary::find_verified(h, key, address))
                    else {
                        continue;
                    };
                    let orphan = orphans.contains(&h.id);
                    if let Some(uid) = f.uid
                        && (orphan || h.sent_at + older_than_secs <= now_unix)
                    {
                        stale.push(uid.to_string());
                        if orphan {
                            orphans_here.push(h.id);
                        }
                    }
                }
                if stale.is_empty() {
                    continue;
                }
                self.flag_deleted(&stale.join(","), "(\\Deleted)").await?;
                self.uid_expunge_set(&stale.join(",")).await?;
                removed += stale.len();
                orphans_removed.extend(orphans_here);
            }
            Ok::<(), Failure>(())
        })
        .await;
        match result {
            Ok(Ok(())) => Ok((removed, orphans_removed)),
            Ok(Err(f)) => Err(f),
            Err(_) => Err(Failure::new(
                Category::Timeout,
                "the sweep did not finish in time".to_string(),
            )),
        }
    }

    /// Says goodbye, bounded in time; failures here change nothing.
    pub async fn logout(mut self, limit: Duration) {
        if let Some(mut s) = self.session.take() {
            let _ = tokio::time::timeout(limit, s.logout()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts() {
        let r = parse_imap_error_text(
            "code: None, info: Some(\"[AUTHENTICATIONFAILED] Authentication failed.\")",
        );
        assert_eq!(r.resp_code.as_deref(), Some("AUTHENTICATIONFAILED"));
        assert_eq!(r.text, "Authentication failed.");
        let r = parse_imap_error_text(
            "code: Some(Alert), info: Some(\"Application-specific password required\")",
        );
        assert_eq!(r.resp_code.as_deref(), Some("ALERT"));
        assert_eq!(r.text, "Application-specific password required");
        let r = parse_imap_error_text("code: None, info: Some(\"LOGIN failed.\")");
        assert_eq!((r.resp_code, r.text.as_str()), (None, "LOGIN failed."));
    }
}
