//! Canary messages: how one is composed and how one is recognised.
//!
//! A canary carries the header `X-Mail-Canary: v=1; id=…; t=…; h=…; mac=…`, where `h` is the
//! SHA-256 of the decoded body and `mac` an HMAC-SHA256, keyed by the per-install secret, over
//! the version, id, time, the mailbox address and `h`. Only a message whose MAC verifies for this
//! mailbox is a canary; a subject line or a header without a valid MAC proves nothing. Canaries
//! of another install (other key) or of another mailbox (other address) do not verify.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::Lang;

type HmacSha256 = Hmac<Sha256>;

/// The header that marks a canary.
pub const HEADER_NAME: &str = "X-Mail-Canary";

/// The per-install secret that keys canary MACs.
#[derive(Clone)]
pub struct CanaryKey([u8; 32]);

impl CanaryKey {
    /// Wraps 32 secret bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> CanaryKey {
        CanaryKey(bytes)
    }

    /// Parses the key from its stored form (base64 of 32 bytes).
    pub fn decode(text: &str) -> Option<CanaryKey> {
        let bytes = STANDARD.decode(text.trim()).ok()?;
        Some(CanaryKey(bytes.try_into().ok()?))
    }

    /// The stored form (base64).
    pub fn encode(&self) -> String {
        STANDARD.encode(self.0)
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length")
    }
}

impl std::fmt::Debug for CanaryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CanaryKey(<redacted>)")
    }
}

/// A canary's identifier: 10 to 40 ASCII letters and digits (the engine uses ULIDs).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct CanaryId(String);

