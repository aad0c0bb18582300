//! A serde serializer that writes JSON exactly as QEMU's compact writer does, streaming into any
//! [`std::io::Write`].
//!
//! Format: `": "` after keys and `", "` between items, no other spaces; ASCII-only output with
//! `\uXXXX` (upper-case hex, surrogate pairs beyond the BMP) for control characters and
//! everything from U+007F up; `/` is not escaped; integers in decimal; doubles as C's `%.17g`.
//! Nothing is buffered here: wrap sockets in a `BufWriter`. [`serde::Serializer::collect_str`]
//! streams too, so a `Display` value (such as base64 of a large buffer) is never materialised.

use serde::ser::{self, Serialize};
use std::fmt::{self, Write as _};
use std::io::{self, Write};

/// Errors of the writer: I/O, or a value JSON cannot express (such as a non-string map key).
#[derive(Debug)]
pub enum Error {
    Io(io::Error),
    Message(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "write error: {e}"),
            Error::Message(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Message(_) => None,
        }
    }
}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::Message(msg.to_string())
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(e) => e,
            Error::Message(m) => io::Error::new(io::ErrorKind::InvalidData, m),
        }
    }
}

/// Writes `value` in QEMU's format.
pub fn to_writer<W: Write, T: Serialize + ?Sized>(out: W, value: &T) -> Result<(), Error> {
    value.serialize(&mut Serializer::new(out))
}

/// Renders `value` in QEMU's format.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    to_writer(&mut out, value)?;
    Ok(out)
}

/// Renders `value` in QEMU's format (always ASCII).
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, Error> {
    let bytes = to_vec(value)?;
    String::from_utf8(bytes).map_err(|e| Error::Message(e.to_string()))
}

/// Formats a double as C's `printf("%.17g")` does (including `inf` and `nan`, as QEMU does).
pub fn format_double(value: f64) -> String {
    if value.is_nan() {
        return if value.is_sign_negative() {
            "-nan"
        } else {
            "nan"
        }
        .to_owned();
    }
    if value.is_infinite() {
        return if value < 0.0 { "-inf" } else { "inf" }.to_owned();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // 17 significant digits, correctly rounded, as d.dddddddddddddddde<exp>.
    let sci = format!("{:.16e}", value.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if value < 0.0 { "-" } else { "" };
    if !(-4..17).contains(&exp) {
        let kept = digits.trim_end_matches('0');
        let (first, rest) = kept.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{dot}{rest}e{exp_sign}{:02}", exp.abs());
    }
    let (int_part, frac_part) = if exp >= 0 {
        let split = (exp + 1) as usize;
        (digits[..split].to_owned(), digits[split..].to_owned())
    } else {
        let zeros = "0".repeat((-exp - 1) as usize);
        ("0".to_owned(), format!("{zeros}{digits}"))
    };
    let frac = frac_part.trim_end_matches('0');
    if frac.is_empty() {
        format!("{sign}{int_part}")
    } else {
        format!("{sign}{int_part}.{frac}")
    }
}

/// Bytes that can be written as is: printable ASCII other than `"` and `\\`.
const PLAIN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0x20;
    while b < 0x7f {
        table[b] = b != b'"' as usize && b != b'\\' as usize;
        b += 1;
    }
    table
};

/// Writes the body of a JSON string (without quotes) with QEMU's escapes.
fn write_escaped<W: Write + ?Sized>(out: &mut W, text: &str) -> io::Result<()> {
    let bytes = text.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        // Runs of plain bytes (the common case, e.g. base64) go out in one write.
        let run = bytes[start..]
            .iter()
            .position(|&b| !PLAIN[usize::from(b)])
            .unwrap_or(bytes.len() - start);
        out.write_all(&bytes[start..start + run])?;
        start += run;
        let Some(ch) = text[start..].chars().next() else {
            break;
        };
        match ch {
            '"' => out.write_all(b"\\\"")?,
            '\\' => out.write_all(b"\\\\")?,
            '\u{8}' => out.write_all(b"\\b")?,
            '\u{c}' => out.write_all(b"\\f")?,
            '\n' => out.write_all(b"\\n")?,
            '\r' => out.write_all(b"\\r")?,
            '\t' => out.write_all(b"\\t")?,
            _ => {
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    write!(out, "\\u{unit:04X}")?;
                }
            }
        }
        start += ch.len_utf8();
    }
    Ok(())
}

/// Streams `Display` output into a JSON string body.
struct EscapingWriter<'a, W: ?Sized> {
    out: &'a mut W,
    error: Option<io::Error>,
}

impl<W: Write + ?Sized> fmt::Write for EscapingWriter<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_escaped(self.out, s).map_err(|e| {
            self.error = Some(e);
            fmt::Error
        })
    }
}

/// The serializer; see the module docs for the format.
pub struct Serializer<W> {
    out: W,
}

impl<W: Write> Serializer<W> {
    pub fn new(out: W) -> Self {
        Serializer { out }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn write_str_value(&mut self, text: &str) -> Result<(), Error> {
        self.out.write_all(b"\"")?;
        write_escaped(&mut self.out, text)?;
        self.out.write_all(b"\"")?;
        Ok(())
    }

    fn write_display<T: fmt::Display + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.out.write_all(b"\"")?;
        let mut writer = EscapingWriter {
            out: &mut self.out,
            error: None,
        };
        if write!(writer, "{value}").is_err() {
            return Err(match writer.error {
                Some(e) => Error::Io(e),
                None => Error::Message("a Display implementation failed".to_owned()),
            });
        }
        self.out.write_all(b"\"")?;
        Ok(())
    }
}

