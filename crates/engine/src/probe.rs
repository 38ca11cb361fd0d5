//! One canary round trip for one mailbox, timed stage by stage.
//!
//! Order: log in over IMAP (noting where new mail starts) and over SMTP at the same time; if
//! both work, compose the canary and submit it; wait for it in INBOX and the junk folder;
//! download it in full and check it; remove it by UID. If either side fails, nothing is sent
//! (so nothing is left behind that could not be cleaned up), and the other side's result still
//! tells "sending works, receiving does not" apart from the reverse.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mailcanary_core::canary::{self, CanaryId, CanaryKey, CanaryParams};
use mailcanary_core::config::{Endpoint, MailboxConfig, Protocol, Security};
use mailcanary_core::notice::{Notice, NoticeScan};
use mailcanary_core::probes::{ProbeKind, ProbeOutcome, ProbeResult, ProbeTally};
use mailcanary_core::report::{
    CanaryOutcome, CheckReport, Observations, Problem, QuotaUsage, Stage, StageRecord, TlsInfo,
    diagnose,
};
use mailcanary_core::{Category, Lang};
use secrecy::SecretString;
use tokio::net::TcpStream;

use crate::journal::Journal;
use crate::tls::{
    classify_rustls, client_config, describe_certificate, find_rustls_error, load_ca_file,
};
use crate::{attachments, imap, net, secrets, smtp};

/// A failed step: its category and the evidence (server reply or error text, never a secret).
#[derive(Debug, Clone)]
pub struct Failure {
    /// Category.
    pub category: Category,
    /// Evidence.
    pub evidence: String,
}

impl Failure {
    /// A failure.
    pub fn new(category: Category, evidence: String) -> Failure {
        Failure { category, evidence }
    }
}

/// Classifies an I/O error from a network step.
pub fn io_failure(e: &io::Error) -> Failure {
    if let Some(r) = find_rustls_error(e) {
        return Failure::new(classify_rustls(r), format!("TLS: {r}"));
    }
    use io::ErrorKind as K;
    let category = match e.kind() {
        K::TimedOut | K::WouldBlock => Category::Timeout,
        K::ConnectionRefused
        | K::ConnectionReset
        | K::ConnectionAborted
        | K::NotConnected
        | K::BrokenPipe
        | K::UnexpectedEof
        | K::HostUnreachable
        | K::NetworkUnreachable
        | K::NetworkDown
        | K::AddrNotAvailable => Category::ConnectFailed,
        // Parsers report replies they cannot read as InvalidData or Other.
        _ => Category::ProtocolError,
    };
    let text = e.to_string();
    // async-imap's parse errors carry the raw bytes first; the quoted reply says it better.
    let evidence = match text.split_once(" during parsing of ") {
        Some((_, reply)) => format!("unexpected reply: {reply}"),
        // rustls adds a link to its manual, which says nothing to an office.
        None => match text.split_once(": https://docs.rs/") {
            Some((said, _)) => said.to_string(),
            None => text,
        },
    };
    Failure::new(category, evidence)
}

/// Each network step's own time limit (each also bounded by what is left of the whole check).
#[derive(Debug, Clone)]
pub struct StageTimeouts {
    /// Name lookup.
    pub dns: Duration,
    /// TCP connect, per address.
    pub connect: Duration,
    /// TLS handshake with greeting.
    pub tls: Duration,
    /// Login.
    pub auth: Duration,
    /// One IMAP command, or the SMTP greeting.
    pub command: Duration,
    /// MAIL/RCPT/DATA.
    pub send: Duration,
    /// QUIT/LOGOUT.
    pub quit: Duration,
}

impl Default for StageTimeouts {
    fn default() -> Self {
        StageTimeouts {
            dns: Duration::from_secs(10),
            connect: Duration::from_secs(10),
            tls: Duration::from_secs(15),
            auth: Duration::from_secs(20),
            command: Duration::from_secs(20),
            send: Duration::from_secs(30),
            quit: Duration::from_secs(2),
        }
    }
}

/// Whether a step of a running check has started or how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StageState {
    /// It began.
    Started,
    /// It ended well.
    Ok,
    /// It failed.
    Failed,
}

/// One step of a running check, told as it starts and as it ends (for a live view).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StageEvent {
    /// Mailbox name.
    pub mailbox: String,
    /// The step.
    pub stage: Stage,
    /// On which side.
    pub protocol: Protocol,
    /// Started or ended.
    pub state: StageState,
    /// How long it took (0 when it starts).
    pub ms: u64,
}

/// Where a check tells its steps as they happen.
#[derive(Clone)]
pub struct Progress(Arc<dyn Fn(StageEvent) + Send + Sync>);

