//! Where a problem lies: in this mailbox, at the provider, or in this computer's own network.
//! A mail server that cannot be reached means one thing when the rest of the internet can be
//! (the provider is down) and another when nothing can (this PC is offline); staff need to
//! hear which, because the action differs (call the provider, or check the cable and router).

use serde::{Deserialize, Serialize};

use crate::report::{CheckReport, Stage};
use crate::{Category, Lang, Severity};

/// Where a check's problem lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// This mailbox (or nothing is wrong).
    #[default]
    Mailbox,
    /// The provider's servers cannot be reached while other servers can.
    Provider,
    /// This computer reaches nothing: no route, or every server tried fails.
    Offline,
}

impl Scope {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Mailbox => "mailbox",
            Scope::Provider => "provider",
            Scope::Offline => "offline",
        }
    }
}

/// What the engine found out about the network after a check could not reach its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reachability {
    /// The system has a route towards the internet.
    pub route: bool,
    /// Whether any other server (the config's references, other mailboxes' servers) answered;
    /// `None` when there was none to try.
    pub reference: Option<bool>,
}

/// Whether a check failed before it ever spoke to its server: name lookup, connection, or the
/// TLS handshake and greeting.
pub fn unreachable(r: &CheckReport) -> bool {
    matches!(
        r.category,
        Category::DnsFailed | Category::ConnectFailed | Category::Timeout
    ) && r
        .findings
        .first()
        .is_some_and(|f| matches!(f.stage, Stage::Dns | Stage::Connect | Stage::Tls))
}

/// Decides the scope of an unreachable server. With a route but no other server to compare
/// with, nothing more can be said than the check's own finding (a wrong port looks the same
/// as a provider outage), so it stays with the mailbox.
pub fn decide(reach: Reachability) -> Scope {
    match (reach.route, reach.reference) {
        (false, _) | (true, Some(false)) => Scope::Offline,
        (true, Some(true)) => Scope::Provider,
        (true, None) => Scope::Mailbox,
    }
}

/// Puts the scope into the report's words. An offline check tells nothing about mail, so its
/// status becomes unknown.
pub fn apply(r: &mut CheckReport, scope: Scope, lang: Lang) {
    r.scope = scope;
    let (summary, action) = match (scope, lang) {
        (Scope::Mailbox, _) => return,
        (Scope::Offline, Lang::En) => (
            "This computer is offline: it reaches no server at all, so mail cannot be checked. \
             The mail service itself may be fine.",
            "Check the network cable or Wi-Fi and the router. Mail Canary keeps trying and \
             reports how long the outage lasted.",
        ),
        (Scope::Offline, Lang::Ja) => (
            "このパソコンがネットワークにつながっていません。どのサーバーにも接続できないため、メールを確認できません。メールサービス自体は正常かもしれません。",
            "LAN ケーブルや Wi-Fi、ルーターを確認してください。Mail Canary は確認を続け、復旧したら停止していた時間を知らせます。",
        ),
        (Scope::Provider, Lang::En) => (
            "The provider's mail server cannot be reached, while this computer's internet \
             connection works: the problem is on the provider's side.",
            "Check the provider's status page or call its support (see the runbook). Tell \
             customers another way to reach you until it is fixed.",
        ),
        (Scope::Provider, Lang::Ja) => (
            "プロバイダーのメールサーバーに接続できません。このパソコンのインターネット接続は正常なので、原因はプロバイダー側にあります。",
            "プロバイダーの障害情報ページを確認するか、サポート窓口に連絡してください（対応手順を参照）。復旧までは別の方法でお客様と連絡を取ってください。",
        ),
    };
    r.summary = summary.to_string();
    r.action = action.to_string();
    if scope == Scope::Offline {
        r.status = Severity::Unknown;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Observations, Problem, diagnose};

    fn failed(category: Category, stage: Stage) -> CheckReport {
        diagnose(
            &Observations {
                mailbox: "office".into(),
                problems: vec![Problem {
                    category,
                    stage,
                    protocol: Some(crate::config::Protocol::Imap),
                    server: "imap.example.jp:993".into(),
                    evidence: "connection refused".into(),
                }],
                ..Default::default()
            },
            Lang::En,
        )
    }

    #[test]
    fn decisions() {
        let table = [
            (false, None, Scope::Offline),
            (false, Some(true), Scope::Offline),
            (true, Some(false), Scope::Offline),
            (true, Some(true), Scope::Provider),
            (true, None, Scope::Mailbox),
        ];
        for (route, reference, want) in table {
            assert_eq!(
                decide(Reachability { route, reference }),
                want,
                "{route} {reference:?}"
            );
        }
    }

    #[test]
    fn only_failures_before_the_server_spoke_count() {
        use Category::*;
        assert!(unreachable(&failed(ConnectFailed, Stage::Connect)));
        assert!(unreachable(&failed(DnsFailed, Stage::Dns)));
        assert!(unreachable(&failed(Timeout, Stage::Tls)));
        assert!(!unreachable(&failed(Timeout, Stage::Receive)));
        assert!(!unreachable(&failed(AuthFailed, Stage::Auth)));
    }

    #[test]
    fn offline_is_unknown_and_provider_stays_critical() {
        let mut r = failed(Category::ConnectFailed, Stage::Connect);
        let was = r.status;
        apply(&mut r, Scope::Provider, Lang::En);
        assert_eq!((r.scope, r.status), (Scope::Provider, was));
        assert!(r.summary.contains("provider's side"));
        let mut r = failed(Category::ConnectFailed, Stage::Connect);
        apply(&mut r, Scope::Offline, Lang::Ja);
        assert_eq!((r.scope, r.status), (Scope::Offline, Severity::Unknown));
        assert!(r.summary.starts_with("このパソコン"));
        assert_eq!(
            r.findings[0].evidence, "connection refused",
            "evidence kept"
        );
    }
}
