//! QEMU's "modified UTF-8" rules: which byte sequences and code points its JSON parser accepts,
//! and how its JSON writer turns arbitrary bytes into text.
//!
//! They differ from Rust's UTF-8 in three ways: the overlong pair `C0 80` encodes U+0000, the 66
//! Unicode noncharacters are rejected, and invalid input is replaced one maximal "sequence as
//! QEMU measures it" at a time (a bad 3-byte sequence is one U+FFFD, not three).

/// Whether QEMU accepts `cp` as a character: in range, not a surrogate, not a noncharacter.
pub(crate) fn is_valid_codepoint(cp: u32) -> bool {
    if cp > 0x10FFFF {
        return false;
    }
    if (0xFDD0..=0xFDEF).contains(&cp) || cp & 0xFFFE == 0xFFFE {
        return false;
    }
    !(0xD800..=0xDFFF).contains(&cp)
}

/// Decodes the character at the start of `bytes` (which must not be empty), as QEMU's
/// `mod_utf8_codepoint` does: the code point (`None` if invalid) and how many bytes it used.
/// Bytes past the end of the slice count as a terminating NUL.
pub(crate) fn decode(bytes: &[u8]) -> (Option<u32>, usize) {
    const MIN_CP: [u32; 5] = [0x80, 0x800, 0x10000, 0x20_0000, 0x400_0000];
    let lead = bytes[0];
    if lead < 0x80 {
        return (Some(u32::from(lead)), 1);
    }
    if lead >= 0xFE || lead & 0x40 == 0 {
        // Impossible bytes, or a continuation byte with no lead.
        return (None, 1);
    }
    let len = lead.leading_ones() as usize;
    let mut cp = u32::from(lead) & ((1 << (7 - len)) - 1);
    for i in 1..len {
        let byte = bytes.get(i).copied().unwrap_or(0);
        if byte & 0xC0 != 0x80 {
            return (None, i);
        }
        cp = (cp << 6) | u32::from(byte & 0x3F);
    }
    if !is_valid_codepoint(cp) || (cp < MIN_CP[len - 2] && !(cp == 0 && len == 2)) {
        return (None, len);
    }
    (Some(cp), len)
}

/// The text QEMU's JSON writer shows for `bytes`: each invalid sequence becomes U+FFFD and
/// `C0 80` becomes U+0000.
pub(crate) fn lossy(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        let (cp, used) = decode(rest);
        text.push(cp.and_then(char::from_u32).unwrap_or('\u{FFFD}'));
        rest = &rest[used..];
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_qemu() {
        assert_eq!(decode(b"a"), (Some(0x61), 1));
        assert_eq!(decode(b"\xc3\xa9"), (Some(0xE9), 2));
        assert_eq!(decode(b"\xc0\x80"), (Some(0), 2));
        assert_eq!(decode(b"\xc0\xaf"), (None, 2));
        assert_eq!(decode(b"\xed\xa0\x80"), (None, 3));
        assert_eq!(decode(b"\xef\xbf\xbe"), (None, 3));
        assert_eq!(decode(b"\xf4\x90\x80\x80"), (None, 4));
        assert_eq!(decode(b"\xf0\x9f\x98\x80"), (Some(0x1F600), 4));
        assert_eq!(decode(b"\xe2\x82'"), (None, 2));
        assert_eq!(decode(b"\xc3"), (None, 1));
        assert_eq!(decode(b"\x80"), (None, 1));
        assert_eq!(decode(b"\xff"), (None, 1));
        assert_eq!(decode(b"\xfd\xbf\xbf\xbf\xbf\xbf"), (None, 6));
    }

    #[test]
    fn lossy_replaces_whole_sequences() {
        assert_eq!(lossy(b"ab\xc0\xaf\x01"), "ab\u{FFFD}\u{1}");
        assert_eq!(lossy(b"\xff"), "\u{FFFD}");
        assert_eq!(lossy(b"x\xc0\x80y"), "x\0y");
        assert_eq!(lossy(b"\xe2\x82"), "\u{FFFD}");
    }

    #[test]
    fn rejects_noncharacters_and_surrogates() {
        assert!(!is_valid_codepoint(0xFDD0));
        assert!(!is_valid_codepoint(0x1FFFF));
        assert!(!is_valid_codepoint(0xDC00));
        assert!(!is_valid_codepoint(0x110000));
        assert!(is_valid_codepoint(0));
        assert!(is_valid_codepoint(0x10FFFD));
    }
}
