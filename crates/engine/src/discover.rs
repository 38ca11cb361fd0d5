//! Automatic set-up: from an e-mail address, the servers a mail program would find, in the
//! order mail programs look:
//!
//! 1. the provider presets, by the address's domain (gmail.com, outlook.jp, yahoo.co.jp...);
//! 2. Mozilla-style autoconfig: `autoconfig.<domain>/mail/config-v1.1.xml` and
//!    `<domain>/.well-known/autoconfig/mail/config-v1.1.xml`, over HTTPS, then HTTP;
//! 3. RFC 6186 SRV records (`_imaps._tcp`, `_imap._tcp`, `_pop3s._tcp`, `_pop3._tcp`,
//!    `_submissions._tcp`, `_submission._tcp`);
//! 4. the domain's MX: a provider's mail exchangers (Google's, Microsoft's...) mean its preset;
//! 5. guesses: `imap.<domain>` and/or `pop.<domain>` with `smtp.<domain>`, or `mail.<domain>`
//!    for all, when the names exist.
//!
//! A finding names an IMAP server, a POP3 server, or both (many providers, Japanese ISPs
//! especially, offer POP3 alone); which one is used is the user's choice, IMAP when both are
//! offered and nothing was chosen, as RFC 6186 advises.
//!
//! Everything found is offered, with where it came from, for the user to confirm: nothing here
//! logs in or sends a password.

use std::net::SocketAddr;
use std::time::Duration;

use mailcanary_core::config::Security;
use mailcanary_core::presets::{self, Preset};
use serde::Serialize;

use crate::dns;
use crate::http::{self, HttpUrl};

/// One server, as found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub security: Security,
}

/// A set of settings found, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    /// `preset`, `autoconfig`, `srv`, `mx` or `guess`.
    pub source: &'static str,
    /// What exactly: the preset's id, the URL's host, the MX host, the names tried.
    pub detail: String,
    /// The IMAP server, when the source names one.
    pub imap: Option<Server>,
    /// The POP3 server, when the source names one. At least one of the two is there.
    pub pop3: Option<Server>,
    pub smtp: Server,
    /// The login name, when the source says it is not the address.
    pub login: Option<String>,
    /// The preset's advice (an app password...), or a warning, when there is one.
    pub note: Option<String>,
    /// Came in a way anyone on the network path could have forged (an autoconfig file over
    /// plain HTTP naming servers outside the domain): never taken without the user's look.
    pub unverified: bool,
}

/// Where to look.
#[derive(Debug, Clone)]
pub struct DiscoverOptions {
    /// Bound on each request.
    pub limit: Duration,
    /// The name server for SRV and MX questions (default: the system's).
    pub name_server: Option<SocketAddr>,
}

impl Default for DiscoverOptions {
    fn default() -> Self {
        DiscoverOptions {
            limit: Duration::from_secs(5),
            name_server: None,
        }
    }
}

/// Address domains served by a preset.
const PRESET_DOMAINS: &[(&str, &[&str])] = &[
    ("gmail", &["gmail.com", "googlemail.com"]),
    (
        "outlook",
        &[
            "outlook.com",
            "hotmail.com",
            "live.com",
            "msn.com",
            "outlook.jp",
            "hotmail.co.jp",
            "live.jp",
        ],
    ),
    ("yahoo_japan", &["yahoo.co.jp", "ymail.ne.jp"]),
    ("icloud", &["icloud.com", "me.com", "mac.com"]),
    ("yahoo", &["yahoo.com", "ymail.com"]),
    ("docomo", &["docomo.ne.jp"]),
];

/// Mail exchangers that mean a provider (a suffix of the MX host).
const PRESET_MX: &[(&str, &str)] = &[
    ("google.com", "gmail"),
    ("googlemail.com", "gmail"),
    ("mail.protection.outlook.com", "microsoft365"),
    ("icloud.com", "icloud"),
];

fn preset(id: &str) -> Option<&'static Preset> {
    presets::all().iter().find(|p| p.id == id)
}

