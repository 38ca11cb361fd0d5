//! Test harness: real servers started ad hoc, and the `mailcanary` binary run as a user runs it.
//!
//! - [`MailServer`] starts Dovecot + Postfix on 127.0.0.1 (via `tests/harness/mailserver`) in a
//!   temporary directory and stops it on drop; its fault switches inject what tests need.
//! - [`SecretService`] starts a private D-Bus session with gnome-keyring's Secret Service.
//! - [`Cli`] runs the real binary with its own config and data directories.
//! - [`FaultProxy`] stands between Mail Canary and a real server and breaks the wire on demand.
//!
//! Nothing here fakes a server: a test that needs one starts it.

mod proxy;
pub use proxy::{At, Fault, FaultProxy};

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The harness script.
pub fn harness_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("harness/mailserver")
}

/// Runs `cmd` with `stdin` fed to it; panics (naming `what`, with its output) unless it
/// succeeds; returns its standard output.
fn fed(mut cmd: Command, stdin: &[u8], what: &str) -> String {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    let out = child.wait_with_output().expect("output");
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A running Dovecot + Postfix instance on loopback.
pub struct MailServer {
    dir: tempfile::TempDir,
    env: HashMap<String, String>,
    /// The network namespace it runs in, if not this process's.
    netns: Option<String>,
}

/// The harness script as a command, inside `netns` when given.
fn harness_command(netns: Option<&str>) -> Command {
    match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(harness_script());
            c
        }
        None => Command::new(harness_script()),
    }
}

impl MailServer {
    /// Starts an instance with the default junk folder name (`Junk`).
    pub fn start() -> MailServer {
        MailServer::start_with(&[])
    }

    /// Starts an instance with extra environment for the script (e.g. `MS_JUNK_NAME`).
    pub fn start_with(vars: &[(&str, &str)]) -> MailServer {
        MailServer::start_in(None, vars)
    }

    /// Starts an instance inside the network namespace `netns` (see [`NetNs`]), listening on
    /// `MS_ADDR` from `vars`.
    pub fn start_in(netns: Option<&str>, vars: &[(&str, &str)]) -> MailServer {
        let dir = tempfile::Builder::new()
            .prefix("mailcanary-ms.")
            .tempdir()
            .expect("temp dir");
        let inst = dir.path().join("ms");
        let out = harness_command(netns)
            .arg("start")
            .arg(&inst)
            .envs(vars.iter().copied())
            .stdin(Stdio::null())
            .output()
            .expect("run the harness script");
        assert!(
            out.status.success(),
            "harness failed to start:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let env = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        MailServer {
            dir,
            env,
            netns: netns.map(str::to_string),
        }
    }

    /// The instance directory.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().join("ms")
    }

    /// A value printed by `start` (e.g. `MS_SMTP_PORT`).
    pub fn var(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("harness printed no {key}"))
    }

    /// A port printed by `start`.
    pub fn port(&self, key: &str) -> u16 {
        self.var(key).parse().expect("a port")
    }

    /// The test CA certificate file.
    pub fn ca_file(&self) -> PathBuf {
        PathBuf::from(self.var("MS_CA_FILE"))
    }

    /// Runs a harness subcommand on this instance, feeding `stdin`; panics on failure.
    pub fn ctl_with_input(&self, args: &[&str], stdin: &[u8]) -> String {
        let mut cmd = harness_command(self.netns.as_deref());
        cmd.arg(args[0]).arg(self.dir()).args(&args[1..]);
        fed(cmd, stdin, &format!("mailserver {args:?}"))
    }

    /// Runs a harness subcommand on this instance; panics on failure.
    pub fn ctl(&self, args: &[&str]) -> String {
        self.ctl_with_input(args, b"")
    }

    /// Adds a user (the password goes over stdin, never argv).
    pub fn add_user(&self, address: &str, password: &str) {
        self.ctl_with_input(&["adduser", address], format!("{password}\n").as_bytes());
    }

    /// Adds a user with a storage quota such as `200K`.
    pub fn add_user_with_quota(&self, address: &str, password: &str, quota: &str) {
        let mut cmd = Command::new(harness_script());
        cmd.arg("adduser")
            .arg(self.dir())
            .arg(address)
            .env("MS_QUOTA", quota);
        fed(
            cmd,
            format!("{password}\n").as_bytes(),
            "mailserver adduser",
        );
    }

    /// A plain message of about `kib` KiB (for filling a quota).
    pub fn filler_message(kib: usize) -> String {
        let line = "x".repeat(76);
        let lines = kib * 1024 / 78;
        format!(
            "From: archive@example.test\r\nSubject: filler\r\nMessage-ID: <filler-{kib}@example.test>\r\n\r\n{}",
            format!("{line}\r\n").repeat(lines)
        )
    }

    /// Stores a raw message directly in a folder of a mailbox.
    pub fn deliver(&self, address: &str, folder: &str, raw: &str) {
        self.ctl_with_input(&["deliver", address, folder], raw.as_bytes());
    }

    /// Submits a raw message on the MX-like port (no auth), as mail from outside arrives.
    pub fn send_mx(&self, from: &str, to: &str, raw: &str) {
        let server = format!("127.0.0.1:{}", self.port("MS_MX_PORT"));
        let mut cmd = Command::new("swaks");
        cmd.args([
            "--server", &server, "--from", from, "--to", to, "--data", "-",
        ]);
        fed(cmd, raw.as_bytes(), "swaks (package swaks)");
    }

    /// How many messages wait in Postfix's queue.
    pub fn queue_len(&self) -> usize {
        self.ctl(&["queue"]).trim().parse().expect("a count")
    }

    /// Removes one message from a folder, as someone reading the mailbox would.
    pub fn expunge(&self, address: &str, folder: &str, uid: u32) {
        self.ctl(&[
            "doveadm",
            "expunge",
            "-u",
            address,
            "mailbox",
            folder,
            "uid",
            &uid.to_string(),
        ]);
    }

    /// Lists `uid`, `flags` and the `Message-ID` of every message in a folder, sorted by UID.
    pub fn messages(&self, address: &str, folder: &str) -> Vec<(u32, String, String)> {
        let out = self.ctl(&[
            "doveadm",
            "-f",
            "tab",
            "fetch",
            "-u",
            address,
            "uid flags hdr.message-id",
            "mailbox",
            folder,
            "all",
        ]);
        let mut rows: Vec<(u32, String, String)> = out
            .lines()
            .skip(1)
            .filter_map(|l| {
                let mut f = l.split('\t');
                // \Recent is a session flag that any client's SELECT clears; it is not
                // part of what a message "is", so it is left out of comparisons.
                let uid = f.next()?.parse().ok()?;
                let flags = f
                    .next()?
                    .split_whitespace()
                    .filter(|fl| *fl != "\\Recent")
                    .collect::<Vec<_>>()
                    .join(" ");
                Some((uid, flags, f.next().unwrap_or("").trim().to_string()))
            })
            .collect();
        rows.sort();
        rows
    }
}

