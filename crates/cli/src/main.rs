//! `mailcanary`: the command-line host of the engine.
//!
//! It parses arguments, finds the config and data directories, and calls the engine; it writes
//! no protocol or storage logic of its own. Exit codes follow Nagios plugins: 0 ok, 1 warning,
//! 2 critical, 3 unknown (also for usage and configuration errors).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use clap::{ArgGroup, Args, Parser, Subcommand};
use mailcanary_engine::core::canary::CanaryKey;
use mailcanary_engine::core::config::{
    Config, MailboxConfig, MailboxName, RawMailbox, SecretSource,
};
use mailcanary_engine::core::report::{
    CheckReport, Observations, Problem, Stage, diagnose, iso8601_utc, parse_since,
};
use mailcanary_engine::core::schedule::SchedulePolicy;
use mailcanary_engine::core::scope;
use mailcanary_engine::core::{Category, Lang, Severity};
use mailcanary_engine::discover;
use mailcanary_engine::journal::Journal;
use mailcanary_engine::metrics::{self, Metrics};
use mailcanary_engine::monitor::{self, MonitorEvent, MonitorOptions};
use mailcanary_engine::probe::{CheckOptions, History, ProbeSet, Progress, check};
use mailcanary_engine::secrets::OAuthSecret;
use mailcanary_engine::store::Store;
use mailcanary_engine::{config_file, secrets};
use secrecy::SecretString;

/// Loggers that may see secrets or message contents; never shown.
mod html_report;
mod office;

const SILENCED_LOGGERS: &str =
    "async_imap=off,imap_proto=off,lettre=off,rustls=off,tokio_rustls=off,zbus=off,keyring=off";

/// Exit code for usage and configuration errors.
const EXIT_UNKNOWN: u8 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "mailcanary",
    version,
    about = "Sends canary mail through a mailbox and tells, in plain words, what broke."
)]
struct Cli {
    /// Config file (TOML).
    #[arg(long, global = true, env = "MAILCANARY_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory for the history and local state.
    #[arg(long, global = true, env = "MAILCANARY_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Language of messages: ja or en (default: from the OS locale).
    #[arg(long, global = true, env = "MAILCANARY_LANG", value_name = "LANG")]
    lang: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Add, list, show or remove mailboxes.
    #[command(subcommand)]
    Mailbox(MailboxCmd),
    /// Run one canary round trip per mailbox (all when none is named).
    Check(CheckArgs),
    /// Show past checks with per-stage timings.
    History(HistoryArgs),
    /// Watch the mailboxes continuously and alert on incidents, until stopped (Ctrl-C, SIGTERM).
    Run(RunArgs),
    /// Acknowledge a mailbox's current problem (or its drill): no more reminders for it.
    Ack {
        /// Mailbox name.
        name: String,
    },
    /// Hold a mailbox's notifications back for a while (checks go on).
    Snooze {
        /// Mailbox name.
        name: String,
        /// How long: 30m, 2h, 1d (at most a week).
        #[arg(long = "for", value_name = "SPAN")]
        span: String,
    },
    /// Rehearse an outage: a labelled alert through the real channels, the runbook, and the
    /// time until someone acknowledges it.
    Drill(office::DrillArgs),
    /// Uptime, daily round-trip times, incidents and drills; as text, JSON or an HTML file.
    Report(office::ReportArgs),
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Mailboxes to watch (default: all).
    names: Vec<String>,
    /// Seconds between checks of a mailbox (jittered; sooner to confirm a failure; default:
    /// the config's [monitor] interval, else 300).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    interval: Option<u64>,
    /// Bound on each check in seconds.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout: u64,
    /// Checks running at once across mailboxes.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=256))]
    concurrency: u64,
    #[command(flatten)]
    alerts: office::AlertArgs,
    /// Serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9898; default: the
    /// config's [monitor] metrics).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<std::net::SocketAddr>,
    /// Do not keep an IMAP IDLE connection open per mailbox between checks (it notices a
    /// server that goes away and brings the next check forward).
    #[arg(long)]
    no_watch: bool,
    /// How often a check also sends the attachment probes (PDF, Office files, ZIPs, a large
    /// file), per mailbox: a span such as 6h, or "off" (default: the config's [monitor]
    /// attachments_every, else 6h).
    #[arg(long, value_name = "SPAN")]
    attachments_every: Option<String>,
    /// Push the same metrics to the Prometheus Pushgateway whose URL (e.g.
    /// https://push.example.com) is in this environment variable, for offices where nobody
    /// can scrape this computer. (A URL can hold a token, so it is never an argument.)
    #[arg(long, value_name = "VAR")]
    push_env: Option<String>,
    /// Seconds between pushes.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    push_interval: u64,
    /// The `instance` label of pushed metrics (default: this computer's name).
    #[arg(long, value_name = "NAME")]
    push_instance: Option<String>,
}