/// State of an array or object being written.
pub struct Compound<'a, W> {
    ser: &'a mut Serializer<W>,
    first: bool,
}

impl<W: Write> Compound<'_, W> {
    fn separator(&mut self) -> Result<(), Error> {
        if !self.first {
            self.ser.out.write_all(b", ")?;
        }
        self.first = false;
        Ok(())
    }
}

impl<'a, W: Write> ser::Serializer for &'a mut Serializer<W> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a, W>;
    type SerializeTuple = Compound<'a, W>;
    type SerializeTupleStruct = Compound<'a, W>;
    type SerializeTupleVariant = Compound<'a, W>;
    type SerializeMap = Compound<'a, W>;
    type SerializeStruct = Compound<'a, W>;
    type SerializeStructVariant = Compound<'a, W>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out
            .write_all(if v { b"true" as &[u8] } else { b"false" })?;
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        write!(self.out, "{v}")?;
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        write!(self.out, "{v}")?;
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        write!(self.out, "{v}")?;
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        write!(self.out, "{v}")?;
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.out.write_all(format_double(v).as_bytes())?;
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.write_str_value(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.write_str_value(v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        let mut seq = ser::Serializer::serialize_seq(self, Some(v.len()))?;
        for b in v {
            ser::SerializeSeq::serialize_element(&mut seq, b)?;
        }
        ser::SerializeSeq::end(seq)
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.out.write_all(b"null")?;
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.write_str_value(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.out.write_all(b"{")?;
        self.write_str_value(variant)?;
        self.out.write_all(b": ")?;
        value.serialize(&mut *self)?;
        self.out.write_all(b"}")?;
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a, W>, Error> {
        self.out.write_all(b"[")?;
        Ok(Compound {
            ser: self,
            first: true,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a, W>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'a, W>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, W>, Error> {
        self.out.write_all(b"{")?;
        self.write_str_value(variant)?;
        self.out.write_all(b": ")?;
        self.serialize_seq(Some(len))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a, W>, Error> {
        self.out.write_all(b"{")?;
        Ok(Compound {
            ser: self,
            first: true,
        })
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Compound<'a, W>, Error> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, W>, Error> {
        self.out.write_all(b"{")?;
        self.write_str_value(variant)?;
        self.out.write_all(b": ")?;
        self.serialize_map(Some(len))
    }
    fn collect_str<T: fmt::Display + ?Sized>(self, value: &T) -> Result<(), Error> {
        self.write_display(value)
    }
}

impl<W: Write> ser::SerializeSeq for Compound<'_, W> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.separator()?;
        value.serialize(&mut *self.ser)
    }
    fn end(self) -> Result<(), Error> {
        self.ser.out.write_all(b"]")?;
        Ok(())
    }
}

impl<W: Write> ser::SerializeTuple for Compound<'_, W> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl<W: Write> ser::SerializeTupleStruct for Compound<'_, W> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl<W: Write> ser::SerializeTupleVariant for Compound<'_, W> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<(), Error> {
        self.ser.out.write_all(b"]}")?;
        Ok(())
    }
}

impl<W: Write> ser::SerializeMap for Compound<'_, W> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.separator()?;
        key.serialize(KeySerializer {
            ser: &mut *self.ser,
        })?;
        self.ser.out.write_all(b": ")?;
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.ser)
    }
    fn end(self) -> Result<(), Error> {
        self.ser.out.write_all(b"}")?;
        Ok(())
    }
}

impl<W: Write> ser::SerializeStruct for Compound<'_, W> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        ser::SerializeMap::serialize_entry(self, key, value)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeMap::end(self)
    }
}

impl<W: Write> ser::SerializeStructVariant for Compound<'_, W> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        ser::SerializeMap::serialize_entry(self, key, value)
    }
    fn end(self) -> Result<(), Error> {
        self.ser.out.write_all(b"}}")?;
        Ok(())
    }
}

/// Object keys: strings (and, as serde_json allows, integers and chars, written quoted).
struct KeySerializer<'a, W> {
    ser: &'a mut Serializer<W>,
}

fn key_error() -> Error {
    Error::Message("a JSON object key must be a string".to_owned())
}

impl<W: Write> ser::Serializer for KeySerializer<'_, W> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ser::Impossible<(), Error>;
    type SerializeTuple = ser::Impossible<(), Error>;
    type SerializeTupleStruct = ser::Impossible<(), Error>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = ser::Impossible<(), Error>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.ser.write_str_value(v)
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.ser.write_str_value(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.ser.write_str_value(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn collect_str<T: fmt::Display + ?Sized>(self, value: &T) -> Result<(), Error> {
        self.ser.write_display(value)
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.ser.write_display(&v)
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.ser.write_display(&v)
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.ser.write_display(&v)
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.ser.write_display(&v)
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.ser.write_display(&v)
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.ser.write_display(&v)
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.ser.write_display(&v)
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.ser.write_display(&v)
    }
    fn serialize_bool(self, _v: bool) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_f32(self, _v: f32) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_f64(self, _v: f64) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_none(self) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_unit(self) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(key_error())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(key_error())
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(key_error())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(key_error())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(key_error())
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        Err(key_error())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(key_error())
    }
}
