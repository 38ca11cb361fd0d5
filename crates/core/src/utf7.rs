//! IMAP modified UTF-7 (RFC 3501 §5.1.3) folder names, decoded for people to read.

/// Decodes a folder name from modified UTF-7. Returns `None` for names that are not valid
/// modified UTF-7 (the caller then shows the raw name).
pub fn decode(name: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = name;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let end = after.find('-')?;
        let chunk = &after[..end];
        if chunk.is_empty() {
            out.push('&');
        } else {
            out.push_str(&decode_chunk(chunk)?);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

fn decode_chunk(chunk: &str) -> Option<String> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut units = Vec::new();
    for b in chunk.bytes() {
        let v = ALPHABET.iter().position(|&a| a == b)? as u32;
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 16 {
            nbits -= 16;
            units.push(((bits >> nbits) & 0xFFFF) as u16);
        }
    }
    // Leftover bits must be zero padding.
    if nbits >= 6 || bits & ((1 << nbits) - 1) != 0 {
        return None;
    }
    String::from_utf16(&units).ok()
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn table() {
        let table = [
            ("INBOX", Some("INBOX")),
            ("Junk", Some("Junk")),
            ("&j,dg0TDhMPww6w-", Some("迷惑メール")),
            (
                "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
                Some("~peter/mail/台北/日本語"),
            ),
            ("Tom &- Jerry", Some("Tom & Jerry")),
            ("&ZeVnLIqe-", Some("日本語")),
            ("&ZeVnLIqe", None),
            ("&!!-", None),
        ];
        for (raw, want) in table {
            assert_eq!(decode(raw).as_deref(), want, "{raw}");
        }
    }
}