#[derive(Subcommand, Debug)]
enum MailboxCmd {
    /// Add a mailbox.
    Add(Box<AddArgs>),
    /// List mailboxes.
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Show one mailbox and its latest check.
    Show {
        /// Mailbox name.
        name: String,
    },
    /// Remove a mailbox (and its password from the OS keyring).
    Remove {
        /// Mailbox name.
        name: String,
    },
    /// Sign a mailbox in again with OAuth2 in the browser (after the sign-in was revoked or
    /// expired).
    Signin {
        /// Mailbox name.
        name: String,
        /// Print the sign-in address instead of opening the browser.
        #[arg(long)]
        no_browser: bool,
        /// Read a new client secret of the registered app from standard input.
        #[arg(long)]
        client_secret_stdin: bool,
    },
    /// Find an address's servers as mail programs do (provider presets, the domain's
    /// autoconfig file, its SRV and MX records, the usual names), without logging in.
    Discover {
        /// The e-mail address.
        address: String,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("secret").required(true).multiple(false)
    .args(["password_stdin", "password_command", "password_env", "oauth"])))]
struct AddArgs {
    /// A short name for the mailbox, e.g. office.
    name: String,
    /// The mailbox's e-mail address.
    #[arg(long)]
    address: String,
    /// Login name, if not the address.
    #[arg(long)]
    login: Option<String>,
    /// IMAP server, HOST[:PORT] (default port 993). Without --imap and --smtp, the servers
    /// are looked up from the address (see `mailbox discover`) and shown for confirmation.
    #[arg(long, value_name = "HOST[:PORT]")]
    imap: Option<String>,
    /// POP3 server, HOST[:PORT] (default port 995), for a mailbox read over POP3 instead of
    /// IMAP. POP3 sees the inbox only: canaries put in the junk folder count as lost.
    #[arg(long, value_name = "HOST[:PORT]", conflicts_with_all = ["imap", "imap_security"])]
    pop3: Option<String>,
    /// SMTP submission server, HOST[:PORT] (default port 587).
    #[arg(long, value_name = "HOST[:PORT]")]
    smtp: Option<String>,
    /// Take the servers looked up without asking.
    #[arg(long)]
    yes: bool,
    /// With the servers looked up: receive over imap or pop3 (default: IMAP where the
    /// finding offers it, else POP3).
    #[arg(long, value_name = "imap|pop3", conflicts_with_all = ["imap", "pop3"])]
    receive: Option<String>,
    /// tls, starttls or plain (default: tls; starttls on port 143).
    #[arg(long)]
    imap_security: Option<String>,
    /// tls, starttls or plain (default: tls; starttls on port 110).
    #[arg(long)]
    pop3_security: Option<String>,
    /// tls, starttls or plain (default: starttls; tls on port 465).
    #[arg(long)]
    smtp_security: Option<String>,
    /// Extra CA certificates (PEM) to trust beside the platform's.
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
    /// Allow the password to travel over an unencrypted connection.
    #[arg(long)]
    allow_plaintext_login: bool,
    /// A canary slower than this many seconds is reported as late (default 60).
    #[arg(long, value_name = "SECS")]
    late_after: Option<u64>,
    /// Read the password from standard input and store it in the OS keyring.
    #[arg(long)]
    password_stdin: bool,
    /// A command that prints the password, run at each check.
    #[arg(long, value_name = "CMD")]
    password_command: Option<String>,
    /// An environment variable that holds the password.
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
    /// Sign in with OAuth2 in the browser instead of a password: microsoft, google or custom.
    /// The refresh token goes to the OS keyring.
    #[arg(long, value_parser = ["microsoft", "google", "custom"])]
    oauth: Option<String>,
    /// The client id of the app registered with the provider (see docs/OAUTH.md).
    #[arg(long, requires = "oauth")]
    client_id: Option<String>,
    /// The authorization endpoint, for --oauth custom (or to override the provider's).
    #[arg(long, requires = "oauth", value_name = "URL")]
    oauth_authorize_url: Option<String>,
    /// The token endpoint, for --oauth custom (or to override the provider's).
    #[arg(long, requires = "oauth", value_name = "URL")]
    oauth_token_url: Option<String>,
    /// The scopes to ask for, space-separated (default: the provider's for mail).
    #[arg(long, requires = "oauth")]
    oauth_scope: Option<String>,
    /// Read the registered app's client secret from standard input (Google's desktop apps
    /// have one) and keep it in the OS keyring.
    #[arg(long, requires = "oauth")]
    client_secret_stdin: bool,
    /// Print the sign-in address instead of opening the browser.
    #[arg(long, requires = "oauth")]
    no_browser: bool,
}

#[derive(Args, Debug)]
struct CheckArgs {
    /// Mailboxes to check (default: all).
    names: Vec<String>,
    /// One JSON object per mailbox per line.
    #[arg(long)]
    json: bool,
    /// Which canaries: plain (one message), attachments (plus one per attachment type), full.
    #[arg(long, default_value = "plain", value_parser = ["plain", "attachments", "full"])]
    probe: String,
    /// Bound on the whole check in seconds; a canary not arrived by then is lost.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout: u64,
    /// Tell each step on standard error as it starts and ends, one JSON object per line.
    #[arg(long)]
    progress: bool,
}

#[derive(Args, Debug)]
struct HistoryArgs {
    /// Mailbox (default: all).
    name: Option<String>,
    /// How far back: 30m, 24h, 7d, 2w.
    #[arg(long, default_value = "24h")]
    since: String,
    /// One JSON object per check per line.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// CSV with a header row.
    #[arg(long)]
    csv: bool,
}