impl Progress {
    /// Steps go to `f` (called on the check's task: keep it quick).
    pub fn new(f: impl Fn(StageEvent) + Send + Sync + 'static) -> Progress {
        Progress(Arc::new(f))
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

/// Collects timed stages and problems during a check.
pub struct Recorder {
    stages: Vec<StageRecord>,
    problems: Vec<Problem>,
    deadline: Instant,
    imap_login_ok: bool,
    tls: Vec<TlsInfo>,
    progress: Option<(Progress, Arc<str>)>,
}

impl Recorder {
    /// The last problem recorded, if any.
    pub fn last_problem(&self) -> Option<&Problem> {
        self.problems.last()
    }

    /// A recorder for a check that must end by `deadline`.
    pub fn new(deadline: Instant) -> Recorder {
        Recorder {
            stages: Vec::new(),
            problems: Vec::new(),
            deadline,
            imap_login_ok: false,
            tls: Vec::new(),
            progress: None,
        }
    }

    /// Tells each step of `mailbox`'s check to `progress` as it starts and ends.
    pub fn with_progress(mut self, mailbox: &str, progress: Option<Progress>) -> Recorder {
        self.progress = progress.map(|p| (p, Arc::from(mailbox)));
        self
    }

    /// A recorder for a side of the same check (same deadline, same progress).
    pub fn side(&self) -> Recorder {
        Recorder {
            progress: self.progress.clone(),
            ..Recorder::new(self.deadline)
        }
    }

    fn tell(&self, stage: Stage, protocol: Protocol, state: StageState, ms: u64) {
        if let Some((p, mailbox)) = &self.progress {
            (p.0)(StageEvent {
                mailbox: mailbox.to_string(),
                stage,
                protocol,
                state,
                ms,
            });
        }
    }

    /// Tells that a step begins (steps run through [`Recorder::stage`] are told by it).
    pub fn begin(&self, stage: Stage, protocol: Protocol) {
        self.tell(stage, protocol, StageState::Started, 0);
    }

    /// Time left until the deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Runs one stage under `limit` (and the deadline), recording its time and outcome.
    pub async fn stage<T>(
        &mut self,
        stage: Stage,
        protocol: Protocol,
        server: &str,
        limit: Duration,
        fut: impl Future<Output = Result<(T, String), Failure>>,
    ) -> Option<T> {
        let limit = limit.min(self.remaining());
        self.begin(stage, protocol);
        let started = Instant::now();
        let result = match tokio::time::timeout(limit, fut).await {
            Ok(r) => r,
            Err(_) => Err(Failure::new(
                Category::Timeout,
                format!("no answer within {:.1} s", limit.as_secs_f64()),
            )),
        };
        let ms = started.elapsed().as_millis() as u64;
        match result {
            Ok((value, detail)) => {
                self.record(stage, protocol, true, ms, detail);
                Some(value)
            }
            Err(f) => {
                self.record(stage, protocol, false, ms, f.evidence.clone());
                self.problem(stage, protocol, server, f);
                None
            }
        }
    }

    /// Records a stage's outcome.
    pub fn record(&mut self, stage: Stage, protocol: Protocol, ok: bool, ms: u64, detail: String) {
        tracing::debug!(
            stage = stage.as_str(),
            protocol = protocol.as_str(),
            ok,
            ms,
            detail = detail.as_str(),
            "stage"
        );
        let state = if ok {
            StageState::Ok
        } else {
            StageState::Failed
        };
        self.tell(stage, protocol, state, ms);
        // A stage may run in several steps (IMAP login, then opening INBOX): merge them.
        if let Some(last) = self.stages.last_mut()
            && last.stage == stage
            && last.protocol == Some(protocol)
            && last.ok
        {
            last.ms += ms;
            last.ok = ok;
            last.detail = format!("{}; {}", last.detail, detail);
            return;
        }
        self.stages.push(StageRecord {
            stage,
            protocol: Some(protocol),
            ok,
            ms,
            detail,
        });
    }

    /// Records a problem.
    pub fn problem(&mut self, stage: Stage, protocol: Protocol, server: &str, f: Failure) {
        self.problems.push(Problem {
            category: f.category,
            stage,
            protocol: Some(protocol),
            server: server.to_string(),
            evidence: f.evidence,
        });
    }

    /// Records a stage that failed before it could start.
    pub fn fail(&mut self, stage: Stage, protocol: Protocol, server: &str, f: Failure) {
        self.record(stage, protocol, false, 0, f.evidence.clone());
        self.problem(stage, protocol, server, f);
    }

    /// The problems recorded so far.
    pub fn into_problems(self) -> Vec<Problem> {
        self.problems
    }

    /// Appends what another recorder (a concurrent side) collected.
    pub fn absorb(&mut self, other: Recorder) {
        self.stages.extend(other.stages);
        self.problems.extend(other.problems);
        self.imap_login_ok |= other.imap_login_ok;
        self.tls.extend(other.tls);
    }

    /// Notes the certificate a server presented.
    pub fn certificate(&mut self, protocol: Protocol, server: &str, der: Option<Vec<u8>>) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64;
        if let Some(info) = der.and_then(|d| describe_certificate(&d, protocol, server, now)) {
            self.tls.push(info);
        }
    }

    /// The last problem as a failure (a connect failure if none was recorded).
    pub fn failure(&self) -> Failure {
        self.last_problem()
            .map(|p| Failure::new(p.category, p.evidence.clone()))
            .unwrap_or_else(|| Failure::new(Category::ConnectFailed, "cannot connect".into()))
    }

    /// Where the records stand now, for [`Recorder::rollback`].
    pub fn mark(&self) -> (usize, usize, usize) {
        (self.stages.len(), self.problems.len(), self.tls.len())
    }

    /// Forgets what was recorded since `mark` (an attempt that is made again).
    pub fn rollback(&mut self, mark: (usize, usize, usize)) {
        self.stages.truncate(mark.0);
        self.problems.truncate(mark.1);
        self.tls.truncate(mark.2);
        self.imap_login_ok = false;
    }

    /// Whether a mail server refused the login since `mark`.
    pub fn login_refused_since(&self, mark: (usize, usize, usize)) -> bool {
        self.problems[mark.1..].iter().any(|p| {
            p.stage == Stage::Auth
                && p.category == Category::AuthFailed
                && p.protocol != Some(Protocol::Oauth)
        })
    }

    /// Notes that the IMAP login worked.
    pub fn set_imap_login_ok(&mut self) {
        self.imap_login_ok = true;
    }
}

/// What a mailbox's logins need from outside the config: its password and its TLS trust.
pub struct MailboxSecrets {
    /// The password.
    pub password: SecretString,
    /// Extra CA certificates from the mailbox's `ca_file`.
    pub roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// TLS configuration: platform roots plus `roots`.
    pub tls: Arc<rustls::ClientConfig>,
}

impl MailboxSecrets {
    /// Reads the password (within `limit`) and the CA file; the error is a config problem.
    pub async fn load(mb: &MailboxConfig, limit: Duration) -> Result<MailboxSecrets, String> {
        let mut rec = Recorder::new(Instant::now() + limit);
        Self::load_recorded(mb, limit, &mut rec)
            .await
            .ok_or_else(|| rec.failure().evidence)
    }

