//! The command-line contract without a mail server: arguments, config errors, exit codes.

use mailcanary_tests::Cli;

const BIN: &str = env!("CARGO_BIN_EXE_mailcanary");

fn add(cli: &Cli, name: &str) -> mailcanary_tests::Run {
    cli.run(&[
        "mailbox",
        "add",
        name,
        "--address",
        "info@example.jp",
        "--imap",
        "imap.example.jp",
        "--smtp",
        "smtp.example.jp:465",
        "--password-env",
        "OFFICE_PW",
    ])
}

#[test]
fn usage_errors_exit_3() {
    let cli = Cli::new(BIN);
    for args in [
        vec!["frobnicate"],
        vec!["check", "--timeout", "0"],
        vec![
            "mailbox",
            "add",
            "x",
            "--address",
            "a@b.jp",
            "--imap",
            "i",
            "--smtp",
            "s",
        ],
        vec![
            "mailbox",
            "add",
            "x",
            "--address",
            "a@b.jp",
            "--imap",
            "i",
            "--smtp",
            "s",
            "--password-env",
            "A",
            "--password-command",
            "b",
        ],
        vec!["--lang", "de", "mailbox", "list"],
    ] {
        let r = cli.run(&args);
        assert_eq!(r.code, 3, "{args:?}: {r:?}");
    }
    assert_eq!(cli.run(&["--help"]).code, 0);
}

#[test]
fn mailbox_add_list_show_remove() {
    let cli = Cli::new(BIN);
    let r = add(&cli, "office");
    assert_eq!(r.code, 0, "{r:?}");
    let r = add(&cli, "office");
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("exists already"), "{}", r.stderr);

    let list = cli.run(&["mailbox", "list", "--json"]);
    let rows = list.json_lines();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["imap"]["port"], 993);
    assert_eq!(rows[0]["imap"]["security"], "tls");
    assert_eq!(rows[0]["smtp"]["port"], 465);
    assert_eq!(rows[0]["smtp"]["security"], "tls");
    assert_eq!(rows[0]["password_source"], "env");

    let show = cli.run(&["mailbox", "show", "office"]);
    assert!(
        show.stdout.contains("smtp.example.jp:465 (tls)"),
        "{show:?}"
    );
    assert!(show.stdout.contains("last check: never"), "{show:?}");

    assert_eq!(cli.run(&["mailbox", "show", "nope"]).code, 3);
    assert_eq!(cli.run(&["check", "nope"]).code, 3);
    assert_eq!(cli.run(&["mailbox", "remove", "office"]).code, 0);
    assert_eq!(cli.run(&["mailbox", "remove", "office"]).code, 3);
    let r = cli.run(&["check"]);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("no mailboxes configured"), "{}", r.stderr);
}

#[test]
fn bad_input_is_refused_with_the_field_named() {
    let cli = Cli::new(BIN);
    let cases: &[(&[&str], &str)] = &[
        (&["--address", "not-an-address"], "field `address`"),
        (&["--imap", "imap.example.jp:99999"], "field `imap`"),
        (&["--smtp-security", "maybe"], "field `smtp_security`"),
        (&["--ca-file", "/nonexistent/ca.pem"], "/nonexistent/ca.pem"),
    ];
    for (change, want) in cases {
        let mut args: Vec<&str> = vec![
            "mailbox",
            "add",
            "office",
            "--address",
            "info@example.jp",
            "--imap",
            "imap.example.jp",
            "--smtp",
            "smtp.example.jp",
            "--password-env",
            "PW",
        ];
        // Later options override earlier ones in clap only for flags; replace in place.
        let mut i = 0;
        while i < change.len() {
            if let Some(pos) = args.iter().position(|a| *a == change[i]) {
                args[pos + 1] = change[i + 1];
            } else {
                args.push(change[i]);
                args.push(change[i + 1]);
            }
            i += 2;
        }
        let r = cli.run(&args);
        assert_eq!(r.code, 3, "{args:?}: {r:?}");
        assert!(r.stderr.contains(want), "want {want:?}: {}", r.stderr);
    }
    let bad_name = cli.run(&[
        "mailbox",
        "add",
        "my office",
        "--address",
        "info@example.jp",
        "--imap",
        "i.jp",
        "--smtp",
        "s.jp",
        "--password-env",
        "PW",
    ]);
    assert_eq!(bad_name.code, 3);
}

#[test]
fn a_plaintext_password_in_the_config_is_refused_with_advice() {
    let cli = Cli::new(BIN);
    std::fs::create_dir_all(cli.config_path().parent().unwrap()).unwrap();
    std::fs::write(
        cli.config_path(),
        "[mailboxes.office]\naddress = \"info@example.jp\"\nimap = \"imap.example.jp\"\n\
         smtp = \"smtp.example.jp\"\npassword = \"Hunter2-Secret\"\n",
    )
    .unwrap();
    for args in [vec!["check"], vec!["mailbox", "list"]] {
        let r = cli.run(&args);
        assert_eq!(r.code, 3, "{r:?}");
        assert!(
            r.stderr.contains("config.toml"),
            "names the file: {}",
            r.stderr
        );
        assert!(r.stderr.contains("field `password`"), "{}", r.stderr);
        assert!(r.stderr.contains("--password-stdin"), "{}", r.stderr);
        assert!(!r.stderr.contains("Hunter2-Secret"), "{}", r.stderr);
    }
}

#[test]
fn unknown_config_fields_and_wrong_types_name_the_field() {
    let cli = Cli::new(BIN);
    std::fs::create_dir_all(cli.config_path().parent().unwrap()).unwrap();
    std::fs::write(
        cli.config_path(),
        "[mailboxes.office]\naddress = \"info@example.jp\"\nimap = \"imap.example.jp\"\n\
         smtp = \"smtp.example.jp\"\npassword_env = \"PW\"\nlate_after_secs = \"soon\"\n",
    )
    .unwrap();
    let r = cli.run(&["mailbox", "list"]);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("mailbox \"office\""), "{}", r.stderr);
    assert!(r.stderr.contains("invalid type"), "{}", r.stderr);
}

#[test]
fn unreadable_config_files_are_named_and_left_alone() {
    let cli = Cli::new(BIN);
    let config = cli.config_path();
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    // Not text (a file copied over it, say), then not a file at all (a directory).
    let binary = [0xff_u8, 0xfe, 0x00, 0x5b, 0x6d, 0x61, 0x69, 0x6c];
    std::fs::write(&config, binary).unwrap();
    let r = cli.run(&["mailbox", "list"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains(&config.display().to_string()),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
    let r = cli.run(&[
        "mailbox",
        "add",
        "office",
        "--address",
        "a@example.jp",
        "--imap",
        "imap.example.jp",
        "--smtp",
        "smtp.example.jp",
        "--password-env",
        "PW",
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("config file"), "{}", r.stderr);
    assert_eq!(std::fs::read(&config).unwrap(), binary, "left as it was");
    std::fs::remove_file(&config).unwrap();
    std::fs::create_dir(&config).unwrap();
    let r = cli.run(&["check"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains(&config.display().to_string()),
        "{}",
        r.stderr
    );
    println!("unreadable config: {}", r.stderr.trim());
}