/// Resolved global settings.
struct Env {
    config_path: PathBuf,
    data_dir: PathBuf,
    lang_override: Option<Lang>,
}

impl Env {
    fn from_cli(cli: &Cli) -> Result<Env> {
        let dirs = directories::ProjectDirs::from("", "", "mailcanary");
        let config_path = match (&cli.config, &dirs) {
            (Some(p), _) => p.clone(),
            (None, Some(d)) => d.config_dir().join("config.toml"),
            (None, None) => bail!("cannot find a config directory; pass --config FILE"),
        };
        let data_dir = match (&cli.data_dir, &dirs) {
            (Some(p), _) => p.clone(),
            (None, Some(d)) => d.data_dir().to_path_buf(),
            (None, None) => bail!("cannot find a data directory; pass --data-dir DIR"),
        };
        let lang_override = match &cli.lang {
            Some(l) => {
                Some(Lang::parse(l).ok_or_else(|| anyhow!("--lang {l:?}: use \"ja\" or \"en\""))?)
            }
            None => None,
        };
        // The app and other `mailcanary` processes on this data directory refresh a sign-in
        // in turn with this one.
        mailcanary_engine::oauth::share_refreshes_in(&data_dir);
        Ok(Env {
            config_path,
            data_dir,
            lang_override,
        })
    }

    fn lang(&self, config: &Config) -> Lang {
        self.lang_override.or(config.lang).unwrap_or_else(|| {
            let var = |k| std::env::var(k).ok();
            let (a, b, c) = (var("LC_ALL"), var("LC_MESSAGES"), var("LANG"));
            Lang::from_locale([a.as_deref(), b.as_deref(), c.as_deref()])
        })
    }

    fn load(&self) -> Result<Config> {
        Ok(config_file::load(&self.config_path)?)
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(EXIT_UNKNOWN),
            };
        }
    };
    // Protocol libraries log every line they write (IMAP LOGIN with its password among
    // them) at trace level: they stay silent whatever MAILCANARY_LOG asks for.
    let user_filter = std::env::var("MAILCANARY_LOG").unwrap_or_else(|_| "warn".into());
    let filter =
        tracing_subscriber::EnvFilter::try_new(format!("{user_filter},{SILENCED_LOGGERS}"))
            .unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(format!("warn,{SILENCED_LOGGERS}"))
            });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("mailcanary: {}", error_text(&e));
            ExitCode::from(EXIT_UNKNOWN)
        }
    }
}

fn run(cli: Cli) -> Result<u8> {
    let env = Env::from_cli(&cli)?;
    match cli.command {
        Command::Mailbox(MailboxCmd::Add(a)) => mailbox_add(&env, *a),
        Command::Mailbox(MailboxCmd::List { json }) => mailbox_list(&env, json),
        Command::Mailbox(MailboxCmd::Show { name }) => mailbox_show(&env, &name),
        Command::Mailbox(MailboxCmd::Remove { name }) => mailbox_remove(&env, &name),
        Command::Mailbox(MailboxCmd::Signin {
            name,
            no_browser,
            client_secret_stdin,
        }) => mailbox_signin(&env, &name, no_browser, client_secret_stdin),
        Command::Mailbox(MailboxCmd::Discover { address, json }) => {
            mailbox_discover(&address, json)
        }
        Command::Check(a) => run_check(&env, a),
        Command::History(a) => history(&env, a),
        Command::Run(a) => run_monitor(&env, a),
        Command::Ack { name } => office::ack(&env, &name),
        Command::Snooze { name, span } => office::snooze(&env, &name, &span),
        Command::Drill(a) => office::drill(&env, a),
        Command::Report(a) => office::report(&env, a),
    }
}

fn read_password_stdin() -> Result<SecretString> {
    let stdin = std::io::stdin();
    let line = if stdin.is_terminal() {
        // Typed by a person: do not echo it.
        eprint!("Password for the mailbox (not shown): ");
        let _ = std::io::stderr().flush();
        rpassword::read_password().context("cannot read the password from the terminal")?
    } else {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line
    };
    let pw = line.trim_end_matches(['\n', '\r']).to_string();
    if pw.is_empty() {
        bail!("--password-stdin: standard input held no password");
    }
    Ok(SecretString::from(pw))
}

/// Looks up an address's servers.
fn discover(address: &str) -> Result<Vec<discover::Found>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(discover::discover(address, &Default::default()))
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn found_line(f: &discover::Found) -> String {
    let server = |s: &discover::Server| format!("{}:{} ({})", s.host, s.port, s.security.as_str());
    let mut line = format!("{} ({}): ", f.source, f.detail);
    for (name, s) in [("IMAP", &f.imap), ("POP3", &f.pop3)] {
        if let Some(s) = s {
            line.push_str(&format!("{name} {}, ", server(s)));
        }
    }
    line.push_str(&format!("SMTP {}", server(&f.smtp)));
    if let Some(l) = &f.login {
        line.push_str(&format!(", login {l}"));
    }
    if let Some(n) = &f.note {
        line.push_str(&format!("\n     {n}"));
    }
    line
}

