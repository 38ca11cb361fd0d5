//! Reading and editing the config file. Edits keep the user's comments and layout (toml_edit)
//! and replace the file atomically.

use std::path::{Path, PathBuf};

use mailcanary_core::config::{Config, ConfigError, MailboxConfig, MailboxName};

/// Config file errors; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// The file cannot be read or written.
    #[error("config file {path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Error.
        source: std::io::Error,
    },
    /// The file's content is invalid.
    #[error("config file {path}: {source}")]
    Invalid {
        /// File.
        path: PathBuf,
        /// Error.
        source: ConfigError,
    },
    /// A mailbox with that name exists already.
    #[error(
        "config file {path}: mailbox \"{name}\" exists already; remove it first or pick another name"
    )]
    Exists {
        /// File.
        path: PathBuf,
        /// Name.
        name: String,
    },
    /// No mailbox with that name.
    #[error("config file {path}: no mailbox \"{name}\"")]
    NoSuchMailbox {
        /// File.
        path: PathBuf,
        /// Name.
        name: String,
    },
}

fn read_text(path: &Path) -> Result<String, ConfigFileError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(source) => Err(ConfigFileError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Loads and validates the config; a missing file is an empty config.
pub fn load(path: &Path) -> Result<Config, ConfigFileError> {
    Config::parse(&read_text(path)?).map_err(|source| ConfigFileError::Invalid {
        path: path.to_path_buf(),
        source,
    })
}

/// Replaces the file's content all at once: a new file beside it, flushed to disk, given the
/// old file's permissions, then renamed over it (through a symlink, to its target).
fn write_atomically(path: &Path, text: &str) -> Result<(), ConfigFileError> {
    use std::io::Write;
    let io = |source| ConfigFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    let tmp = target.with_file_name(format!(
        ".{}.{}.{nanos}.tmp",
        target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        if let Ok(meta) = std::fs::metadata(&target) {
            f.set_permissions(meta.permissions())?;
        }
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &target)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

fn not_sections(path: &Path) -> ConfigFileError {
    ConfigFileError::Invalid {
        path: path.to_path_buf(),
        source: ConfigError::Global {
            field: "mailboxes".into(),
            message: "is written as an inline table; write one [mailboxes.NAME] section per \
                      mailbox so that mailcanary can edit the file"
                .into(),
        },
    }
}

const HEADER: &str = "# Mail Canary configuration. Passwords are never kept here: they live in the OS\n\
# keyring, or come from password_command / password_env.\n";

/// The file's text as a document to edit (an empty one for a new file).
fn document(text: &str) -> toml_edit::DocumentMut {
    if text.trim().is_empty() {
        toml_edit::DocumentMut::new()
    } else {
        text.parse().expect("validated before")
    }
}

/// A new top-level key is written above every section, so above the comment that opens the
/// file (kept with the first section): that comment moves up onto the key.
fn lift_leading_comment(doc: &mut toml_edit::DocumentMut, key: &str) {
    let first = doc
        .as_table()
        .iter()
        .filter_map(|(k, item)| item.as_table().map(|t| (t.position(), k.to_string())))
        .min()
        .map(|(_, k)| k);
    let Some(first) = first else { return };
    let Some(table) = doc.get_mut(&first).and_then(|i| i.as_table_mut()) else {
        return;
    };
    let prefix = table
        .decor()
        .prefix()
        .and_then(|p| p.as_str())
        .unwrap_or("")
        .to_string();
    if !prefix.trim_start().starts_with('#') {
        return;
    }
    table.decor_mut().set_prefix("\n");
    if let Some(mut k) = doc.as_table_mut().key_mut(key) {
        k.leaf_decor_mut().set_prefix(prefix.trim_start());
    }
}

/// The edited document's text; a new file starts with the header.
fn with_header(old_text: &str, doc: &toml_edit::DocumentMut) -> String {
    if old_text.trim().is_empty() {
        format!("{HEADER}\n{doc}")
    } else {
        doc.to_string()
    }
}

/// Adds a mailbox (validated) to the config file.
pub fn add_mailbox(path: &Path, mb: &MailboxConfig) -> Result<(), ConfigFileError> {
    let text = read_text(path)?;
    // Validate what is there first: never rewrite a file we do not understand.
    let current = Config::parse(&text).map_err(|source| ConfigFileError::Invalid {
        path: path.to_path_buf(),
        source,
    })?;
    if current.mailboxes.contains_key(&mb.name) {
        return Err(ConfigFileError::Exists {
            path: path.to_path_buf(),
            name: mb.name.to_string(),
        });
    }
    let mut doc = document(&text);
    let raw = toml::to_string(&mb.to_raw()).expect("a mailbox serialises");
    let table_doc: toml_edit::DocumentMut = raw.parse().expect("serialised TOML parses");
    let mailboxes = doc
        .entry("mailboxes")
        .or_insert_with(|| {
            let mut t = toml_edit::Table::new();
            t.set_implicit(true);
            toml_edit::Item::Table(t)
        })
        .as_table_mut()
        .ok_or_else(|| not_sections(path))?;
    mailboxes.insert(
        mb.name.as_str(),
        toml_edit::Item::Table(table_doc.as_table().clone()),
    );
    let new_text = with_header(&text, &doc);
    // The result must load back to the same mailbox.
    let check = Config::parse(&new_text).map_err(|source| ConfigFileError::Invalid {
        path: path.to_path_buf(),
        source,
    })?;
    debug_assert_eq!(check.mailboxes.get(&mb.name), Some(mb));
    write_atomically(path, &new_text)
}

/// A new value for one setting.
#[derive(Debug, Clone, PartialEq)]
pub enum Setting {
    /// A string.
    Text(String),
    /// A switch.
    Bool(bool),
    /// The line is removed (the default applies).
    Remove,
}

/// Sets settings, each a key at the top of the file (`section` None) or in a `[section]`,
/// keeping everything else as the user wrote it. The result is validated before the file is
/// replaced; an invalid result leaves the file alone and names the field.
pub fn set(
    path: &Path,
    edits: &[(Option<&str>, &str, Setting)],
) -> Result<Config, ConfigFileError> {
    let text = read_text(path)?;
    let invalid = |source| ConfigFileError::Invalid {
        path: path.to_path_buf(),
        source,
    };
    Config::parse(&text).map_err(invalid)?;
    let mut doc = document(&text);
    for (section, key, value) in edits {
        let table = match section {
            None => doc.as_table_mut(),
            Some(name) => {
                let item = doc
                    .entry(name)
                    .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()));
                match item.as_table_mut() {
                    Some(t) => t,
                    None => {
                        return Err(invalid(ConfigError::Global {
                            field: (*name).to_string(),
                            message: "is not written as a [section]; write it as one so that \
                                      Mail Canary can edit the file"
                                .into(),
                        }));
                    }
                }
            }
        };
        let v = match value {
            Setting::Text(t) => toml_edit::value(t.as_str()),
            Setting::Bool(b) => toml_edit::value(*b),
            Setting::Remove => {
                table.remove(key);
                continue;
            }
        };
        let new_key = !table.contains_key(key);
        table.insert(key, v);
        if section.is_none() && new_key {
            lift_leading_comment(&mut doc, key);
        }
    }
    let new_text = with_header(&text, &doc);
    let config = Config::parse(&new_text).map_err(invalid)?;
    write_atomically(path, &new_text)?;
    Ok(config)
}

/// Removes a mailbox from the config file; returns its config.
pub fn remove_mailbox(path: &Path, name: &MailboxName) -> Result<MailboxConfig, ConfigFileError> {
    let text = read_text(path)?;
    let current = Config::parse(&text).map_err(|source| ConfigFileError::Invalid {
        path: path.to_path_buf(),
        source,
    })?;
    let Some(mb) = current.mailboxes.get(name).cloned() else {
        return Err(ConfigFileError::NoSuchMailbox {
            path: path.to_path_buf(),
            name: name.to_string(),
        });
    };
    let mut doc: toml_edit::DocumentMut = text.parse().expect("validated above");
    if let Some(t) = doc.get_mut("mailboxes").and_then(|m| m.as_table_like_mut()) {
        t.remove(name.as_str());
    }
    let new_text = doc.to_string();
    // Write only what really no longer has the mailbox.
    let after = Config::parse(&new_text).map_err(|source| ConfigFileError::Invalid {
        path: path.to_path_buf(),
        source,
    })?;
    if after.mailboxes.contains_key(name) {
        return Err(not_sections(path));
    }
    write_atomically(path, &new_text)?;
    Ok(mb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailcanary_core::config::RawMailbox;

    #[test]
    fn add_keeps_comments_and_remove_works() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "# my notes\nlang = \"ja\"\n").unwrap();
        let raw = RawMailbox {
            address: "info@example.jp".into(),
            imap: "imap.example.jp".into(),
            smtp: "smtp.example.jp".into(),
            password_env: Some("OFFICE_PW".into()),
            ..Default::default()
        };
        let mb = raw.resolve("office").unwrap();
        add_mailbox(&path, &mb).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# my notes\n"), "{text}");
        assert!(text.contains("[mailboxes.office]"), "{text}");
        assert_eq!(load(&path).unwrap().mailboxes.len(), 1);
        assert!(matches!(
            add_mailbox(&path, &mb),
            Err(ConfigFileError::Exists { .. })
        ));
        remove_mailbox(&path, &mb.name).unwrap();
        assert!(load(&path).unwrap().mailboxes.is_empty());
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("# my notes")
        );
    }
    #[test]
    fn inline_tables_are_refused_not_mangled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let text = "mailboxes = { office = { address = \"info@example.jp\", imap = \"i.example.jp\", \
                    smtp = \"s.example.jp\", password_env = \"PW\" } }\n";
        std::fs::write(&path, text).unwrap();
        let office = load(&path).unwrap().mailboxes.into_values().next().unwrap();
        let mut other = office.clone();
        other.name = MailboxName::new("other").unwrap();
        assert!(
            add_mailbox(&path, &other)
                .unwrap_err()
                .to_string()
                .contains("inline table")
        );
        // Removing from an inline table works, and the file really changes.
        remove_mailbox(&path, &office.name).unwrap();
        assert!(load(&path).unwrap().mailboxes.is_empty());
    }

    #[test]
    fn a_new_file_starts_with_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        set(
            &path,
            &[(Some("monitor"), "interval", Setting::Text("10m".into()))],
        )
        .unwrap();
        set(&path, &[(None, "lang", Setting::Text("en".into()))]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# Mail Canary configuration"), "{text}");
        assert_eq!(
            text.matches("# Mail Canary configuration").count(),
            1,
            "{text}"
        );
        assert_eq!(load(&path).unwrap().monitor.interval_ms(), 600_000);
    }

    #[test]
    fn settings_are_set_validated_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "# kept\n[runbook]\ncontact = \"Sato 090\"\n").unwrap();
        let c = set(
            &path,
            &[
                (Some("monitor"), "interval", Setting::Text("10m".into())),
                (None, "lang", Setting::Text("ja".into())),
                (Some("alerts"), "notify", Setting::Bool(true)),
                (
                    Some("runbook"),
                    "webmail",
                    Setting::Text("https://mail.example.jp".into()),
                ),
            ],
        )
        .unwrap();
        assert_eq!(c.monitor.interval_ms(), 600_000);
        assert_eq!(c.runbook.contact.as_deref(), Some("Sato 090"));
        assert_eq!(c.alerts.notify, Some(true));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("# kept\n[runbook]\ncontact = \"Sato 090\""),
            "{text}"
        );
        // A top-level key stays above the sections, so it is not read as part of one.
        assert_eq!(load(&path).unwrap().lang, Some(mailcanary_core::Lang::Ja));
        // An invalid value is refused with its field, and the file is left as it was.
        let err = set(
            &path,
            &[(Some("monitor"), "interval", Setting::Text("5s".into()))],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("monitor.interval"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        let c = set(&path, &[(Some("monitor"), "interval", Setting::Remove)]).unwrap();
        assert_eq!(c.monitor.interval_ms(), 300_000);
    }

    #[cfg(unix)]
    #[test]
    fn edits_keep_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "lang = \"en\"\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let raw = RawMailbox {
            address: "info@example.jp".into(),
            imap: "imap.example.jp".into(),
            smtp: "smtp.example.jp".into(),
            password_env: Some("PW".into()),
            ..Default::default()
        };
        add_mailbox(&path, &raw.resolve("office").unwrap()).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left behind");
    }
}