    /// As [`MailboxSecrets::load`], recording what fails into `rec`: a config problem, or, for
    /// a mailbox that signs in with OAuth2, the token refresh (stage auth, protocol oauth).
    pub async fn load_recorded(
        mb: &MailboxConfig,
        limit: Duration,
        rec: &mut Recorder,
    ) -> Option<MailboxSecrets> {
        let config = |rec: &mut Recorder, e: String| {
            rec.problems.push(config_problem(e));
            None
        };
        let password = match &mb.oauth {
            Some(o) => {
                let server = crate::http::HttpUrl::parse(&o.token_url)
                    .map(|u| format!("{}:{}", u.host, u.port))
                    .unwrap_or_default();
                rec.stage(Stage::Auth, Protocol::Oauth, &server, limit, async {
                    let t = crate::oauth::access_token(mb, limit)
                        .await
                        .map_err(|e| e.failure())?;
                    Ok((t, "access token ready".to_string()))
                })
                .await?
            }
            None => match secrets::read_password(mb, limit).await {
                Ok(p) => p,
                Err(e) => return config(rec, e.to_string()),
            },
        };
        let roots = match &mb.ca_file {
            Some(p) => match load_ca_file(p) {
                Ok(r) => r,
                Err(e) => return config(rec, e.to_string()),
            },
            None => Vec::new(),
        };
        let tls = match client_config(roots.clone()) {
            Ok(t) => t,
            Err(e) => return config(rec, e.to_string()),
        };
        Some(MailboxSecrets {
            password,
            roots,
            tls,
        })
    }

    /// The IMAP login of `mb`.
    pub fn login<'a>(&'a self, mb: &'a MailboxConfig) -> Login<'a> {
        Login {
            endpoint: &mb.incoming,
            login: &mb.login,
            password: &self.password,
            allow_plaintext_login: mb.allow_plaintext_login,
            tls: self.tls.clone(),
            extra_roots: &self.roots,
            oauth: mb.oauth.is_some(),
        }
    }
}

/// What logging in to one server needs.
#[derive(Clone)]
pub struct Login<'a> {
    /// The server.
    pub endpoint: &'a Endpoint,
    /// Login name.
    pub login: &'a str,
    /// Password.
    pub password: &'a SecretString,
    /// Whether the password may travel unencrypted.
    pub allow_plaintext_login: bool,
    /// TLS configuration (platform roots plus the extra ones).
    pub tls: Arc<rustls::ClientConfig>,
    /// The extra CA certificates alone (lettre's STARTTLS upgrade builds its own config).
    pub extra_roots: &'a [rustls::pki_types::CertificateDer<'static>],
    /// `password` is an OAuth2 access token, presented with SASL (OAUTHBEARER or XOAUTH2).
    pub oauth: bool,
}

/// Refuses to send a password over an unencrypted connection without the opt-in; records why.
pub fn refuse_plaintext(
    rec: &mut Recorder,
    protocol: Protocol,
    server: &str,
    l: &Login<'_>,
) -> bool {
    let refuse = l.endpoint.security == Security::Plain && !l.allow_plaintext_login;
    if refuse {
        rec.fail(
            Stage::Auth,
            protocol,
            server,
            Failure::new(
                Category::ConfigError,
                "plain-text login refused: the connection is not encrypted and \
                 allow_plaintext_login is not set"
                    .to_string(),
            ),
        );
    }
    refuse
}