fn mailbox_discover(address: &str, json: bool) -> Result<u8> {
    let found = discover(address)?;
    if json {
        for f in &found {
            println!("{}", serde_json::to_string(f)?);
        }
    } else if found.is_empty() {
        println!(
            "Nothing found for {address}: give --imap (or --pop3) and --smtp to `mailbox add`."
        );
    } else {
        for (i, f) in found.iter().enumerate() {
            println!("{}. {}", i + 1, found_line(f));
        }
    }
    Ok(if found.is_empty() { 1 } else { 0 })
}

/// Looks the servers of the mailbox being added up and has them confirmed (`--yes`, or a
/// person at the terminal); fills in the security and login the finding names unless given.
/// `None` when the person said no.
fn found_servers(a: &mut AddArgs) -> Result<Option<Servers>> {
    let pop3_wanted = match a.receive.as_deref() {
        None => None,
        Some("imap") => Some(false),
        Some("pop3") => Some(true),
        Some(other) => bail!("--receive: \"{other}\" is not imap or pop3"),
    };
    let found = discover(&a.address)?;
    for (i, f) in found.iter().enumerate() {
        if i == 0 {
            println!("Found for {}:", a.address);
        }
        println!("{}. {}", i + 1, found_line(f));
    }
    // A finding's incoming server for the protocol wanted (IMAP first when none was), and
    // whether it is POP3.
    fn incoming(
        f: &discover::Found,
        pop3_wanted: Option<bool>,
    ) -> Option<(&discover::Server, bool)> {
        let imap = f.imap.as_ref().map(|s| (s, false));
        let pop3 = f.pop3.as_ref().map(|s| (s, true));
        match pop3_wanted {
            Some(true) => pop3,
            Some(false) => imap,
            None => imap.or(pop3),
        }
    }
    let chosen = found
        .iter()
        .enumerate()
        .filter(|(_, f)| !f.unverified)
        .find_map(|(i, f)| incoming(f, pop3_wanted).map(|server| (i, f, server)));
    let Some((i, first, (incoming, pop3))) = chosen else {
        let what = match pop3_wanted {
            Some(true) => "POP3 servers",
            Some(false) => "IMAP servers",
            None => "servers",
        };
        if found
            .iter()
            .any(|f| f.unverified && incoming(f, pop3_wanted).is_some())
        {
            bail!(
                "the only {what} found came over unencrypted HTTP and point outside the \
                 address's domain; check them, then give the servers"
            );
        }
        bail!("no {what} found for {}; give the servers", a.address);
    };
    let n = i + 1;
    let asked = !a.yes && !a.password_stdin && std::io::stdin().is_terminal();
    if asked {
        print!(
            "Use {n}, receiving over {}? [y/N] ",
            if pop3 { "POP3" } else { "IMAP" }
        );
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("Nothing added.");
            return Ok(None);
        }
    } else if !a.yes {
        bail!(
            "servers found (above) but not confirmed: add --yes to take {n}, or give the servers"
        );
    }
    let security = if pop3 {
        &mut a.pop3_security
    } else {
        &mut a.imap_security
    };
    security.get_or_insert_with(|| incoming.security.as_str().to_string());
    a.smtp_security
        .get_or_insert_with(|| first.smtp.security.as_str().to_string());
    if a.login.is_none() {
        a.login = first.login.clone();
    }
    let address = |s: &discover::Server| format!("{}:{}", s.host, s.port);
    Ok(Some(Servers {
        imap: if pop3 {
            String::new()
        } else {
            address(incoming)
        },
        pop3: pop3.then(|| address(incoming)),
        smtp: address(&first.smtp),
    }))
}

/// How the servers of a mailbox being added were given or found.
struct Servers {
    imap: String,
    pop3: Option<String>,
    smtp: String,
}

