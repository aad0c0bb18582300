//! Writing replies. Everything goes through the generated types and the runtime's QEMU-format
//! writer, except `guest-file-read` results: those can be 64 MiB of base64, so their text is
//! written here with the base64 text put straight between the quotes, skipping the writer's
//! escape scan (same bytes, checked by tests).

use std::io::Write;

use qga_types::qapi_runtime::qdict::Ordered;
use qga_types::qapi_runtime::{base64, writer, Reply};
use qga_types::{CommandReturn, GuestFileRead};
use serde_json::Value;

/// Input bytes per base64 write of the runtime (tests cross its boundaries).
#[cfg(test)]
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
    base64::write_to(out, &read.buf_b64)?;
    write!(out, "\", \"eof\": {}}}", read.eof)?;
    if let Some(id) = id {
        out.write_all(b", \"id\": ")?;
        writer::to_writer(&mut *out, &Ordered(id))?;
    }
    out.write_all(b"}\n")?;
    Ok(())
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