impl Server {
    fn new(host: impl Into<String>, port: u16, security: Security) -> Server {
        Server {
            host: host.into(),
            port,
            security,
        }
    }
}

impl Found {
    /// Settings from `source`, with no login, note or doubt of their own.
    fn new(
        source: &'static str,
        detail: String,
        imap: Option<Server>,
        pop3: Option<Server>,
        smtp: Server,
    ) -> Found {
        Found {
            source,
            detail,
            imap,
            pop3,
            smtp,
            login: None,
            note: None,
            unverified: false,
        }
    }
}

fn from_preset(p: &Preset, source: &'static str, detail: String) -> Found {
    Found {
        note: Some(p.note.clone()).filter(|n| !n.is_empty()),
        ..Found::new(
            source,
            detail,
            Some(Server::new(&p.imap_host, p.imap_port, p.imap_security)),
            p.pop3
                .as_ref()
                .map(|s| Server::new(&s.host, s.port, s.security())),
            Server::new(&p.smtp_host, p.smtp_port, p.smtp_security),
        )
    }
}

/// The presets that serve addresses at `domain`.
fn presets_for(domain: &str) -> Vec<Found> {
    PRESET_DOMAINS
        .iter()
        .filter(|(_, domains)| domains.contains(&domain))
        .filter_map(|(id, _)| preset(id))
        .map(|p| from_preset(p, "preset", p.id.clone()))
        .collect()
}

/// The domain of an address, in lower case; an error for what is not an address.
fn domain_of(address: &str) -> Result<String, String> {
    let (local, domain) = address
        .trim()
        .rsplit_once('@')
        .ok_or("not an e-mail address like info@example.jp")?;
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
    };
    if local.is_empty() || !domain.contains('.') || !domain.split('.').all(label_ok) {
        return Err("not an e-mail address like info@example.jp".into());
    }
    Ok(domain)
}

/// Looks for the servers of `address`; every source that answers adds its settings (the same
/// servers are offered once, from the first source that named them).
pub async fn discover(address: &str, opts: &DiscoverOptions) -> Result<Vec<Found>, String> {
    let domain = domain_of(address)?;
    let address = address.trim();
    let mut found: Vec<Found> = Vec::new();
    let mut add = |f: Found| {
        let host = |s: &Option<Server>| s.as_ref().map(|s| s.host.clone());
        if !found.iter().any(|g| {
            host(&g.imap) == host(&f.imap)
                && host(&g.pop3) == host(&f.pop3)
                && g.smtp.host == f.smtp.host
        }) {
            found.push(f);
        }
    };
    // The sources are asked side by side; their answers are taken in the order above.
    let name_server = opts.name_server.or_else(dns::system_name_server);
    let records = async {
        match name_server {
            Some(server) => tokio::join!(
                srv(server, &domain, opts.limit),
                dns::mx(server, &domain, opts.limit)
            ),
            None => (None, Vec::new()),
        }
    };
    let (auto, (by_srv, mxs), guessed) = tokio::join!(
        autoconfig(address, &domain, opts),
        records,
        guesses(&domain, opts.limit)
    );
    for f in presets_for(&domain) {
        add(f);
    }
    if let Some(f) = auto {
        add(f);
    }
    if let Some(f) = by_srv {
        add(f);
    }
    for m in mxs.iter().take(3) {
        let host = m.host.trim_end_matches('.');
        let known = PRESET_MX
            .iter()
            .find(|(suffix, _)| host == *suffix || host.ends_with(&format!(".{suffix}")));
        if let Some((_, id)) = known
            && let Some(p) = preset(id)
        {
            add(from_preset(p, "mx", host.to_string()));
        }
    }
    for f in guessed {
        add(f);
    }
    // What could have been forged comes after everything else.
    found.sort_by_key(|f| f.unverified);
    Ok(found)
}