fn mailbox_add(env: &Env, mut a: AddArgs) -> Result<u8> {
    let servers = match (a.imap.take(), a.pop3.take(), a.smtp.take()) {
        (Some(imap), None, Some(smtp)) => Servers {
            imap,
            pop3: None,
            smtp,
        },
        (None, Some(pop3), Some(smtp)) => Servers {
            imap: String::new(),
            pop3: Some(pop3),
            smtp,
        },
        (None, None, None) => match found_servers(&mut a)? {
            Some(s) => s,
            None => return Ok(3),
        },
        (_, Some(_), None) => {
            bail!("give --smtp with --pop3, or neither (with --receive pop3) to look them up")
        }
        _ => bail!("give both --imap and --smtp, or neither to look them up from the address"),
    };
    let (imap_security, pop3_security, smtp_security, login) =
        (a.imap_security, a.pop3_security, a.smtp_security, a.login);
    let (imap, pop3, smtp) = (servers.imap, servers.pop3, servers.smtp);
    let raw = RawMailbox {
        address: a.address,
        login,
        imap,
        imap_security,
        pop3,
        pop3_security,
        smtp,
        smtp_security,
        ca_file: a.ca_file.map(|p| std::path::absolute(&p).unwrap_or(p)),
        allow_plaintext_login: a.allow_plaintext_login,
        password_keyring: a.password_stdin,
        password_command: a.password_command,
        password_env: a.password_env,
        late_after_secs: a.late_after,
        oauth: a.oauth,
        oauth_client_id: a.client_id,
        oauth_authorize_url: a.oauth_authorize_url,
        oauth_token_url: a.oauth_token_url,
        oauth_scope: a.oauth_scope,
    };
    let mb = raw.resolve(&a.name)?;
    if let Some(ca) = &mb.ca_file {
        mailcanary_engine::tls::load_ca_file(ca)?;
    }
    let current = env.load()?;
    if current.mailboxes.contains_key(&mb.name) {
        bail!(
            "mailbox \"{}\" exists already in {}; remove it first or pick another name",
            mb.name,
            env.config_path.display()
        );
    }
    if mb.oauth.is_some() {
        let secret = a
            .client_secret_stdin
            .then(read_password_stdin)
            .transpose()?;
        sign_in(&mb, a.no_browser, secret)?;
    } else if mb.secret == SecretSource::Keyring {
        let pw = read_password_stdin()?;
        secrets::store_password(&mb.name, &pw)?;
    }
    if let Err(e) = config_file::add_mailbox(&env.config_path, &mb) {
        if mb.oauth.is_some() {
            let _ = secrets::delete_oauth(&mb.name, OAuthSecret::RefreshToken);
            let _ = secrets::delete_oauth(&mb.name, OAuthSecret::ClientSecret);
        } else if mb.secret == SecretSource::Keyring {
            let _ = secrets::delete_password(&mb.name);
        }
        return Err(e.into());
    }
    let where_pw = match &mb.secret {
        _ if mb.oauth.is_some() => "signed in; the sign-in is kept in the OS keyring".to_string(),
        SecretSource::Keyring => "password stored in the OS keyring".to_string(),
        SecretSource::Command(_) => "password from a command at each check".to_string(),
        SecretSource::Env(v) => format!("password from ${v}"),
    };
    println!(
        "Added mailbox \"{}\" ({}) to {}; {where_pw}.",
        mb.name,
        mb.address,
        env.config_path.display()
    );
    if mb.incoming_protocol == mailcanary_engine::core::config::Protocol::Pop3 {
        println!(
            "It is read over POP3, which sees the inbox only: a test message put in the junk \
             folder counts as lost, so look in webmail's junk folder when that happens."
        );
    }
    Ok(0)
}

/// Signs `mb` in with OAuth2 in the browser (or prints the address, with `no_browser`); the
/// sign-in goes to the keyring, with `client_secret` when given.
fn sign_in(
    mb: &MailboxConfig,
    no_browser: bool,
    client_secret: Option<SecretString>,
) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let provider = mb.oauth.as_ref().map_or("", |o| o.provider.as_str());
    rt.block_on(mailcanary_engine::oauth::sign_in(
        mb,
        client_secret,
        |url| {
            println!("Sign in to {provider} for {} at:\n{url}", mb.address);
            if !no_browser {
                match mailcanary_engine::oauth::open_browser(url) {
                    Ok(_) => println!("(opened in the browser; waiting for the sign-in)"),
                    Err(_) => println!("(open it in a browser on this computer)"),
                }
            }
            std::io::stdout().flush().ok();
            Ok(())
        },
    ))
    .map_err(|e| anyhow!("{e}"))
}

fn mailbox_signin(env: &Env, name: &str, no_browser: bool, secret_stdin: bool) -> Result<u8> {
    let config = env.load()?;
    let mb = find_mailbox(&config, env, name)?;
    if mb.oauth.is_none() {
        bail!("mailbox \"{name}\" logs in with a password, not OAuth2");
    }
    let secret = secret_stdin.then(read_password_stdin).transpose()?;
    sign_in(mb, no_browser, secret)?;
    println!("Signed in mailbox \"{name}\" again; the sign-in is kept in the OS keyring.");
    Ok(0)
}

fn secret_label(mb: &MailboxConfig) -> String {
    if let Some(o) = &mb.oauth {
        return format!(
            "none; OAuth2 sign-in ({}), kept in the keyring",
            o.provider.as_str()
        );
    }
    match &mb.secret {
        SecretSource::Keyring => "keyring".into(),
        SecretSource::Command(c) => format!("command: {c}"),
        SecretSource::Env(v) => format!("env: {v}"),
    }
}

fn mailbox_json(mb: &MailboxConfig) -> serde_json::Value {
    serde_json::json!({
        "name": mb.name.as_str(),
        "address": mb.address.as_str(),
        "login": mb.login,
        "receive": mb.incoming_protocol,
        mb.incoming_protocol.as_str(): {
            "host": mb.incoming.host,
            "port": mb.incoming.port,
            "security": mb.incoming.security,
        },
        "smtp": {"host": mb.smtp.host, "port": mb.smtp.port, "security": mb.smtp.security},
        "ca_file": mb.ca_file,
        "allow_plaintext_login": mb.allow_plaintext_login,
        "oauth": mb.oauth.as_ref().map(|o| o.provider.as_str()),
        "password_source": match &mb.secret {
            _ if mb.oauth.is_some() => "none",
            SecretSource::Keyring => "keyring",
            SecretSource::Command(_) => "command",
            SecretSource::Env(_) => "env",
        },
    })
}

