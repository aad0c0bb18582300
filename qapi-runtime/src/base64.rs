//! Bytes carried as base64 text (standard alphabet, padded), encoded on the fly.
//!
//! [`Base64Bytes`] serialises through `collect_str`, so with the streaming writer of this crate
//! a large buffer goes to the socket without a base64 `String` ever existing.
//!
//! Two decoders, named for what they accept:
//! - [`decode_strict`]: padded standard base64 (RFC 4648), line breaks skipped; for clients
//!   reading what an agent wrote.
//! - [`decode_lenient`]: what qemu-ga accepts (its alphabet check, then GLib's forgiving
//!   decoder); for servers, and for [`Base64Bytes`], so input qemu-ga takes is never refused.

use super::decode::{Decode, DecodeError, Decoder};
use serde_json::Value;
use std::fmt;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Raw bytes whose wire form is a base64 string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Base64Bytes(pub Vec<u8>);

impl Base64Bytes {
    pub fn into_vec(self) -> Vec<u8> {
        self.0
    }
}

impl From<Vec<u8>> for Base64Bytes {
    fn from(bytes: Vec<u8>) -> Self {
        Base64Bytes(bytes)
    }
}

impl std::ops::Deref for Base64Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Base64Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl serde::Serialize for Base64Bytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&Display(&self.0))
    }
}

impl Decode for Base64Bytes {
    fn decode(value: &Value, decoder: &mut Decoder) -> Result<Self, DecodeError> {
        let text = value
            .as_str()
            .ok_or_else(|| decoder.invalid_type("string"))?;
        decode_lenient(text).map(Base64Bytes).map_err(|e| {
            DecodeError::new(format!(
                "Parameter '{}' expects base64 data: {e}",
                decoder.full_name()
            ))
        })
    }
}

impl<'de> serde::Deserialize<'de> for Base64Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        super::decode::deserialize(deserializer)
    }
}

/// Formats bytes as base64, in chunks, without building the whole text.
#[derive(Debug, Clone, Copy)]
pub struct Display<'a>(pub &'a [u8]);

impl fmt::Display for Display<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // 12 KiB of input -> 16 KiB of text per write.
        let mut buf = [0u8; 16384];
        for chunk in self.0.chunks(12288) {
            let len = encode_chunk(chunk, &mut buf);
            // The alphabet is ASCII, so this cannot fail.
            f.write_str(std::str::from_utf8(&buf[..len]).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

/// Writes `data` as base64 to `out` in large pieces: the text needs no JSON escaping, so a
/// server can put it straight between the quotes of a string (guest-file-read does).
pub fn write_to(out: &mut impl std::io::Write, data: &[u8]) -> std::io::Result<()> {
    // 192 KiB of input -> 256 KiB of text per write.
    const CHUNK: usize = 192 * 1024;
    let mut text = vec![0u8; CHUNK / 3 * 4];
    for chunk in data.chunks(CHUNK) {
        let len = encode_chunk(chunk, &mut text);
        out.write_all(&text[..len])?;
    }
    Ok(())
}

/// Encodes `input` with padding into the start of `output` (at least `input.len() / 3 * 4 + 4`
/// bytes); returns the length written.
fn encode_chunk(input: &[u8], output: &mut [u8]) -> usize {
    let whole = input.len() / 3 * 3;
    let mut len = whole / 3 * 4;
    encode_groups(&input[..whole], &mut output[..len]);
    match input[whole..] {
        [a] => {
            let n = u32::from(a) << 16;
            output[len..len + 4].copy_from_slice(&[
                sextet_char(n, 18),
                sextet_char(n, 12),
                b'=',
                b'=',
            ]);
            len += 4;
        }
        [a, b] => {
            let n = (u32::from(a) << 16) | (u32::from(b) << 8);
            output[len..len + 4].copy_from_slice(&[
                sextet_char(n, 18),
                sextet_char(n, 12),
                sextet_char(n, 6),
                b'=',
            ]);
            len += 4;
        }
        _ => {}
    }
    len
}

fn sextet_char(n: u32, shift: u32) -> u8 {
    ALPHABET[((n >> shift) & 63) as usize]
}

/// Every 12-bit value as two base64 characters.
static PAIRS: [[u8; 2]; 4096] = {
    let mut table = [[0u8; 2]; 4096];
    let mut i = 0;
    while i < 4096 {
        table[i] = [ALPHABET[i >> 6], ALPHABET[i & 63]];
        i += 1;
    }
    table
};

/// Encodes whole 3-byte groups of `input` into `output` (4 characters per group).
fn encode_groups(input: &[u8], output: &mut [u8]) {
    // Main loop: 24 input bytes to 32 characters, reading 8 bytes per 6 consumed (so it stops
    // while at least 2 spare bytes follow the block).
    let blocks = input.len().saturating_sub(2) / 24;
    for (block, d) in output.chunks_exact_mut(32).take(blocks).enumerate() {
        let s = &input[block * 24..block * 24 + 26];
        for (k, d) in d.chunks_exact_mut(8).enumerate() {
            let word = u64::from_be_bytes(s[k * 6..k * 6 + 8].try_into().unwrap_or_default());
            let pair = |shift: u32| PAIRS[((word >> shift) & 0xFFF) as usize];
            let [a, b, c, e] = [pair(52), pair(40), pair(28), pair(16)];
            d.copy_from_slice(&[a[0], a[1], b[0], b[1], c[0], c[1], e[0], e[1]]);
        }
    }
    let (input, output) = (&input[blocks * 24..], &mut output[blocks * 32..]);
    for (s, d) in input.chunks_exact(3).zip(output.chunks_exact_mut(4)) {
        let n = (u32::from(s[0]) << 16) | (u32::from(s[1]) << 8) | u32::from(s[2]);
        d.copy_from_slice(&[
            sextet_char(n, 18),
            sextet_char(n, 12),
            sextet_char(n, 6),
            sextet_char(n, 0),
        ]);
    }
}

/// Encodes bytes as padded standard base64.
pub fn encode(bytes: &[u8]) -> String {
    Display(bytes).to_string()
}

/// Why a text is not base64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base64Error {
    /// A character outside the alphabet, at a byte offset.
    InvalidCharacter { offset: usize, character: char },
    /// The length (without line breaks) is not a multiple of 4.
    BadLength(usize),
    /// `=` somewhere other than the end.
    BadPadding,
}

impl fmt::Display for Base64Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Base64Error::InvalidCharacter { offset, character } => {
                write!(f, "invalid character {character:?} at offset {offset}")
            }
            Base64Error::BadLength(n) => write!(f, "length {n} is not a multiple of 4"),
            Base64Error::BadPadding => f.write_str("misplaced '=' padding"),
        }
    }
}