/// The autoconfig file of the domain, from the first place that has one.
async fn autoconfig(address: &str, domain: &str, opts: &DiscoverOptions) -> Option<Found> {
    for scheme in ["https", "http"] {
        // The address goes only over HTTPS: over plain HTTP anyone on the way would read it.
        let query = if scheme == "https" {
            format!("?emailaddress={}", http::percent_encode(address))
        } else {
            String::new()
        };
        let places = [
            format!("autoconfig.{domain}/mail/config-v1.1.xml{query}"),
            format!("{domain}/.well-known/autoconfig/mail/config-v1.1.xml{query}"),
        ];
        for place in &places {
            let Ok(url) = HttpUrl::parse(&format!("{scheme}://{place}")) else {
                continue;
            };
            let Ok((200, body)) = http::get(&url, opts.limit, 256 << 10).await else {
                continue;
            };
            let text = String::from_utf8_lossy(&body);
            if let Some(mut f) = parse_autoconfig(&text, address) {
                f.detail = format!("{scheme}://{}", url.host);
                let elsewhere = [&f.imap, &f.pop3]
                    .into_iter()
                    .flatten()
                    .chain([&f.smtp])
                    .any(|s| !within(&s.host, domain));
                if scheme == "http" && elsewhere {
                    // Unencrypted, and pointing elsewhere: someone on the way could have
                    // written it. Offered, never taken without a look.
                    f.note = Some(format!(
                        "found over unencrypted HTTP and pointing outside {domain}: check these \
                         servers with the provider before using them"
                    ));
                    f.unverified = true;
                }
                return Some(f);
            }
        }
    }
    None
}

/// Whether `host` is `domain` or one of its sub-domains.
fn within(host: &str, domain: &str) -> bool {
    host == domain || host.ends_with(&format!(".{domain}"))
}

/// Reads a Mozilla autoconfig file (`clientConfig` 1.1): its first IMAP and first POP3
/// incoming servers (one of them at least) and its first SMTP outgoing server. The login is
/// the IMAP server's, else the POP3 server's.
pub fn parse_autoconfig(xml: &str, address: &str) -> Option<Found> {
    let xml = strip_comments(xml);
    let server = |tag: &str, kind: &str| -> Option<(Server, Option<String>)> {
        let mut rest = xml.as_str();
        while let Some(at) = rest.find(&format!("<{tag}")) {
            let after = &rest[at..];
            let head_end = after.find('>')?;
            let head = &after[..head_end];
            let close = format!("</{tag}>");
            let body_end = after.find(&close)?;
            if body_end <= head_end {
                return None; // `<tag</tag>`: not a file to trust
            }
            let body = &after[head_end + 1..body_end];
            rest = &after[body_end + close.len()..];
            if !head.contains(&format!("type=\"{kind}\""))
                && !head.contains(&format!("type='{kind}'"))
            {
                continue;
            }
            let Some(host) = element(body, "hostname") else {
                continue;
            };
            let security = match element(body, "socketType").as_deref() {
                Some("SSL") => Security::Tls,
                Some("STARTTLS") => Security::Starttls,
                Some("plain") => Security::Plain,
                _ => continue,
            };
            let Some(port) = element(body, "port").and_then(|p| p.parse::<u16>().ok()) else {
                continue;
            };
            let login = element(body, "username").map(|u| expand(&u, address));
            let host = expand(&host, address);
            let host_ok = !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
            if !host_ok || port == 0 {
                continue;
            }
            return Some((Server::new(host, port, security), login));
        }
        None
    };
    let imap = server("incomingServer", "imap");
    let pop3 = server("incomingServer", "pop3");
    let (smtp, _) = server("outgoingServer", "smtp")?;
    let login = match (&imap, &pop3) {
        (Some((_, l)), _) | (None, Some((_, l))) => l.clone(),
        (None, None) => return None,
    };
    Some(Found {
        login: login.filter(|l| l != address),
        ..Found::new(
            "autoconfig",
            String::new(),
            imap.map(|(s, _)| s),
            pop3.map(|(s, _)| s),
            smtp,
        )
    })
}

