//! A self-contained HTML report of one period, for a small office to send to its mail
//! provider's support: per mailbox, the uptime, a timeline of round-trip times with failed checks
//! and incidents, daily figures, incidents, drills (kept apart), and every failed check with the
//! servers' exact replies.
//!
//! The page needs nothing from outside: charts are inline SVG, styles sit in one `<style>`
//! element, there is no script, and a Content-Security-Policy forbids loading anything. Every
//! string from the input is treated as untrusted and escaped.

use std::fmt::Write as _;

use crate::canary::civil_from_days;
use crate::report::{CheckReport, Finding, StageRecord};
use crate::stats::{CheckPoint, DayStats, Drill, Incident, percentile};
use crate::{Category, Lang, Severity};

/// Everything one report shows.
#[derive(Debug, Clone, PartialEq)]
pub struct HtmlReport {
    /// Language of the page's labels.
    pub lang: Lang,
    /// Page title, e.g. "Mail Canary report: office".
    pub title: String,
    /// When the report was made, Unix ms.
    pub generated_at_ms: u64,
    /// Start of the period covered, Unix ms.
    pub from_ms: u64,
    /// End of the period covered, Unix ms.
    pub to_ms: u64,
    /// Times are shown at this offset east of UTC, with the offset printed.
    pub utc_offset_secs: i32,
    /// (label, value) lines for whoever reads the report, e.g. the provider's support number;
    /// may be empty.
    pub runbook: Vec<(String, String)>,
    /// One section per mailbox.
    pub mailboxes: Vec<MailboxSection>,
}

/// The figures and evidence of one mailbox over the period.
#[derive(Debug, Clone, PartialEq)]
pub struct MailboxSection {
    /// Mailbox name.
    pub name: String,
    /// Its address.
    pub address: String,
    /// Every check in the period, in time order.
    pub points: Vec<CheckPoint>,
    /// Daily figures, from [`crate::stats::daily`].
    pub days: Vec<DayStats>,
    /// Uptime over the whole period.
    pub uptime_pct: Option<f64>,
    /// Real incidents only.
    pub incidents: Vec<Incident>,
    /// Rehearsals, shown in their own section.
    pub drills: Vec<Drill>,
    /// Failed checks with full detail (the caller caps the number), in time order.
    pub failures: Vec<CheckReport>,
}

/// Renders the report as one HTML page.
pub fn render(r: &HtmlReport) -> String {
    let cx = Ctx {
        t: txt(r.lang),
        off: r.utc_offset_secs,
        from: r.from_ms,
        to: r.to_ms.max(r.from_ms),
    };
    let body: String = if r.mailboxes.is_empty() {
        para("none", cx.t.no_mailboxes)
    } else {
        r.mailboxes.iter().map(|m| mailbox(&cx, m)).collect()
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n{header}{body}</main>\n</body>\n</html>\n",
        lang = cx.t.lang,
        title = esc(&r.title),
        header = header(&cx, r),
    )
}

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', 'Hiragino Sans', 'Yu Gothic', Meiryo, sans-serif;
  color: #222; background: #fff; line-height: 1.45; margin: 0; font-size: 14px; }
