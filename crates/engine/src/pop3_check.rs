//! The receiving side of a round trip over POP3, read the way a POP3 mail program reads mail:
//! a new login for every look (a POP3 session sees the mailbox as it was at login), UIDL to
//! see what is new, TOP for the headers of new messages only, RETR to download a canary in
//! full, DELE of a verified canary alone, QUIT to apply it. Sessions are kept short: a server
//! that locks the mailbox for a session (`[IN-USE]`) would otherwise shut out the office's own
//! mail program.
//!
//! POP3 sees the inbox only: a canary the provider puts in the junk folder is lost to it, and
//! the report says so.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use mailcanary_core::Category;
use mailcanary_core::canary::{self, CanaryId, CanaryKey};
use mailcanary_core::config::{Protocol, Security};
use mailcanary_core::probes::{ProbeOutcome, ProbeResult};
use mailcanary_core::report::{CanaryOutcome, Stage};

use crate::net::{self, MailStream};
use crate::pop3::Pop3Conn;
use crate::probe::{
    self, Failure, Login, ProbeContext, ProbeSet, Recorder, StageTimeouts, io_failure,
    refuse_plaintext,
};
use crate::smtp;

const P: Protocol = Protocol::Pop3;

/// The folder name reported for a canary read over POP3.
pub const INBOX: &str = "INBOX";

/// A sweep reads the headers of at most this many of the newest messages: canaries left
/// behind are recent, and POP3 has no search.
pub const SWEEP_NEWEST: usize = 200;

/// Connects, secures and logs in; records the dns, connect, tls and auth stages. With an
/// access token, the SASL mechanism is `sasl`'s, once the first session chose it from CAPA.
pub async fn open(
    rec: &mut Recorder,
    t: &StageTimeouts,
    l: &Login<'_>,
    sasl: &mut Option<crate::oauth::Sasl>,
) -> Option<Pop3Conn> {
    let ep = l.endpoint;
    let server = ep.host_port();
    let tcp = probe::dns_and_connect(rec, t, P, ep).await?;
    let each = t.command;
    let (mut conn, cert) = match ep.security {
        Security::Tls => {
            rec.stage(Stage::Tls, P, &server, t.tls, async {
                let stream = net::tls_handshake(l.tls.clone(), &ep.host, tcp)
                    .await
                    .map_err(|e| io_failure(&e))?;
                let cert = stream.peer_certificate();
                let conn = Pop3Conn::greet(stream, each).await?;
                Ok(((conn, cert), "TLS established; greeting received".into()))
            })
            .await?
        }
        Security::Starttls => {
            rec.stage(Stage::Tls, P, &server, t.tls, async {
                let conn = Pop3Conn::greet(MailStream::plain(tcp), each).await?;
                let tcp = conn.stls().await?;
                let stream = net::tls_handshake(l.tls.clone(), &ep.host, tcp)
                    .await
                    .map_err(|e| io_failure(&e))?;
                let cert = stream.peer_certificate();
                Ok((
                    (Pop3Conn::resumed(stream, each), cert),
                    "STLS established".into(),
                ))
            })
            .await?
        }
        Security::Plain => {
            let greeting = Pop3Conn::greet(MailStream::plain(tcp), each);
            let conn = probe::plain_greeting(rec, P, &server, each, greeting).await?;
            (conn, None)
        }
    };
    rec.certificate(P, &server, cert);
    if refuse_plaintext(rec, P, &server, l) {
        return None;
    }
    rec.stage(Stage::Auth, P, &server, t.auth, async {
        if l.oauth {
            // OAUTHBEARER where CAPA offers it, else XOAUTH2.
            let sasl = match *sasl {
                Some(known) => known,
                None => {
                    conn.capa().await?;
                    *sasl.insert(crate::oauth::Sasl::choose(&conn.sasl_mechanisms()))
                }
            };
            let first = sasl.initial(l.login, &ep.host, ep.port, l.password);
            conn.login_bearer(sasl, &first).await?;
            return Ok(((), format!("signed in ({})", sasl.name())));
        }
        conn.login(l.login, l.password).await?;
        Ok(((), "logged in".to_string()))
    })
    .await?;
    rec.set_imap_login_ok();
    Some(conn)
}

