//! Measures how soon a canary's arrival is noticed, IMAP IDLE against polling, side by side on
//! the harness's real Dovecot + Postfix. The two modes alternate (and swap order every round)
//! so that machine noise falls on both alike; medians are reported, and their ratio.
//!
//! Run as root: `cargo run --release -p mailcanary-tests --example arrival [ROUNDS]`

use std::time::Duration;

use mailcanary_engine::core::Severity;
use mailcanary_engine::core::canary::CanaryKey;
use mailcanary_engine::core::config::RawMailbox;
use mailcanary_engine::imap::Arrival;
use mailcanary_engine::probe::{CheckOptions, History, check};
use mailcanary_tests::MailServer;

fn median(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

fn p90(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    v[(v.len() * 9 / 10).min(v.len() - 1)]
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(15);
    let ms = MailServer::start();
    let password = format!("bench-{}-pw", std::process::id());
    ms.add_user("bench@example.test", &password);
    // SAFETY: set before the async runtime (or any other thread) starts.
    unsafe { std::env::set_var("ARRIVAL_BENCH_PW", &password) };
    let mb = RawMailbox {
        address: "bench@example.test".into(),
        imap: format!("localhost:{}", ms.port("MS_IMAPS_PORT")),
        smtp: format!("localhost:{}", ms.port("MS_SMTP_PORT")),
        ca_file: Some(ms.ca_file()),
        password_env: Some("ARRIVAL_BENCH_PW".into()),
        ..Default::default()
    }
    .resolve("bench")
    .expect("valid mailbox");
    let key = CanaryKey::from_bytes([42; 32]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut latency = [Vec::new(), Vec::new()];
    let mut total = [Vec::new(), Vec::new()];
    let modes = [Arrival::Poll, Arrival::Idle];
    // One unmeasured round warms both paths (TLS roots, server caches).
    for round in 0..=rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let opts = CheckOptions {
                arrival: modes[i],
                timeout: Duration::from_secs(30),
                ..Default::default()
            };
            let r = rt.block_on(check(&mb, &key, &opts, &History::default()));
            assert_eq!(r.status, Severity::Ok, "{}", r.summary);
            if round > 0 {
                latency[i].push(r.canary.latency_ms.expect("latency"));
                total[i].push(r.duration_ms);
            }
        }
    }
    println!("arrival detection, {rounds} rounds each, interleaved (ms):");
    println!("mode   latency-median  latency-p90  check-median");
    let mut med = [0u64; 2];
    for (i, name) in ["poll", "idle"].iter().enumerate() {
        med[i] = median(&mut latency[i]);
        println!(
            "{name:<6} {:>14} {:>12} {:>13}",
            med[i],
            p90(&mut latency[i]),
            median(&mut total[i])
        );
    }
    println!(
        "idle/poll latency ratio: {:.2}",
        med[1] as f64 / med[0].max(1) as f64
    );
}
