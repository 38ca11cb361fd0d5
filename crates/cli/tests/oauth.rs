//! OAuth2 sign-in against real local servers: the test authorization server on loopback
//! (`tests/harness/oauth-server.py`), Dovecot checking tokens by introspection and Postfix
//! submission through Dovecot's SASL, the refresh token in a real Secret Service. The browser
//! is played by the test: it opens the sign-in address the command prints and follows the
//! redirect back to the command's loopback port.

use std::path::Path;
use std::time::Duration;

use mailcanary_tests::{
    Cli, MailServer, OAuthServer, SecretService, browse_sign_in, files_containing, lines, wait_for,
};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mailcanary");
const USER: &str = "office@example.test";

struct Setup {
    ss: SecretService,
    oauth: OAuthServer,
    ms: MailServer,
    cli: Cli,
}

/// Servers that offer both XOAUTH2 and OAUTHBEARER, as Dovecot and Gmail do.
fn setup() -> Setup {
    setup_offering("xoauth2 oauthbearer")
}

/// Servers that offer `mechanisms` (`xoauth2` alone, as Microsoft's do).
fn setup_offering(mechanisms: &str) -> Setup {
    let ss = SecretService::start();
    let oauth = OAuthServer::start();
    let ms = MailServer::start_with(&[
        ("MS_OAUTH2_URL", &oauth.url()),
        ("MS_OAUTH2_MECHANISMS", mechanisms),
    ]);
    // The account has a password, but Mail Canary never gets it.
    ms.add_user(USER, &format!("unused-{}", std::process::id()));
    let cli = Cli::new(BIN).env("DBUS_SESSION_BUS_ADDRESS", ss.address());
    Setup { ss, oauth, ms, cli }
}

impl Setup {
    fn keyring(&self, user: &str) -> Option<String> {
        self.ss.lookup("mailcanary", user)
    }
}

/// A command that signed in, with the browser played by the test.
struct SignedIn {
    code: i32,
    stdout: String,
    stderr: String,
    /// What the command's loopback answer showed the browser: status and page.
    page: (u16, String),
}

/// Runs `args` (a command that signs in) with `stdin` on its standard input, plays the
/// browser, and returns what came of it.
fn sign_in(s: &Setup, args: &[&str], stdin: &str, out: &Path) -> SignedIn {
    let mut child = s.cli.spawn(args, &[], out);
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).unwrap();
    }
    let prefix = format!("{}/authorize?", s.oauth.url());
    wait_for(out, "the sign-in address", Duration::from_secs(20), |l| {
        l.iter().any(|x| x.starts_with(&prefix))
    });
    let url = lines(out)
        .into_iter()
        .find(|x| x.starts_with(&prefix))
        .unwrap();
    let page = browse_sign_in(&url);
    let st = child.wait().expect("the command ends");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    SignedIn {
        code: st.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(out).unwrap(),
        stderr,
        page,
    }
}

/// As [`sign_in`], without standard input: the exit code, what it printed with the page
/// shown, and its standard error.
fn signed_in(s: &Setup, args: &[&str], out: &Path) -> (i32, String, String) {
    let r = sign_in(s, args, "", out);
    let shown = format!("{}\n{} {}", r.stdout, r.page.0, r.page.1);
    (r.code, shown, r.stderr)
}