fn mailbox_list(env: &Env, json: bool) -> Result<u8> {
    let config = env.load()?;
    if config.mailboxes.is_empty() && !json {
        println!(
            "No mailboxes yet. Add one with `mailcanary mailbox add NAME --address … --imap … --smtp … --password-stdin`."
        );
    }
    for mb in config.mailboxes.values() {
        if json {
            println!("{}", mailbox_json(mb));
        } else {
            println!(
                "{}\t{}\t{} {} ({})\tsmtp {} ({})\tpassword: {}",
                mb.name,
                mb.address,
                mb.incoming_protocol.as_str(),
                mb.incoming.host_port(),
                mb.incoming.security.as_str(),
                mb.smtp.host_port(),
                mb.smtp.security.as_str(),
                secret_label(mb)
            );
        }
    }
    Ok(0)
}

fn find_mailbox<'a>(config: &'a Config, env: &Env, name: &str) -> Result<&'a MailboxConfig> {
    let key = MailboxName::new(name).map_err(|m| anyhow!(m))?;
    config.mailboxes.get(&key).ok_or_else(|| {
        anyhow!(
            "no mailbox \"{name}\" in {}; `mailcanary mailbox list` shows what there is",
            env.config_path.display()
        )
    })
}

fn mailbox_show(env: &Env, name: &str) -> Result<u8> {
    let config = env.load()?;
    let mb = find_mailbox(&config, env, name)?;
    println!("name:      {}", mb.name);
    println!("address:   {}", mb.address);
    println!("login:     {}", mb.login);
    println!(
        "{:<11}{} ({})",
        format!("{}:", mb.incoming_protocol.as_str()),
        mb.incoming.host_port(),
        mb.incoming.security.as_str()
    );
    println!(
        "smtp:      {} ({})",
        mb.smtp.host_port(),
        mb.smtp.security.as_str()
    );
    if let Some(ca) = &mb.ca_file {
        println!("ca file:   {}", ca.display());
    }
    if mb.allow_plaintext_login {
        println!("plain-text login allowed");
    }
    println!("password:  {}", secret_label(mb));
    let db = env.data_dir.join(mailcanary_engine::store::DB_FILE);
    if db.exists() {
        let store = open_store(env)?;
        match store.latest(mb.name.as_str())? {
            Some(r) => println!(
                "last check: {} {} - {}",
                iso8601_utc(r.started_at_ms),
                r.status.label(),
                r.summary
            ),
            None => println!("last check: never"),
        }
    } else {
        println!("last check: never");
    }
    Ok(0)
}

fn mailbox_remove(env: &Env, name: &str) -> Result<u8> {
    let key = MailboxName::new(name).map_err(|m| anyhow!(m))?;
    let mb = config_file::remove_mailbox(&env.config_path, &key)?;
    let note = if mb.oauth.is_some() {
        let _ = secrets::delete_oauth(&mb.name, OAuthSecret::ClientSecret);
        match secrets::delete_oauth(&mb.name, OAuthSecret::RefreshToken) {
            Ok(true) => "; its sign-in was removed from the OS keyring".to_string(),
            Ok(false) => "; the OS keyring held no sign-in for it".to_string(),
            Err(e) => format!("; its keyring entry could not be removed: {e}"),
        }
    } else if mb.secret == SecretSource::Keyring {
        match secrets::delete_password(&mb.name) {
            Ok(true) => "; its password was removed from the OS keyring".to_string(),
            Ok(false) => "; the OS keyring held no password for it".to_string(),
            Err(e) => format!("; its keyring entry could not be removed: {e}"),
        }
    } else {
        String::new()
    };
    println!("Removed mailbox \"{}\"{note}.", mb.name);
    Ok(0)
}

/// The named mailboxes, or all; an error when a name is unknown or there are none.
fn select_mailboxes(config: &Config, env: &Env, names: &[String]) -> Result<Vec<MailboxConfig>> {
    let selected: Vec<MailboxConfig> = if names.is_empty() {
        config.mailboxes.values().cloned().collect()
    } else {
        names
            .iter()
            .map(|n| find_mailbox(config, env, n).cloned())
            .collect::<Result<_>>()?
    };
    if selected.is_empty() {
        bail!(
            "no mailboxes configured in {}; add one with `mailcanary mailbox add`",
            env.config_path.display()
        );
    }
    Ok(selected)
}

