//! Automatic set-up against real local servers: in a private network namespace (nothing can
//! leave it) with its own resolver configuration, dnsmasq answers the names, SRV and MX
//! records of made-up domains, and a loopback HTTP server serves autoconfig files by host name.
//! Then `mailcanary mailbox discover` and `mailbox add --yes` find what mail programs would,
//! IMAP and POP3 servers alike.

use std::path::Path;
use std::process::Command;

use mailcanary_tests::Cli;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mailcanary");

const AUTOCONFIG: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="auto.test">
    <domain>auto.test</domain>
    <incomingServer type="imap">
      <hostname>imap.auto.test</hostname>
      <port>993</port>
      <socketType>SSL</socketType>
      <username>%EMAILLOCALPART%</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.auto.test</hostname>
      <port>465</port>
      <socketType>SSL</socketType>
      <username>%EMAILLOCALPART%</username>
    </outgoingServer>
  </emailProvider>
</clientConfig>
"#;

/// A Japanese ISP's file: POP3 only, the login being the whole address.
const AUTOCONFIG_POP3: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="popisp.test">
    <domain>popisp.test</domain>
    <incomingServer type="pop3">
      <hostname>pop.popisp.test</hostname>
      <port>995</port>
      <socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.popisp.test</hostname>
      <port>587</port>
      <socketType>STARTTLS</socketType>
    </outgoingServer>
  </emailProvider>
</clientConfig>
"#;

/// Serves `ROOT/<Host header>/<path>` on 127.0.0.1:80, so each made-up domain has its own file.
const HTTP_BY_HOST: &str = r#"
import http.server, os, sys
class ByHost(http.server.SimpleHTTPRequestHandler):
    def translate_path(self, path):
        host = self.headers.get("Host", "").split(":")[0]
        return os.path.join(sys.argv[1], host, path.split("?")[0].lstrip("/"))
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", 80), ByHost).serve_forever()
"#;