/// `mailbox add NAME` for an OAuth2 mailbox on the harness, signing in with the test server.
fn add_args(name: &str, receive: [&str; 2], s: &Setup) -> Vec<String> {
    let mut args: Vec<String> = ["mailbox", "add", name, "--address", USER]
        .iter()
        .chain(receive.iter())
        .map(|a| a.to_string())
        .collect();
    args.extend([
        "--smtp".to_string(),
        format!("localhost:{}", s.ms.port("MS_SMTP_PORT")),
        "--ca-file".to_string(),
        s.ms.ca_file().to_str().unwrap().to_string(),
        "--oauth".to_string(),
        "custom".to_string(),
        "--client-id".to_string(),
        "mailcanary-test".to_string(),
        "--oauth-authorize-url".to_string(),
        format!("{}/authorize", s.oauth.url()),
        "--oauth-token-url".to_string(),
        format!("{}/token", s.oauth.url()),
        "--oauth-scope".to_string(),
        "mail offline_access".to_string(),
        "--no-browser".to_string(),
    ]);
    args
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn check(cli: &Cli, name: &str) -> (i32, Value, String) {
    let r = cli.run_with_env(&["check", "--json", name], &[("MAILCANARY_LOG", "trace")]);
    let mut v = r.json_lines();
    assert_eq!(v.len(), 1, "{r:?}");
    (r.code, v.remove(0), format!("{}{}", r.stdout, r.stderr))
}

fn stage_detail(report: &Value, stage: &str, protocol: &str) -> String {
    report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == stage && s["protocol"] == protocol)
        .unwrap_or_else(|| panic!("no {stage}/{protocol}: {report}"))["detail"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn an_oauth_mailbox_signs_in_in_the_browser_and_is_checked_without_a_password() {
    let s = setup();
    let dir = tempfile::tempdir().unwrap();
    let imap = format!("localhost:{}", s.ms.port("MS_IMAPS_PORT"));
    let pop3 = format!("localhost:{}", s.ms.port("MS_POP3S_PORT"));
    let args = add_args("office", ["--imap", &imap], &s);
    let (code, out, err) = signed_in(&s, &strs(&args), &dir.path().join("add.out"));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("Added mailbox \"office\""), "{out}");
    assert!(out.contains("200") && out.contains("Signed in."), "{out}");
    let refresh = s
        .keyring("oauth:office")
        .expect("the refresh token is in the keyring");
    assert!(s.keyring("mailbox:office").is_none(), "no password stored");
    let stats = s.oauth.stats();
    assert_eq!(stats["token_authorization_code"], 1, "{stats}");

    // A check: a fresh access token from the refresh token, XOAUTH2 on IMAP and SMTP.
    let (code, report, shown) = check(&s.cli, "office");
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["category"], "ok", "{report}");
    assert!(
        stage_detail(&report, "auth", "oauth").starts_with("access token ready"),
        "{report}"
    );
    assert!(
        stage_detail(&report, "auth", "imap").starts_with("signed in (OAUTHBEARER)"),
        "{report}"
    );
    assert!(
        stage_detail(&report, "auth", "smtp").starts_with("signed in (XOAUTH2)"),
        "{report}"
    );
    assert_eq!(report["canary"]["cleaned"], true);
    let stats = s.oauth.stats();
    assert_eq!(stats["token_refresh_token"], 1, "{stats}");
    assert!(stats["introspect_active"].as_u64().unwrap() >= 2, "{stats}");

    // The same sign-in over POP3.
    let args = add_args("shop", ["--pop3", &pop3], &s);
    let (code, out, err) = signed_in(&s, &strs(&args), &dir.path().join("add-pop3.out"));
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, report, shown_pop3) = check(&s.cli, "shop");
    assert_eq!(code, 0, "{report}");
    assert!(
        stage_detail(&report, "auth", "pop3").starts_with("signed in (OAUTHBEARER)"),
        "{report}"
    );
    // POP3 refuses a good token of a locked account through its error challenge too.
    s.ms.ctl(&["lock", USER]);
    let (code, report, _) = check(&s.cli, "shop");
    assert_eq!(code, 2, "{report}");
    assert_eq!(report["category"], "auth_failed", "{report}");
    assert!(
        report["findings"][0]["evidence"]
            .as_str()
            .unwrap()
            .contains("-ERR [AUTH]"),
        "{report}"
    );
    s.ms.ctl(&["unlock", USER]);

    // No token anywhere but the keyring: not in the config, the data, or the output at trace.
    // Every token the server issued is looked for, access tokens too.
    let issued = s.oauth.tokens();
    assert!(issued.len() >= 4, "{issued:?}");
    assert!(issued.iter().any(|t| t == refresh.trim()));
    for t in &issued {
        assert!(files_containing(s.cli.root(), t.as_bytes()).is_empty());
        assert!(!shown.contains(t.as_str()) && !shown_pop3.contains(t.as_str()));
    }

    // A good token the mail servers refuse (the account is locked): their refusal, through
    // the XOAUTH2 error challenge, on both sides.
    s.ms.ctl(&["lock", USER]);
    let (code, report, _) = check(&s.cli, "office");
    assert_eq!(code, 2, "{report}");
    assert_eq!(report["category"], "auth_failed", "{report}");
    let evidence: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["category"] == "auth_failed")
        .map(|f| f["evidence"].as_str().unwrap())
        .collect();
    assert!(
        evidence.iter().any(|e| e.contains("AUTHENTICATIONFAILED")),
        "{report}"
    );
    assert!(evidence.iter().any(|e| e.contains("535")), "{report}");
    assert!(
        report["summary"]
            .as_str()
            .unwrap()
            .contains("refused the sign-in"),
        "{report}"
    );
    s.ms.ctl(&["unlock", USER]);

    // The provider revokes the sign-in: its own finding, with "sign in again".
    s.oauth.admin("revoke-user", &format!("user={USER}"));
    let (code, report, _) = check(&s.cli, "office");
    assert_eq!(code, 2, "{report}");
    assert_eq!(report["category"], "auth_failed", "{report}");
    let f = &report["findings"][0];
    assert_eq!(f["stage"], "auth");
    assert!(
        f["evidence"].as_str().unwrap().contains("invalid_grant"),
        "{f}"
    );
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .contains("revoked or has expired"),
        "{f}"
    );
    assert!(
        f["action"].as_str().unwrap().contains("Sign in again"),
        "{f}"
    );
    // Nothing was sent with a dead sign-in.
    assert!(
        report["stages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|st| st["protocol"] == "oauth"),
        "{report}"
    );

    // Signing in again mends it.
    let (code, out, err) = signed_in(
        &s,
        &["mailbox", "signin", "office", "--no-browser"],
        &dir.path().join("signin.out"),
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("Signed in mailbox \"office\" again"), "{out}");
    let (code, report, _) = check(&s.cli, "office");
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["category"], "ok", "{report}");

    // Removing the mailbox removes its sign-in.
    let r = s.cli.run(&["mailbox", "remove", "office"]);
    assert!(r.stdout.contains("its sign-in was removed"), "{r:?}");
    assert!(s.keyring("oauth:office").is_none());
}

