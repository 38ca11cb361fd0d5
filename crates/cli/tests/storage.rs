//! The history and the config when the disk lets them down: a damaged database, one locked
//! by another program, a full disk. The check still answers, the message names the file, and
//! nothing already kept is lost.

use std::io::BufRead;
use std::process::{Command, Stdio};

use mailcanary_tests::{Cli, MailServer};

const BIN: &str = env!("CARGO_BIN_EXE_mailcanary");
const USER: &str = "office@example.test";

fn setup(ms: &MailServer, password: &str) -> Cli {
    let cli = Cli::with_harness_user(BIN, ms, USER, password);
    let r = cli.run(&["check"]);
    assert_eq!(r.code, 0, "the first check: {r:?}");
    cli
}

fn checks_kept(cli: &Cli) -> usize {
    let r = cli.run(&["history", "--json", "--since", "1d"]);
    assert_eq!(r.code, 0, "{r:?}");
    r.stdout.lines().filter(|l| l.starts_with('{')).count()
}

#[test]
fn a_damaged_history_is_moved_aside_and_the_check_goes_on() {
    let ms = MailServer::start();
    let cli = setup(&ms, "storage-pw-damaged-1");
    let db = cli.data_dir().join("history.sqlite3");
    // Something wrote over the file's first page (its header among it).
    let mut bytes = std::fs::read(&db).unwrap();
    bytes[..100].copy_from_slice(&[0x5a; 100]);
    std::fs::write(&db, &bytes).unwrap();

    let r = cli.run(&["check"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("moved aside to"), "{}", r.stderr);
    println!("damaged: {}", r.stderr.trim());
    let aside: Vec<_> = std::fs::read_dir(cli.data_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.starts_with("history.sqlite3.corrupt-") && !n.contains("-wal") && !n.contains("-shm")
        })
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert!(
        r.stderr.contains(&aside[0]),
        "the message names the file: {}",
        r.stderr
    );
    assert_eq!(
        std::fs::read(cli.data_dir().join(&aside[0])).unwrap(),
        bytes,
        "the damaged file is kept as it was"
    );
    // The new history holds the check just made.
    assert_eq!(checks_kept(&cli), 1);
}

#[test]
fn a_locked_history_leaves_the_check_its_answer_and_names_the_file() {
    let ms = MailServer::start();
    let cli = setup(&ms, "storage-pw-locked-1");
    let db = cli.data_dir().join("history.sqlite3");
    // Another program holds the database's write lock (and keeps it).
    let mut holder = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys, time\n\
             c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
             c.execute('BEGIN EXCLUSIVE')\n\
             print('locked', flush=True)\n\
             time.sleep(60)\n",
        ])
        .arg(&db)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked");
    let r = cli.run(&["check"]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(r.code, 0, "the check still answers: {r:?}");
    println!("locked: {}", r.stderr.trim());
    assert!(r.stdout.contains("OK"), "{}", r.stdout);
    assert!(
        r.stderr.contains(&db.display().to_string()) && r.stderr.contains("locked"),
        "{}",
        r.stderr
    );
    // Nothing kept is lost; the next check is saved again.
    let r = cli.run(&["check"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(checks_kept(&cli), 2);
}

#[test]
fn a_full_disk_loses_nothing_kept_and_names_the_file() {
    let ms = MailServer::start();
    let cli = setup(&ms, "storage-pw-full-1");
    let root = cli.root().to_path_buf();
    let full = root.join("full");
    std::fs::create_dir_all(&full).unwrap();
    // In a private mount namespace: a 2 MB file system holding a copy of the config and the
    // data directory, filled up; a check and a config change on it; then room again.
    let script = r#"
set -u
full=$1; bin=$2; config=$3; data=$4; out=$5
mount -t tmpfs -o size=2m tmpfs "$full" || exit 90
mkdir -p "$full/config"
cp "$config" "$full/config/config.toml" && cp -a "$data" "$full/data" || exit 91
dd if=/dev/zero of="$full/filler" bs=4k 2>/dev/null
cp "$full/config/config.toml" "$out/config.before"
"$bin" --config "$full/config/config.toml" --data-dir "$full/data" check >"$out/check.out" 2>"$out/check.err"
echo $? >"$out/check.code"
"$bin" --config "$full/config/config.toml" --data-dir "$full/data" mailbox add second \
  --address second@example.test --imap localhost:1 --smtp localhost:1 --password-env OFFICE_PW \
  >"$out/add.out" 2>"$out/add.err"
echo $? >"$out/add.code"
cp "$full/config/config.toml" "$out/config.after"
rm -f "$full/filler"
"$bin" --config "$full/config/config.toml" --data-dir "$full/data" history --json --since 1d \
  >"$out/history.out" 2>"$out/history.err"
"#;
    let status = Command::new("unshare")
        .args(["--mount", "sh", "-c", script, "sh"])
        .arg(&full)
        .arg(BIN)
        .arg(cli.config_path())
        .arg(cli.data_dir())
        .arg(&root)
        .env("OFFICE_PW", "storage-pw-full-1")
        .status()
        .expect("unshare (util-linux)");
    assert!(status.success(), "{status:?}");
    let read = |name: &str| std::fs::read_to_string(root.join(name)).unwrap_or_default();
    // The check answers, and says it could not be saved, naming the file.
    assert_eq!(read("check.code").trim(), "0", "{}", read("check.err"));
    assert!(read("check.out").contains("OK"), "{}", read("check.out"));
    let err = read("check.err");
    println!("full disk, check: {}", err.trim());
    println!("full disk, mailbox add: {}", read("add.err").trim());
    assert!(
        err.contains("history.sqlite3") && err.contains("the disk is full"),
        "check on a full disk: {err}"
    );
    // The config change is refused, naming the file, and the config is as it was.
    assert_ne!(read("add.code").trim(), "0", "{}", read("add.out"));
    assert!(
        read("add.err").contains("config.toml"),
        "{}",
        read("add.err")
    );
    assert_eq!(read("config.after"), read("config.before"));
    // Room again: the first check, made before the disk filled, is still there.
    let kept = read("history.out");
    assert!(
        kept.lines().filter(|l| l.starts_with('{')).count() >= 1,
        "history after the disk filled: {kept} {}",
        read("history.err")
    );
}