impl std::error::Error for Base64Error {}

const fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Sextet of each byte; `INVALID` for bytes outside the alphabet (and `=`).
const INVALID: u8 = 0xFF;
static SEXTETS: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut c = 0;
    while c < 256 {
        if let Some(v) = sextet(c as u8) {
            table[c] = v;
        }
        c += 1;
    }
    table
};

/// Each character's sextet shifted into its place in a group of four (`[position][byte]`);
/// bytes outside the alphabet (and `=`) set bit 31 in every position.
static SHIFTED: [[u32; 256]; 4] = {
    let mut table = [[1u32 << 31; 256]; 4];
    let mut c = 0;
    while c < 256 {
        if let Some(v) = sextet(c as u8) {
            let v = v as u32;
            table[0][c] = v << 18;
            table[1][c] = v << 12;
            table[2][c] = v << 6;
            table[3][c] = v;
        }
        c += 1;
    }
    table
};

/// The common case in one pass: no line breaks, padding only at the end. `None` sends
/// anything else to the full decoders, which finds the exact error.
fn decode_plain(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let (body, last) = text.split_at(text.len().saturating_sub(4));
    // Room for the last group too, so it never reallocates.
    let mut out = Vec::with_capacity(body.len() / 4 * 3 + 3);
    out.resize(body.len() / 4 * 3, 0);
    let group = |g: &[u8]| {
        SHIFTED[0][usize::from(g[0])]
            | SHIFTED[1][usize::from(g[1])]
            | SHIFTED[2][usize::from(g[2])]
            | SHIFTED[3][usize::from(g[3])]
    };
    // Invalid bytes are collected and checked once at the end: no branch per group.
    let mut bad = 0u32;
    for (group_text, bytes) in body.chunks_exact(4).zip(out.chunks_exact_mut(3)) {
        let n = group(group_text);
        bad |= n;
        bytes.copy_from_slice(&n.to_be_bytes()[1..]);
    }
    if bad >> 24 != 0 {
        return None;
    }
    if !last.is_empty() {
        let pad = last.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 {
            return None;
        }
        let mut n = 0u32;
        for &c in last {
            let v = if c == b'=' {
                0
            } else {
                SEXTETS[usize::from(c)]
            };
            if v > 63 {
                return None;
            }
            n = (n << 6) | u32::from(v);
        }
        if last[..4 - pad].contains(&b'=') {
            return None;
        }
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8][..3 - pad]);
    }
    Some(out)
}