/// The greeting of an unencrypted connection, read within `limit`; a failure or silence is
/// recorded as the connect stage's.
pub async fn plain_greeting<T>(
    rec: &mut Recorder,
    protocol: Protocol,
    server: &str,
    limit: Duration,
    greeting: impl Future<Output = Result<T, Failure>>,
) -> Option<T> {
    let f = match tokio::time::timeout(limit, greeting).await {
        Ok(Ok(v)) => return Some(v),
        Ok(Err(f)) => f,
        Err(_) => Failure::new(Category::Timeout, "no greeting from the server".into()),
    };
    rec.fail(Stage::Connect, protocol, server, f);
    None
}

/// Looks up and connects to an endpoint, recording the dns and connect stages.
pub async fn dns_and_connect(
    rec: &mut Recorder,
    t: &StageTimeouts,
    protocol: Protocol,
    ep: &Endpoint,
) -> Option<TcpStream> {
    let server = ep.host_port();
    let (host, port) = (ep.host.clone(), ep.port);
    let addrs = rec
        .stage(Stage::Dns, protocol, &server, t.dns, async move {
            let addrs = net::resolve(&host, port).await.map_err(|e| {
                Failure::new(Category::DnsFailed, format!("cannot look up {host}: {e}"))
            })?;
            let detail = addrs
                .iter()
                .map(|a| a.ip().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            Ok((addrs, detail))
        })
        .await?;
    // Several addresses (IPv6 and IPv4, say) share the connect budget, so an unreachable first
    // one cannot use it all up.
    let per_attempt = (t.connect / (addrs.len().min(3) as u32)).max(Duration::from_secs(1));
    rec.stage(Stage::Connect, protocol, &server, t.connect, async move {
        let s = net::connect(&addrs, per_attempt)
            .await
            .map_err(|e| io_failure(&e))?;
        let peer = s.peer_addr().map(|a| a.to_string()).unwrap_or_default();
        Ok((s, format!("connected to {peer}")))
    })
    .await
}

/// Options of a check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Language of texts and of the canary.
    pub lang: Lang,
    /// Bound on the whole check; a canary not seen by then is lost.
    pub timeout: Duration,
    /// Per-stage limits.
    pub stage_timeouts: StageTimeouts,
    /// How arrival is noticed.
    pub arrival: imap::Arrival,
    /// Which canaries to send.
    pub probe: ProbeSet,
    /// Where the check's steps are told as they happen, if anywhere.
    pub progress: Option<Progress>,
    /// Where canaries sent and not yet removed are noted, so that the next start removes
    /// those of a check that was killed (see [`crate::journal`]).
    pub journal: Option<Journal>,
}

/// Which canaries a check sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProbeSet {
    /// One plain canary.
    #[default]
    Plain,
    /// The plain canary, then one canary per attachment variant.
    Attachments,
    /// Everything there is (today the same as `Attachments`).
    Full,
}

impl ProbeSet {
    /// Parses `plain`, `attachments` or `full`.
    pub fn parse(s: &str) -> Option<ProbeSet> {
        match s {
            "plain" => Some(ProbeSet::Plain),
            "attachments" => Some(ProbeSet::Attachments),
            "full" => Some(ProbeSet::Full),
            _ => None,
        }
    }
}

/// What earlier checks of this mailbox tell the diagnosis.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// The latest check that read certificates without finding interception.
    pub tls_baseline: Option<CheckReport>,
    /// How each attachment variant fared in recent checks.
    pub probe_tally: Vec<ProbeTally>,
    /// When attachment probes last ran (within the last week), Unix ms.
    pub last_probed_ms: Option<u64>,
    /// Where the latest finished scan for notices left off.
    pub notice_scan: Option<NoticeScan>,
    /// The latest quota reading: when (Unix ms), and what (`None`: no quota).
    pub quota_reading: Option<(u64, Option<QuotaUsage>)>,
}

impl History {
    /// What the history holds for the next check of `mailbox`: the TLS baseline, how the
    /// attachment variants fared over the last week, where the notice scan stopped and the
    /// latest quota reading. A history that cannot be read gives an empty one (the check
    /// still runs).
    pub fn load(store: &crate::store::Store, mailbox: &str, now_ms: u64) -> History {
        let (probe_tally, last_probed_ms) = History::probes(store, mailbox, now_ms);
        History {
            tls_baseline: store.tls_baseline(mailbox).unwrap_or(None),
            probe_tally,
            last_probed_ms,
            notice_scan: store.notice_scan(mailbox).unwrap_or(None),
            quota_reading: store.quota_reading(mailbox).unwrap_or(None),
        }
    }

    /// How the attachment variants fared over the last week, and when probes last ran.
    pub fn probes(
        store: &crate::store::Store,
        mailbox: &str,
        now_ms: u64,
    ) -> (Vec<ProbeTally>, Option<u64>) {
        let week_ago = now_ms.saturating_sub(7 * 86_400_000);
        let probed = store.with_probes(mailbox, week_ago).unwrap_or_default();
        let tally = mailcanary_core::probes::tally(
            probed
                .iter()
                .map(|r| (r.started_at_ms, r.probes.as_slice())),
        );
        (tally, probed.last().map(|r| r.started_at_ms))
    }