#[test]
fn a_refused_sign_in_adds_nothing() {
    let s = setup();
    let dir = tempfile::tempdir().unwrap();
    let imap = format!("localhost:{}", s.ms.port("MS_IMAPS_PORT"));
    s.oauth
        .admin("deny-authorize", "count=1&error=access_denied");
    let args = add_args("office", ["--imap", &imap], &s);
    let r = sign_in(&s, &strs(&args), "", &dir.path().join("add.out"));
    assert_eq!(r.page.0, 400, "{}", r.page.1);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("refused") && r.stderr.contains("access_denied"),
        "{}",
        r.stderr
    );
    let list = s.cli.run(&["mailbox", "list"]);
    assert!(!list.stdout.contains("office"), "{list:?}");
    assert!(s.keyring("oauth:office").is_none());
}

/// `mailcanary run` over checks two seconds apart, to the test server's refresh counter.
fn refreshes_over_monitored_checks(s: &Setup, checks: usize, out: &Path) -> u64 {
    let before = s.oauth.stats()["token_refresh_token"].as_u64().unwrap();
    let mut child = s.cli.spawn_quick_monitor(&[], &[], out);
    Cli::wait_checks(out, "office", "OK ok", checks, Duration::from_secs(90));
    mailcanary_tests::terminate(&mut child);
    let text = lines(out);
    assert!(
        !text.iter().any(|l| l.contains("auth_failed")),
        "no check refused: {text:?}"
    );
    s.oauth.stats()["token_refresh_token"].as_u64().unwrap() - before
}

#[test]
fn the_monitor_keeps_its_access_token_and_refreshes_it_before_it_expires() {
    let s = setup();
    let dir = tempfile::tempdir().unwrap();
    let imap = format!("localhost:{}", s.ms.port("MS_IMAPS_PORT"));
    let args = add_args("office", ["--imap", &imap], &s);
    let (code, out, err) = signed_in(&s, &strs(&args), &dir.path().join("add.out"));
    assert_eq!(code, 0, "{out}\n{err}");

    // Tokens good for an hour: one refresh serves every check of the monitor.
    let n = refreshes_over_monitored_checks(&s, 3, &dir.path().join("run1.out"));
    assert_eq!(n, 1, "one refresh for three checks");

    // Tokens good for 302 s: past the first two seconds less than the 300 s margin is left,
    // so each later check gets a new token before the old one runs out, and none is refused.
    s.oauth.admin("config", "expires_in=302");
    let n = refreshes_over_monitored_checks(&s, 3, &dir.path().join("run2.out"));
    assert!(n >= 2, "{n} refreshes for three checks");
    let stats = s.oauth.stats();
    assert_eq!(
        stats["introspect_inactive"], 0,
        "no token was refused: {stats}"
    );
}

