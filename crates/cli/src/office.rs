//! The office's side of monitoring: alert channels from the config and the command line,
//! acknowledging and snoozing problems, drills, and reports from the history.

use std::io::{BufRead, Write};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use mailcanary_engine::alerts::Alert;
use mailcanary_engine::core::Lang;
use mailcanary_engine::core::config::{AlertSettings, Config};
use mailcanary_engine::core::html::duration_text;
use mailcanary_engine::core::report::{iso8601_utc, parse_since};
use mailcanary_engine::core::stats::{self, Drill};
use mailcanary_engine::office::{self, Channels, MailboxFigures, health_policy};
use mailcanary_engine::store::{Control, Store};

use crate::{Env, find_mailbox, now_ms, select_mailboxes};

/// Alert channels given on the command line; they add to the config's `[alerts]`.
#[derive(Args, Debug, Default)]
pub struct AlertArgs {
    /// A command run for every alert, with MAILCANARY_EVENT, _MAILBOX, _SEVERITY, _CATEGORY,
    /// _SUMMARY, _ACTION, _LASTED_SECS, _DRILL and _RUNBOOK in its environment.
    #[arg(long, value_name = "CMD")]
    pub hook: Option<String>,
    /// Show alerts as desktop notifications.
    #[arg(long)]
    pub notify: bool,
    /// Post alerts to the webhook URL held in this environment variable (URLs of Slack and
    /// Teams hold a token, so they are never taken as an argument).
    #[arg(long, value_name = "VAR")]
    pub webhook_env: Option<String>,
    /// Shape of the webhook's JSON: json, slack or teams (default: the config's, else json).
    #[arg(long, value_parser = ["json", "slack", "teams"])]
    pub webhook_format: Option<String>,
}

/// The channels: the command line merged over the config's `[alerts]`.
pub fn channels(config: &Config, a: AlertArgs) -> Result<Channels> {
    let c = &config.alerts;
    let merged = AlertSettings {
        notify: Some(a.notify || c.notify == Some(true)),
        hook: a.hook.or_else(|| c.hook.clone()),
        webhook_env: a.webhook_env.or_else(|| c.webhook_env.clone()),
        webhook_format: a.webhook_format.or_else(|| c.webhook_format.clone()),
        renotify_after: c.renotify_after.clone(),
    };
    Channels::from_settings(&merged).map_err(|e| anyhow!(e))
}

fn parse_span(flag: &str, s: &str) -> Result<u64> {
    parse_since(s)
        .filter(|&ms| ms > 0)
        .ok_or_else(|| anyhow!("{flag} {s:?}: use a number and a unit, e.g. 30m, 2h, 7d, 2w"))
}

/// `mailcanary ack NAME`: someone has seen the drill in progress or, when there is none, the
/// mailbox's current problem.
pub fn ack(env: &Env, name: &str) -> Result<u8> {
    let config = env.load()?;
    let mb = find_mailbox(&config, env, name)?;
    let store = crate::open_store(env)?;
    let now = now_ms();
    let mut drills = 0;
    for d in store.drills(Some(mb.name.as_str()), 0)? {
        if d.ended_at_ms.is_none() && store.ack_drill(d.id, now)? {
            drills += 1;
        }
    }
    if drills > 0 {
        // A drill's acknowledgement says nothing about a real problem.
        println!("Drill for \"{}\" acknowledged.", mb.name);
        return Ok(0);
    }
    let open = store
        .load_health(mb.name.as_str())?
        .is_some_and(|h| h.state.is_some());
    if !open {
        println!(
            "No problem is open for \"{}\" (as of the monitor's last check); nothing to acknowledge.",
            mb.name
        );
        return Ok(0);
    }
    store.add_control(mb.name.as_str(), Control::Acknowledge, now)?;
    println!(
        "Problem with \"{}\" acknowledged: no more reminders until it changes or ends.",
        mb.name
    );
    Ok(0)
}

/// `mailcanary snooze NAME --for 2h`: no notifications for a while.
pub fn snooze(env: &Env, name: &str, span: &str) -> Result<u8> {
    let config = env.load()?;
    let mb = find_mailbox(&config, env, name)?;
    let ms = parse_span("--for", span)?;
    if ms > 7 * 86_400_000 {
        bail!("--for {span}: at most a week, so a problem is never silenced for good");
    }
    let until = now_ms() + ms;
    crate::open_store(env)?.add_control(
        mb.name.as_str(),
        Control::Snooze { until_ms: until },
        now_ms(),
    )?;
    println!(
        "Notifications for \"{}\" are held back until {}. Checks go on and are recorded.",
        mb.name,
        iso8601_utc(until)
    );
    Ok(0)
}