    /// The quota reading a check made at `now_ms` may report instead of asking again: one
    /// under [`QUOTA_READ_EVERY_CHECK_FROM`] percent, less than [`QUOTA_KEPT_FOR_MS`] old.
    fn quota_to_keep(&self, now_ms: u64) -> Option<(u64, Option<QuotaUsage>)> {
        self.quota_reading.clone().filter(|(at, q)| {
            *at <= now_ms
                && now_ms - at < QUOTA_KEPT_FOR_MS
                && q.as_ref()
                    .is_none_or(|q| q.percent < QUOTA_READ_EVERY_CHECK_FROM)
        })
    }
}

impl CheckOptions {
    /// Until when a check that ends at `deadline` waits for its canaries: a little of the
    /// budget is kept to download, clean up and log out.
    pub(crate) fn receive_until(&self, deadline: Instant) -> Instant {
        let reserve = (self.timeout / 10).min(Duration::from_secs(3));
        deadline.checked_sub(reserve).unwrap_or(deadline)
    }

    /// Notes in the journal, if there is one, that canary `id` left the mailbox (removed, or
    /// never accepted).
    pub(crate) fn gone(&self, id: &CanaryId) {
        if let Some(j) = &self.journal {
            j.gone(id);
        }
    }
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            lang: Lang::En,
            timeout: Duration::from_secs(120),
            stage_timeouts: StageTimeouts::default(),
            arrival: imap::Arrival::default(),
            probe: ProbeSet::default(),
            progress: None,
            journal: None,
        }
    }
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

/// Runs one canary round trip for `mb` and diagnoses it.
/// `history` holds what earlier checks of this mailbox found: today's certificates are
/// compared with the baseline's, and failing attachment variants with their record.
pub async fn check(
    mb: &MailboxConfig,
    key: &CanaryKey,
    opts: &CheckOptions,
    history: &History,
) -> CheckReport {
    let started = Instant::now();
    let started_wall = SystemTime::now();
    let mut rec = Recorder::new(started + opts.timeout)
        .with_progress(mb.name.as_str(), opts.progress.clone());
    let mut outcome = CanaryOutcome::default();
    let mut extras = Extras::default();
    let earlier = Earlier {
        notice_scan: history.notice_scan.as_ref(),
        quota: history.quota_to_keep(unix_ms(started_wall)),
    };
    let mark = rec.mark();
    // An access token kept from an earlier check may have been revoked since: when a server
    // refuses it, the sign-in is asked again at once (nothing was sent: both sides must log
    // in first), so the report says whether the sign-in itself is gone.
    let cached = mb.oauth.is_some() && crate::oauth::has_cached(&mb.name);
    round_trip(
        mb,
        key,
        opts,
        &mut rec,
        &mut outcome,
        &mut extras,
        earlier.clone(),
    )
    .await;
    if cached && outcome.id.is_none() && rec.login_refused_since(mark) {
        crate::oauth::forget(&mb.name);
        rec.rollback(mark);
        outcome = CanaryOutcome::default();
        extras = Extras::default();
        round_trip(mb, key, opts, &mut rec, &mut outcome, &mut extras, earlier).await;
    }
    let obs = Observations {
        mailbox: mb.name.to_string(),
        started_at_ms: unix_ms(started_wall),
        duration_ms: started.elapsed().as_millis() as u64,
        stages: rec.stages,
        problems: rec.problems,
        canary: outcome,
        imap_login_ok: rec.imap_login_ok,
        late_after_ms: mb.late_after_secs * 1000,
        notices: extras.notices,
        quota: extras.quota,
        tls: rec.tls,
        previous_tls: history
            .tls_baseline
            .as_ref()
            .map(|p| p.tls.clone())
            .unwrap_or_default(),
        probes: extras.probes,
        probe_history: history.probe_tally.clone(),
    };
    let mut report = diagnose(&obs, opts.lang);
    report.notice_scan = extras.scanned;
    report.quota_read_at_ms = extras.quota_read_at_ms;
    report
}

/// How long a quota reading serves later checks of the mailbox. Some servers recount the
/// whole mailbox for the first quota query of a session after an expunge (Dovecot: 29 ms with
/// 110,000 messages, against 0.4 ms otherwise), and every check expunges its canary.
const QUOTA_KEPT_FOR_MS: u64 = 3_600_000;

/// From this share of the limit on, the quota is read at every check (the warning is at 90 %;
/// a mailbox that fills up faster than that shows it sooner: its canary cannot be delivered).
const QUOTA_READ_EVERY_CHECK_FROM: f64 = 80.0;

/// What a check reads from the mailbox besides the canary.
#[derive(Default)]
struct Extras {
    /// Where this check's notice scan stopped.
    scanned: Option<NoticeScan>,
    notices: Vec<Notice>,
    quota: Option<QuotaUsage>,
    /// When `quota` was read.
    quota_read_at_ms: Option<u64>,
    probes: Vec<ProbeResult>,
}

/// What earlier checks leave to this one's reading of the mailbox.
#[derive(Clone)]
struct Earlier<'a> {
    /// Where the previous notice scan stopped.
    notice_scan: Option<&'a NoticeScan>,
    /// A quota reading that may be reported instead of asking again.
    quota: Option<(u64, Option<QuotaUsage>)>,
}