/// A canary found over POP3, and what became of it.
struct Got {
    id: CanaryId,
    seen_at: Instant,
    /// How long the download took.
    download_ms: u64,
    /// `Ok(detail)` when it arrived intact; else what went wrong.
    download: Result<String, Failure>,
    /// The removal, for a message that downloaded as this canary (only those are removed).
    cleanup: Option<Result<String, Failure>>,
}

/// The looks of one check.
struct Reader<'a> {
    login: Login<'a>,
    t: StageTimeouts,
    key: &'a CanaryKey,
    address: &'a str,
    /// UIDs that need no reading: there before the canaries were sent, or read and not wanted.
    known: HashSet<String>,
    /// UIDs of the first look (there before anything was sent).
    first: HashSet<String>,
    /// UIDs of the last look.
    last: HashSet<String>,
    /// UIDs whose leaving is explained (deleted by this check) or already counted.
    accounted: HashSet<String>,
    /// Messages that arrived during the check and left before this check removed them.
    vanished_new: usize,
    /// Messages of a look that were all gone at the next: another program emptied the
    /// mailbox, as a POP3 program set not to leave copies on the server does.
    emptied: usize,
    /// Wanted canaries seen by TOP that were gone before RETR.
    canaries_vanished: usize,
    looks: u32,
    /// The least time between two logins (the server's LOGIN-DELAY, RFC 2449).
    min_pause: Duration,
    /// The SASL mechanism the first session chose for the access token.
    sasl: Option<crate::oauth::Sasl>,
    /// Why the last look failed, when it did.
    last_error: Option<Failure>,
}