fn lines_of(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn an_address_finds_its_servers_through_autoconfig_srv_mx_and_guesses() {
    let cli = Cli::new(BIN);
    let root = cli.root().to_path_buf();
    let www = root.join("www");
    for (host, file) in [
        ("autoconfig.auto.test", AUTOCONFIG),
        // Names auto.test's servers: outside evil.test.
        ("autoconfig.evil.test", AUTOCONFIG),
        ("autoconfig.popisp.test", AUTOCONFIG_POP3),
    ] {
        std::fs::create_dir_all(www.join(host).join("mail")).unwrap();
        std::fs::write(www.join(host).join("mail/config-v1.1.xml"), file).unwrap();
    }
    std::fs::write(root.join("serve_by_host.py"), HTTP_BY_HOST).unwrap();
    std::fs::write(root.join("resolv.conf"), "nameserver 127.0.0.1\n").unwrap();
    let out = root.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let script = r#"
set -u
root=$1; bin=$2; config=$3; data=$4; out=$root/out
ip link set lo up || exit 90
mount --bind "$root/resolv.conf" /etc/resolv.conf || exit 91
dnsmasq --keep-in-foreground --user=root --no-resolv --no-hosts --no-poll \
  --listen-address=127.0.0.1 --bind-interfaces --port=53 --pid-file="$root/dnsmasq.pid" \
  --address=/autoconfig.auto.test/127.0.0.1 --address=/autoconfig.evil.test/127.0.0.1 \
  --address=/autoconfig.popisp.test/127.0.0.1 \
  --srv-host=_imaps._tcp.srv.test,imap.srv.test,993,0,10 \
  --srv-host=_pop3._tcp.srv.test,pop.srv.test,110,0,10 \
  --srv-host=_submission._tcp.srv.test,mail.srv.test,587,0,10 \
  --mx-host=gw.test,aspmx.l.google.com,10 \
  --address=/imap.guess.test/127.0.0.1 --address=/smtp.guess.test/127.0.0.1 \
  --address=/pop.guesspop.test/127.0.0.1 --address=/smtp.guesspop.test/127.0.0.1 \
  2>"$out/dnsmasq.err" &
python3 "$root/serve_by_host.py" "$root/www" >/dev/null 2>&1 &
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/80) 2>/dev/null && break
  sleep 0.05
done
for who in auto srv gw guess guesspop popisp nothing evil; do
  "$bin" --config "$config" --data-dir "$data" mailbox discover "info@$who.test" --json \
    >"$out/$who.json" 2>"$out/$who.err"
  echo $? >"$out/$who.code"
done
"$bin" --config "$config" --data-dir "$data" mailbox add office --address info@auto.test \
  --password-env OFFICE_PW >"$out/noyes.out" 2>"$out/noyes.err" </dev/null
echo $? >"$out/noyes.code"
"$bin" --config "$config" --data-dir "$data" mailbox add office --address info@auto.test \
  --password-env OFFICE_PW --yes >"$out/add.out" 2>"$out/add.err"
echo $? >"$out/add.code"
"$bin" --config "$config" --data-dir "$data" mailbox add evil --address info@evil.test \
  --password-env OFFICE_PW --yes >"$out/evil-add.out" 2>"$out/evil-add.err"
echo $? >"$out/evil-add.code"
add() { # NAME ADDRESS [ARGS...]: `mailbox add --yes`, its output in out/NAME.*
  name=$1 address=$2; shift 2
  "$bin" --config "$config" --data-dir "$data" mailbox add "$name" --address "$address" \
    --password-env OFFICE_PW --yes "$@" >"$out/$name.out" 2>"$out/$name.err"
  echo $? >"$out/$name.code"
}
add popisp info@popisp.test
add srvpop info@srv.test --receive pop3
add autopop info@auto.test --receive pop3
add badreceive info@auto.test --receive smtp
kill %1 %2 2>/dev/null
"#;
    let status = Command::new("unshare")
        .args(["--mount", "--net", "bash", "-c", script, "bash"])
        .arg(&root)
        .arg(BIN)
        .arg(cli.config_path())
        .arg(cli.data_dir())
        .status()
        .expect("unshare (util-linux)");
    assert!(status.success(), "{status:?}");
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap_or_default();

    // Autoconfig: over HTTP (HTTPS refused first), with the login the file names.
    let auto = lines_of(&out.join("auto.json"));
    assert_eq!(read("auto.code").trim(), "0", "{}", read("auto.err"));
    assert_eq!(auto[0]["source"], "autoconfig", "{auto:?}");
    assert_eq!(auto[0]["detail"], "http://autoconfig.auto.test");
    assert_eq!(auto[0]["imap"]["host"], "imap.auto.test");
    assert_eq!(auto[0]["smtp"]["port"], 465);
    assert_eq!(auto[0]["smtp"]["security"], "tls");
    assert_eq!(auto[0]["login"], "info");
    assert_eq!(auto[0]["pop3"], Value::Null);
    // A POP3-only autoconfig file: POP3, with the login it names.
    let popisp = lines_of(&out.join("popisp.json"));
    assert_eq!(
        popisp[0]["source"],
        "autoconfig",
        "{popisp:?} {}",
        read("popisp.err")
    );
    assert_eq!(popisp[0]["imap"], Value::Null);
    assert_eq!(popisp[0]["pop3"]["host"], "pop.popisp.test");
    assert_eq!(popisp[0]["pop3"]["port"], 995);
    assert_eq!(popisp[0]["login"], Value::Null, "the login is the address");
    // SRV (RFC 6186): IMAP over TLS, POP3 with STARTTLS, submission with STARTTLS.
    let srv = lines_of(&out.join("srv.json"));
    assert_eq!(srv[0]["source"], "srv", "{srv:?} {}", read("srv.err"));
    assert_eq!(srv[0]["imap"]["host"], "imap.srv.test");
    assert_eq!(srv[0]["imap"]["security"], "tls");
    assert_eq!(srv[0]["pop3"]["host"], "pop.srv.test");
    assert_eq!(srv[0]["pop3"]["port"], 110);
    assert_eq!(srv[0]["pop3"]["security"], "starttls");
    assert_eq!(srv[0]["smtp"]["host"], "mail.srv.test");
    assert_eq!(srv[0]["smtp"]["security"], "starttls");
    // MX at Google: the Gmail preset.
    let mx = lines_of(&out.join("gw.json"));
    assert_eq!(mx[0]["source"], "mx", "{mx:?} {}", read("gw.err"));
    assert_eq!(mx[0]["detail"], "aspmx.l.google.com");
    assert_eq!(mx[0]["imap"]["host"], "imap.gmail.com");
    // Guesses: only names that exist.
    let guess = lines_of(&out.join("guess.json"));
    assert_eq!(guess.len(), 1, "{guess:?}");
    assert_eq!(guess[0]["source"], "guess");
    assert_eq!(guess[0]["imap"]["host"], "imap.guess.test");
    assert_eq!(guess[0]["pop3"], Value::Null);
    let guesspop = lines_of(&out.join("guesspop.json"));
    assert_eq!(guesspop.len(), 1, "{guesspop:?} {}", read("guesspop.err"));
    assert_eq!(guesspop[0]["imap"], Value::Null);
    assert_eq!(guesspop[0]["pop3"]["host"], "pop.guesspop.test");
    assert_eq!(guesspop[0]["smtp"]["host"], "smtp.guesspop.test");
    // Nothing at all: said so, exit 1.
    assert_eq!(read("nothing.code").trim(), "1");
    assert!(lines_of(&out.join("nothing.json")).is_empty());

    // Over plain HTTP, a file naming servers outside the domain could be forged on the way:
    // offered with a warning, never taken by --yes.
    let evil = lines_of(&out.join("evil.json"));
    assert_eq!(evil.len(), 1, "{evil:?}");
    assert_eq!(evil[0]["unverified"], true);
    assert!(
        evil[0]["note"]
            .as_str()
            .unwrap()
            .contains("unencrypted HTTP")
    );
    assert_ne!(
        read("evil-add.code").trim(),
        "0",
        "{}",
        read("evil-add.out")
    );
    assert!(
        read("evil-add.err").contains("unencrypted HTTP"),
        "{}",
        read("evil-add.err")
    );

    // Adding without servers: shown, not taken unless confirmed.
    assert_eq!(read("noyes.code").trim(), "3", "{}", read("noyes.err"));
    assert!(
        read("noyes.out").contains("imap.auto.test"),
        "{}",
        read("noyes.out")
    );
    assert!(read("noyes.err").contains("--yes"), "{}", read("noyes.err"));
    assert_eq!(read("add.code").trim(), "0", "{}", read("add.err"));
    let config = std::fs::read_to_string(cli.config_path()).unwrap();
    assert!(config.contains("imap = \"imap.auto.test:993\""), "{config}");
    assert!(config.contains("smtp = \"smtp.auto.test:465\""), "{config}");
    assert!(config.contains("login = \"info\""), "{config}");
    assert!(!config.contains("evil"), "{config}");
    // A POP3-only finding makes a POP3 mailbox; --receive pop3 takes a finding's POP3 server
    // over its IMAP one, and refuses when none is found.
    for name in ["popisp", "srvpop"] {
        assert_eq!(
            read(&format!("{name}.code")).trim(),
            "0",
            "{}",
            read(&format!("{name}.err"))
        );
    }
    let config = std::fs::read_to_string(cli.config_path()).unwrap();
    let table = |name: &str| {
        let at = config.find(&format!("[mailboxes.{name}]")).expect(name);
        let rest = &config[at + 1..];
        rest[..rest.find("\n[").unwrap_or(rest.len())].to_string()
    };
    let popisp = table("popisp");
    assert!(
        popisp.contains("pop3 = \"pop.popisp.test:995\""),
        "{config}"
    );
    assert!(!popisp.contains("imap"), "{config}");
    assert!(!popisp.contains("login"), "{config}");
    let srvpop = table("srvpop");
    assert!(srvpop.contains("pop3 = \"pop.srv.test:110\""), "{config}");
    assert!(!srvpop.contains("imap"), "{config}");
    assert_ne!(read("autopop.code").trim(), "0");
    assert!(
        read("autopop.err").contains("no POP3 servers found"),
        "{}",
        read("autopop.err")
    );
    assert!(
        read("badreceive.err").contains("not imap or pop3"),
        "{}",
        read("badreceive.err")
    );
    assert!(
        !config.contains("autopop") && !config.contains("badreceive"),
        "{config}"
    );
    println!("discover: autoconfig, SRV, MX and guesses found, IMAP and POP3; {config}");
}