impl Drop for MailServer {
    fn drop(&mut self) {
        let _ = harness_command(self.netns.as_deref())
            .arg("stop")
            .arg(self.dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A private D-Bus session bus (`dbus-daemon --session`), stopped on drop.
pub struct SessionBus {
    child: Child,
    address: String,
}

impl SessionBus {
    /// Starts one.
    pub fn start() -> SessionBus {
        let mut child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-daemon (package dbus)");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().expect("stdout"))
            .read_line(&mut line)
            .expect("bus address");
        let address = line.trim().to_string();
        assert!(!address.is_empty(), "dbus-daemon printed no address");
        SessionBus { child, address }
    }

    /// The address for `DBUS_SESSION_BUS_ADDRESS`.
    pub fn address(&self) -> &str {
        &self.address
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real notification server (`tests/harness/notification-server.py`) on its own session
/// bus, recording every `Notify` call.
pub struct NotificationServer {
    child: Child,
    bus: Option<SessionBus>,
    address: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl NotificationServer {
    /// Starts the bus and the server; returns once the server owns its name.
    pub fn start() -> NotificationServer {
        let bus = SessionBus::start();
        let address = bus.address().to_string();
        let mut n = NotificationServer::start_on(&address);
        n.bus = Some(bus);
        n
    }

    /// Starts the server on the session bus at `address` (shared with other services).
    pub fn start_on(address: &str) -> NotificationServer {
        let dir = tempfile::Builder::new()
            .prefix("mailcanary-notify.")
            .tempdir()
            .expect("temp dir");
        let log = dir.path().join("notifications.jsonl");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("harness/notification-server.py");
        // Debian's python3, where python3-gi lives (not whatever python3 is first on PATH).
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(&log)
            .env("DBUS_SESSION_BUS_ADDRESS", address)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 (packages python3, python3-gi)");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().expect("stdout"))
            .read_line(&mut line)
            .expect("server output");
        assert_eq!(
            line.trim(),
            "ready",
            "the notification server did not start"
        );
        NotificationServer {
            child,
            bus: None,
            address: address.to_string(),
            log,
            _dir: dir,
        }
    }

    /// The bus address for `DBUS_SESSION_BUS_ADDRESS`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Every notification received so far.
    pub fn received(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }
}

impl Drop for NotificationServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private D-Bus session bus with gnome-keyring's Secret Service, unlocked.
pub struct SecretService {
    bus: SessionBus,
    home: tempfile::TempDir,
}

impl SecretService {
    /// Starts the bus and the keyring daemon.
    pub fn start() -> SecretService {
        let home = tempfile::Builder::new()
            .prefix("mailcanary-keyring.")
            .tempdir()
            .expect("temp dir");
        let bus = SessionBus::start();
        let data = home.path().join("data");
        std::fs::create_dir_all(data.join("keyrings")).expect("keyrings dir");
        let mut daemon = Command::new("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", bus.address())
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", &data)
            .env("XDG_RUNTIME_DIR", home.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start gnome-keyring-daemon (package gnome-keyring)");
        // An empty unlock password does not work: it would try to prompt.
        daemon
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"keyring-unlock-for-tests")
            .expect("unlock password");
        let mut out = String::new();
        daemon
            .stdout
            .take()
            .expect("stdout")
            .read_to_string(&mut out)
            .expect("daemon output");
        assert!(
            daemon.wait().expect("daemon start").success(),
            "gnome-keyring-daemon failed"
        );
        let ss = SecretService { bus, home };
        // Wait until the service owns its name and its `default` alias names the login
        // collection: before that, a store fails ("result not returned from SS API").
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // A client's first search is what makes the daemon open its login collection.
            let _ = ss
                .command("secret-tool")
                .args(["search", "--all", "service", "mailcanary-probe"])
                .output()
                .expect("secret-tool (package libsecret-tools)");
            let secrets = |method: &str, args: &[&str]| {
                gdbus_try(
                    ss.address(),
                    "org.freedesktop.secrets",
                    "/org/freedesktop/secrets",
                    method,
                    args,
                )
                .unwrap_or_default()
            };
            let answer = secrets("org.freedesktop.Secret.Service.ReadAlias", &["default"]);
            if answer.contains("/collection/") {
                break;
            }
            // Now and then (several daemons starting at once) the alias is never set, though
            // the login collection is there: set it as the daemon would have.
            if Instant::now() + Duration::from_secs(7) > deadline {
                let listed = secrets(
                    "org.freedesktop.DBus.Properties.Get",
                    &["org.freedesktop.Secret.Service", "Collections"],
                );
                let target = if listed.contains("/collection/login") {
                    "/org/freedesktop/secrets/collection/login"
                } else {
                    "/org/freedesktop/secrets/collection/session"
                };
                secrets(
                    "org.freedesktop.Secret.Service.SetAlias",
                    &["default", target],
                );
            }
            assert!(
                Instant::now() < deadline,
                "the keyring's default collection never appeared: {answer}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        ss
    }

    /// The bus address for `DBUS_SESSION_BUS_ADDRESS`.
    pub fn address(&self) -> &str {
        self.bus.address()
    }

    /// A command with this session's environment.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("DBUS_SESSION_BUS_ADDRESS", self.bus.address())
            .env("HOME", self.home.path())
            .env("XDG_DATA_HOME", self.home.path().join("data"))
            .env("XDG_RUNTIME_DIR", self.home.path());
        c
    }

    /// Looks an entry up with `secret-tool` (attributes of the keyring crate's store).
    pub fn lookup(&self, service: &str, user: &str) -> Option<String> {
        let out = self
            .command("secret-tool")
            .args(["lookup", "service", service, "username", user])
            .output()
            .expect("secret-tool");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
            .filter(|s| !s.is_empty())
    }
}

/// `mailcanary run` arguments for tests: a check every 2 s, 10 s each, no attachment probes.
pub const QUICK_MONITOR: [&str; 7] = [
    "run",
    "--interval",
    "2",
    "--timeout",
    "10",
    "--attachments-every",
    "off",
];

/// Ends a monitor as a service manager would (SIGTERM) and waits for it.
pub fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().expect("the monitor ends")
}

/// The `mailcanary` binary with its own config and data directories.
pub struct Cli {
    bin: PathBuf,
    dir: tempfile::TempDir,
    envs: Vec<(String, String)>,
}

/// What one run printed and returned.
#[derive(Debug)]
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Wall time.
    pub elapsed: Duration,
}

impl Run {
    /// Standard output parsed as JSON lines.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {l}\nstderr: {}", self.stderr))
            })
            .collect()
    }
}

impl Cli {
    /// A fresh user of `bin`.
    pub fn new(bin: &str) -> Cli {
        Cli {
            bin: PathBuf::from(bin),
            dir: tempfile::Builder::new()
                .prefix("mailcanary-cli.")
                .tempdir()
                .expect("temp dir"),
            envs: Vec::new(),
        }
    }