impl<'a> Reader<'a> {
    /// The first look, before anything is sent: logs in (recording the stages) and notes
    /// which messages are there already.
    async fn start(
        rec: &mut Recorder,
        t: &StageTimeouts,
        login: Login<'a>,
        key: &'a CanaryKey,
        address: &'a str,
    ) -> Option<Reader<'a>> {
        let mut sasl = None;
        let mut conn = open(rec, t, &login, &mut sasl).await?;
        let server = login.endpoint.host_port();
        let (uids, delay) = rec
            .stage(Stage::Auth, P, &server, t.command, async {
                // After login, CAPA tells this user's LOGIN-DELAY, if the server has one.
                let delay = conn
                    .capa()
                    .await?
                    .iter()
                    .find_map(|c| c.strip_prefix("LOGIN-DELAY ")?.trim().parse::<u64>().ok());
                let list = conn.uidl().await?;
                let n = list.len();
                let uids: HashSet<String> = list.into_iter().map(|(_, u)| u).collect();
                let s = if n == 1 { "" } else { "s" };
                let mut detail = format!("{n} message{s} on the server");
                if let Some(d) = delay {
                    detail.push_str(&format!("; logins at most every {d} s (LOGIN-DELAY)"));
                }
                Ok(((uids, delay), detail))
            })
            .await?;
        let _ = tokio::time::timeout(t.quit, conn.quit()).await;
        Some(Reader {
            login,
            t: t.clone(),
            key,
            address,
            known: uids.clone(),
            first: uids.clone(),
            last: uids,
            accounted: HashSet::new(),
            vanished_new: 0,
            emptied: 0,
            canaries_vanished: 0,
            looks: 1,
            min_pause: Duration::from_secs(delay.unwrap_or(0).min(900)),
            sasl,
            last_error: None,
        })
    }

    /// Looks again and again until every id in `wanted` was found, or `until`.
    async fn collect(&mut self, wanted: &mut Vec<CanaryId>, until: Instant) -> Vec<Got> {
        let mut got = Vec::new();
        let mut pause = Duration::from_millis(200);
        while !wanted.is_empty() {
            let wake = Instant::now() + pause.max(self.min_pause);
            if wake >= until {
                break;
            }
            tokio::time::sleep_until(wake.into()).await;
            pause = (pause * 3 / 2).min(Duration::from_secs(5));
            let left = until.saturating_duration_since(Instant::now());
            self.looks += 1;
            self.last_error = match tokio::time::timeout(left, self.look(wanted, &mut got)).await {
                Ok(Ok(())) => None,
                Ok(Err(f)) => Some(f),
                Err(_) => Some(Failure::new(
                    Category::Timeout,
                    "the last look did not finish in time".into(),
                )),
            };
        }
        got
    }

    /// One session: the new messages' headers; wanted canaries downloaded and, when they
    /// are ours in full, deleted.
    async fn look(
        &mut self,
        wanted: &mut Vec<CanaryId>,
        got: &mut Vec<Got>,
    ) -> Result<(), Failure> {
        let mut scratch = Recorder::new(Instant::now() + self.t.connect + self.t.auth * 2);
        let Some(mut conn) = open(&mut scratch, &self.t, &self.login, &mut self.sasl).await else {
            return Err(scratch.failure());
        };
        let list = conn.uidl().await?;
        let now: HashSet<String> = list.iter().map(|(_, u)| u.clone()).collect();
        self.note_gone(&now);
        // Where in `got` are the messages deleted in this session.
        let mut deleted: Vec<usize> = Vec::new();
        let mut broken = None;
        for (n, uid) in &list {
            if wanted.is_empty() {
                break;
            }
            if self.known.contains(uid) {
                continue;
            }
            let head = conn.top(*n).await?;
            self.known.insert(uid.clone());
            let Some(h) = canary::find_verified(&head, self.key, self.address)
                .filter(|h| wanted.contains(&h.id))
            else {
                continue;
            };
            let seen_at = Instant::now();
            wanted.retain(|w| w != &h.id);
            // Noted before the download: a check that ends during it still knows the
            // canary came.
            let index = got.len();
            got.push(Got {
                id: h.id.clone(),
                seen_at,
                download_ms: 0,
                download: Err(Failure::new(
                    Category::Timeout,
                    "seen, but the check ended before its download finished".into(),
                )),
                cleanup: None,
            });
            let (ours, download) = match conn.retr(*n).await {
                Ok(body) => probe::check_download(
                    &body,
                    self.key,
                    self.address,
                    &h.id,
                    &format!("message {uid}"),
                ),
                // Busy or locked just now: a failed download, not a vanished message.
                Err(f)
                    if matches!(
                        crate::pop3::response_code(&f.evidence).as_deref(),
                        Some("SYS/TEMP" | "IN-USE")
                    ) =>
                {
                    (false, Err(f))
                }
                Err(f) if f.evidence.starts_with("-ERR") => {
                    self.canaries_vanished += 1;
                    self.accounted.insert(uid.clone());
                    let f = Failure::new(
                        Category::CanaryRemoved,
                        format!(
                            "seen, then gone before it could be downloaded: {}",
                            f.evidence
                        ),
                    );
                    (false, Err(f))
                }
                Err(f) => {
                    let f = match f.category {
                        // The server was there a moment ago: the download broke, as a mail
                        // program's would.
                        Category::ConnectFailed => Failure::new(
                            Category::DownloadInterrupted,
                            format!("the connection broke during the download: {}", f.evidence),
                        ),
                        _ => f,
                    };
                    broken = Some(f.clone());
                    (false, Err(f))
                }
            };
            let mut cleanup = None;
            if ours {
                match conn.dele(*n).await {
                    Ok(()) => {
                        // Gone by this check's hand, whatever QUIT then says.
                        self.accounted.insert(uid.clone());
                        deleted.push(index);
                    }
                    Err(f) => cleanup = Some(Err(f)),
                }
            }
            let g = &mut got[index];
            g.download_ms = seen_at.elapsed().as_millis() as u64;
            g.download = download;
            g.cleanup = cleanup;
            if broken.is_some() {
                break;
            }
        }
        if let Some(f) = broken {
            // The deletions of this session are not applied without QUIT.
            for i in deleted {
                got[i].cleanup = Some(Err(Failure::new(
                    f.category,
                    "not removed: the session ended without QUIT".into(),
                )));
            }
            return Ok(());
        }
        let quit = tokio::time::timeout(self.t.quit, conn.quit()).await;
        for i in deleted {
            got[i].cleanup = Some(match &quit {
                Ok(Ok(())) => Ok("DELE, then QUIT accepted".into()),
                Ok(Err(f)) => Err(Failure::new(
                    f.category,
                    format!(
                        "QUIT refused, so the deletion may not apply: {}",
                        f.evidence
                    ),
                )),
                Err(_) => Err(Failure::new(
                    Category::Timeout,
                    "no answer to QUIT: the deletion may not apply".into(),
                )),
            });
        }
        Ok(())
    }

    /// Counts what left the server since the last look (`now` is this look's UIDs) without
    /// this check removing it: messages that arrived during the check, and a mailbox emptied
    /// of everything the last look saw. Older mail leaving one by one (deleted in webmail,
    /// or after some days by a mail program) is no sign.
    fn note_gone(&mut self, now: &HashSet<String>) {
        let before: Vec<&String> = self
            .last
            .iter()
            .filter(|u| !self.accounted.contains(*u))
            .collect();
        let gone: Vec<String> = before
            .iter()
            .filter(|u| !now.contains(**u))
            .map(|u| u.to_string())
            .collect();
        if !gone.is_empty() {
            self.vanished_new += gone.iter().filter(|u| !self.first.contains(*u)).count();
            if gone.len() == before.len() {
                self.emptied += gone.len();
            }
            self.accounted.extend(gone);
        }
        self.last = now.clone();
    }
}