fn strip_comments(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(at) = rest.find("<!--") {
        out.push_str(&rest[..at]);
        match rest[at..].find("-->") {
            Some(end) => rest = &rest[at + end + 3..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// The text of the first `<name>` element in `body`, entities decoded, trimmed.
fn element(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = body.find(&open)? + open.len();
    let end = start + body.get(start..)?.find(&format!("</{name}>"))?;
    let text = body[start..end]
        .trim()
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&");
    Some(text)
}

/// Autoconfig's placeholders for the address's parts.
fn expand(s: &str, address: &str) -> String {
    let (local, domain) = address.rsplit_once('@').unwrap_or((address, ""));
    s.replace("%EMAILADDRESS%", address)
        .replace("%EMAILLOCALPART%", local)
        .replace("%EMAILDOMAIN%", domain)
}

/// The domain's SRV records for mail (RFC 6186; RFC 8314 prefers implicit TLS), all asked
/// side by side.
async fn srv(server: SocketAddr, domain: &str, limit: Duration) -> Option<Found> {
    let names = [
        "_imaps",
        "_imap",
        "_pop3s",
        "_pop3",
        "_submissions",
        "_submission",
    ]
    .map(|service| format!("{service}._tcp.{domain}"));
    let ask = |i: usize| dns::srv(server, &names[i], limit);
    let (imaps, imap, pop3s, pop3, submissions, submission) =
        tokio::join!(ask(0), ask(1), ask(2), ask(3), ask(4), ask(5));
    // The implicit-TLS record, else the STARTTLS one; "." means the service is not offered.
    let pick = |tls: Vec<dns::Srv>, starttls: Vec<dns::Srv>| {
        let first = |records: Vec<dns::Srv>, security: Security| {
            records
                .into_iter()
                .find(|r| r.target != "." && r.port != 0)
                .map(|r| Server::new(r.target, r.port, security))
        };
        first(tls, Security::Tls).or_else(|| first(starttls, Security::Starttls))
    };
    let (imap, pop3) = (pick(imaps, imap), pick(pop3s, pop3));
    if imap.is_none() && pop3.is_none() {
        return None;
    }
    let smtp = pick(submissions, submission)?;
    Some(Found::new("srv", domain.to_string(), imap, pop3, smtp))
}

/// The usual names, where they exist: `imap.` and/or `pop.` with `smtp.`, then `mail.` for
/// all three.
async fn guesses(domain: &str, limit: Duration) -> Vec<Found> {
    let exists = |host: String| async move {
        tokio::time::timeout(limit, tokio::net::lookup_host((host.as_str(), 0)))
            .await
            .is_ok_and(|r| r.is_ok_and(|mut a| a.next().is_some()))
    };
    let name = |prefix: &str| format!("{prefix}.{domain}");
    let (imap, pop, smtp, mail) = tokio::join!(
        exists(name("imap")),
        exists(name("pop")),
        exists(name("smtp")),
        exists(name("mail"))
    );
    let mut out = Vec::new();
    if smtp && (imap || pop) {
        let tried: Vec<String> = [(imap, "imap"), (pop, "pop"), (true, "smtp")]
            .into_iter()
            .filter(|(there, _)| *there)
            .map(|(_, prefix)| name(prefix))
            .collect();
        out.push(Found::new(
            "guess",
            tried.join(", "),
            imap.then(|| Server::new(name("imap"), 993, Security::Tls)),
            pop.then(|| Server::new(name("pop"), 995, Security::Tls)),
            Server::new(name("smtp"), 587, Security::Starttls),
        ));
    }
    if mail {
        let mail = name("mail");
        out.push(Found::new(
            "guess",
            mail.clone(),
            Some(Server::new(mail.clone(), 993, Security::Tls)),
            Some(Server::new(mail.clone(), 995, Security::Tls)),
            Server::new(mail, 587, Security::Starttls),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0"?>
<clientConfig version="1.1">
  <emailProvider id="example.jp">
    <domain>example.jp</domain>
    <!-- <incomingServer type="imap"><hostname>commented.example</hostname></incomingServer> -->
    <incomingServer type="pop3">
      <hostname>pop.example.jp</hostname><port>995</port><socketType>SSL</socketType>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>imap.example.jp</hostname>
      <port>993</port>
      <socketType>SSL</socketType>
      <username>%EMAILLOCALPART%</username>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.example.jp</hostname>
      <port>587</port>
      <socketType>STARTTLS</socketType>
      <username>%EMAILADDRESS%</username>
    </outgoingServer>
  </emailProvider>
</clientConfig>"#;

    #[test]
    fn an_autoconfig_file_gives_imap_pop3_and_smtp_with_the_login() {
        let f = parse_autoconfig(XML, "info@example.jp").unwrap();
        let imap = f.imap.unwrap();
        assert_eq!(imap.host, "imap.example.jp");
        assert_eq!((imap.port, imap.security), (993, Security::Tls));
        let pop3 = f.pop3.unwrap();
        assert_eq!(pop3.host, "pop.example.jp");
        assert_eq!((pop3.port, pop3.security), (995, Security::Tls));
        assert_eq!(f.smtp.host, "smtp.example.jp");
        assert_eq!((f.smtp.port, f.smtp.security), (587, Security::Starttls));
        // The IMAP server's login (the POP3 entry names none).
        assert_eq!(f.login.as_deref(), Some("info"));
        // A POP3-only file: POP3 alone, with its own login.
        let pop_only = XML
            .replace("type=\"imap\"", "type=\"exchange\"")
            .replace(
                "<socketType>SSL</socketType>\n    </incomingServer>",
                "<socketType>SSL</socketType><username>%EMAILADDRESS%-pop</username>\n    </incomingServer>",
            );
        let f = parse_autoconfig(&pop_only, "a@b.jp").unwrap();
        assert_eq!(f.imap, None);
        assert_eq!(f.pop3.unwrap().host, "pop.example.jp");
        assert_eq!(f.login.as_deref(), Some("a@b.jp-pop"));
        // Garbage, a file with neither IMAP nor POP3, a host that is not one: nothing.
        assert!(parse_autoconfig("<html>not found</html>", "a@b.jp").is_none());
        let neither = pop_only.replace("type=\"pop3\"", "type=\"exchange\"");
        assert!(parse_autoconfig(&neither, "a@b.jp").is_none());
        let bad_host = XML.replace("imap.example.jp", "imap.example.jp/../x");
        assert!(
            parse_autoconfig(&bad_host, "a@b.jp")
                .unwrap()
                .imap
                .is_none()
        );
        let bad_hosts = bad_host.replace("pop.example.jp", "pop example.jp");
        assert!(parse_autoconfig(&bad_hosts, "a@b.jp").is_none());
        // Malformed files end the search, they do not panic.
        for broken in [
            "<incomingServer</incomingServer>",
            "<incomingServer type=\"imap\"><hostname>x</incomingServer>",
            "<incomingServer type=\"imap\"><port>99999</port></incomingServer>",
            "<outgoingServer",
        ] {
            assert!(parse_autoconfig(broken, "a@b.jp").is_none(), "{broken}");
        }
    }

    #[test]
    fn addresses_are_checked_and_known_domains_give_their_preset() {
        assert!(domain_of("no-at-sign").is_err());
        assert!(domain_of("a@localhost").is_err());
        assert!(domain_of("a@exa mple.jp").is_err());
        assert_eq!(domain_of(" Info@Example.JP ").unwrap(), "example.jp");
        let found = presets_for("gmail.com");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].imap.as_ref().unwrap().host, "imap.gmail.com");
        assert_eq!(found[0].pop3.as_ref().unwrap().host, "pop.gmail.com");
        assert_eq!(presets_for("icloud.com")[0].pop3, None);
        assert_eq!(presets_for("hotmail.co.jp")[0].detail, "outlook");
        assert!(presets_for("example.jp").is_empty());
    }
}