main { max-width: 62rem; margin: 0 auto; padding: 1rem 1.25rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 1.5rem 0 .5rem; border-bottom: 1px solid #bbb; }
h3 { font-size: 1.05rem; margin: 1.25rem 0 .4rem; }
h4 { font-size: .95rem; margin: 1rem 0 .3rem; }
h5 { font-size: .9rem; margin: .6rem 0 .2rem; }
.meta, .note, .none, .legend, .addr { color: #555; }
.summary span { display: inline-block; margin-right: 1.5rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: .4rem 0; }
dt { font-weight: 600; }
dd { margin: 0; white-space: pre-line; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; margin: .3rem 0; }
th, td { border-bottom: 1px solid #ddd; padding: .15rem .4rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td { white-space: pre-wrap; overflow-wrap: break-word; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f6f6; border: 1px solid #ddd;
  padding: .4rem; font-size: .8rem; margin: .2rem 0 .6rem; }
.failure { border-left: 3px solid #c0392b; padding-left: .75rem; margin: 1rem 0; }
.sev-critical { color: #a93226; font-weight: 600; }
.sev-warning { color: #9a6700; font-weight: 600; }
.sev-unknown { color: #555; font-weight: 600; }
.sev-ok { color: #1e7b34; }
svg.chart { width: 100%; height: auto; display: block; margin: .3rem 0; }
svg text { font-size: 11px; fill: #444; }
svg .plot { fill: #fafafa; stroke: #ccc; }
svg .grid { stroke: #e2e2e2; }
svg .tick { stroke: #999; }
svg .band { fill: #c0392b; fill-opacity: .13; }
svg .lat { stroke: #2e6da4; stroke-width: 1.2; fill: none; stroke-linecap: round; }
svg .fail { stroke: #c0392b; stroke-width: 1.5; }
svg .unk { stroke: #888; stroke-width: 1.5; }
svg .up-good { fill: #5b8f6a; }
svg .up-fair { fill: #d4a017; }
svg .up-poor { fill: #c0392b; }
svg .empty { font-size: 14px; fill: #777; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { font-size: 9.5pt; }
  main { max-width: none; padding: 0; }
  section.mailbox + section.mailbox { break-before: page; }
  h2, h3, h4, h5 { break-after: avoid; }
  tr, svg { break-inside: avoid; }
}
";

const DASH: &str = "\u{2014}";

/// What every part of the page needs: the words and the period.
#[derive(Clone, Copy)]
struct Ctx {
    t: &'static Txt,
    off: i32,
    from: u64,
    to: u64,
}

/// The page's fixed words in one language.
struct Txt {
    lang: &'static str,
    period: &'static str,
    generated: &'static str,
    tz_before: &'static str,
    tz_after: &'static str,
    runbook: &'static str,
    no_mailboxes: &'static str,
    uptime: &'static str,
    checks: &'static str,
    incident_count: &'static str,
    median: &'static str,
    timeline: &'static str,
    latency_axis: &'static str,
    time_axis: &'static str,
    legend: &'static str,
    no_checks: &'static str,
    daily: &'static str,
    daily_axis: &'static str,
    no_days: &'static str,
    day: &'static str,
    p50: &'static str,
    p95: &'static str,
    incidents: &'static str,
    start: &'static str,
    end: &'static str,
    duration: &'static str,
    severity: &'static str,
    cause: &'static str,
    acknowledged: &'static str,
    ongoing: &'static str,
    no_incidents: &'static str,
    drills: &'static str,
    drills_note: &'static str,
    drill_started: &'static str,
    time_to_ack: &'static str,
    drill_ended: &'static str,
    no_drills: &'static str,
    failures: &'static str,
    failures_note: &'static str,
    no_failures: &'static str,
    summary: &'static str,
    action: &'static str,
    tried: &'static str,
    stage: &'static str,
    protocol: &'static str,
    result: &'static str,
    took: &'static str,
    detail: &'static str,
    stage_ok: &'static str,
    stage_failed: &'static str,
    findings: &'static str,
    sev: [&'static str; 4],
    units: [&'static str; 4],
    unit_join: &'static str,
    colon: &'static str,
    range: &'static str,
}

const EN: Txt = Txt {
    lang: "en",
    period: "Period",
    generated: "Generated",
    tz_before: "All times are shown in UTC",
    tz_after: ".",
    runbook: "Contacts and notes",
    no_mailboxes: "This report covers no mailboxes.",
    uptime: "Uptime",
    checks: "Checks",
    incident_count: "Incidents",
    median: "Median round trip",
    timeline: "Round-trip time of the test message, check by check",
    latency_axis: "Round trip (log scale)",
    time_axis: "Time",
    legend: "Blue lines: round-trip times of the checks at that moment (lowest to highest). Red marks under the chart: failed checks; grey marks: checks that could not decide. Shaded bands: incidents.",
    no_checks: "No checks in this period.",
    daily: "Daily uptime",
    daily_axis: "Uptime",
    no_days: "No daily figures in this period.",
    day: "Day",
    p50: "Median (p50)",
    p95: "95th percentile (p95)",
    incidents: "Incidents",
    start: "Start",
    end: "End",
    duration: "Duration",
    severity: "Severity",
    cause: "Cause",
    acknowledged: "Acknowledged",
    ongoing: "ongoing",
    no_incidents: "No incidents in this period.",
    drills: "Drills (rehearsals, not real incidents)",
    drills_note: "These were rehearsals of an outage alert (mailcanary drill) to test how fast the office responds. Mail was not affected.",
    drill_started: "Alert sent",
    time_to_ack: "Time to acknowledge",
    drill_ended: "Ended",
    no_drills: "No drills in this period.",
    failures: "Failed checks with evidence",
    failures_note: "Each failed check as recorded, with the servers' replies exactly as received.",
    no_failures: "No failed checks in this period.",
    summary: "What happened",
    action: "What to do",
    tried: "What was tried",
    stage: "Stage",
    protocol: "Protocol",
    result: "Result",
    took: "Took",
    detail: "Detail",
    stage_ok: "ok",
    stage_failed: "failed",
    findings: "Findings and server replies",
    sev: ["OK", "Warning", "Critical", "Unknown"],
    units: [" d", " h", " min", " s"],
    unit_join: " ",
    colon: ": ",
    range: " \u{2013} ",
};

const JA: Txt = Txt {
    lang: "ja",
    period: "対象期間",
    generated: "作成日時",
    tz_before: "時刻はすべて UTC",
    tz_after: " で表示しています。",
    runbook: "連絡先・対応メモ",
    no_mailboxes: "このレポートの対象となるメールボックスはありません。",
    uptime: "稼働率",
    checks: "チェック回数",
    incident_count: "障害件数",
    median: "往復時間の中央値",
    timeline: "チェックごとのテストメールの往復時間",
    latency_axis: "往復時間（対数目盛）",
    time_axis: "時刻",
    legend: "青い線：その時点のチェックの往復時間（最小〜最大）。グラフ下の赤い印：失敗したチェック、灰色の印：判定できなかったチェック。網掛け：障害の期間。",
    no_checks: "この期間のチェックはありません。",
    daily: "日ごとの稼働率",
    daily_axis: "稼働率",
    no_days: "この期間の日ごとの集計はありません。",
    day: "日付",
    p50: "中央値 (p50)",
    p95: "95 パーセンタイル (p95)",
    incidents: "障害",
    start: "開始",
    end: "終了",
    duration: "継続時間",
    severity: "重大度",
    cause: "原因",
    acknowledged: "確認日時",
    ongoing: "継続中",
    no_incidents: "この期間に障害はありません。",
    drills: "訓練（リハーサルであり、実際の障害ではありません）",
    drills_note: "障害通知の訓練（mailcanary drill）で、事務所の対応の速さを確かめたものです。メールには影響していません。",
    drill_started: "通知送信",
    time_to_ack: "確認までの時間",
    drill_ended: "終了",
    no_drills: "この期間に訓練はありません。",
    failures: "失敗したチェックとその証拠",
    failures_note: "失敗したチェックの記録です。サーバーの応答は受け取ったとおりに載せています。",
    no_failures: "この期間に失敗したチェックはありません。",
    summary: "起きたこと",
    action: "対処",
    tried: "試したこと",
    stage: "段階",
    protocol: "プロトコル",
    result: "結果",
    took: "所要時間",
    detail: "詳細",
    stage_ok: "成功",
    stage_failed: "失敗",
    findings: "検出内容とサーバーの応答",
    sev: ["正常", "警告", "重大", "不明"],
    units: ["日", "時間", "分", "秒"],
    unit_join: "",
    colon: "：",
    range: " 〜 ",
};

fn txt(lang: Lang) -> &'static Txt {
    match lang {
        Lang::En => &EN,
        Lang::Ja => &JA,
    }
}

// ---------------------------------------------------------------------------------------------
// Escaping and small formatting helpers.

/// Escapes untrusted text for HTML text and quoted attribute values. Control characters other
/// than newline and tab become their visible Control Pictures (U+2400 block) or U+FFFD, so
/// nothing invisible reaches the page; CRLF line ends become LF.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            '\r' if chars.peek() == Some(&'\n') => {}
            c if c.is_control() => out.push(control_picture(c)),
            c => out.push(c),
        }
    }
    out
}

fn control_picture(c: char) -> char {
    match c as u32 {
        n @ 0..=0x1f => char::from_u32(0x2400 + n).unwrap_or('\u{fffd}'),
        0x7f => '\u{2421}',
        _ => '\u{fffd}',
    }
}

fn para(class: &str, text: &str) -> String {
    format!("<p class=\"{class}\">{}</p>\n", esc(text))
}

/// A Unix time in ms, broken down at an offset.
struct Civil {
    y: i64,
    mo: u32,
    d: u32,
    h: i64,
    mi: i64,
    s: i64,
}

fn civil(ms: u64, off: i32) -> Civil {
    let local = (ms / 1000) as i64 + i64::from(off);
    let (y, mo, d) = civil_from_days(local.div_euclid(86_400));
    let rem = local.rem_euclid(86_400);
    Civil {
        y,
        mo,
        d,
        h: rem / 3600,
        mi: rem / 60 % 60,
        s: rem % 60,
    }
}

impl Civil {
    fn date(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.y, self.mo, self.d)
    }
}

/// `+09:00`, `-05:30`, `+00:00`.
fn offset_label(off: i32) -> String {
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.unsigned_abs();
    format!("{sign}{:02}:{:02}", a / 3600, a / 60 % 60)
}

/// `2026-11-22 09:01:00 +09:00`.
fn local_time(ms: u64, off: i32) -> String {
    let c = civil(ms, off);
    format!(
        "{} {:02}:{:02}:{:02} {}",
        c.date(),
        c.h,
        c.mi,
        c.s,
        offset_label(off)
    )
}

fn time_or_dash(cx: &Ctx, ms: Option<u64>) -> String {
    ms.map_or_else(|| DASH.to_string(), |ms| local_time(ms, cx.off))
}

/// A duration for people in `lang`: `2 h 05 min`, `4 min 30 s`, `12 s`, `2時間05分`.
pub fn duration_text(ms: u64, lang: Lang) -> String {
    human_duration(ms, if lang == Lang::Ja { &JA } else { &EN })
}

/// A duration for people: `2 h 05 min`, `3 d 4 h 00 min`, `4 min 30 s`, `12 s` (or Japanese).
fn human_duration(ms: u64, t: &Txt) -> String {
    let s = ms / 1000;
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    let parts: Vec<(u64, usize, bool)> = if d > 0 {
        vec![(d, 0, false), (h, 1, false), (m, 2, true)]
    } else if h > 0 {
        vec![(h, 1, false), (m, 2, true)]
    } else if m > 0 {
        vec![(m, 2, false), (sec, 3, true)]
    } else {
        vec![(sec, 3, false)]
    };
    parts
        .iter()
        .map(|&(n, unit, pad)| {
            let width = if pad { 2 } else { 1 };
            format!("{n:0width$}{}", t.units[unit])
        })
        .collect::<Vec<_>>()
        .join(t.unit_join)
}

/// A latency: `850 ms`, `12.4 s`, or a duration from a minute on.
fn latency(ms: u64, t: &Txt) -> String {
    match ms {
        0..1000 => format!("{ms} ms"),
        1000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => human_duration(ms, t),
    }
}

fn latency_or_dash(ms: Option<u64>, t: &Txt) -> String {
    ms.map_or_else(|| DASH.to_string(), |ms| latency(ms, t))
}

/// A percentage rounded down to two decimals, so that only a perfect record shows 100.00 %.
fn pct(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{:.2} %", ((v * 100.0) + 1e-6).floor() / 100.0),
        _ => DASH.to_string(),
    }
}

fn sev_html(t: &Txt, s: Severity) -> String {
    let word = match s {
        Severity::Ok => t.sev[0],
        Severity::Warning => t.sev[1],
        Severity::Critical => t.sev[2],
        Severity::Unknown => t.sev[3],
    };
    format!("<span class=\"sev-{}\">{word}</span>", s.as_str())
}

fn categories(cs: &[Category]) -> String {
    cs.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
}

// ---------------------------------------------------------------------------------------------
// Page structure.

fn header(cx: &Ctx, r: &HtmlReport) -> String {
    let t = cx.t;
    let mut out = format!(
        "<header>\n<h1>{}</h1>\n<p class=\"meta\">{}{}{}{}{}<br>\n{}{}{}<br>\n{}{}{}</p>\n",
        esc(&r.title),
        t.period,
        t.colon,
        local_time(cx.from, cx.off),
        t.range,
        local_time(cx.to, cx.off),
        t.generated,
        t.colon,
        local_time(r.generated_at_ms, cx.off),
        t.tz_before,
        offset_label(cx.off),
        t.tz_after,
    );
    if !r.runbook.is_empty() {
        let _ = writeln!(out, "<h2>{}</h2>", t.runbook);
        out.push_str(&dl(r.runbook.iter().map(|(k, v)| (esc(k), esc(v)))));
    }
    out.push_str("</header>\n");
    out
}

/// A definition list from already-escaped pairs.
fn dl(pairs: impl Iterator<Item = (String, String)>) -> String {
    let items: String = pairs
        .map(|(k, v)| format!("<dt>{k}</dt><dd>{v}</dd>\n"))
        .collect();
    format!("<dl>\n{items}</dl>\n")
}

/// A table from already-escaped cells, or `none` when there are no rows.
fn table(head: &[&str], rows: Vec<Vec<String>>, none: &str) -> String {
    if rows.is_empty() {
        return para("none", none);
    }
    let th: String = head.iter().map(|h| format!("<th>{h}</th>")).collect();
    let mut out = format!("<table>\n<thead><tr>{th}</tr></thead>\n<tbody>\n");
    for row in rows {
        let td: String = row.iter().map(|c| format!("<td>{c}</td>")).collect();
        let _ = writeln!(out, "<tr>{td}</tr>");
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

fn mailbox(cx: &Ctx, m: &MailboxSection) -> String {
    let t = cx.t;
    let addr = if m.address.is_empty() {
        String::new()
    } else {
        format!(" <span class=\"addr\">&lt;{}&gt;</span>", esc(&m.address))
    };
    let sections = [
        (
            t.timeline,
            timeline_chart(cx, m) + &para("legend", t.legend),
        ),
        (
            t.daily,
            daily_chart(cx, &m.days) + &daily_table(cx, &m.days),
        ),
        (t.incidents, incident_table(cx, &m.incidents)),
        (
            t.drills,
            para("note", t.drills_note) + &drill_table(cx, &m.drills),
        ),
        (t.failures, failures(cx, &m.failures)),
    ];
    let mut out = format!(
        "<section class=\"mailbox\">\n<h2>{}{addr}</h2>\n{}",
        esc(&m.name),
        summary(cx, m)
    );
    for (heading, body) in sections {
        let _ = write!(out, "<h3>{heading}</h3>\n{body}");
    }
    out.push_str("</section>\n");
    out
}

fn summary(cx: &Ctx, m: &MailboxSection) -> String {
    let t = cx.t;
    let mut lat: Vec<u64> = m.points.iter().filter_map(|p| p.latency_ms).collect();
    let items = [
        (t.uptime, pct(m.uptime_pct)),
        (t.checks, m.points.len().to_string()),
        (t.incident_count, m.incidents.len().to_string()),
        (t.median, latency_or_dash(percentile(&mut lat, 50), t)),
    ];
    let spans: String = items
        .iter()
        .map(|(label, value)| format!("<span>{label}{}<b>{value}</b></span> ", t.colon))
        .collect();
    format!("<p class=\"summary\">{}</p>\n", spans.trim_end())
}

fn daily_table(cx: &Ctx, days: &[DayStats]) -> String {
    let t = cx.t;
    let rows = days
        .iter()
        .map(|d| {
            vec![
                esc(&d.day),
                d.checks.to_string(),
                pct(d.uptime_pct),
                latency_or_dash(d.p50_ms, t),
                latency_or_dash(d.p95_ms, t),
            ]
        })
        .collect();
    table(&[t.day, t.checks, t.uptime, t.p50, t.p95], rows, t.no_days)
}

fn incident_table(cx: &Ctx, incidents: &[Incident]) -> String {
    let t = cx.t;
    let rows = incidents
        .iter()
        .map(|i| {
            let causes = if i.causes.is_empty() {
                i.category.as_str().to_string()
            } else {
                categories(&i.causes)
            };
            vec![
                local_time(i.start_ms, cx.off),
                i.end_ms.map_or_else(
                    || format!("<b class=\"ongoing\">{}</b>", t.ongoing),
                    |e| local_time(e, cx.off),
                ),
                human_duration(i.duration_ms(cx.to), t),
                sev_html(t, i.severity),
                format!("<b>{causes}</b>: {}", esc(&i.summary)),
                time_or_dash(cx, i.acknowledged_at_ms),
            ]
        })
        .collect();
    let head = [
        t.start,
        t.end,
        t.duration,
        t.severity,
        t.cause,
        t.acknowledged,
    ];
    table(&head, rows, t.no_incidents)
}

fn drill_table(cx: &Ctx, drills: &[Drill]) -> String {
    let t = cx.t;
    let rows = drills
        .iter()
        .map(|d| {
            vec![
                local_time(d.started_at_ms, cx.off),
                time_or_dash(cx, d.acknowledged_at_ms),
                d.time_to_ack_ms()
                    .map_or_else(|| DASH.to_string(), |ms| human_duration(ms, t)),
                time_or_dash(cx, d.ended_at_ms),
            ]
        })
        .collect();
    let head = [
        t.drill_started,
        t.acknowledged,
        t.time_to_ack,
        t.drill_ended,
    ];
    table(&head, rows, t.no_drills)
}

fn failures(cx: &Ctx, reports: &[CheckReport]) -> String {
    if reports.is_empty() {
        return para("none", cx.t.no_failures);
    }
    let items: String = reports.iter().map(|r| failure(cx, r)).collect();
    para("note", cx.t.failures_note) + &items
}

fn failure(cx: &Ctx, r: &CheckReport) -> String {
    let t = cx.t;
    let stages = r.stages.iter().map(|s| stage_row(t, s)).collect();
    let stage_head = [t.stage, t.protocol, t.result, t.took, t.detail];
    let findings: String = r.findings.iter().map(|f| finding(t, f)).collect();
    format!(
        "<article class=\"failure\">\n<h4>{} \u{00b7} {} \u{00b7} {}</h4>\n{}<h5>{}</h5>\n{}<h5>{}</h5>\n{}</article>\n",
        local_time(r.started_at_ms, cx.off),
        sev_html(t, r.status),
        r.category.as_str(),
        dl([(t.summary, &r.summary), (t.action, &r.action)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), esc(v)))),
        t.tried,
        table(&stage_head, stages, DASH),
        t.findings,
        if findings.is_empty() {
            para("none", DASH)
        } else {
            findings
        },
    )
}

fn stage_row(t: &Txt, s: &StageRecord) -> Vec<String> {
    vec![
        s.stage.as_str().to_string(),
        s.protocol.map_or(DASH, |p| p.as_str()).to_string(),
        if s.ok {
            format!("<span class=\"sev-ok\">{}</span>", t.stage_ok)
        } else {
            format!("<span class=\"sev-critical\">{}</span>", t.stage_failed)
        },
        format!("{} ms", s.ms),
        esc(&s.detail),
    ]
}

fn finding(t: &Txt, f: &Finding) -> String {
    // The parser drops one newline right after <pre>: this one, so the evidence keeps its own.
    let evidence = if f.evidence.is_empty() {
        String::new()
    } else {
        format!("<pre>\n{}</pre>\n", esc(&f.evidence))
    };
    format!(
        "<p>{} <b>{}</b> \u{00b7} {}{}{}<br>{}</p>\n{evidence}",
        sev_html(t, f.severity),
        f.category.as_str(),
        t.stage,
        t.colon,
        f.stage.as_str(),
        esc(&f.summary),
    )
}

// ---------------------------------------------------------------------------------------------
// Charts: inline SVG in one fixed frame, the plot area inside the margins.

const LEFT: f64 = 72.0;
const TOP: f64 = 10.0;
/// Plot width in SVG units; one unit is one column of the reduced timeline.
const COLS: usize = 876;
const PW: f64 = COLS as f64;
const PH: f64 = 190.0;
const W: f64 = LEFT + PW + 12.0;
const H: f64 = TOP + PH + 48.0;
const BASE: f64 = TOP + PH;

fn svg(label: &str, inner: &str) -> String {
    format!(
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\">\n\
<rect class=\"plot\" x=\"{LEFT}\" y=\"{TOP}\" width=\"{PW}\" height=\"{PH}\"/>\n{inner}</svg>\n",
        esc(label)
    )
}

/// A horizontal grid line with its label on the left.
fn hgrid(y: f64, label: &str) -> String {
    format!(
        "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
        LEFT + PW,
        LEFT - 6.0,
        y + 4.0,
        esc(label)
    )
}

/// A tick under the plot with its label.
fn xtick(x: f64, label: &str) -> String {
    format!(
        "<line class=\"tick\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{BASE}\" y2=\"{}\"/>\
<text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
        BASE + 14.0,
        BASE + 26.0,
        esc(label)
    )
}

fn axis_titles(x_title: &str, y_title: &str) -> String {
    format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n\
<text transform=\"translate(14 {}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
        LEFT + PW / 2.0,
        H - 4.0,
        esc(x_title),
        TOP + PH / 2.0,
        esc(y_title)
    )
}

fn empty_note(text: &str) -> String {
    format!(
        "<text class=\"empty\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
        LEFT + PW / 2.0,
        TOP + PH / 2.0,
        esc(text)
    )
}

/// One path of vertical strokes `(column, y1, y2)`, a column's centre at `LEFT + column + 0.5`.
fn strokes(class: &str, items: impl Iterator<Item = (usize, f64, f64)>) -> String {
    let mut d = String::new();
    for (col, y1, y2) in items {
        let _ = write!(d, "M{:.1} {y1:.1}V{y2:.1}", LEFT + col as f64 + 0.5);
    }
    if d.is_empty() {
        String::new()
    } else {
        format!("<path class=\"{class}\" d=\"{d}\"/>\n")
    }
}

impl Ctx {
    /// Where `ms` falls in the period, 0..=1.
    fn frac(&self, ms: u64) -> f64 {
        let span = self.to.saturating_sub(self.from).max(1);
        (ms.saturating_sub(self.from) as f64 / span as f64).clamp(0.0, 1.0)
    }

    fn x(&self, ms: u64) -> f64 {
        LEFT + self.frac(ms) * PW
    }

    /// The timeline column of `ms`, if it lies in the period.
    fn col(&self, ms: u64) -> Option<usize> {
        (self.from..=self.to)
            .contains(&ms)
            .then(|| ((self.frac(ms) * PW) as usize).min(COLS - 1))
    }
}

/// A log scale over whole decades of milliseconds.
struct LogScale {
    lo: i32,
    hi: i32,
}

impl LogScale {
    fn over(values: impl Iterator<Item = u64>) -> LogScale {
        let range = values.fold(None, |acc: Option<(u64, u64)>, v| {
            let v = v.max(1);
            Some(acc.map_or((v, v), |(a, b)| (a.min(v), b.max(v))))
        });
        let Some((min, max)) = range else {
            return LogScale { lo: 2, hi: 5 };
        };
        let lo = (min as f64).log10().floor() as i32;
        let hi = ((max as f64).log10().ceil() as i32).max(lo + 1);
        LogScale { lo, hi }
    }

    fn y(&self, ms: u64) -> f64 {
        let l = (ms.max(1) as f64).log10();
        let f = (l - f64::from(self.lo)) / f64::from(self.hi - self.lo);
        BASE - PH * f.clamp(0.0, 1.0)
    }

    fn grid(&self) -> String {
        (self.lo..=self.hi)
            .map(|e| {
                let v = 10f64.powi(e);
                let y = BASE - PH * f64::from(e - self.lo) / f64::from(self.hi - self.lo);
                let label = match e {
                    ..3 => format!("{v} ms"),
                    _ => format!("{} s", v / 1000.0),
                };
                hgrid(y, &label)
            })
            .collect()
    }
}

fn timeline_chart(cx: &Ctx, m: &MailboxSection) -> String {
    let t = cx.t;
    let scale = LogScale::over(m.points.iter().filter_map(|p| p.latency_ms));
    let mut inner = incident_bands(cx, &m.incidents);
    inner.push_str(&scale.grid());
    let mut spans: Vec<Option<(u64, u64)>> = vec![None; COLS];
    let mut marks: Vec<Option<Severity>> = vec![None; COLS];
    for p in &m.points {
        let Some(c) = cx.col(p.at_ms) else { continue };
        if let Some(l) = p.latency_ms {
            spans[c] = Some(spans[c].map_or((l, l), |(a, b)| (a.min(l), b.max(l))));
        }
        if matches!(p.severity, Severity::Critical | Severity::Unknown) {
            marks[c] = Some(marks[c].map_or(p.severity, |s| s.worst(p.severity)));
        }
    }
    // A lone point is a short stroke, so that it shows.
    let lat = spans
        .iter()
        .enumerate()
        .filter_map(|(c, s)| s.map(|(a, b)| (c, scale.y(b) - 1.0, scale.y(a) + 1.0)));
    inner.push_str(&strokes("lat", lat));
    for (sev, class) in [(Severity::Unknown, "unk"), (Severity::Critical, "fail")] {
        let cols = marks.iter().enumerate().filter(|(_, s)| **s == Some(sev));
        inner.push_str(&strokes(
            class,
            cols.map(|(c, _)| (c, BASE + 1.0, BASE + 9.0)),
        ));
    }
    inner.push_str(&time_ticks(cx));
    let x_title = format!("{} (UTC{})", t.time_axis, offset_label(cx.off));
    inner.push_str(&axis_titles(&x_title, t.latency_axis));
    if m.points.is_empty() {
        inner.push_str(&empty_note(t.no_checks));
    }
    svg(t.timeline, &inner)
}

fn incident_bands(cx: &Ctx, incidents: &[Incident]) -> String {
    incidents
        .iter()
        .filter(|i| i.start_ms <= cx.to && i.end_ms.is_none_or(|e| e >= cx.from))
        .map(|i| {
            let end = i.end_ms.unwrap_or(cx.to);
            let (x1, x2) = (cx.x(i.start_ms), cx.x(end));
            format!(
                "<rect class=\"band\" x=\"{x1:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{PH}\">\
<title>{}{}{}{}{}</title></rect>\n",
                (x2 - x1).max(1.5),
                local_time(i.start_ms, cx.off),
                cx.t.range,
                i.end_ms
                    .map_or_else(|| cx.t.ongoing.to_string(), |e| local_time(e, cx.off)),
                cx.t.colon,
                categories(&i.causes),
            )
        })
        .collect()
}

/// Tick spacings in seconds, the first that gives at most eight ticks is used.
const TICK_STEPS: [i64; 13] = [
    3600,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    86_400,
    2 * 86_400,
    7 * 86_400,
    14 * 86_400,
    28 * 86_400,
    56 * 86_400,
    91 * 86_400,
    182 * 86_400,
    364 * 86_400,
];

/// Ticks at round local times (whole hours, local midnights) over the period.
fn time_ticks(cx: &Ctx) -> String {
    let (from, to) = ((cx.from / 1000) as i64, (cx.to / 1000) as i64);
    let span = to - from;
    let step = TICK_STEPS
        .iter()
        .copied()
        .find(|s| span / s <= 8)
        .unwrap_or_else(|| (span / 8 / 86_400 + 1) * 86_400);
    let off = i64::from(cx.off);
    let mut local = (from + off).div_euclid(step) * step;
    if local < from + off {
        local += step;
    }
    let mut out = String::new();
    while local - off <= to {
        // Not above `cx.to`, so no overflow.
        let ms = (local - off) as u64 * 1000;
        let c = civil(ms, cx.off);
        let label = if step < 86_400 {
            format!("{:02}-{:02} {:02}:{:02}", c.mo, c.d, c.h, c.mi)
        } else {
            c.date()
        };
        out.push_str(&xtick(cx.x(ms), &label));
        local += step;
    }
    out
}

fn daily_chart(cx: &Ctx, days: &[DayStats]) -> String {
    let t = cx.t;
    let mut inner: String = [0u32, 25, 50, 75, 100]
        .iter()
        .map(|p| hgrid(BASE - PH * f64::from(*p) / 100.0, &format!("{p} %")))
        .collect();
    let bw = PW / days.len().max(1) as f64;
    for (i, d) in days.iter().enumerate() {
        let Some(u) = d.uptime_pct.filter(|u| u.is_finite()) else {
            continue;
        };
        let h = PH * u.clamp(0.0, 100.0) / 100.0;
        let class = match u {
            99.9.. => "up-good",
            99.0.. => "up-fair",
            _ => "up-poor",
        };
        let _ = writeln!(
            inner,
            "<rect class=\"{class}\" x=\"{:.2}\" y=\"{:.1}\" width=\"{:.2}\" height=\"{h:.1}\">\
<title>{}{}{}</title></rect>",
            LEFT + i as f64 * bw,
            BASE - h,
            (bw * 0.8).max(0.5),
            esc(&d.day),
            t.colon,
            pct(Some(u)),
        );
    }
    let every = days.len().div_ceil(8).max(1);
    for (i, d) in days.iter().enumerate().step_by(every) {
        inner.push_str(&xtick(LEFT + (i as f64 + 0.4) * bw, &d.day));
    }
    inner.push_str(&axis_titles(t.day, t.daily_axis));
    if days.is_empty() {
        inner.push_str(&empty_note(t.no_days));
    }
    svg(t.daily, &inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{CanaryOutcome, Stage};
    use crate::stats::{daily, uptime_pct};

    /// 2026-11-22 00:01:00 UTC.
    const T0: u64 = 1_795_305_660_000;
    const MIN: u64 = 60_000;
    const NASTY: &str = "<script>alert(1)</script> \"quoted' & <b> ]]> \u{1b}[31m\0 end";

    fn point(at_ms: u64, severity: Severity, latency_ms: Option<u64>) -> CheckPoint {
        let category = match severity {
            Severity::Ok => Category::Ok,
            _ => Category::Lost,
        };
        CheckPoint {
            at_ms,
            severity,
            category,
            latency_ms,
            summary: String::new(),
            offline: false,
        }
    }

    fn section(points: Vec<CheckPoint>) -> MailboxSection {
        MailboxSection {
            name: "office".into(),
            address: "office@example.jp".into(),
            days: daily(&points, 9 * 3600),
            uptime_pct: uptime_pct(&points),
            points,
            incidents: vec![],
            drills: vec![],
            failures: vec![],
        }
    }

    fn report(lang: Lang, mailboxes: Vec<MailboxSection>) -> HtmlReport {
        HtmlReport {
            lang,
            title: "Mail Canary report: office".into(),
            generated_at_ms: T0 + 60 * MIN,
            from_ms: T0,
            to_ms: T0 + 24 * 60 * MIN,
            utc_offset_secs: 9 * 3600,
            runbook: vec![],
            mailboxes,
        }
    }

    fn failed_check(evidence: &str) -> CheckReport {
        CheckReport {
            schema: 1,
            mailbox: "office".into(),
            status: Severity::Critical,
            category: Category::SendBlocked,
            summary: NASTY.into(),
            action: "Call the provider.".into(),
            findings: vec![Finding {
                category: Category::SendBlocked,
                severity: Severity::Critical,
                stage: Stage::Send,
                summary: "Sending is blocked.".into(),
                action: String::new(),
                evidence: evidence.into(),
            }],
            stages: vec![StageRecord {
                stage: Stage::Send,
                protocol: Some(crate::config::Protocol::Smtp),
                ok: false,
                ms: 412,
                detail: NASTY.into(),
            }],
            canary: CanaryOutcome::default(),
            notices: vec![],
            quota: None,
            tls: vec![],
            probes: vec![],
            scope: Default::default(),
            started_at_ms: T0 + 5 * MIN,
            duration_ms: 900,
            notice_scan: None,
            quota_read_at_ms: None,
        }
    }

    /// The raw tags of the page (escaped text has no `<`, so these are all ours).
    fn tags(html: &str) -> Vec<&str> {
        html.split('<')
            .skip(1)
            .map(|s| s.split('>').next().unwrap_or(s))
            .collect()
    }

    #[test]
    fn untrusted_text_is_escaped_everywhere() {
        let evidence = format!("\n554 5.7.1 {NASTY}\r\nsecond line\ttab");
        let mut m = section(vec![point(T0, Severity::Critical, None)]);
        m.name = NASTY.into();
        m.address = NASTY.into();
        m.failures = vec![failed_check(&evidence)];
        m.days[0].day = NASTY.into();
        let mut r = report(Lang::En, vec![m]);
        r.title = NASTY.into();
        r.runbook = vec![(NASTY.into(), NASTY.into())];
        let html = render(&r);
        let escaped = "&lt;script&gt;alert(1)&lt;/script&gt; &quot;quoted&#39; &amp; &lt;b&gt; ]]&gt; \u{241b}[31m\u{2400} end";
        assert!(html.contains(escaped), "{html}");
        assert!(!html.contains("alert(1)</script>"));
        assert!(!html.contains("\"quoted'"));
        assert!(!html.contains("<b> ]]>"));
        assert!(!html.contains('\u{1b}') && !html.contains('\0') && !html.contains('\r'));
        // The evidence is kept line for line, with a leading newline the parser would eat.
        assert!(
            html.contains(&format!(
                "<pre>\n\n554 5.7.1 {escaped}\nsecond line\ttab</pre>"
            )),
            "{html}"
        );
        assert_eq!(esc("a\"b'c"), "a&quot;b&#39;c");
        assert_eq!(esc("\u{85}x\u{7f}\r"), "\u{fffd}x\u{2421}\u{240d}");
    }

    #[test]
    fn page_is_self_contained() {
        let mut m = section(vec![point(T0, Severity::Ok, Some(800))]);
        m.failures = vec![failed_check(
            "see <img src=http://evil.example/x> https://x",
        )];
        let html = render(&report(Lang::En, vec![m]));
        assert!(
            html.starts_with(
                "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">"
            )
        );
        assert!(html.contains(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        ));
        assert!(!html.to_ascii_lowercase().contains("<script"));
        let tags = tags(&html);
        assert!(tags.len() > 50);
        for tag in tags {
            let lower = tag.to_ascii_lowercase();
            assert!(
                !lower.contains("http:") && !lower.contains("https:"),
                "{tag}"
            );
            assert!(
                !lower.starts_with("link") && !lower.starts_with("img"),
                "{tag}"
            );
            assert!(!lower.contains("src=") && !lower.contains("href="), "{tag}");
        }
        assert_eq!(html.matches("<style>").count(), 1);
    }

    #[test]
    fn renders_from_nothing_to_a_long_history() {
        let empty = render(&report(Lang::En, vec![]));
        assert!(empty.contains("This report covers no mailboxes."));

        let none = render(&report(Lang::En, vec![section(vec![])]));
        assert!(none.contains("No checks in this period."));
        assert!(none.contains("No daily figures in this period."));
        assert!(!none.contains("class=\"lat\""));

        let one = render(&report(
            Lang::En,
            vec![section(vec![point(
                T0 + 60 * MIN,
                Severity::Ok,
                Some(1234),
            )])],
        ));
        assert!(one.contains("<path class=\"lat\" d=\"M"), "{one}");
        assert!(one.contains("Median round trip: <b>1.2 s</b>"));
        assert!(one.contains("Uptime: <b>100.00 %</b>"));

        // 120,000 checks every five minutes (some 417 days), one in fifty failed.
        let points: Vec<CheckPoint> = (0..120_000u64)
            .map(|i| match i % 50 {
                0 => point(T0 + i * 5 * MIN, Severity::Critical, None),
                _ => point(T0 + i * 5 * MIN, Severity::Ok, Some(300 + i % 7000)),
            })
            .collect();
        let mut r = report(Lang::Ja, vec![section(points)]);
        r.to_ms = T0 + 120_000 * 5 * MIN;
        let big = render(&r);
        assert!(big.len() < 1_000_000, "{} bytes", big.len());
        assert!(big.contains("チェック回数：<b>120000</b>"));
        assert!(big.contains("稼働率：<b>98.00 %</b>"), "uptime");
        assert!(big.contains("<path class=\"fail\" d=\"M"));
        // About one stroke per column, not per check.
        let lat = big.split("<path class=\"lat\" d=\"").nth(1).unwrap_or("");
        let strokes = lat.split('"').next().unwrap_or("").matches('M').count();
        assert!((COLS / 2..=COLS).contains(&strokes), "{strokes}");
        // Daily table: one row per local day.
        assert_eq!(big.matches("<tr><td>20").count(), r.mailboxes[0].days.len());
    }

    fn incident(start_ms: u64, end_ms: Option<u64>) -> Incident {
        Incident {
            mailbox: "office".into(),
            start_ms,
            end_ms,
            severity: Severity::Critical,
            category: Category::Lost,
            causes: vec![Category::Late, Category::Lost],
            summary: "The test message was sent but never arrived.".into(),
            acknowledged_at_ms: None,
        }
    }

    #[test]
    fn incidents_and_drills_are_kept_apart() {
        let mut m = section(vec![point(T0, Severity::Ok, Some(500))]);
        m.incidents = vec![
            incident(T0 + 10 * MIN, Some(T0 + 135 * MIN)),
            incident(T0 + 600 * MIN, None),
        ];
        m.drills = vec![Drill {
            id: 1,
            mailbox: "office".into(),
            started_at_ms: T0 + 300 * MIN,
            acknowledged_at_ms: Some(T0 + 304 * MIN + 30_000),
            ended_at_ms: None,
        }];
        let html = render(&report(Lang::En, vec![m]));
        let (before, drills) = html
            .split_once("<h3>Drills (rehearsals, not real incidents)</h3>")
            .expect("drills heading");
        let incidents = before
            .split_once("<h3>Incidents</h3>")
            .map(|(_, s)| s)
            .expect("incidents heading");
        // 00:01 UTC + 10 min at +09:00; it lasted 2 h 05 min.
        assert!(incidents.contains("<td>2026-11-22 09:11:00 +09:00</td>"));
        assert!(incidents.contains("<td>2 h 05 min</td>"));
        assert!(incidents.contains("<b class=\"ongoing\">ongoing</b>"));
        // Open until the end of the period: 24 h after T0, from T0 + 10 h.
        assert!(incidents.contains("<td>14 h 00 min</td>"), "{incidents}");
        assert!(incidents.contains("<b>late, lost</b>: The test message was sent"));
        assert_eq!(incidents.matches("<tr><td>").count(), 2);
        let drill_start = "2026-11-22 14:01:00 +09:00";
        assert!(!before.contains(drill_start));
        assert!(drills.contains(&format!("<td>{drill_start}</td>")));
        assert!(drills.contains("<td>4 min 30 s</td>"));
        // The timeline shades both incidents, the open one to the end of the period.
        let bands: Vec<&str> = html.matches("<rect class=\"band\"").collect();
        assert_eq!(bands.len(), 2);
        assert!(html.contains(&format!("width=\"{:.1}\" height=\"{PH}\"><title>2026-11-22 19:01:00 +09:00 \u{2013} ongoing", PW * 14.0 / 24.0)), "{html}");
    }

    #[test]
    fn both_languages_have_their_own_labels() {
        let build = |lang| {
            let mut m = section(vec![point(T0, Severity::Critical, None)]);
            m.failures = vec![failed_check("554 blocked")];
            m.incidents = vec![incident(T0, None)];
            render(&report(lang, vec![m]))
        };
        let (en, ja) = (build(Lang::En), build(Lang::Ja));
        for label in [
            "<html lang=\"en\">",
            "Daily uptime",
            "What was tried",
            ">ongoing<",
            "Critical",
        ] {
            assert!(en.contains(label), "en: {label}");
            assert!(!ja.contains(label), "ja has {label}");
        }
        for label in [
            "<html lang=\"ja\">",
            "日ごとの稼働率",
            "試したこと",
            ">継続中<",
            "重大",
            "訓練",
        ] {
            assert!(ja.contains(label), "ja: {label}");
            assert!(!en.contains(label), "en has {label}");
        }
        assert!(ja.contains("時刻はすべて UTC+09:00 で表示しています。"));
        assert!(ja.contains("稼働率：<b>0.00 %</b>"), "Japanese punctuation");
        assert!(en.contains("Uptime: <b>0.00 %</b>"));
        assert!(en.contains("All times are shown in UTC+09:00."));
    }

    #[test]
    fn times_at_an_offset() {
        assert_eq!(local_time(T0, 9 * 3600), "2026-11-22 09:01:00 +09:00");
        assert_eq!(local_time(T0, 0), "2026-11-22 00:01:00 +00:00");
        assert_eq!(
            local_time(T0, -5 * 3600 - 1800),
            "2026-11-21 18:31:00 -05:30"
        );
        assert_eq!(local_time(0, -3600), "1969-12-31 23:00:00 -01:00");
        let mut r = report(Lang::En, vec![]);
        r.runbook = vec![("Provider support".into(), "0120-000-000".into())];
        let html = render(&r);
        assert!(
            html.contains("Period: 2026-11-22 09:01:00 +09:00 \u{2013} 2026-11-23 09:01:00 +09:00")
        );
        assert!(html.contains("<dt>Provider support</dt><dd>0120-000-000</dd>"));
        assert_eq!(human_duration(2 * 3_600_000 + 5 * MIN, &EN), "2 h 05 min");
        assert_eq!(human_duration(2 * 3_600_000 + 5 * MIN, &JA), "2時間05分");
        assert_eq!(human_duration(26 * 3_600_000, &EN), "1 d 2 h 00 min");
        assert_eq!(human_duration(12_999, &EN), "12 s");
        assert_eq!(pct(Some(99.999)), "99.99 %");
    }

    #[test]
    fn timeline_ticks_are_local_round_times() {
        let html = render(&report(Lang::En, vec![section(vec![])]));
        // A day from 09:01 local: ticks every 3 h at local 12:00, 15:00, ... 09:00.
        assert!(html.contains(">11-22 12:00</text>"), "{html}");
        assert!(html.contains(">11-23 09:00</text>"));
        assert!(!html.contains(">11-22 09:00</text>"));
        assert!(html.contains(">Time (UTC+09:00)</text>"));
    }
}