/// Sends the canary (and the attachment probes, when asked for) and reads them back over
/// POP3. Records the stages into `rec`; returns the probes' results.
pub(crate) async fn round_trip(
    ctx: &ProbeContext<'_>,
    rec: &mut Recorder,
    outcome: &mut CanaryOutcome,
    login: &Login<'_>,
    plan: &Login<'_>,
) -> Vec<ProbeResult> {
    let (mb, opts) = (ctx.mb, ctx.opts);
    let t = &opts.stage_timeouts;
    let server = login.endpoint.host_port();
    let mut smtp_rec = rec.side();
    let (reader, smtp_conn) = tokio::join!(
        Reader::start(rec, t, login.clone(), ctx.key, mb.address.as_str()),
        smtp::open(&mut smtp_rec, t, plan),
    );
    rec.absorb(smtp_rec);
    let (mut reader, mut smtp_conn) = match (reader, smtp_conn) {
        (Some(r), Some(s)) => (r, s),
        // One side is broken: nothing is sent, so no canary is left behind.
        (_, s) => {
            if let Some(s) = s {
                s.quit(t.quit).await;
            }
            return Vec::new();
        }
    };
    let (id, message) = probe::new_canary(ctx.key, mb, opts, None);
    outcome.id = Some(id.as_str().to_string());
    probe::note_sending(opts, mb, &id);
    let sent = smtp_conn.send(rec, t, &mb.address, &message).await;
    let mut scratch = Recorder::new(ctx.until);
    let (mut results, probes) = match sent {
        Some(_) if opts.probe != ProbeSet::Plain => {
            probe::send_probes(ctx, &mut smtp_conn, &mut scratch).await
        }
        _ => (Vec::new(), Vec::new()),
    };
    smtp_conn.quit(t.quit.min(rec.remaining())).await;
    let Some(sent_at) = sent else {
        opts.gone(&id);
        return results;
    };
    let until = opts.receive_until(ctx.until);
    let mut wanted: Vec<CanaryId> = std::iter::once(id.clone())
        .chain(probes.iter().map(|p| p.1.clone()))
        .collect();
    rec.begin(Stage::Receive, P);
    let waited = Instant::now();
    let got = reader.collect(&mut wanted, until).await;
    let looks = reader.looks;
    match got.iter().find(|g| g.id == id) {
        Some(g) => {
            let latency = g.seen_at.duration_since(sent_at).as_millis() as u64;
            rec.record(
                Stage::Receive,
                P,
                true,
                latency,
                format!("found in the inbox after {looks} looks"),
            );
            outcome.folder = Some(INBOX.to_string());
            outcome.latency_ms = Some(latency);
            match &g.download {
                Ok(detail) => rec.record(Stage::Verify, P, true, g.download_ms, detail.clone()),
                Err(f) => {
                    rec.record(Stage::Verify, P, false, g.download_ms, f.evidence.clone());
                    rec.problem(Stage::Verify, P, &server, f.clone());
                }
            }
            match &g.cleanup {
                Some(Ok(detail)) => {
                    rec.record(Stage::Cleanup, P, true, 0, detail.clone());
                    outcome.cleaned = true;
                }
                Some(Err(f)) => rec.fail(Stage::Cleanup, P, &server, f.clone()),
                None => {}
            }
        }
        None => {
            let ms = waited.elapsed().as_millis() as u64;
            let f = match reader.last_error.take() {
                Some(f) => Failure::new(
                    f.category,
                    format!(
                        "the canary was not seen; the last look failed: {}",
                        f.evidence
                    ),
                ),
                None => Failure::new(
                    Category::Lost,
                    format!(
                        "canary {} not in the inbox after {:.1} s ({looks} looks over POP3, \
                         which cannot see the junk folder)",
                        id.as_str(),
                        sent_at.elapsed().as_secs_f64()
                    ),
                ),
            };
            rec.record(Stage::Receive, P, false, ms, f.evidence.clone());
            rec.problem(Stage::Receive, P, &server, f);
        }
    }
    for (kind, pid, at) in &probes {
        let r = match got.iter().find(|g| &g.id == pid) {
            None => ProbeResult {
                variant: *kind,
                outcome: ProbeOutcome::Lost,
                folder: None,
                latency_ms: None,
                evidence: "accepted for delivery but never seen in the inbox".into(),
            },
            Some(g) => ProbeResult {
                variant: *kind,
                outcome: probe::probe_outcome(g.download.as_ref().err().map(|f| f.category), false),
                folder: Some(INBOX.to_string()),
                latency_ms: Some(g.seen_at.duration_since(*at).as_millis() as u64),
                evidence: match &g.download {
                    Ok(_) => "downloaded in full; attachment intact".into(),
                    Err(f) => f.evidence.clone(),
                },
            },
        };
        results.push(r);
    }
    probe::sort_probes(&mut results);
    // Removed, or never seen (the sweep's business then): what the journal holds.
    for g in &got {
        if matches!(g.cleanup, Some(Ok(_))) {
            opts.gone(&g.id);
        }
    }
    if reader.vanished_new > 0 || reader.emptied > 0 || reader.canaries_vanished > 0 {
        let mut what = Vec::new();
        if reader.canaries_vanished > 0 {
            what.push(format!(
                "{} test message(s) seen and then gone before download",
                reader.canaries_vanished
            ));
        }
        if reader.vanished_new > 0 {
            what.push(format!(
                "{} message(s) that arrived during the check were gone at the next look",
                reader.vanished_new
            ));
        }
        if reader.emptied > 0 {
            what.push(format!(
                "all {} message(s) on the server at one look were gone at the next",
                reader.emptied
            ));
        }
        rec.problem(
            Stage::Receive,
            P,
            &server,
            Failure::new(
                Category::CanaryRemoved,
                format!(
                    "{}, and Mail Canary did not delete them: another POP3 program is \
                     deleting mail from the server",
                    what.join("; ")
                ),
            ),
        );
    }
    results
}

