//! Attachment probes (incident 1: the firewall that ate attachments): the variants, their
//! outcomes, and the pattern they make together and over time.

use serde::{Deserialize, Serialize};

use crate::Lang;

/// One attachment variant. The files themselves are built by the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    /// A small PDF document.
    Pdf,
    /// A Word document (.docx).
    Docx,
    /// A macro-enabled Excel workbook (.xlsm) with a VBA project part (no code in it).
    Xlsm,
    /// A ZIP with a password, traditional ZipCrypto encryption.
    ZipZipcrypto,
    /// A ZIP with a password, AES encryption.
    ZipAes,
    /// A ZIP holding a file whose name looks like a program (`.exe`).
    ZipExe,
    /// A large attachment (about 10 MB).
    Large,
}

impl ProbeKind {
    /// Every variant, in the order they are sent.
    pub const ALL: &'static [ProbeKind] = &[
        ProbeKind::Pdf,
        ProbeKind::Docx,
        ProbeKind::Xlsm,
        ProbeKind::ZipZipcrypto,
        ProbeKind::ZipAes,
        ProbeKind::ZipExe,
        ProbeKind::Large,
    ];

    /// snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Pdf => "pdf",
            ProbeKind::Docx => "docx",
            ProbeKind::Xlsm => "xlsm",
            ProbeKind::ZipZipcrypto => "zip_zipcrypto",
            ProbeKind::ZipAes => "zip_aes",
            ProbeKind::ZipExe => "zip_exe",
            ProbeKind::Large => "large",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<ProbeKind> {
        ProbeKind::ALL.iter().copied().find(|k| k.as_str() == s)
    }

    /// What people call such a file, plural.
    pub fn human(self, lang: Lang) -> &'static str {
        match (lang, self) {
            (Lang::En, ProbeKind::Pdf) => "PDF files",
            (Lang::En, ProbeKind::Docx) => "Word documents",
            (Lang::En, ProbeKind::Xlsm) => "macro-enabled Excel files",
            (Lang::En, ProbeKind::ZipZipcrypto) => "password-protected ZIP files",
            (Lang::En, ProbeKind::ZipAes) => "password-protected ZIP files (AES)",
            (Lang::En, ProbeKind::ZipExe) => "ZIP files containing programs",
            (Lang::En, ProbeKind::Large) => "large attachments (10 MB)",
            (Lang::Ja, ProbeKind::Pdf) => "PDF ファイル",
            (Lang::Ja, ProbeKind::Docx) => "Word 文書",
            (Lang::Ja, ProbeKind::Xlsm) => "マクロ付き Excel ファイル",
            (Lang::Ja, ProbeKind::ZipZipcrypto) => "パスワード付き ZIP ファイル",
            (Lang::Ja, ProbeKind::ZipAes) => "パスワード付き ZIP ファイル（AES）",
            (Lang::Ja, ProbeKind::ZipExe) => "プログラム入りの ZIP ファイル",
            (Lang::Ja, ProbeKind::Large) => "大きな添付ファイル（10 MB）",
        }
    }
}

/// What became of one variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeOutcome {
    /// Arrived in INBOX, intact.
    Delivered,
    /// Arrived in the junk folder, intact.
    Junk,
    /// Never arrived (or the submission was refused).
    Lost,
    /// Arrived with its attachment removed or changed.
    Altered,
    /// The connection broke while it was being downloaded.
    Interrupted,
}

impl ProbeOutcome {
    /// Lost, altered or interrupted.
    pub fn failed(self) -> bool {
        matches!(
            self,
            ProbeOutcome::Lost | ProbeOutcome::Altered | ProbeOutcome::Interrupted
        )
    }
}

/// One variant's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// The variant.
    pub variant: ProbeKind,
    /// Its outcome.
    pub outcome: ProbeOutcome,
    /// Where it was found, decoded.
    pub folder: Option<String>,
    /// From the end of its submission until it was seen.
    pub latency_ms: Option<u64>,
    /// What happened, for the expert.
    #[serde(default)]
    pub evidence: String,
}

/// How one variant fared over recent checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTally {
    /// The variant.
    pub variant: ProbeKind,
    /// Checks where it failed.
    pub failed: u32,
    /// Checks where it was sent.
    pub total: u32,
    /// The earliest of those checks, Unix ms.
    pub since_ms: u64,
}

/// Tallies probe results over past reports' `probes` lists (each report a list of results with
/// its start time), oldest first or in any order.
pub fn tally<'a>(history: impl IntoIterator<Item = (u64, &'a [ProbeResult])>) -> Vec<ProbeTally> {
    let mut out: Vec<ProbeTally> = Vec::new();
    for (at, probes) in history {
        for p in probes {
            let t = match out.iter_mut().find(|t| t.variant == p.variant) {
                Some(t) => t,
                None => {
                    out.push(ProbeTally {
                        variant: p.variant,
                        failed: 0,
                        total: 0,
                        since_ms: at,
                    });
                    out.last_mut().expect("just pushed")
                }
            };
            t.total += 1;
            t.failed += u32::from(p.outcome.failed());
            t.since_ms = t.since_ms.min(at);
        }
    }
    out
}

/// "A, B or C" / "A・B・C".
pub fn join_human(kinds: &[ProbeKind], lang: Lang) -> String {
    let names: Vec<&str> = kinds.iter().map(|k| k.human(lang)).collect();
    match lang {
        Lang::Ja => names.join("・"),
        Lang::En => match names.len() {
            0 => String::new(),
            1 => names[0].to_string(),
            n => format!("{} or {}", names[..n - 1].join(", "), names[n - 1]),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(variant: ProbeKind, outcome: ProbeOutcome) -> ProbeResult {
        ProbeResult {
            variant,
            outcome,
            folder: None,
            latency_ms: None,
            evidence: String::new(),
        }
    }

    #[test]
    fn names_round_trip_and_join() {
        for k in ProbeKind::ALL {
            assert_eq!(ProbeKind::parse(k.as_str()), Some(*k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        let ks = [ProbeKind::ZipZipcrypto, ProbeKind::Xlsm];
        assert_eq!(
            join_human(&ks, Lang::En),
            "password-protected ZIP files or macro-enabled Excel files"
        );
        assert_eq!(
            join_human(&ks, Lang::Ja),
            "パスワード付き ZIP ファイル・マクロ付き Excel ファイル"
        );
    }

    #[test]
    fn tallies_over_checks() {
        let a = [
            r(ProbeKind::ZipAes, ProbeOutcome::Lost),
            r(ProbeKind::Pdf, ProbeOutcome::Delivered),
        ];
        let b = [
            r(ProbeKind::ZipAes, ProbeOutcome::Interrupted),
            r(ProbeKind::Pdf, ProbeOutcome::Junk),
        ];
        let c = [r(ProbeKind::ZipAes, ProbeOutcome::Delivered)];
        let t = tally([(300, &c[..]), (100, &a[..]), (200, &b[..])]);
        let zip = t.iter().find(|t| t.variant == ProbeKind::ZipAes).unwrap();
        assert_eq!((zip.failed, zip.total, zip.since_ms), (2, 3, 100));
        let pdf = t.iter().find(|t| t.variant == ProbeKind::Pdf).unwrap();
        assert_eq!((pdf.failed, pdf.total), (0, 2));
    }
}
