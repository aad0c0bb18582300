//! Writing replies. Everything goes through the generated types and the runtime's QEMU-format
//! writer, except `guest-file-read` results: those can be 64 MiB of base64, so their text is
//! produced here by a fast encoder straight into the output (same bytes, checked by tests).

use std::io::Write;

use qga_types::qapi_runtime::qdict::Ordered;
use qga_types::qapi_runtime::{writer, Reply};
use qga_types::{CommandReturn, GuestFileRead};
use serde_json::Value;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// Input bytes encoded per output write (a multiple of 6; 256 KiB of text).
const CHUNK: usize = 192 * 1024;

/// Writes `reply` and the newline that ends it.
pub fn write_reply(
    out: &mut impl Write,
    reply: &Reply<CommandReturn>,
) -> Result<(), writer::Error> {
    match &reply.outcome {
        Ok(CommandReturn::GuestFileRead(read)) => write_file_read(out, read, reply.id.as_ref()),
        _ => reply.write_line(out),
    }
}

/// `{"return": {"count": N, "buf-b64": "...", "eof": B}[, "id": ID]}` and a newline, in
/// QEMU's key order.
fn write_file_read(
    out: &mut impl Write,
    read: &GuestFileRead,
    id: Option<&Value>,
) -> Result<(), writer::Error> {
    write!(
        out,
        "{{\"return\": {{\"count\": {}, \"buf-b64\": \"",
        read.count
    )?;
    write_base64(out, &read.buf_b64)?;
    write!(out, "\", \"eof\": {}}}", read.eof)?;
    if let Some(id) = id {
        out.write_all(b", \"id\": ")?;
        writer::to_writer(&mut *out, &Ordered(id))?;
    }
    out.write_all(b"}\n")?;
    Ok(())
}

/// Standard padded base64 of `data`, written in large pieces.
fn write_base64(out: &mut impl Write, data: &[u8]) -> std::io::Result<()> {
    let mut text = vec![0u8; CHUNK / 3 * 4];
    let mut chunks = data.chunks_exact(CHUNK);
    for chunk in &mut chunks {
        encode_groups(chunk, &mut text);
        out.write_all(&text)?;
    }
    let rest = chunks.remainder();
    let whole = rest.len() / 3 * 3;
    let mut len = whole / 3 * 4;
    encode_groups(&rest[..whole], &mut text[..len]);
    match rest[whole..] {
        [a] => {
            let n = u32::from(a) << 16;
            text[len..len + 4].copy_from_slice(&[sextet(n, 18), sextet(n, 12), b'=', b'=']);
            len += 4;
        }
        [a, b] => {
            let n = (u32::from(a) << 16) | (u32::from(b) << 8);
            text[len..len + 4].copy_from_slice(&[sextet(n, 18), sextet(n, 12), sextet(n, 6), b'=']);
            len += 4;
        }
        _ => {}
    }
    out.write_all(&text[..len])
}

fn sextet(n: u32, shift: u32) -> u8 {
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
        d.copy_from_slice(&[sextet(n, 18), sextet(n, 12), sextet(n, 6), sextet(n, 0)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qga_types::qapi_runtime::Base64Bytes;
    use serde_json::json;

    fn both(data: Vec<u8>, eof: bool, id: Option<Value>) -> (Vec<u8>, Vec<u8>) {
        let read = GuestFileRead {
            count: data.len() as i64,
            buf_b64: Base64Bytes(data),
            eof,
        };
        let reply = Reply::ok(id, CommandReturn::GuestFileRead(read));
        let mut generic = Vec::new();
        reply.write_line(&mut generic).unwrap();
        let mut fast = Vec::new();
        write_reply(&mut fast, &reply).unwrap();
        (generic, fast)
    }

    #[test]
    fn same_bytes_as_the_generic_writer() {
        let mut data = Vec::new();
        let mut x: u32 = 12345;
        for len in [
            0usize,
            1,
            2,
            3,
            4,
            5,
            6,
            7,
            11,
            12,
            13,
            100,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            3 * CHUNK + 5,
        ] {
            data.resize(len, 0);
            for b in &mut data {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                *b = (x >> 16) as u8;
            }
            for id in [
                None,
                Some(json!(7)),
                Some(json!({"z": [1, "a\u{e9}"], "a": null})),
            ] {
                let (generic, fast) = both(data.clone(), len % 2 == 0, id);
                assert_eq!(fast, generic, "length {len}");
            }
        }
    }

    #[test]
    fn empty_read() {
        let (_, fast) = both(Vec::new(), true, None);
        assert_eq!(
            fast,
            b"{\"return\": {\"count\": 0, \"buf-b64\": \"\", \"eof\": true}}\n"
        );
    }
}