    /// Adds an environment variable to every run.
    pub fn env(mut self, k: &str, v: &str) -> Cli {
        self.envs.push((k.to_string(), v.to_string()));
        self
    }

    /// The config file.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config").join("config.toml")
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs the binary with `args`, feeding `stdin`.
    pub fn run_with_input(&self, args: &[&str], stdin: &[u8]) -> Run {
        self.run_full(args, stdin, &[])
    }

    /// Runs the binary with `args` and extra environment variables for this run only.
    pub fn run_with_env(&self, args: &[&str], envs: &[(&str, &str)]) -> Run {
        self.run_full(args, b"", envs)
    }

    fn run_full(&self, args: &[&str], stdin: &[u8], extra: &[(&str, &str)]) -> Run {
        let started = Instant::now();
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--config")
            .arg(self.config_path())
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .env_remove("MAILCANARY_LANG")
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env("LANG", "C.UTF-8")
            .envs(self.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run mailcanary");
        let mut input = child.stdin.take().expect("stdin");
        let _ = input.write_all(stdin);
        drop(input);
        let out: Output = child.wait_with_output().expect("mailcanary output");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed: started.elapsed(),
        }
    }

    /// Starts the binary with `args` in the background: standard output to the file `out`,
    /// standard input a pipe, standard error piped.
    pub fn spawn(&self, args: &[&str], envs: &[(&str, &str)], out: &Path) -> std::process::Child {
        self.spawn_from(Command::new(&self.bin), args, envs, out)
    }

    /// As [`Cli::spawn`], inside the office computer's namespace of `ns`.
    pub fn spawn_in(
        &self,
        ns: &NetNs,
        args: &[&str],
        envs: &[(&str, &str)],
        out: &Path,
    ) -> std::process::Child {
        self.spawn_from(ns.pc_command(&self.bin), args, envs, out)
    }

    /// Like [`Cli::spawn`], but through `cmd` (a wrapper such as `unshare`, whose arguments end
    /// with the binary), which gets the binary's arguments appended.
    pub fn spawn_from(
        &self,
        mut cmd: Command,
        args: &[&str],
        envs: &[(&str, &str)],
        out: &Path,
    ) -> std::process::Child {
        cmd.arg("--config")
            .arg(self.config_path())
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .env_remove("MAILCANARY_LANG")
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env("LANG", "C.UTF-8")
            .envs(self.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(envs.iter().copied())
            .stdin(Stdio::piped())
            .stdout(std::fs::File::create(out).expect("output file"))
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mailcanary")
    }

    /// `mailcanary check --json` with `extra` arguments, for a config with one mailbox: the
    /// run and its one report.
    pub fn check_json(&self, extra: &[&str]) -> (Run, serde_json::Value) {
        let mut args = vec!["check", "--json"];
        args.extend_from_slice(extra);
        let r = self.run(&args);
        let mut lines = r.json_lines();
        assert_eq!(lines.len(), 1, "one line per mailbox: {r:?}");
        (r, lines.remove(0))
    }

    /// Starts `mailcanary run` checking every 2 s (10 s per check, no attachment probes)
    /// with `extra` arguments: standard output to `out`.
    pub fn spawn_quick_monitor(
        &self,
        extra: &[&str],
        envs: &[(&str, &str)],
        out: &Path,
    ) -> std::process::Child {
        let mut args = QUICK_MONITOR.to_vec();
        args.extend_from_slice(extra);
        self.spawn(&args, envs, out)
    }

    /// Waits for `out` to show `n` checks of `mailbox` with status and category `state`
    /// (`OK ok`), within `limit`.
    pub fn wait_checks(out: &Path, mailbox: &str, state: &str, n: usize, limit: Duration) {
        let needle = format!(" {mailbox} {state} ");
        wait_for(out, &format!("{n} checks '{needle}'"), limit, |l| {
            l.iter().filter(|l| l.contains(&needle)).count() >= n
        });
    }

    /// Appends `text` to the config file (for sections the CLI does not write).
    pub fn append_config(&self, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.config_path())
            .expect("config file");
        f.write_all(text.as_bytes()).expect("config written");
    }

