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
    /// Other servers tried (the config's references, other mailboxes' servers).
    pub tried: usize,
    /// How many of them answered.
    pub answered: usize,
}

/// How far a check got with a server it could not use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    /// No connection at all: name lookup or TCP connect failed.
    NoConnection,
    /// Connected, but the TLS handshake or greeting never came: this computer is online.
    NoAnswer,
}

/// Whether a check failed before it ever spoke to its server, and how far it got.
pub fn unreachable(r: &CheckReport) -> Option<Unreachable> {
    if !matches!(
        r.category,
        Category::DnsFailed | Category::ConnectFailed | Category::Timeout
    ) {
        return None;
    }
    match r.findings.first()?.stage {
        Stage::Dns | Stage::Connect => Some(Unreachable::NoConnection),
        Stage::Tls => Some(Unreachable::NoAnswer),
        _ => None,
    }
}

/// Decides the scope of an unreachable server. Offline only on strong evidence: no route at
/// all, or no connection to anything among two or more other servers. Provider when another
/// server answered. Otherwise (a single other server, or none, to compare with) nothing more
/// can be said than the check's own finding: a wrong port looks the same as an outage.
pub fn decide(how: Unreachable, reach: Reachability) -> Scope {
    let no_connection = how == Unreachable::NoConnection;
    if no_connection && !reach.route {
        Scope::Offline
    } else if reach.answered > 0 {
        Scope::Provider
    } else if no_connection && reach.tried >= 2 {
        Scope::Offline
    } else {
        Scope::Mailbox
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
        use Unreachable::{NoAnswer, NoConnection};
        let r = |route, tried, answered| Reachability {
            route,
            tried,
            answered,
        };
        let table = [
            (NoConnection, r(false, 0, 0), Scope::Offline),
            (NoConnection, r(false, 3, 0), Scope::Offline),
            (NoConnection, r(true, 3, 0), Scope::Offline),
            (NoConnection, r(true, 2, 1), Scope::Provider),
            (NoConnection, r(true, 1, 0), Scope::Mailbox),
            (NoConnection, r(true, 0, 0), Scope::Mailbox),
            // Connected but no answer: this computer is online whatever else fails.
            (NoAnswer, r(false, 0, 0), Scope::Mailbox),
            (NoAnswer, r(true, 3, 0), Scope::Mailbox),
            (NoAnswer, r(true, 3, 2), Scope::Provider),
        ];
        for (how, reach, want) in table {
            assert_eq!(decide(how, reach), want, "{how:?} {reach:?}");
        }
    }

    #[test]
    fn only_failures_before_the_server_spoke_count() {
        use Category::*;
        let u = |c, s| unreachable(&failed(c, s));
        assert_eq!(
            u(ConnectFailed, Stage::Connect),
            Some(Unreachable::NoConnection)
        );
        assert_eq!(u(DnsFailed, Stage::Dns), Some(Unreachable::NoConnection));
        assert_eq!(u(Timeout, Stage::Tls), Some(Unreachable::NoAnswer));
        assert_eq!(u(Timeout, Stage::Receive), None);
        assert_eq!(u(AuthFailed, Stage::Auth), None);
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