impl Extras {
    /// Reads the quota and scans for notices. An earlier quota reading is reported instead
    /// only when the canary came through (a full mailbox refuses it, and the quota is then the
    /// cause to name).
    async fn read_mailbox(
        &mut self,
        conn: &mut imap::ImapConn,
        t: &StageTimeouts,
        rec: &Recorder,
        earlier: Earlier<'_>,
        arrived: bool,
    ) {
        match earlier.quota.filter(|_| arrived) {
            Some((at, quota)) => {
                self.quota = quota;
                self.quota_read_at_ms = Some(at);
            }
            None => {
                // Not read (a timeout, an error): no reading, and the next check asks again.
                let read = conn.quota(t.command.min(rec.remaining())).await;
                self.quota_read_at_ms = read.is_some().then(|| unix_ms(SystemTime::now()));
                self.quota = read.flatten();
            }
        }
        (self.notices, self.scanned) = conn
            .scan_notices(t.command.min(rec.remaining()), earlier.notice_scan)
            .await;
    }
}

fn config_problem(evidence: String) -> Problem {
    Problem {
        category: Category::ConfigError,
        stage: Stage::Auth,
        protocol: None,
        server: String::new(),
        evidence,
    }
}

async fn round_trip(
    mb: &MailboxConfig,
    key: &CanaryKey,
    opts: &CheckOptions,
    rec: &mut Recorder,
    outcome: &mut CanaryOutcome,
    extras: &mut Extras,
    earlier: Earlier<'_>,
) {
    let t = &opts.stage_timeouts;
    let Some(secrets) = MailboxSecrets::load_recorded(mb, t.auth.min(rec.remaining()), rec).await
    else {
        return;
    };
    let login = secrets.login(mb);
    let plan = Login {
        endpoint: &mb.smtp,
        tls: secrets.tls.clone(),
        ..login
    };
    if mb.incoming_protocol == Protocol::Pop3 {
        let ctx = ProbeContext {
            mb,
            key,
            opts,
            until: rec.deadline,
        };
        let probes = crate::pop3_check::round_trip(&ctx, rec, outcome, &login, &plan).await;
        extras.probes = probes;
        return;
    }
    // Both sides connect and log in at the same time, each with its own stage limits; their
    // stages are recorded apart and joined, receiving side first.
    let mut smtp_rec = rec.side();
    let (imap_conn, smtp_conn) = tokio::join!(
        async {
            let mut c = imap::open(rec, t, &login).await?;
            c.prepare(rec, t).await?;
            Some(c)
        },
        smtp::open(&mut smtp_rec, t, &plan),
    );
    rec.absorb(smtp_rec);
    let (mut imap_conn, mut smtp_conn) = match (imap_conn, smtp_conn) {
        (Some(i), Some(s)) => (i, s),
        // One side is broken: nothing is sent, so no canary is left behind.
        (i, s) => {
            if let Some(s) = s {
                s.quit(t.quit).await;
            }
            if let Some(mut i) = i {
                // Sending is refused but receiving works: the provider's notice may be there.
                extras.read_mailbox(&mut i, t, rec, earlier, false).await;
                i.logout(t.quit).await;
            }
            return;
        }
    };
    let (id, message) = new_canary(key, mb, opts, None);
    outcome.id = Some(id.as_str().to_string());
    note_sending(opts, mb, &id);
    let sent = smtp_conn.send(rec, t, &mb.address, &message).await;
    let submitted = sent.is_some();
    let until = opts.receive_until(rec.deadline);
    let receive = async {
        let sent_at = sent?;
        rec.begin(Stage::Receive, Protocol::Imap);
        let want = imap::Expected {
            key,
            address: mb.address.as_str(),
            id: &id,
        };
        let plan = imap::WaitPlan {
            sent_at,
            until,
            arrival: opts.arrival,
            command: t.command,
        };
        let found = imap_conn.wait_for(rec, &want, &plan).await?;
        outcome.folder = Some(found.folder.clone());
        outcome.in_junk = found.in_junk;
        outcome.latency_ms = Some(found.seen_at.duration_since(sent_at).as_millis() as u64);
        // Download in full (as a mail program would) and check; remove it only if the full
        // message is this canary.
        if imap_conn.verify(rec, t, &found, &want).await {
            outcome.cleaned = imap_conn.cleanup(rec, t, &found).await;
        }
        Some(())
    };
    if opts.probe == ProbeSet::Plain {
        // The submission connection is no longer needed; closing it overlaps with the wait.
        let ((), _) = tokio::join!(smtp_conn.quit(t.quit), receive);
    } else {
        let arrived = receive.await.is_some();
        if arrived {
            let ctx = ProbeContext {
                mb,
                key,
                opts,
                until,
            };
            extras.probes = run_probes(&ctx, &mut imap_conn, &mut smtp_conn).await;
        }
        smtp_conn.quit(t.quit.min(rec.remaining())).await;
    }
    // Removed, or never accepted: nothing of this check is left in the mailbox.
    if outcome.cleaned || !submitted {
        opts.gone(&id);
    }
    let arrived = outcome.folder.is_some();
    extras
        .read_mailbox(&mut imap_conn, t, rec, earlier, arrived)
        .await;
    imap_conn.logout(t.quit.min(rec.remaining())).await;
}

