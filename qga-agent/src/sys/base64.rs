//! Base64 input (`buf-b64`, `input-data`, passwords), decoded as qemu-ga decodes it by the
//! runtime's [`decode_lenient`], with qemu-ga's error text.

use super::SysError;
use qga_types::qapi_runtime::base64::decode_lenient;

/// Decodes base64 text the way qemu-ga does (see [`decode_lenient`]).
pub fn decode(text: &str) -> Result<Vec<u8>, SysError> {
    decode_lenient(text).map_err(|_| SysError::new("Base64 data contains invalid characters"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_characters_get_qemu_ga_error() {
        assert_eq!(decode("aGVsbG8").unwrap(), b"hel");
        for text in ["aGVs bG8=", "a\r\n", "é"] {
            assert_eq!(
                decode(text).unwrap_err().to_string(),
                "Base64 data contains invalid characters",
                "{text:?}"
            );
        }
    }
}