    /// Runs the binary with `args`.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_input(args, b"")
    }

    /// Adds the mailbox "office" for `user` on `ms`: IMAPS, submission with STARTTLS, the
    /// harness CA (unless `extra` names its own `--ca-file`), password from `$OFFICE_PW`, plus
    /// `extra` options. Panics unless it is accepted.
    pub fn add_harness_mailbox(&self, ms: &MailServer, user: &str, extra: &[&str]) {
        self.add_harness_mailbox_named("office", ms, user, extra);
    }

    /// As [`Cli::add_harness_mailbox`], under another name.
    pub fn add_harness_mailbox_named(
        &self,
        name: &str,
        ms: &MailServer,
        user: &str,
        extra: &[&str],
    ) {
        // By name on loopback (so name lookup is part of the check), else by address.
        let host = match ms.var("MS_HOST") {
            "127.0.0.1" => "localhost",
            other => other,
        };
        let imap = format!("{host}:{}", ms.port("MS_IMAPS_PORT"));
        let smtp = format!("{host}:{}", ms.port("MS_SMTP_PORT"));
        let ca = ms.ca_file();
        let mut args = vec![
            "mailbox",
            "add",
            name,
            "--address",
            user,
            "--imap",
            &imap,
            "--smtp",
            &smtp,
            "--smtp-security",
            "starttls",
            "--password-env",
            "OFFICE_PW",
        ];
        if !extra.contains(&"--ca-file") {
            args.extend_from_slice(&["--ca-file", ca.to_str().expect("a UTF-8 path")]);
        }
        args.extend_from_slice(extra);
        let r = self.run(&args);
        assert_eq!(r.code, 0, "mailbox add: {r:?}");
    }

    /// A user on `ms` with `password`, and a command line with that mailbox added as
    /// "office" (its password from the variable OFFICE_PW, which the command line is given).
    pub fn with_harness_user(bin: &str, ms: &MailServer, user: &str, password: &str) -> Cli {
        ms.add_user(user, password);
        let cli = Cli::new(bin).env("OFFICE_PW", password);
        cli.add_harness_mailbox(ms, user, &[]);
        cli
    }

    /// Adds mailbox `name` for `user` on servers whose names do not resolve
    /// (`imap.nowhere.invalid`, `smtp.nowhere.invalid`; see [`Cli::no_name_service`]).
    pub fn add_unresolvable_mailbox(&self, name: &str, user: &str) {
        let r = self.run(&[
            "mailbox",
            "add",
            name,
            "--address",
            user,
            "--imap",
            "imap.nowhere.invalid",
            "--smtp",
            "smtp.nowhere.invalid",
            "--password-env",
            "OFFICE_PW",
        ]);
        assert_eq!(r.code, 0, "mailbox add: {r:?}");
    }

    /// `unshare` running the binary in a private mount namespace whose resolver is a loopback
    /// address nobody answers on: every name lookup but /etc/hosts fails, and no query leaves
    /// the machine. The binary's arguments are to be appended (see [`Cli::spawn_from`]).
    pub fn no_name_service(&self) -> Command {
        let resolv = self.dir.path().join("resolv.conf");
        std::fs::write(
            &resolv,
            "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
        )
        .expect("write resolv.conf");
        let mut cmd = Command::new("unshare");
        cmd.args(["--mount", "sh", "-c"])
            .arg(r#"mount --bind "$1" /etc/resolv.conf && shift && exec "$@""#)
            .arg("sh")
            .arg(resolv)
            .arg(&self.bin);
        cmd
    }

    /// The directory holding config and data (for leak checks).
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
}

/// Every file under `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p)
                && bytes.windows(needle.len()).any(|w| w == needle)
            {
                hits.push(p);
            }
        }
    }
    hits
}

/// A tiny HTTP server on 127.0.0.1 that records every POST (path and body) and answers 200:
/// the receiving end of a webhook.
pub struct HttpReceiver {
    port: u16,
    received: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

impl HttpReceiver {
    /// Starts listening on a free port.
    pub fn start() -> HttpReceiver {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("address").port();
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = received.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut reader = BufReader::new(conn.try_clone().expect("clone"));
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                let path = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("")
                    .to_string();
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':')
                        && k.eq_ignore_ascii_case("content-length")
                    {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0u8; length];
                let _ = reader.read_exact(&mut body);
                sink.lock()
                    .expect("not poisoned")
                    .push((path, String::from_utf8_lossy(&body).into_owned()));
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            }
        });
        HttpReceiver { port, received }
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every POST so far: (path, body).
    pub fn received(&self) -> Vec<(String, String)> {
        self.received.lock().expect("not poisoned").clone()
    }
}

