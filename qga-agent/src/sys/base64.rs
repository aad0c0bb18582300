//! Base64 decoding as qemu-ga does it: a strict alphabet check, then GLib's lenient decoder.

use super::SysError;

/// Decodes base64 text the way qemu-ga decodes `buf-b64`, `input-data` and passwords.
///
/// Only `A-Z a-z 0-9 + / =` and `\n` are accepted (else `Base64 data contains invalid
/// characters`); the rest follows `g_base64_decode`: newlines are skipped, characters are taken
/// in groups of four, `=` counts as a zero digit that suppresses output bytes, and an
/// incomplete trailing group is dropped.
pub fn decode(text: &str) -> Result<Vec<u8>, SysError> {
    if !text.bytes().all(is_allowed) {
        return Err(SysError::new("Base64 data contains invalid characters"));
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 3);
    let mut value: u32 = 0;
    let mut digits = 0;
    // The last two alphabet characters seen, most recent first (GLib's `last[]`).
    let mut last = [0u8; 2];
    for c in text.bytes().filter(|&c| c != b'\n') {
        last = [c, last[0]];
        value = (value << 6) | rank(c);
        digits += 1;
        if digits == 4 {
            out.push((value >> 16) as u8);
            if last[1] != b'=' {
                out.push((value >> 8) as u8);
            }
            if last[0] != b'=' {
                out.push(value as u8);
            }
            digits = 0;
        }
    }
    Ok(out)
}

fn is_allowed(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=' | b'\n')
}

/// The 6-bit value of an alphabet character; `=` is zero.
fn rank(c: u8) -> u32 {
    match c {
        b'A'..=b'Z' => u32::from(c - b'A'),
        b'a'..=b'z' => u32::from(c - b'a') + 26,
        b'0'..=b'9' => u32::from(c - b'0') + 52,
        b'+' => 62,
        b'/' => 63,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_padded_and_unpadded_groups() {
        assert_eq!(decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode("aGk=").unwrap(), b"hi");
        assert_eq!(decode("aA==").unwrap(), b"h");
        assert_eq!(decode("Z3Vlc3QK").unwrap(), b"guest\n");
        assert_eq!(decode("").unwrap(), b"");
        assert_eq!(decode("+/+/").unwrap(), [0xfb, 0xff, 0xbf]);
    }

    #[test]
    fn is_lenient_like_glib() {
        // Newlines anywhere are skipped.
        assert_eq!(decode("aGVs\nbG8=\n").unwrap(), b"hello");
        // An incomplete trailing group is dropped.
        assert_eq!(decode("aGVsbG8").unwrap(), b"hel");
        assert_eq!(decode("aGk").unwrap(), b"");
        // Padding in the middle ends a group early and decoding goes on.
        assert_eq!(decode("aA==aGk=").unwrap(), b"hhi");
        // `=` in the third place only drops the middle byte.
        assert_eq!(decode("QQ=B").unwrap(), [0x41, 0x01]);
    }

    #[test]
    fn rejects_characters_outside_the_alphabet() {
        for text in ["aGVs bG8=", "aGVs-bG8=", "a\r\n", "é", "aGk=\0"] {
            assert_eq!(
                decode(text).unwrap_err().to_string(),
                "Base64 data contains invalid characters",
                "{text:?}"
            );
        }
    }
}