/// Whether a message downloaded in full is canary `id` (only then may it be removed), and
/// whether it arrived intact; `what` names the message in the evidence (`UID 7`).
pub(crate) fn check_download(
    body: &[u8],
    key: &CanaryKey,
    address: &str,
    id: &CanaryId,
    what: &str,
) -> (bool, Result<String, Failure>) {
    match canary::find_verified(body, key, address) {
        Some(h) if &h.id == id => match canary::check_body(body, &h) {
            canary::BodyCheck::Intact => (
                true,
                Ok(format!("downloaded {} bytes; body intact", body.len())),
            ),
            canary::BodyCheck::Altered => (
                true,
                Err(Failure::new(
                    Category::AttachmentAltered,
                    format!(
                        "downloaded {} bytes; the body differs from what was sent",
                        body.len()
                    ),
                )),
            ),
        },
        _ => (
            false,
            Err(Failure::new(
                Category::ProtocolError,
                format!(
                    "{what} no longer holds this canary when downloaded in full; it was left \
                     untouched"
                ),
            )),
        ),
    }
}

/// A new canary for `mb` (with `attachment`, for a probe): its id and the message.
pub(crate) fn new_canary(
    key: &CanaryKey,
    mb: &MailboxConfig,
    opts: &CheckOptions,
    attachment: Option<&canary::Attachment>,
) -> (CanaryId, Vec<u8>) {
    let id = CanaryId::new(&ulid::Ulid::new().to_string()).expect("a ULID is a valid canary id");
    let composed = canary::compose(
        key,
        &CanaryParams {
            id: id.clone(),
            now: unix_ms(SystemTime::now()) / 1000,
            address: mb.address.as_str(),
            mailbox_name: mb.name.as_str(),
            lang: opts.lang,
            attachment,
        },
    );
    (id, composed.message)
}

/// Notes in the journal, if there is one, that canary `id` is about to be sent.
pub(crate) fn note_sending(opts: &CheckOptions, mb: &MailboxConfig, id: &CanaryId) {
    if let Some(j) = &opts.journal
        && let Err(e) = j.sending(mb.name.as_str(), id)
    {
        tracing::warn!("{}: canary not noted as sent: {e}", mb.name);
    }
}

/// What attachment probes need from the check around them.
pub(crate) struct ProbeContext<'a> {
    pub mb: &'a MailboxConfig,
    pub key: &'a CanaryKey,
    pub opts: &'a CheckOptions,
    pub until: Instant,
}

/// A probe canary that was submitted: its variant, id and when the server took it.
pub(crate) type SentProbe = (ProbeKind, CanaryId, Instant);

/// Sends one canary per attachment variant over the open submission connection; the refused
/// ones come back as `lost` results, the others as sent.
pub(crate) async fn send_probes(
    ctx: &ProbeContext<'_>,
    smtp_conn: &mut smtp::SmtpConn,
    scratch: &mut Recorder,
) -> (Vec<ProbeResult>, Vec<SentProbe>) {
    let t = &ctx.opts.stage_timeouts;
    let mut results = Vec::new();
    let mut sent = Vec::new();
    // The large one goes first: submitting it takes longest, and the small ones' latencies are
    // then not inflated by it.
    let mut kinds: Vec<ProbeKind> = ProbeKind::ALL.to_vec();
    kinds.sort_by_key(|k| *k != ProbeKind::Large);
    for kind in kinds {
        let file = attachments::build(kind);
        let (id, message) = new_canary(ctx.key, ctx.mb, ctx.opts, Some(&file));
        drop(file);
        note_sending(ctx.opts, ctx.mb, &id);
        let submitted = smtp_conn.send(scratch, t, &ctx.mb.address, &message).await;
        if submitted.is_none() {
            ctx.opts.gone(&id);
        }
        match submitted {
            Some(at) => sent.push((kind, id, at)),
            None => results.push(ProbeResult {
                variant: kind,
                outcome: ProbeOutcome::Lost,
                folder: None,
                latency_ms: None,
                evidence: format!(
                    "submission refused: {}",
                    scratch
                        .problems
                        .last()
                        .map(|p| p.evidence.as_str())
                        .unwrap_or("")
                ),
            }),
        }
    }
    (results, sent)
}

/// What a probe's download problem (none: it arrived intact) makes of its outcome.
pub(crate) fn probe_outcome(problem: Option<Category>, in_junk: bool) -> ProbeOutcome {
    match problem {
        None if in_junk => ProbeOutcome::Junk,
        None => ProbeOutcome::Delivered,
        Some(Category::AttachmentAltered) => ProbeOutcome::Altered,
        Some(Category::CanaryRemoved) => ProbeOutcome::Lost,
        Some(_) => ProbeOutcome::Interrupted,
    }
}