#[derive(Args, Debug)]
pub struct DrillArgs {
    /// The mailbox whose outage is rehearsed.
    pub name: String,
    /// How long to wait for someone to acknowledge.
    #[arg(long, default_value = "1h", value_name = "SPAN")]
    pub wait: String,
    #[command(flatten)]
    pub alerts: AlertArgs,
}

/// `mailcanary drill NAME`: a labelled rehearsal through the real alert channels.
pub fn drill(env: &Env, a: DrillArgs) -> Result<u8> {
    let config = env.load()?;
    let lang = env.lang(&config);
    let mb = find_mailbox(&config, env, &a.name)?.clone();
    let wait = Duration::from_millis(parse_span("--wait", &a.wait)?);
    let channels = channels(&config, a.alerts)?;
    let store = crate::open_store(env)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let sink = channels.build(lang);
    let alert = Alert::drill(mb.name.as_str(), lang).with_runbook(&config.runbook, lang);
    let drill = store.start_drill(mb.name.as_str(), now_ms())?;
    let failed = rt.block_on(sink.deliver(&alert));
    let mut out = std::io::stdout().lock();
    let names = channels.names();
    writeln!(
        out,
        "DRILL for \"{}\" started at {}. Alert sent to: {}.",
        mb.name,
        iso8601_utc(drill.started_at_ms),
        if names.is_empty() {
            "no channel (set [alerts] in the config, or --notify, --webhook-env, --hook)"
                .to_string()
        } else {
            names.join(", ")
        }
    )?;
    for f in &failed {
        writeln!(out, "  not delivered: {f}")?;
    }
    writeln!(out, "\n{}\n{}\n", alert.summary, alert.action)?;
    if alert.runbook.is_empty() {
        writeln!(
            out,
            "No runbook yet. Add a [runbook] section to {} (contact, provider_support, \
             webmail, backup_channel, notes): it is shown with every critical alert.",
            env.config_path.display()
        )?;
    } else {
        writeln!(out, "Runbook:")?;
        for (k, v) in &alert.runbook {
            writeln!(out, "  {k}: {v}")?;
        }
    }
    writeln!(
        out,
        "\nPress Enter to acknowledge (or run `mailcanary ack {}` on this computer).",
        mb.name
    )?;
    out.flush()?;
    drop(out);
    let acked = wait_for_ack(&store, &drill, wait)?;
    let end = now_ms();
    store.end_drill(drill.id, end)?;
    match acked {
        Some(at) => {
            let lasted = Duration::from_millis(at.saturating_sub(drill.started_at_ms));
            rt.block_on(sink.deliver(&Alert::drill_over(mb.name.as_str(), lang, lasted)));
            println!(
                "Drill acknowledged after {} and recorded (drills are kept apart from real incidents).",
                duration_text(lasted.as_millis() as u64, Lang::En)
            );
            Ok(0)
        }
        None => {
            println!(
                "Nobody acknowledged the drill within {}. Recorded as unacknowledged.",
                a.wait
            );
            Ok(1)
        }
    }
}

/// Waits for Enter on standard input or an acknowledgement in the history; the time of the
/// acknowledgement, or `None` at the end of `wait`.
fn wait_for_ack(store: &Store, drill: &Drill, wait: Duration) -> Result<Option<u64>> {
    let (tx, rx) = mpsc::channel();
    // A line on stdin acknowledges; end of input (no terminal, /dev/null) does not.
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut line = String::new();
        if matches!(stdin.lock().read_line(&mut line), Ok(n) if n > 0) {
            let _ = tx.send(now_ms());
        }
    });
    let deadline = std::time::Instant::now() + wait;
    loop {
        match rx.recv_timeout(Duration::from_millis(250)) {
            Ok(at) => {
                store.ack_drill(drill.id, at)?;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // Standard input ended without a line: only `mailcanary ack` can answer now.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(Duration::from_millis(250));
            }
        }
        let now = store
            .drills(Some(&drill.mailbox), drill.started_at_ms)?
            .into_iter()
            .find(|d| d.id == drill.id)
            .and_then(|d| d.acknowledged_at_ms);
        if now.is_some() {
            return Ok(now);
        }
        if std::time::Instant::now() >= deadline {
            return Ok(None);
        }
    }
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Mailbox (default: all).
    pub name: Option<String>,
    /// How far back: 24h, 30d, 2w.
    #[arg(long, default_value = "30d")]
    pub since: String,
    /// The figures as one JSON document.
    #[arg(long, conflicts_with = "html")]
    pub json: bool,
    /// Write a self-contained HTML report to this file (to send to the provider's support).
    #[arg(long, value_name = "FILE")]
    pub html: Option<std::path::PathBuf>,
}

