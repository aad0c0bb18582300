//! The QEMU-format writer: spacing, escapes, numbers, streaming `collect_str`.

use qapi_runtime::writer::{format_double, to_string};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::json;

#[test]
fn compact_with_qemu_spacing() {
    let v = json!({"return": {"count": 5, "list": [1, 2, [], {}], "eof": true, "n": null}});
    assert_eq!(
        to_string(&v).unwrap(),
        r#"{"return": {"count": 5, "list": [1, 2, [], {}], "eof": true, "n": null}}"#
    );
}

#[test]
fn strings_are_ascii_with_upper_case_escapes() {
    let s = "a\"b\\c/\u{8}\u{c}\n\r\t\u{1}\u{7f}é\u{20ac}\u{1f600}";
    assert_eq!(
        to_string(s).unwrap(),
        r#""a\"b\\c/\b\f\n\r\t\u0001\u007F\u00E9\u20AC\uD83D\uDE00""#
    );
}

/// Expected texts are C's `printf("%.17g")`.
#[test]
fn doubles_print_as_percent_17g() {
    for (v, text) in [
        (0.15, "0.14999999999999999"),
        (1.0, "1"),
        (-2.5, "-2.5"),
        (0.0, "0"),
        (1700000000.123456, "1700000000.123456"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e17, "1e+17"),
        (1.5e-5, "1.5e-05"),
        (0.0001, "0.0001"),
        (123456789012345680.0, "1.2345678901234568e+17"),
        (1e-300, "1e-300"),
        (5e-324, "4.9406564584124654e-324"),
        (f64::INFINITY, "inf"),
        (f64::NEG_INFINITY, "-inf"),
    ] {
        assert_eq!(format_double(v), text, "{v}");
    }
    assert_eq!(format_double(f64::NAN), "nan");
}

struct Big(usize);

impl Serialize for Big {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("buf", &qapi_runtime::Base64Bytes(vec![0xfb; self.0]))?;
        m.end()
    }
}

#[test]
fn collect_str_streams_base64() {
    assert_eq!(to_string(&Big(4)).unwrap(), r#"{"buf": "+/v7+w=="}"#);
    let long = to_string(&Big(10_000)).unwrap();
    let text = &long[9..long.len() - 2];
    assert_eq!(text.len(), 13336);
    assert_eq!(
        qapi_runtime::base64::decode_strict(text).unwrap(),
        vec![0xfb; 10_000]
    );
}

#[test]
fn integers_are_decimal() {
    assert_eq!(to_string(&u64::MAX).unwrap(), "18446744073709551615");
    assert_eq!(to_string(&i64::MIN).unwrap(), "-9223372036854775808");
}