/// Decodes padded standard base64; line breaks are skipped (QEMU accepts them too).
pub fn decode_strict(text: &str) -> Result<Vec<u8>, Base64Error> {
    if let Some(out) = decode_plain(text.as_bytes()) {
        return Ok(out);
    }
    let mut symbols = Vec::with_capacity(text.len());
    for (offset, &c) in text.as_bytes().iter().enumerate() {
        match c {
            b'\n' | b'\r' => {}
            b'=' => symbols.push(64),
            _ => match sextet(c) {
                Some(v) => symbols.push(v),
                None => {
                    let character = text[offset..].chars().next().unwrap_or('\u{fffd}');
                    return Err(Base64Error::InvalidCharacter { offset, character });
                }
            },
        }
    }
    if symbols.len() % 4 != 0 {
        return Err(Base64Error::BadLength(symbols.len()));
    }
    let mut out = Vec::with_capacity(symbols.len() / 4 * 3);
    let groups = symbols.len() / 4;
    for (i, group) in symbols.chunks(4).enumerate() {
        let pad = group.iter().rev().take_while(|&&s| s == 64).count();
        let last = i + 1 == groups;
        if group[..4 - pad].contains(&64) || pad > 2 || (pad > 0 && !last) {
            return Err(Base64Error::BadPadding);
        }
        let n = group
            .iter()
            .fold(0u32, |n, &s| (n << 6) | u32::from(s & 63));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Ok(out)
}

/// Decodes base64 as qemu-ga decodes `buf-b64`, `input-data` and passwords.
///
/// Only `A-Z a-z 0-9 + / =` and `\n` are accepted (anything else is
/// [`Base64Error::InvalidCharacter`]; qemu-ga's message for it is `Base64 data contains
/// invalid characters`); the rest follows GLib's `g_base64_decode`: newlines are skipped,
/// characters are taken in groups of four, `=` counts as a zero digit that suppresses output
/// bytes, and an incomplete trailing group is dropped.
pub fn decode_lenient(text: &str) -> Result<Vec<u8>, Base64Error> {
    if let Some(out) = decode_plain(text.as_bytes()) {
        return Ok(out);
    }
    let allowed = |c: u8| c == b'=' || c == b'\n' || sextet(c).is_some();
    if let Some(offset) = text.bytes().position(|c| !allowed(c)) {
        let character = text[offset..].chars().next().unwrap_or('\u{fffd}');
        return Err(Base64Error::InvalidCharacter { offset, character });
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 3);
    let mut value: u32 = 0;
    let mut digits = 0;
    // The last two characters seen, most recent first (GLib's `last[]`).
    let mut last = [0u8; 2];
    for c in text.bytes().filter(|&c| c != b'\n') {
        last = [c, last[0]];
        value = (value << 6) | u32::from(sextet(c).unwrap_or(0));
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

#[cfg(test)]
mod tests {
    use super::decode_lenient as decode;

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
            assert!(decode(text).is_err(), "{text:?}");
        }
    }
}

#[cfg(test)]
mod fast_path_tests {
    use super::*;

    /// The full decoders without the fast path in front.
    fn slow_strict(text: &str) -> Result<Vec<u8>, Base64Error> {
        decode_strict(&format!("{text}\n"))
    }

    fn slow_lenient(text: &str) -> Result<Vec<u8>, Base64Error> {
        decode_lenient(&format!("{text}\n"))
    }

    /// Every short text over a small alphabet.
    #[test]
    fn fast_path_agrees_with_checked_decoder() {
        let alphabet = [b'A', b'z', b'/', b'=', b'\n', b'!'];
        for len in 0..=8u32 {
            for mut k in 0..alphabet.len().pow(len) {
                let mut text = Vec::new();
                for _ in 0..len {
                    text.push(alphabet[k % alphabet.len()]);
                    k /= alphabet.len();
                }
                let text = String::from_utf8(text).unwrap_or_default();
                // The fast path either declines or agrees with both full decoders.
                if let Some(fast) = decode_plain(text.as_bytes()) {
                    assert_eq!(Ok(fast.clone()), slow_strict(&text), "{text:?}");
                    assert_eq!(Ok(fast), slow_lenient(&text), "{text:?}");
                }
            }
        }
    }
}