impl CanaryId {
    /// Validates an id.
    pub fn new(s: &str) -> Option<CanaryId> {
        (10..=40)
            .contains(&s.len())
            .then_some(())
            .filter(|_| s.bytes().all(|b| b.is_ascii_alphanumeric()))
            .map(|_| CanaryId(s.to_string()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What an attachment canary carries: the kind of file and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentStamp {
    /// The probe variant (`pdf`, `xlsm`, …): lower-case letters, digits and `_`.
    pub kind: String,
    /// SHA-256 of the attachment's decoded bytes.
    pub hash: [u8; 32],
}

/// A file attached to a canary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The probe variant.
    pub kind: String,
    /// File name shown to mail programs.
    pub filename: String,
    /// MIME type.
    pub content_type: String,
    /// The file.
    pub bytes: Vec<u8>,
}

fn valid_kind(k: &str) -> bool {
    (1..=24).contains(&k.len())
        && k.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The fields of a parsed `X-Mail-Canary` header (not yet verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanaryHeader {
    /// Canary id.
    pub id: CanaryId,
    /// When it was composed, Unix seconds.
    pub sent_at: u64,
    /// SHA-256 of the decoded text body.
    pub body_hash: [u8; 32],
    /// The attachment, for attachment canaries.
    pub attachment: Option<AttachmentStamp>,
    mac: Vec<u8>,
}

fn mac_input(
    id: &CanaryId,
    sent_at: u64,
    address: &str,
    body_hash: &[u8; 32],
    attachment: Option<&AttachmentStamp>,
) -> String {
    let mut s = format!(
        "mail-canary v1|{}|{}|{}|{}",
        id.as_str(),
        sent_at,
        address.to_ascii_lowercase(),
        hex(body_hash)
    );
    if let Some(a) = attachment {
        s.push_str(&format!("|{}|{}", a.kind, hex(&a.hash)));
    }
    s
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

impl CanaryHeader {
    /// Builds the header for a new canary.
    pub fn new(
        key: &CanaryKey,
        id: CanaryId,
        sent_at: u64,
        address: &str,
        body_hash: [u8; 32],
        attachment: Option<AttachmentStamp>,
    ) -> CanaryHeader {
        let mut mac = key.mac();
        mac.update(mac_input(&id, sent_at, address, &body_hash, attachment.as_ref()).as_bytes());
        CanaryHeader {
            id,
            sent_at,
            body_hash,
            attachment,
            mac: mac.finalize().into_bytes().to_vec(),
        }
    }

    /// The header's value.
    pub fn value(&self) -> String {
        let attachment = self
            .attachment
            .as_ref()
            .map(|a| format!(" k={}; a={};", a.kind, hex(&a.hash)))
            .unwrap_or_default();
        format!(
            "v=1; id={}; t={}; h={};{attachment} mac={}",
            self.id.as_str(),
            self.sent_at,
            hex(&self.body_hash),
            URL_SAFE_NO_PAD.encode(&self.mac)
        )
    }

    /// Parses a header value; `None` if it is not a well-formed version-1 canary header.
    pub fn parse(value: &str) -> Option<CanaryHeader> {
        let (mut v, mut id, mut t, mut h, mut mac) = (None, None, None, None, None);
        let (mut k, mut a) = (None, None);
        for part in value.split(';') {
            if part.trim().is_empty() {
                continue;
            }
            let (key, val) = part.trim().split_once('=')?;
            let slot = match key.trim() {
                "v" => &mut v,
                "id" => &mut id,
                "t" => &mut t,
                "h" => &mut h,
                "k" => &mut k,
                "a" => &mut a,
                "mac" => &mut mac,
                _ => continue,
            };
            if slot.replace(val.trim()).is_some() {
                return None; // a repeated field is not ours
            }
        }
        if v? != "1" {
            return None;
        }
        let attachment = match (k, a) {
            (None, None) => None,
            (Some(k), Some(a)) if valid_kind(k) => Some(AttachmentStamp {
                kind: k.to_string(),
                hash: unhex32(a)?,
            }),
            _ => return None,
        };
        Some(CanaryHeader {
            id: CanaryId::new(id?)?,
            sent_at: t?.parse().ok()?,
            body_hash: unhex32(h?)?,
            attachment,
            mac: URL_SAFE_NO_PAD
                .decode(mac?)
                .ok()
                .filter(|m| m.len() == 32)?,
        })
    }

    /// True when the MAC proves this install composed it for `address`.
    pub fn verify(&self, key: &CanaryKey, address: &str) -> bool {
        let mut mac = key.mac();
        mac.update(
            mac_input(
                &self.id,
                self.sent_at,
                address,
                &self.body_hash,
                self.attachment.as_ref(),
            )
            .as_bytes(),
        );
        mac.verify_slice(&self.mac).is_ok()
    }
}

/// What the engine supplies to compose a canary.
#[derive(Debug, Clone)]
pub struct CanaryParams<'a> {
    /// The id (random, from the engine).
    pub id: CanaryId,
    /// Now, Unix seconds.
    pub now: u64,
    /// The mailbox address (sender and recipient).
    pub address: &'a str,
    /// The mailbox's name, shown in the body.
    pub mailbox_name: &'a str,
    /// Language of subject and body.
    pub lang: Lang,
    /// A file to attach (attachment probes), or none.
    pub attachment: Option<&'a Attachment>,
}

/// The subject line of a canary, in the office's language.
pub fn subject(lang: Lang) -> &'static str {
    match lang {
        Lang::Ja => "【Mail Canary】自動テストメールです（無視して構いません）",
        Lang::En => "[Mail Canary] Automatic test message - safe to ignore",
    }
}

fn body_text(p: &CanaryParams<'_>) -> String {
    match p.lang {
        Lang::Ja => format!(
            "これは Mail Canary が送った自動テストメールです。\r\n\
             メールボックス「{}」が送受信できることを確かめるためのもので、\r\n\
             確認が済むと自動で削除されます。開いたり消したりしても問題ありません。\r\n\
             \r\n\
             This is an automatic test message from Mail Canary; it is safe to ignore.\r\n\
             ID: {}\r\n",
            p.mailbox_name,
            p.id.as_str()
        ),
        Lang::En => format!(
            "This is an automatic test message from Mail Canary.\r\n\
             It checks that the mailbox \"{}\" can send and receive mail, and it is\r\n\
             removed automatically once checked. It is safe to ignore or delete.\r\n\
             ID: {}\r\n",
            p.mailbox_name,
            p.id.as_str()
        ),
    }
}

/// RFC 2047 encoded-word (UTF-8, base64) for a header, split so each word stays short.
fn encode_word(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > 36 {
            words.push(format!("=?UTF-8?B?{}?=", STANDARD.encode(&chunk)));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", STANDARD.encode(&chunk)));
    }
    words.join("\r\n ")
}

/// The civil date (year, month, day) of a count of days since 1970-01-01
/// (Howard Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// RFC 5322 date for a Unix time, in UTC.
pub fn rfc5322_date(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let (year, month, day) = civil_from_days(days);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    format!(
        "{weekday}, {day} {mon} {year} {:02}:{:02}:{:02} +0000",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// A composed canary: the message bytes and the header it carries.
#[derive(Debug, Clone)]
pub struct ComposedCanary {
    /// The full RFC 5322 message, CRLF line endings.
    pub message: Vec<u8>,
    /// Its canary header.
    pub header: CanaryHeader,
}

fn base64_lines(bytes: &[u8]) -> Vec<String> {
    STANDARD
        .encode(bytes)
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect()
}

/// Composes a canary message from the mailbox to itself: plain text, or with an attachment
/// (multipart/mixed). Everything is base64 on the wire, so the message is 7-bit clean.
pub fn compose(key: &CanaryKey, p: &CanaryParams<'_>) -> ComposedCanary {
    let body = body_text(p);
    let body_hash: [u8; 32] = Sha256::digest(body.as_bytes()).into();
    let stamp = p.attachment.map(|a| AttachmentStamp {
        kind: a.kind.clone(),
        hash: Sha256::digest(&a.bytes).into(),
    });
    let header = CanaryHeader::new(key, p.id.clone(), p.now, p.address, body_hash, stamp);
    let mut lines: Vec<String> = vec![
        format!("From: Mail Canary <{}>", p.address),
        format!("To: <{}>", p.address),
        format!("Subject: {}", encode_word(subject(p.lang))),
        format!("Date: {}", rfc5322_date(p.now)),
        format!("Message-ID: <{}.mailcanary@canary.invalid>", p.id.as_str()),
        format!("{HEADER_NAME}: {}", header.value()),
        "Auto-Submitted: auto-generated".to_string(),
        "X-Auto-Response-Suppress: All".to_string(),
        "MIME-Version: 1.0".to_string(),
    ];
    match p.attachment {
        None => {
            lines.push("Content-Type: text/plain; charset=UTF-8".to_string());
            lines.push("Content-Transfer-Encoding: base64".to_string());
            lines.push(String::new());
            lines.extend(base64_lines(body.as_bytes()));
        }
        Some(a) => {
            let boundary = format!("=_mailcanary_{}", p.id.as_str());
            lines.push(format!(
                "Content-Type: multipart/mixed; boundary=\"{boundary}\""
            ));
            lines.push(String::new());
            lines.push(format!("--{boundary}"));
            lines.push("Content-Type: text/plain; charset=UTF-8".to_string());
            lines.push("Content-Transfer-Encoding: base64".to_string());
            lines.push(String::new());
            lines.extend(base64_lines(body.as_bytes()));
            lines.push(format!("--{boundary}"));
            lines.push(format!(
                "Content-Type: {}; name=\"{}\"",
                a.content_type, a.filename
            ));
            lines.push(format!(
                "Content-Disposition: attachment; filename=\"{}\"",
                a.filename
            ));
            lines.push("Content-Transfer-Encoding: base64".to_string());
            lines.push(String::new());
            lines.extend(base64_lines(&a.bytes));
            lines.push(format!("--{boundary}--"));
        }
    }
    let mut message = lines.join("\r\n");
    message.push_str("\r\n");
    ComposedCanary {
        message: message.into_bytes(),
        header,
    }
}

/// Splits a raw message into header block and body at the first empty line.
fn split_message(raw: &[u8]) -> (&[u8], &[u8]) {
    for i in 0..raw.len() {
        if raw[i..].starts_with(b"\r\n\r\n") {
            return (&raw[..i + 2], &raw[i + 4..]);
        }
        if raw[i..].starts_with(b"\n\n") {
            return (&raw[..i + 1], &raw[i + 2..]);
        }
    }
    (raw, &[])
}

/// The unfolded values of every header field called `name` (case-insensitive) in a header
/// block (or a whole message: parsing stops at the first empty line).
pub fn header_values(raw: &[u8], name: &str) -> Vec<String> {
    let (headers, _) = split_message(raw);
    let text = String::from_utf8_lossy(headers);
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        if line.starts_with([' ', '\t']) {
            if let Some(c) = current.as_mut() {
                c.push(' ');
                c.push_str(line.trim());
            }
            continue;
        }
        if let Some(c) = current.take() {
            out.push(c);
        }
        if let Some((k, v)) = line.split_once(':')
            && k.trim().eq_ignore_ascii_case(name)
        {
            current = Some(v.trim().to_string());
        }
    }
    out.extend(current);
    out
}

/// Finds this install's canary header for `address` in a message's headers: the first
/// `X-Mail-Canary` value that parses and verifies. Forged or foreign headers are ignored.
pub fn find_verified(raw: &[u8], key: &CanaryKey, address: &str) -> Option<CanaryHeader> {
    header_values(raw, HEADER_NAME)
        .iter()
        .filter_map(|v| CanaryHeader::parse(v))
        .find(|h| h.verify(key, address))
}

/// Whether a downloaded canary's body is the one that was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyCheck {
    /// The decoded body hashes to the value in the header.
    Intact,
    /// The body is missing, undecodable or different.
    Altered,
}

/// Checks a fully downloaded canary against its (verified) header: the text body, and the
/// attachment where there is one (missing, changed or undecodable means altered).
pub fn check_body(raw: &[u8], header: &CanaryHeader) -> BodyCheck {
    let Some(stamp) = &header.attachment else {
        let (_, body) = split_message(raw);
        let compact: Vec<u8> = body
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        return match STANDARD.decode(&compact) {
            Ok(decoded) if <[u8; 32]>::from(Sha256::digest(&decoded)) == header.body_hash => {
                BodyCheck::Intact
            }
            _ => BodyCheck::Altered,
        };
    };
    let Some(msg) = mail_parser::MessageParser::default().parse(raw) else {
        return BodyCheck::Altered;
    };
    let text_ok = msg
        .text_bodies()
        .next()
        .is_some_and(|t| <[u8; 32]>::from(Sha256::digest(t.contents())) == header.body_hash);
    let attachment_ok = msg
        .attachments()
        .any(|a| <[u8; 32]>::from(Sha256::digest(a.contents())) == stamp.hash);
    if text_ok && attachment_ok {
        BodyCheck::Intact
    } else {
        BodyCheck::Altered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> CanaryKey {
        CanaryKey::from_bytes([b; 32])
    }

    fn params(lang: Lang) -> CanaryParams<'static> {
        CanaryParams {
            id: CanaryId::new("01JD5Z3M8Q2V7K9T4R6W0X1Y2Z").unwrap(),
            now: 1_763_800_000,
            address: "info@example.jp",
            mailbox_name: "office",
            lang,
            attachment: None,
        }
    }

    #[test]
    fn composed_canary_verifies_and_survives_transport() {
        for lang in [Lang::Ja, Lang::En] {
            let c = compose(&key(7), &params(lang));
            let h = find_verified(&c.message, &key(7), "INFO@example.jp").expect("verifies");
            assert_eq!(h, c.header);
            assert_eq!(check_body(&c.message, &h), BodyCheck::Intact);
            // Servers may re-wrap lines and convert CRLF to LF.
            let lf = String::from_utf8(c.message.clone())
                .unwrap()
                .replace("\r\n", "\n");
            assert_eq!(check_body(lf.as_bytes(), &h), BodyCheck::Intact);
            assert!(c.message.is_ascii(), "7-bit clean on the wire");
        }
    }

    #[test]
    fn foreign_and_forged_headers_do_not_verify() {
        let c = compose(&key(7), &params(Lang::En));
        assert!(
            find_verified(&c.message, &key(8), "info@example.jp").is_none(),
            "other install"
        );
        assert!(
            find_verified(&c.message, &key(7), "sales@example.jp").is_none(),
            "other mailbox"
        );
        let text = String::from_utf8(c.message.clone()).unwrap();
        // A forged MAC.
        let v = c.header.value();
        let mac = v.rsplit_once("mac=").unwrap().1;
        let forged = text.replace(mac, &"A".repeat(mac.len()));
        assert!(find_verified(forged.as_bytes(), &key(7), "info@example.jp").is_none());
        // A changed time with the old MAC.
        let forged = text.replace("t=1763800000", "t=1763800001");
        assert!(find_verified(forged.as_bytes(), &key(7), "info@example.jp").is_none());
        // The same id and a well-formed header, MAC'd by another key: parses, never verifies.
        let other = CanaryHeader::new(
            &key(9),
            c.header.id.clone(),
            1_763_800_000,
            "info@example.jp",
            c.header.body_hash,
            None,
        );
        assert!(CanaryHeader::parse(&other.value()).is_some());
        let forged = text.replace(&v, &other.value());
        assert!(find_verified(forged.as_bytes(), &key(7), "info@example.jp").is_none());
        // That forged header first, the real one second: the real one is found.
        let both = text.replacen(
            "X-Mail-Canary:",
            &format!("X-Mail-Canary: {}\r\nX-Mail-Canary:", other.value()),
            1,
        );
        let found = find_verified(both.as_bytes(), &key(7), "info@example.jp").unwrap();
        assert_eq!(found, c.header);
    }

    #[test]
    fn attachment_canaries_verify_and_detect_a_stripped_or_changed_file() {
        let file = Attachment {
            kind: "zip_aes".into(),
            filename: "invoice.zip".into(),
            content_type: "application/zip".into(),
            bytes: (0..5000u32).map(|i| (i * 7 % 251) as u8).collect(),
        };
        let mut p = params(Lang::Ja);
        p.attachment = Some(&file);
        let c = compose(&key(4), &p);
        assert!(c.message.is_ascii());
        let h = find_verified(&c.message, &key(4), "info@example.jp").expect("verifies");
        assert_eq!(h.attachment.as_ref().unwrap().kind, "zip_aes");
        assert_eq!(check_body(&c.message, &h), BodyCheck::Intact);
        // The stamp is under the MAC: another kind with the same hash does not verify.
        let text = String::from_utf8(c.message.clone()).unwrap();
        let relabelled = text.replace("k=zip_aes;", "k=pdf;");
        assert!(find_verified(relabelled.as_bytes(), &key(4), "info@example.jp").is_none());
        // A firewall that strips the attachment part.
        let boundary = format!("--=_mailcanary_{}", p.id.as_str());
        let mut parts: Vec<&str> = text.split(&boundary).collect();
        parts.remove(2);
        let stripped = parts.join(&boundary);
        assert_eq!(check_body(stripped.as_bytes(), &h), BodyCheck::Altered);
        // One that rewrites it.
        let other = STANDARD.encode(b"replaced by the gateway");
        let (head, rest) = text.split_at(text.rfind("Content-Transfer-Encoding: base64").unwrap());
        let tail_start = rest.find(&boundary).unwrap();
        let rewritten = format!(
            "{head}Content-Transfer-Encoding: base64\r\n\r\n{other}\r\n{}",
            &rest[tail_start..]
        );
        assert_eq!(check_body(rewritten.as_bytes(), &h), BodyCheck::Altered);
    }

    #[test]
    fn altered_body_is_detected() {
        let c = compose(&key(1), &params(Lang::En));
        let h = c.header.clone();
        let text = String::from_utf8(c.message).unwrap();
        let (head, _) = text.split_once("\r\n\r\n").unwrap();
        assert_eq!(
            check_body(format!("{head}\r\n\r\n").as_bytes(), &h),
            BodyCheck::Altered
        );
        let other = format!("{head}\r\n\r\n{}\r\n", STANDARD.encode("something else"));
        assert_eq!(check_body(other.as_bytes(), &h), BodyCheck::Altered);
    }

    #[test]
    fn header_parsing_is_strict() {
        let good = compose(&key(1), &params(Lang::En)).header.value();
        assert!(CanaryHeader::parse(&good).is_some());
        for bad in [
            "",
            "v=2; id=AAAAAAAAAAAA; t=1; h=00; mac=xx",
            &good.replace("v=1;", "v=1; v=1;"),
            &good.replace("t=", "t=-"),
            &good.replace("id=", "id=!"),
            "garbage",
        ] {
            assert!(CanaryHeader::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn folded_headers_unfold() {
        let raw = b"Subject: a\r\n b\r\nX-Mail-Canary: v=1;\r\n\tid=x\r\n\r\nX-Mail-Canary: body";
        assert_eq!(header_values(raw, "subject"), vec!["a b"]);
        assert_eq!(header_values(raw, "x-mail-canary"), vec!["v=1; id=x"]);
    }

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_763_800_000),
            "Sat, 22 Nov 2025 08:26:40 +0000"
        );
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
    }

    #[test]
    fn key_round_trip_and_redaction() {
        let k = key(9);
        assert_eq!(CanaryKey::decode(&k.encode()).unwrap().0, k.0);
        assert!(CanaryKey::decode("short").is_none());
        assert_eq!(format!("{k:?}"), "CanaryKey(<redacted>)");
    }
}