/// The lines of a text file (none if it does not exist yet).
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Waits, looking at the file every 50 ms, until `pred` holds for its lines; panics with the
/// lines after `limit`.
pub fn wait_for(path: &Path, what: &str, limit: Duration, pred: impl Fn(&[String]) -> bool) {
    let deadline = Instant::now() + limit;
    loop {
        if pred(&lines(path)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; have: {:?}",
            lines(path)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Renders an HTML file the way a browser shows it: headless Chromium (with no network at
/// all) prints it to PDF, and `pdftotext` reads the text back (Debian's chromium and
/// poppler-utils). Needs root for the network namespace.
pub fn render_html_to_text(html: &Path) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let pdf = dir.path().join("page.pdf");
    let html = std::fs::canonicalize(html).expect("the HTML file exists");
    // In a network namespace of its own with nothing in it: the browser's background
    // traffic (updates, safe browsing) has nowhere to go.
    let out = Command::new("unshare")
        .args([
            "--net",
            "chromium",
            "--headless",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-pdf-header-footer",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", html.display()))
        .stdin(Stdio::null())
        .output()
        .expect("run chromium (scripts/install-deps installs it)");
    assert!(
        pdf.exists(),
        "chromium printed no PDF: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = Command::new("pdftotext")
        .args(["-layout"])
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("run pdftotext");
    assert!(text.status.success(), "pdftotext failed: {text:?}");
    String::from_utf8_lossy(&text.stdout).into_owned()
}

/// Two network namespaces made for one test, joined by a veth pair: `pc` (10.201.N.2, default
/// route via the other end) stands for the office computer, `net` (10.201.N.1) for the
/// internet with the provider's servers. Taking the link down makes the computer offline.
/// Both are deleted on drop. Needs root (CAP_NET_ADMIN) and iproute2.
pub struct NetNs {
    /// The office computer's namespace.
    pub pc: String,
    /// The internet's namespace.
    pub net: String,
    /// The internet side's address.
    pub net_addr: String,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("run ip (package iproute2)");
    assert!(
        out.status.success(),
        "ip {args:?} failed (network namespaces need root): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl NetNs {
    /// Creates the pair of namespaces, linked and online.
    pub fn new() -> NetNs {
        static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let tag = format!("{}-{n}", std::process::id());
        let subnet = (std::process::id() + n) % 250 + 1;
        let ns = NetNs {
            pc: format!("mc-pc-{tag}"),
            net: format!("mc-net-{tag}"),
            net_addr: format!("10.201.{subnet}.1"),
        };
        ip(&["netns", "add", &ns.pc]);
        ip(&["netns", "add", &ns.net]);
        for name in [&ns.pc, &ns.net] {
            ip(&["-n", name, "link", "set", "lo", "up"]);
        }
        ip(&[
            "-n", &ns.pc, "link", "add", "uplink", "type", "veth", "peer", "name", "downlink",
            "netns", &ns.net,
        ]);
        ip(&[
            "-n",
            &ns.net,
            "addr",
            "add",
            &format!("{}/24", ns.net_addr),
            "dev",
            "downlink",
        ]);
        ip(&["-n", &ns.net, "link", "set", "downlink", "up"]);
        let pc_addr = format!("10.201.{subnet}.2/24");
        ip(&["-n", &ns.pc, "addr", "add", &pc_addr, "dev", "uplink"]);
        ns.set_online(true);
        ns
    }

    /// Brings the computer's link up (with its default route) or down (no route at all).
    pub fn set_online(&self, online: bool) {
        ip(&[
            "-n",
            &self.pc,
            "link",
            "set",
            "uplink",
            if online { "up" } else { "down" },
        ]);
        if online {
            ip(&[
                "-n",
                &self.pc,
                "route",
                "replace",
                "default",
                "via",
                &self.net_addr,
            ]);
        }
    }

    /// A command run inside the computer's namespace.
    pub fn pc_command(&self, program: &Path) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.pc]).arg(program);
        c
    }
}

impl Default for NetNs {
    fn default() -> Self {
        NetNs::new()
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        for name in [&self.pc, &self.net] {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

/// Whether a line of `mailcanary run`'s output reports a check (they begin with the time;
/// alerts begin with `ALERT`, watch news with `WATCH`).
pub fn is_check_line(l: &str) -> bool {
    l.starts_with(|c: char| c.is_ascii_digit())
}

/// A port nobody listens on right now (bound and released: another process could take it in
/// between, which is rare).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// One HTTP/1.1 request to 127.0.0.1:`port`; the status code and the body (read by its
/// Content-Length or chunks: servers may keep the connection open).
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    http_request_within(port, method, path, body, Duration::from_secs(120))
}

/// As [`http_request`], giving up on a silent server after `limit`.
pub fn http_request_within(
    port: u16,
    method: &str,
    path: &str,
    body: &str,
    limit: Duration,
) -> std::io::Result<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(limit))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut r = BufReader::new(s);
    let mut status = String::new();
    r.read_line(&mut status)?;
    let code = status
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (mut length, mut chunked) = (None, false);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse::<usize>().ok();
        }
        chunked |= lower.starts_with("transfer-encoding:") && lower.contains("chunked");
    }
    let mut out = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk)?;
            out.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(n) = length {
        out.resize(n, 0);
        r.read_exact(&mut out)?;
    } else {
        r.read_to_end(&mut out)?;
    }
    Ok((code, String::from_utf8_lossy(&out).into_owned()))
}