fn run_check(env: &Env, a: CheckArgs) -> Result<u8> {
    let config = env.load()?;
    // Before any password command runs: none inherits another mailbox's password.
    secrets::secret_vars_of_config(&config);
    let lang = env.lang(&config);
    let selected = select_mailboxes(&config, env, &a.names)?;
    let (key, _) = secrets::install_key(&env.data_dir)?;
    let progress = a.progress.then(|| {
        Progress::new(|ev| {
            if let Ok(line) = serde_json::to_string(&ev) {
                eprintln!("{line}");
            }
        })
    });
    let opts = CheckOptions {
        lang,
        timeout: Duration::from_secs(a.timeout),
        probe: ProbeSet::parse(&a.probe).expect("clap checked the value"),
        progress,
        // A check killed mid-way leaves its canary noted: the monitor's next start removes it.
        journal: Some(Journal::new(&env.data_dir)),
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // What earlier checks found: each mailbox's last good certificates (to notice an issuer
    // that changed) and a week of attachment probes (to tell a pattern from a fluke).
    // One handle on the history for the whole command; a history that cannot be opened is a
    // warning: the checks run without it and are not saved.
    let mut store = open_store(env)
        .inspect_err(|e| {
            eprintln!("mailcanary: warning: history unavailable, checks run without it: {e}")
        })
        .ok();
    let histories: Vec<History> = match &store {
        Some(store) => selected
            .iter()
            .map(|mb| History::load(store, mb.name.as_str(), now_ms()))
            .collect(),
        None => vec![History::default(); selected.len()],
    };
    let everyone: Vec<MailboxConfig> = config.mailboxes.values().cloned().collect();
    let reports: Vec<CheckReport> = rt.block_on(futures::future::join_all(
        selected.iter().zip(&histories).map(|(mb, h)| {
            let refs = monitor::references_for(mb, &everyone, &config.network.references);
            let opts = &opts;
            let key = &key;
            async move {
                // Canaries of checks that were killed (cron runs included) go first.
                let orphaned = opts
                    .journal
                    .as_ref()
                    .is_some_and(|j| !j.orphans(mb.name.as_str()).is_empty());
                if orphaned
                    && let Err(e) = mailcanary_engine::probe::sweep(mb, key, opts, 3600).await
                {
                    eprintln!(
                        "mailcanary: warning: {}: leftover canaries not removed: {e}",
                        mb.name
                    );
                }
                let mut r = check_bounded(mb, key, opts, h).await;
                // A server that cannot be reached: this computer, or the provider?
                if let Some(how) = scope::unreachable(&r) {
                    let reach =
                        mailcanary_engine::reach::assess(&refs, Duration::from_secs(5)).await;
                    scope::apply(&mut r, scope::decide(how, reach), opts.lang);
                }
                r
            }
        }),
    ));
    rt.shutdown_timeout(Duration::from_millis(200));
    // The history is secondary to the answer: a check that cannot be saved is a warning.
    if let Some(store) = store.as_mut() {
        for r in &reports {
            if let Err(e) = store.record(r) {
                eprintln!(
                    "mailcanary: warning: check of \"{}\" not saved: {e}",
                    r.mailbox
                );
            }
        }
    }
    let mut worst = Severity::Ok;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (mb, r) in selected.iter().zip(&reports) {
        worst = worst.worst(r.status);
        if a.json {
            writeln!(out, "{}", serde_json::to_string(r)?)?;
        } else {
            writeln!(out, "{}", r.nagios_line(mb.late_after_secs, a.timeout))?;
        }
    }
    Ok(worst.exit_code() as u8)
}

/// A check that ends by its deadline whatever happens inside: a last guard behind the
/// per-stage limits.
async fn check_bounded(
    mb: &MailboxConfig,
    key: &CanaryKey,
    opts: &CheckOptions,
    history: &History,
) -> CheckReport {
    let grace = Duration::from_secs(5);
    match tokio::time::timeout(opts.timeout + grace, check(mb, key, opts, history)).await {
        Ok(r) => r,
        Err(_) => timed_out_report(mb, opts),
    }
}

fn timed_out_report(mb: &MailboxConfig, opts: &CheckOptions) -> CheckReport {
    let now_ms = now_ms();
    let obs = Observations {
        mailbox: mb.name.to_string(),
        started_at_ms: now_ms.saturating_sub(opts.timeout.as_millis() as u64),
        duration_ms: opts.timeout.as_millis() as u64,
        problems: vec![Problem {
            category: Category::Timeout,
            stage: Stage::Receive,
            protocol: None,
            server: mb.incoming.host_port(),
            evidence: format!("the check did not end within {} s", opts.timeout.as_secs()),
        }],
        late_after_ms: mb.late_after_secs * 1000,
        ..Default::default()
    };
    diagnose(&obs, opts.lang)
}

fn run_monitor(env: &Env, a: RunArgs) -> Result<u8> {
    let config = env.load()?;
    secrets::secret_vars_of_config(&config);
    let lang = env.lang(&config);
    let selected = select_mailboxes(&config, env, &a.names)?;
    let channels = office::channels(&config, a.alerts)?;
    let push = match &a.push_env {
        Some(var) => {
            let url = std::env::var(var)
                .map_err(|_| anyhow!("--push-env {var}: the variable is not set"))?;
            Some(mailcanary_engine::http::HttpUrl::parse(&url).map_err(|e| {
                anyhow!("--push-env {var}: {e} (credentials in the URL are not accepted)")
            })?)
        }
        None => None,
    };
    let (key, _) = secrets::install_key(&env.data_dir)?;
    let interval_ms = a
        .interval
        .map(|s| s * 1000)
        .unwrap_or_else(|| config.monitor.interval_ms());
    let metrics_addr = a.metrics.or_else(|| config.monitor.metrics_addr());
    let probe_every_ms = match a.attachments_every.as_deref() {
        None => config.monitor.attachments_every_ms(),
        Some("off") => 0,
        Some(span) => parse_since(span).filter(|&ms| ms > 0).ok_or_else(|| {
            anyhow!("--attachments-every {span:?}: use a span such as 30m, 6h, 1d, or \"off\"")
        })?,
    };
    let opts = MonitorOptions {
        check: CheckOptions {
            lang,
            timeout: Duration::from_secs(a.timeout),
            ..Default::default()
        },
        schedule: SchedulePolicy::every(interval_ms),
        health: mailcanary_engine::office::health_policy(&config),
        concurrency: a.concurrency as usize,
        hook: channels.hook,
        desktop: channels.desktop,
        on_click: None,
        webhook: channels.webhook,
        metrics: (metrics_addr.is_some() || a.push_env.is_some()).then(Metrics::new),
        runbook: config.runbook.clone(),
        retention_days: config.retention_days,
        references: config.network.references.clone(),
        watch: (!a.no_watch).then(Default::default),
        probe_every_ms,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let printer = tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                match ev {
                    MonitorEvent::Checked(r) => println!(
                        "{} {} {} {} {}",
                        iso8601_utc(r.started_at_ms),
                        r.mailbox,
                        r.status.label(),
                        r.category,
                        r.canary
                            .latency_ms
                            .map(|ms| format!("{:.2}s", ms as f64 / 1000.0))
                            .unwrap_or_else(|| "-".into())
                    ),
                    MonitorEvent::Watch {
                        mailbox,
                        state,
                        detail,
                    } => {
                        println!(
                            "WATCH {mailbox} {state}{}{detail}",
                            if detail.is_empty() { "" } else { ": " }
                        )
                    }
                    MonitorEvent::Paused(until) => match until {
                        Some(t) => println!("PAUSED until {}", iso8601_utc(t)),
                        None => println!("RESUMED"),
                    },
                    MonitorEvent::Alert(a) => println!(
                        "ALERT {} {} {} {}: {}",
                        a.event, a.mailbox, a.severity, a.category, a.summary
                    ),
                }
            }
        });
        let stop = async {
            #[cfg(unix)]
            {
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                        .expect("SIGTERM handler");
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            #[cfg(not(unix))]
            let _ = tokio::signal::ctrl_c().await;
        };
        if let (Some(url), Some(m)) = (push, opts.metrics.clone()) {
            let instance = a
                .push_instance
                .clone()
                .unwrap_or_else(metrics::default_instance);
            eprintln!(
                "mailcanary: pushing metrics to {} every {} s as instance {instance}",
                url.host, a.push_interval
            );
            tokio::spawn(metrics::push_loop(
                url,
                instance,
                m,
                Duration::from_secs(a.push_interval),
            ));
        }
        if let (Some(addr), Some(m)) = (metrics_addr, opts.metrics.clone()) {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("--metrics {addr}: cannot listen there"))?;
            eprintln!("mailcanary: metrics at http://{addr}/metrics");
            tokio::spawn(metrics::serve(listener, m));
        }
        eprintln!(
            "mailcanary: watching {} mailbox(es) every {} s; Ctrl-C to stop",
            selected.len(),
            interval_ms / 1000
        );
        let result = monitor::run(selected, key, &env.data_dir, opts, tx, stop).await;
        let _ = printer.await;
        Ok::<(), anyhow::Error>(result?)
    })?;
    eprintln!("mailcanary: stopped");
    Ok(0)
}