#[test]
fn a_rotated_refresh_token_is_kept_and_a_token_endpoint_outage_is_not_a_sign_in_problem() {
    // Servers that offer XOAUTH2 alone, as Microsoft's do: it is used on every side.
    let s = setup_offering("xoauth2");
    let dir = tempfile::tempdir().unwrap();
    let imap = format!("localhost:{}", s.ms.port("MS_IMAPS_PORT"));
    let args = add_args("office", ["--imap", &imap], &s);
    let (code, out, err) = signed_in(&s, &strs(&args), &dir.path().join("add.out"));
    assert_eq!(code, 0, "{out}\n{err}");

    // The server hands out a new refresh token at each refresh, and the old one dies.
    s.oauth.admin("config", "rotate_refresh=on");
    let first = s.keyring("oauth:office").unwrap();
    let (code, report, _) = check(&s.cli, "office");
    assert_eq!(code, 0, "{report}");
    let second = s.keyring("oauth:office").unwrap();
    assert_ne!(first, second, "the rotated refresh token was stored");
    let (code, report, _) = check(&s.cli, "office");
    assert_eq!(code, 0, "the stored one works: {report}");
    // Two processes refresh at once (a `check` from cron beside another): they take turns,
    // and the second uses the token the first was given, not the one it killed. The token
    // endpoint holds each request 400 ms, so that both would otherwise be in flight together.
    s.oauth.admin("config", "token_delay_ms=400");
    let before = s.oauth.stats();
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| check(&s.cli, "office"));
        let b = scope.spawn(|| check(&s.cli, "office"));
        (a.join().unwrap(), b.join().unwrap())
    });
    s.oauth.admin("config", "token_delay_ms=0");
    assert_eq!((a.0, b.0), (0, 0), "{}\n{}", a.1, b.1);
    let after = s.oauth.stats();
    assert_eq!(
        after["token_refresh_token"],
        before["token_refresh_token"].as_u64().unwrap() + 2
    );
    assert_eq!(after["token_error"], before["token_error"], "{after}");
    for side in ["imap", "smtp"] {
        let detail = stage_detail(&report, "auth", side);
        assert!(
            detail.starts_with("signed in (XOAUTH2)"),
            "{side}: {detail}"
        );
    }

    // The token endpoint is down or rate-limits: the sign-in server cannot be used, which
    // is not a reason to sign in again.
    for status in ["503", "429"] {
        s.oauth.admin("config", &format!("token_status={status}"));
        let (code, report, _) = check(&s.cli, "office");
        assert_eq!(code, 2, "{report}");
        assert_eq!(report["category"], "connect_failed", "{status}: {report}");
        let f = &report["findings"][0];
        assert!(
            f["evidence"]
                .as_str()
                .unwrap()
                .contains("temporarily_unavailable"),
            "{f}"
        );
        assert!(
            f["summary"].as_str().unwrap().contains("sign-in server"),
            "{f}"
        );
        assert!(
            !f["action"].as_str().unwrap().contains("Sign in again"),
            "{f}"
        );
    }
    s.oauth.admin("config", "token_status=0");
    // A new policy wants the person at the browser (Microsoft's `interaction_required`, for a
    // multi-factor or conditional-access rule): as a revoked sign-in, sign in again.
    s.oauth
        .admin("config", "refresh_error=interaction_required");
    let (code, report, _) = check(&s.cli, "office");
    assert_eq!(code, 2, "{report}");
    assert_eq!(report["category"], "auth_failed", "{report}");
    let f = &report["findings"][0];
    assert!(
        f["evidence"]
            .as_str()
            .unwrap()
            .contains("interaction_required"),
        "{f}"
    );
    assert!(
        f["action"].as_str().unwrap().contains("Sign in again"),
        "{f}"
    );
    s.oauth.admin("config", "refresh_error=");
    // A registration the provider no longer accepts (it now wants a client secret the
    // settings lack): the settings, not the sign-in.
    s.oauth.admin("config", "client_secret=now-wanted");
    let (_, report, _) = check(&s.cli, "office");
    assert_eq!(report["category"], "config_error", "{report}");
    assert!(
        report["findings"][0]["evidence"]
            .as_str()
            .unwrap()
            .contains("client id"),
        "{report}"
    );
}

#[test]
fn a_client_secret_is_sent_at_sign_in_and_refresh_and_kept_in_the_keyring_only() {
    let s = setup();
    let dir = tempfile::tempdir().unwrap();
    let secret = format!("GOCSPX-test-{}", std::process::id());
    s.oauth.admin("config", &format!("client_secret={secret}"));
    let imap = format!("localhost:{}", s.ms.port("MS_IMAPS_PORT"));

    // Without it, the token endpoint refuses the app: said, and nothing added.
    let args = add_args("office", ["--imap", &imap], &s);
    let (code, out, err) = signed_in(&s, &strs(&args), &dir.path().join("no-secret.out"));
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("invalid_client"), "{err}");
    assert!(s.keyring("oauth:office").is_none());

    // With it (on standard input): signed in, and a check refreshes with it from the keyring.
    let mut args = add_args("office", ["--imap", &imap], &s);
    args.push("--client-secret-stdin".into());
    let r = sign_in(
        &s,
        &strs(&args),
        &format!("{secret}\n"),
        &dir.path().join("secret.out"),
    );
    assert_eq!(r.page.0, 200, "{}", r.page.1);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        s.keyring("oauth-client:office").as_deref().map(str::trim),
        Some(secret.as_str())
    );
    let (code, report, shown) = check(&s.cli, "office");
    assert_eq!(code, 0, "{report}");
    assert!(!shown.contains(&secret));
    assert!(files_containing(s.cli.root(), secret.as_bytes()).is_empty());
    let r = s.cli.run(&["mailbox", "remove", "office"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(s.keyring("oauth-client:office").is_none());
}