/// One request to tauri-driver, with its status and body.
fn webdriver_request(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    // A request at times comes back with no answer at all: tauri-driver forwards it over
    // a pooled connection to WebKitWebDriver with hyper's retry of canceled requests off,
    // so when WebKitWebDriver has just closed that connection (the keep-alive race), the
    // request never reaches it and tauri-driver drops ours. It is asked again.
    let mut tries = 0;
    loop {
        let got = http_request(port, method, path, body).expect("WebDriver answers");
        tries += 1;
        if got.0 != 0 || tries == 3 {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The tray app driven through WebDriver: `tauri-driver` (over WebKitWebDriver) under Xvfb
/// and a private D-Bus session, all stopped on drop.
pub struct AppDriver {
    driver: Child,
    port: u16,
    session: String,
    /// The Xvfb display (`:N`) and its authority file, for screenshots.
    display: String,
    _xauth: tempfile::TempDir,
}

/// The W3C key of an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

impl AppDriver {
    /// Starts the app `bin` with `args`, its environment extended by `envs`. With
    /// `DBUS_SESSION_BUS_ADDRESS` among `envs` the app uses that bus (where the test runs a
    /// keyring, a notification server, a tray watcher); otherwise a private one.
    pub fn start(bin: &Path, args: &[&str], envs: &[(&str, &str)]) -> AppDriver {
        let port = free_port();
        let native = free_port();
        use std::os::unix::process::CommandExt;
        let own_bus = envs.iter().any(|(k, _)| *k == "DBUS_SESSION_BUS_ADDRESS");
        // A display of its own (not -a) and a known authority file, so that screenshots can
        // be taken of it.
        // Tests of one binary start apps side by side: each takes the next number (two that
        // looked for a free one at the same moment would both take the same).
        static NEXT_DISPLAY: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(150);
        let number = std::iter::repeat_with(|| {
            NEXT_DISPLAY.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        })
        .take_while(|n| *n < 400)
        .find(|n| !Path::new(&format!("/tmp/.X{n}-lock")).exists())
        .expect("a free X display number");
        let xauth = tempfile::Builder::new()
            .prefix("mailcanary-xauth.")
            .tempdir()
            .expect("temp dir");
        let auth_file = xauth.path().join("Xauthority");
        let wrapper: &[&str] = if own_bus {
            &["tauri-driver"]
        } else {
            &["dbus-run-session", "--", "tauri-driver"]
        };
        let driver = Command::new("xvfb-run")
            .args([
                "-n",
                &number.to_string(),
                "-s",
                "-screen 0 1024x768x24",
                "-f",
            ])
            .arg(&auth_file)
            .args(wrapper)
            .process_group(0)
            .arg(format!("--port={port}"))
            .arg(format!("--native-port={native}"))
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // The driver's and the app's messages, when a test needs looking into.
            .stderr(match std::env::var_os("MAILCANARY_TEST_APP_LOG") {
                Some(p) => std::fs::File::create(p).map_or(Stdio::null(), Stdio::from),
                None => Stdio::null(),
            })
            .spawn()
            .expect("run xvfb-run, dbus-run-session and tauri-driver (scripts/install-deps)");
        let mut d = AppDriver {
            driver,
            port,
            session: String::new(),
            display: format!(":{number}"),
            _xauth: xauth,
        };
        let caps = serde_json::json!({
            "capabilities": {"alwaysMatch": {"tauri:options": {
                "application": bin, "args": args
            }}}
        });
        // The driver and the native driver behind it must be up before a session is asked for.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            // tauri-driver may hold a request while its native driver is still starting.
            let status = http_request_within(port, "GET", "/status", "", Duration::from_secs(2));
            if matches!(&status, Ok((200, body)) if body.contains("\"ready\":true")) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "tauri-driver never ready: {status:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let answer = match webdriver_request(port, "POST", "/session", &caps.to_string()) {
            (200, body) => body,
            other => panic!("no WebDriver session: {other:?}"),
        };
        let v: serde_json::Value = serde_json::from_str(&answer).expect("JSON");
        d.session = v["value"]["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        d
    }

    fn call(&self, method: &str, path: &str, body: serde_json::Value) -> serde_json::Value {
        let path = format!("/session/{}{path}", self.session);
        let (code, answer) = webdriver_request(self.port, method, &path, &body.to_string());
        let v: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
        if code != 200 {
            return serde_json::json!({"error": v["value"]["error"], "code": code});
        }
        v["value"].clone()
    }

    /// Runs `script` in the window (W3C execute/sync) and returns its value.
    pub fn execute(&self, script: &str) -> serde_json::Value {
        self.call(
            "POST",
            "/execute/sync",
            serde_json::json!({"script": script, "args": []}),
        )
    }

    /// Runs `script` asynchronously (W3C execute/async: it calls `arguments[0]` with its
    /// result) and returns that result.
    pub fn execute_async(&self, script: &str) -> serde_json::Value {
        self.call(
            "POST",
            "/execute/async",
            serde_json::json!({"script": script, "args": []}),
        )
    }

    /// The text of the first element matching `css`, if there is one.
    pub fn text(&self, css: &str) -> Option<String> {
        let found = self.call(
            "POST",
            "/element",
            serde_json::json!({"using": "css selector", "value": css}),
        );
        let id = found[ELEMENT_KEY].as_str()?;
        self.call("GET", &format!("/element/{id}/text"), serde_json::json!({}))
            .as_str()
            .map(str::to_string)
    }

    /// Clicks the first element matching `css`; panics if there is none.
    pub fn click(&self, css: &str) {
        // A user scrolls to what they click; the driver does not always.
        self.execute(&format!(
            "document.querySelector({})?.scrollIntoView({{block: 'center'}});",
            serde_json::Value::from(css)
        ));
        let found = self.call(
            "POST",
            "/element",
            serde_json::json!({"using": "css selector", "value": css}),
        );
        let id = found[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("{css}: no such element ({found})"))
            .to_string();
        let done = self.call(
            "POST",
            &format!("/element/{id}/click"),
            serde_json::json!({}),
        );
        // A WebDriver error is a failure; a dropped answer is not (the page may have redrawn
        // under the click): callers check the click's effect.
        assert!(
            done.get("error").is_none_or(serde_json::Value::is_null),
            "{css}: click failed: {done}"
        );
    }

    /// Sets a form control's value as typing would (an `input` and a `change` event follow),
    /// and checks that it took.
    pub fn set_value(&self, css: &str, value: &str) {
        let script = format!(
            "const e = document.querySelector({css}); if (!e) return 'missing'; \
             e.focus(); e.value = {value}; \
             setTimeout(() => {{ e.dispatchEvent(new Event('input', {{bubbles: true}})); \
             e.dispatchEvent(new Event('change', {{bubbles: true}})); }}, 0); return e.value;",
            css = serde_json::Value::from(css),
            value = serde_json::Value::from(value),
        );
        let got = self.execute(&script);
        assert_eq!(got.as_str(), Some(value), "{css}: value not set ({got})");
    }

    /// Waits (30 s at most) until `pred` holds for the page.
    pub fn wait_until(&self, what: &str, pred: impl Fn(&AppDriver) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !pred(self) {
            if Instant::now() >= deadline {
                self.screenshot("failure");
            }
            assert!(
                Instant::now() < deadline,
                "never: {what} (see target/test-artifacts/app/failure.png)"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether an element matching `css` is there and shown.
    pub fn visible(&self, css: &str) -> bool {
        let script = format!(
            "const e = document.querySelector({}); return !!e && e.getClientRects().length > 0 \
             && getComputedStyle(e).visibility !== 'hidden';",
            serde_json::Value::from(css)
        );
        self.execute(&script).as_bool().unwrap_or(false)
    }

    /// Saves a screenshot of the window as `name`.png under `target/test-artifacts/app`;
    /// returns its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        // What the page shows reaches the screen a little later than the DOM changes: two
        // frames, then a moment for the compositor (only the picture depends on this).
        self.execute_async(
            "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => \
             setTimeout(() => done(true), 300)));",
        );
        let dir = artifacts_dir().join("app");
        std::fs::create_dir_all(&dir).expect("artifacts dir");
        let path = dir.join(format!("{name}.png"));
        // (WebKitWebDriver's own screenshot command drops the connection under Xvfb.)
        let out = Command::new("import")
            .args(["-window", "root"])
            .arg(&path)
            .env("DISPLAY", &self.display)
            .env("XAUTHORITY", self._xauth.path().join("Xauthority"))
            .output()
            .expect("import (package imagemagick)");
        assert!(
            out.status.success(),
            "screenshot: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        path
    }

    /// Waits until the element matching `css` has a text for which `pred` holds; returns it.
    pub fn wait_text(&self, css: &str, limit: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let t = self.text(css);
            if let Some(t) = &t
                && pred(t)
            {
                return t.clone();
            }
            if Instant::now() >= deadline {
                // What the window showed, for whoever looks into the failure.
                self.screenshot("failure");
            }
            assert!(
                Instant::now() < deadline,
                "{css}: text {t:?} never as wanted (see target/test-artifacts/app/failure.png)"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Where tests leave files for people to look at (screenshots): `target/test-artifacts`.
pub fn artifacts_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("workspace")
                .join("target")
        })
        .join("test-artifacts")
}

impl Drop for AppDriver {
    fn drop(&mut self) {
        let path = format!("/session/{}", self.session);
        let _ = http_request_within(self.port, "DELETE", &path, "", Duration::from_secs(5));
        // The driver leads its own process group: end Xvfb, the bus and the app with it
        // (xvfb-run itself waits out a TERM, so KILL follows after a moment).
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && matches!(self.driver.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.wait();
    }
}

/// A config file's text with the mailbox "office" for `user` on the harness `ms` (IMAPS,
/// submission with STARTTLS, the harness CA, the password from `$password_env`), for tests
/// that cannot run the `mailcanary` command.
pub fn harness_config(ms: &MailServer, user: &str, password_env: &str) -> String {
    format!(
        "[mailboxes.office]\naddress = \"{user}\"\nimap = \"localhost:{}\"\n\
         smtp = \"localhost:{}\"\nsmtp_security = \"starttls\"\nca_file = \"{}\"\n\
         password_env = \"{password_env}\"\n",
        ms.port("MS_IMAPS_PORT"),
        ms.port("MS_SMTP_PORT"),
        ms.ca_file().display()
    )
}

/// A StatusNotifierWatcher (`tests/harness/sni-watcher.py`) on a session bus, so that tray
/// icons register as they would with a desktop's tray. Stopped on drop.
pub struct TrayWatcher {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl TrayWatcher {
    /// Starts one on the bus at `address`.
    pub fn start(address: &str) -> TrayWatcher {
        let script = harness_script()
            .parent()
            .expect("harness directory")
            .join("sni-watcher.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .env("DBUS_SESSION_BUS_ADDRESS", address)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with python3-gi");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        let w = TrayWatcher { child, lines };
        let ready = w.lines.recv_timeout(Duration::from_secs(10));
        assert_eq!(
            ready.as_deref().ok(),
            Some("ready"),
            "the tray watcher did not start"
        );
        w
    }

    /// The next item to register: its bus name and object path.
    pub fn registered(&self, limit: Duration) -> (String, String) {
        let line = self
            .lines
            .recv_timeout(limit)
            .expect("no tray icon registered");
        let v: serde_json::Value = serde_json::from_str(&line).expect("JSON");
        (
            v["service"].as_str().expect("service").to_string(),
            v["path"].as_str().expect("path").to_string(),
        )
    }
}

impl TrayWatcher {
    /// The next registration within `limit`, if any.
    pub fn registered_within(&self, limit: Duration) -> Option<String> {
        self.lines.recv_timeout(limit).ok()
    }
}

impl Drop for TrayWatcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A registered tray icon, read and driven over D-Bus as a desktop's tray would.
pub struct TrayItem {
    bus: String,
    service: String,
    path: String,
}

impl TrayItem {
    /// The item that registered with `watcher` on the bus at `bus` (within `limit`).
    pub fn registered(watcher: &TrayWatcher, bus: &str, limit: Duration) -> TrayItem {
        let (service, path) = watcher.registered(limit);
        TrayItem {
            bus: bus.to_string(),
            service,
            path,
        }
    }

    /// Its bus name.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Its menu's layout, as `gdbus` prints it.
    pub fn layout(&self) -> String {
        gdbus_call(
            &self.bus,
            &self.service,
            &format!("{}/Menu", self.path),
            "com.canonical.dbusmenu.GetLayout",
            &["0", "-1", "[]"],
        )
    }

    /// Waits (60 s at most) until the menu's layout satisfies `pred`; returns it.
    pub fn wait_layout(&self, what: &str, pred: &dyn Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let l = self.layout();
            if pred(&l) {
                return l;
            }
            assert!(Instant::now() < deadline, "{what} never in the menu: {l}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The id of the menu item labelled `label` in `layout`.
    pub fn item_id(layout: &str, label: &str) -> Option<String> {
        let at = layout.find(&format!("'label': <'{label}'>"))?;
        let start = layout[..at].rfind("<(")? + 2;
        let digits: String = layout[start..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        Some(digits)
    }

    /// Clicks the menu item labelled `label`; panics if there is none.
    pub fn click(&self, label: &str) {
        let l = self.layout();
        let id = TrayItem::item_id(&l, label).unwrap_or_else(|| panic!("no {label}: {l}"));
        gdbus_call(
            &self.bus,
            &self.service,
            &format!("{}/Menu", self.path),
            "com.canonical.dbusmenu.Event",
            &[&id, "clicked", "<int32 0>", "0"],
        );
    }

    /// The colour of the icon's pixel (32, 10), where each state's shape is filled, as
    /// ImageMagick prints it (`srgba(198,40,40,1)`).
    pub fn icon_fill(&self) -> String {
        let answer = gdbus_call(
            &self.bus,
            &self.service,
            &self.path,
            "org.freedesktop.DBus.Properties.Get",
            &["org.kde.StatusNotifierItem", "IconName"],
        );
        let file = answer
            .split('\'')
            .nth(1)
            .expect("an icon file name")
            .to_string();
        let out = Command::new("convert")
            .arg(&file)
            .args(["-format", "%[pixel:p{32,10}]", "info:"])
            .output()
            .expect("convert (package imagemagick)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits (60 s at most) until the icon's fill contains `rgb` (`"(198,40,40"`).
    pub fn wait_icon(&self, rgb: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let fill = self.icon_fill();
            if fill.contains(rgb) {
                return fill;
            }
            assert!(Instant::now() < deadline, "icon never {rgb}: {fill}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `gdbus call` on the session bus at `address`; its printed answer.
pub fn gdbus_call(address: &str, dest: &str, path: &str, method: &str, args: &[&str]) -> String {
    gdbus_try(address, dest, path, method, args).unwrap_or_else(|e| panic!("gdbus {method}: {e}"))
}

/// `gdbus call` on the session bus at `address`: its printed answer, or why it failed.
pub fn gdbus_try(
    address: &str,
    dest: &str,
    path: &str,
    method: &str,
    args: &[&str],
) -> Result<String, String> {
    let out = Command::new("gdbus")
        .args([
            "call",
            "--session",
            "-d",
            dest,
            "-o",
            path,
            "-m",
            method,
            "--",
        ])
        .args(args)
        .env("DBUS_SESSION_BUS_ADDRESS", address)
        .output()
        .expect("gdbus (package libglib2.0-bin)");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The test OAuth2 authorization server (`harness/oauth-server.py`) on 127.0.0.1.
pub struct OAuthServer {
    child: Child,
    port: u16,
}

impl OAuthServer {
    /// Starts it on an ephemeral port.
    pub fn start() -> OAuthServer {
        let script = harness_script().with_file_name("oauth-server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start oauth-server.py");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("oauth-server.py's port line");
        let port = first
            .trim()
            .strip_prefix("OAUTH_PORT=")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port from oauth-server.py: {first:?}"));
        OAuthServer { child, port }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// POSTs a form to `/admin/WHAT`; the JSON answer.
    pub fn admin(&self, what: &str, form: &str) -> serde_json::Value {
        let (status, _, body) = http_exchange(&format!("{}/admin/{what}", self.url()), Some(form));
        assert_eq!(status, 200, "admin {what}: {body}");
        serde_json::from_str(&body).expect("JSON from the admin endpoint")
    }

    /// Every access and refresh token issued so far (`GET /admin/tokens`).
    pub fn tokens(&self) -> Vec<String> {
        let (status, _, body) = http_exchange(&format!("{}/admin/tokens", self.url()), None);
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("JSON tokens");
        ["access", "refresh"]
            .iter()
            .flat_map(|k| v[k].as_array().cloned().unwrap_or_default())
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect()
    }

    /// Request counters (`GET /admin/stats`).
    pub fn stats(&self) -> serde_json::Value {
        let (status, _, body) = http_exchange(&format!("{}/admin/stats", self.url()), None);
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("JSON stats")
    }
}

impl Drop for OAuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One plain HTTP/1.0 request to a loopback `http://` URL (a GET, or a form POST): the
/// status, the `Location` header if any, and the body. Redirects are not followed.
pub fn http_exchange(url: &str, form: Option<&str>) -> (u16, Option<String>, String) {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut s = std::net::TcpStream::connect(authority).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let request = match form {
        Some(f) => format!(
            "POST {path} HTTP/1.0\r\nHost: {authority}\r\nContent-Type: \
             application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{f}",
            f.len()
        ),
        None => format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n"),
    };
    s.write_all(request.as_bytes()).expect("request");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("answer");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let location = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("location"))
        })
        .map(|(_, v)| v.trim().to_string());
    (status, location, body.to_string())
}

/// Plays the browser of a sign-in: opens `authorize_url` (the test server approves at once
/// and redirects), then follows the redirect to the app's loopback address. Returns the
/// status and page the app answered with.
pub fn browse_sign_in(authorize_url: &str) -> (u16, String) {
    let (status, location, body) = http_exchange(authorize_url, None);
    assert_eq!(status, 302, "authorize: {body}");
    let to = location.expect("a redirect");
    let (status, _, page) = http_exchange(&to, None);
    (status, page)
}