/// Now, Unix milliseconds.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

fn history(env: &Env, a: HistoryArgs) -> Result<u8> {
    let back = parse_since(&a.since).ok_or_else(|| {
        anyhow!(
            "--since {:?}: use a number and a unit, e.g. 30m, 24h, 7d, 2w",
            a.since
        )
    })?;
    if let Some(n) = &a.name {
        let config = env.load()?;
        find_mailbox(&config, env, n)?;
    }
    let now_ms = now_ms();
    let db = env.data_dir.join(mailcanary_engine::store::DB_FILE);
    let reports = if db.exists() {
        open_store(env)?.history(a.name.as_deref(), now_ms.saturating_sub(back))?
    } else {
        Vec::new()
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if a.csv {
        write!(out, "{}", mailcanary_engine::office::csv_header())?;
    }
    if reports.is_empty() && !a.json && !a.csv {
        writeln!(out, "No checks in the last {}.", a.since)?;
    }
    for r in &reports {
        if a.json {
            writeln!(out, "{}", serde_json::to_string(r)?)?;
        } else if a.csv {
            write!(out, "{}", mailcanary_engine::office::csv_row(r))?;
        } else {
            let timings: Vec<String> = r
                .stages
                .iter()
                .map(|s| {
                    format!(
                        "{}{}={}ms{}",
                        s.protocol
                            .map(|p| format!("{}.", p.as_str()))
                            .unwrap_or_default(),
                        s.stage.as_str(),
                        s.ms,
                        if s.ok { "" } else { "!" }
                    )
                })
                .collect();
            writeln!(
                out,
                "{}  {:<12} {:<8} {:<16} {}\n    {}",
                iso8601_utc(r.started_at_ms),
                r.mailbox,
                r.status.label(),
                r.category.as_str(),
                r.summary,
                timings.join(" ")
            )?;
        }
    }
    Ok(0)
}

/// Opens the history; a damaged one that had to be moved aside is told on standard error.
pub(crate) fn open_store(env: &Env) -> Result<Store, mailcanary_engine::store::StoreError> {
    let store = Store::open(&env.data_dir)?;
    if let Some(aside) = store.moved_aside() {
        eprintln!(
            "mailcanary: warning: the history database was damaged; it was moved aside to {} \
             (kept, not deleted) and a new history was started",
            aside.display()
        );
    }
    Ok(store)
}

/// An error and its causes, each said once: many of ours already name their cause.
fn error_text(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !out.contains(&c) {
            out.push_str(": ");
            out.push_str(&c);
        }
    }
    out
}