/// Logs in on its own and removes this install's verified canaries composed more than
/// `older_than_secs` before `now_unix`, and those in `orphans` whatever their age, among the
/// newest [`SWEEP_NEWEST`] messages. Returns how many were removed, and which of `orphans`.
pub async fn sweep(
    login: &Login<'_>,
    t: &StageTimeouts,
    key: &CanaryKey,
    address: &str,
    (now_unix, older_than_secs): (u64, u64),
    orphans: &[CanaryId],
    limit: Duration,
) -> Result<(usize, Vec<CanaryId>), Failure> {
    let until = Instant::now() + limit;
    let mut rec = Recorder::new(until);
    let Some(mut conn) = open(&mut rec, t, login, &mut None).await else {
        return Err(rec.failure());
    };
    let work = async {
        let list = conn.uidl().await?;
        let mut removed = Vec::new();
        let skip = list.len().saturating_sub(SWEEP_NEWEST);
        for (n, _) in list.iter().skip(skip) {
            let head = match conn.top(*n).await {
                Ok(h) => h,
                // Gone meanwhile (another session took it): the others still count.
                Err(f) if f.evidence.starts_with("-ERR") => continue,
                Err(f) => return Err(f),
            };
            let Some(h) = canary::find_verified(&head, key, address) else {
                continue;
            };
            if orphans.contains(&h.id) || h.sent_at + older_than_secs <= now_unix {
                conn.dele(*n).await?;
                removed.push(h.id);
            }
        }
        Ok::<_, Failure>(removed)
    };
    let removed =
        match tokio::time::timeout(until.saturating_duration_since(Instant::now()), work).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(Failure::new(
                    Category::Timeout,
                    "the sweep did not finish in time".into(),
                ));
            }
        };
    tokio::time::timeout(t.quit, conn.quit())
        .await
        .map_err(|_| Failure::new(Category::Timeout, "no answer to QUIT".into()))??;
    let orphans_removed = removed
        .iter()
        .filter(|id| orphans.contains(id))
        .cloned()
        .collect();
    Ok((removed.len(), orphans_removed))
}