/// Sends one canary per attachment variant over the open submission connection, waits for all
/// of them, downloads each in full (as a mail program would), checks its attachment and removes
/// it. Their stages are not part of the round trip's: each variant's story is in its result.
async fn run_probes(
    ctx: &ProbeContext<'_>,
    imap_conn: &mut imap::ImapConn,
    smtp_conn: &mut smtp::SmtpConn,
) -> Vec<ProbeResult> {
    let t = &ctx.opts.stage_timeouts;
    let address = ctx.mb.address.as_str();
    let mut scratch = Recorder::new(ctx.until);
    let (mut results, sent) = send_probes(ctx, smtp_conn, &mut scratch).await;
    let Some(first_sent) = sent.iter().map(|s| s.2).min() else {
        return results;
    };
    let ids: Vec<CanaryId> = sent.iter().map(|s| s.1.clone()).collect();
    // Variants a filter removes never come: stop waiting early enough to download the others.
    let left = ctx.until.saturating_duration_since(Instant::now());
    let plan = imap::WaitPlan {
        sent_at: first_sent,
        until: ctx.until - (left / 4).max(Duration::from_secs(2)).min(left),
        arrival: ctx.opts.arrival,
        command: t.command,
    };
    let (found, _, wait_error) = imap_conn.wait_many(ctx.key, address, &ids, &plan).await;
    let mut broken: Option<String> = None;
    // Download the large one last: a filter that breaks the connection then spoils nothing else.
    let mut order: Vec<&(ProbeKind, CanaryId, Instant)> = sent.iter().collect();
    order.sort_by_key(|s| s.0 == ProbeKind::Large);
    for (kind, id, at) in order {
        let Some(f) = found.iter().find(|f| &f.header.id == id) else {
            results.push(ProbeResult {
                variant: *kind,
                outcome: ProbeOutcome::Lost,
                folder: None,
                latency_ms: None,
                evidence: match &wait_error {
                    Some(e) => format!("not seen; the wait ended early: {}", e.evidence),
                    None => "accepted for delivery but never arrived".to_string(),
                },
            });
            continue;
        };
        let latency_ms = Some(f.seen_at.duration_since(*at).as_millis() as u64);
        let folder = Some(f.folder.clone());
        if let Some(why) = &broken {
            results.push(ProbeResult {
                variant: *kind,
                outcome: ProbeOutcome::Interrupted,
                folder,
                latency_ms,
                evidence: format!("not downloaded: {why}"),
            });
            continue;
        }
        let want = imap::Expected {
            key: ctx.key,
            address,
            id,
        };
        let before = scratch.problems.len();
        let ours = imap_conn.verify(&mut scratch, t, f, &want).await;
        let problem = scratch.problems.get(before).cloned();
        let outcome = probe_outcome(problem.as_ref().map(|p| p.category), f.in_junk);
        if outcome == ProbeOutcome::Interrupted {
            broken = problem.as_ref().map(|p| p.evidence.clone());
        }
        if ours && imap_conn.cleanup(&mut scratch, t, f).await {
            ctx.opts.gone(id);
        }
        results.push(ProbeResult {
            variant: *kind,
            outcome,
            folder,
            latency_ms,
            evidence: problem
                .map(|p| p.evidence)
                .unwrap_or_else(|| "downloaded in full; attachment intact".to_string()),
        });
    }
    sort_probes(&mut results);
    results
}

/// Puts probe results in the vocabulary's order of variants.
pub(crate) fn sort_probes(results: &mut [ProbeResult]) {
    results.sort_by_key(|r| ProbeKind::ALL.iter().position(|k| *k == r.variant));
}

/// Logs in to a mailbox's receiving server on its own and removes this install's canaries
/// older than `older_than_secs` (see [`imap::ImapConn::sweep`], [`crate::pop3_check::sweep`]).
/// Returns how many were removed.
pub async fn sweep(
    mb: &MailboxConfig,
    key: &CanaryKey,
    opts: &CheckOptions,
    older_than_secs: u64,
) -> Result<usize, String> {
    let t = &opts.stage_timeouts;
    let secrets = MailboxSecrets::load(mb, t.auth).await?;
    let login = secrets.login(mb);
    // The canaries of checks that were killed, whatever their age.
    let orphans = opts
        .journal
        .as_ref()
        .map(|j| j.orphans(mb.name.as_str()))
        .unwrap_or_default();
    let now_unix = unix_ms(SystemTime::now()) / 1000;
    let (removed, orphans_removed) = if mb.incoming_protocol == Protocol::Pop3 {
        crate::pop3_check::sweep(
            &login,
            t,
            key,
            mb.address.as_str(),
            (now_unix, older_than_secs),
            &orphans,
            opts.timeout,
        )
        .await
        .map_err(|f| f.evidence)?
    } else {
        let mut rec = Recorder::new(Instant::now() + opts.timeout);
        let Some(mut conn) = imap::open(&mut rec, t, &login).await else {
            return Err(rec.failure().evidence);
        };
        let result = match conn.prepare(&mut rec, t).await {
            Some(()) => conn
                .sweep(
                    key,
                    mb.address.as_str(),
                    now_unix,
                    older_than_secs,
                    &orphans,
                    opts.timeout,
                )
                .await
                .map_err(|f| f.evidence),
            None => Err("cannot open INBOX".to_string()),
        };
        conn.logout(t.quit).await;
        result?
    };
    if let Some(j) = &opts.journal {
        j.swept(&orphans, &orphans_removed);
    }
    Ok(removed)
}