/// Reads the figures of the selected mailboxes since `from_ms`.
pub fn figures(
    env: &Env,
    config: &Config,
    name: Option<&str>,
    from_ms: u64,
    offset: i32,
) -> Result<Vec<(MailboxFigures, Vec<stats::CheckPoint>)>> {
    let names: Vec<String> = name.map(|n| vec![n.to_string()]).unwrap_or_default();
    let selected = select_mailboxes(config, env, &names)?;
    let store = crate::open_store(env)?;
    Ok(office::figures(
        &store,
        &selected,
        &health_policy(config),
        from_ms,
        offset,
    )?)
}

fn ms_text(v: Option<u64>) -> String {
    v.map(|ms| format!("{:.2}s", ms as f64 / 1000.0))
        .unwrap_or_else(|| "-".into())
}

fn pct_text(v: Option<f64>) -> String {
    v.map(|p| format!("{p:.2}%")).unwrap_or_else(|| "-".into())
}

/// `mailcanary report`: uptime, daily latency, incidents and drills.
pub fn report(env: &Env, a: ReportArgs) -> Result<u8> {
    let config = env.load()?;
    let back = parse_span("--since", &a.since)?;
    let now = now_ms();
    let from = now.saturating_sub(back);
    let offset = mailcanary_engine::local_utc_offset_secs();
    let figs = figures(env, &config, a.name.as_deref(), from, offset)?;
    if let Some(path) = &a.html {
        return crate::html_report::write(env, &config, path, figs, from, now, offset);
    }
    let mut out = std::io::stdout().lock();
    if a.json {
        let v: Vec<&MailboxFigures> = figs.iter().map(|(f, _)| f).collect();
        writeln!(
            out,
            "{}",
            serde_json::json!({ "from": iso8601_utc(from), "to": iso8601_utc(now), "mailboxes": v })
        )?;
        return Ok(0);
    }
    for (f, _) in &figs {
        writeln!(
            out,
            "{} <{}>: {} checks in the last {}, uptime {}, round trip p50 {} p95 {}",
            f.name,
            f.address,
            f.checks,
            a.since,
            pct_text(f.uptime_pct),
            ms_text(f.p50_ms),
            ms_text(f.p95_ms)
        )?;
        writeln!(out, "  day          checks  uptime    p50     p95")?;
        for d in &f.days {
            writeln!(
                out,
                "  {}  {:>6}  {:>8}  {:>6}  {:>6}",
                d.day,
                d.checks,
                pct_text(d.uptime_pct),
                ms_text(d.p50_ms),
                ms_text(d.p95_ms)
            )?;
        }
        if f.incidents.is_empty() {
            writeln!(out, "  incidents: none")?;
        }
        for i in &f.incidents {
            writeln!(
                out,
                "  incident {} .. {} ({}) {} {}: {}{}",
                iso8601_utc(i.start_ms),
                i.end_ms
                    .map(iso8601_utc)
                    .unwrap_or_else(|| "ongoing".into()),
                duration_text(i.duration_ms(now), Lang::En),
                i.severity.as_str(),
                i.causes
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                i.summary,
                i.acknowledged_at_ms
                    .map(|t| format!(" (acknowledged {})", iso8601_utc(t)))
                    .unwrap_or_default()
            )?;
        }
        for d in &f.drills {
            writeln!(
                out,
                "  drill {}: {}",
                iso8601_utc(d.started_at_ms),
                d.time_to_ack_ms()
                    .map(|ms| format!("acknowledged after {}", duration_text(ms, Lang::En)))
                    .unwrap_or_else(|| "not acknowledged".into())
            )?;
        }
    }
    Ok(0)
}
