//! The languages Mail Canary speaks to office staff.

use serde::{Deserialize, Serialize};

/// A language for summaries, actions and canary subjects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Japanese.
    Ja,
    /// English.
    #[default]
    En,
}

impl Lang {
    /// `ja` or `en`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    /// Parses `ja` / `en` (case-insensitive); anything else is `None`.
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ja" | "jp" | "japanese" => Some(Lang::Ja),
            "en" | "english" => Some(Lang::En),
            _ => None,
        }
    }

    /// Picks a language from POSIX locale values (`LC_ALL`, `LC_MESSAGES`, `LANG`, in that order
    /// of precedence): Japanese for `ja*`, English otherwise.
    pub fn from_locale<'a>(values: impl IntoIterator<Item = Option<&'a str>>) -> Lang {
        for v in values.into_iter().flatten() {
            if v.is_empty() {
                continue;
            }
            return if v.to_ascii_lowercase().starts_with("ja") {
                Lang::Ja
            } else {
                Lang::En
            };
        }
        Lang::En
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locale_precedence() {
        assert_eq!(
            Lang::from_locale([None, Some(""), Some("ja_JP.UTF-8")]),
            Lang::Ja
        );
        assert_eq!(
            Lang::from_locale([Some("C.UTF-8"), Some("ja_JP.UTF-8")]),
            Lang::En
        );
        assert_eq!(Lang::from_locale([None, None, None]), Lang::En);
        assert_eq!(Lang::parse("JA"), Some(Lang::Ja));
        assert_eq!(Lang::parse("de"), None);
    }
}
