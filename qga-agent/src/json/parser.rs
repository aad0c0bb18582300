//! Turns the tokens of one complete message into a `serde_json::Value`, with QEMU's parse
//! errors; scalar tokens are decoded when they are read (see [`Scalar`]) and any error
//! in them is reported only if the parse reaches them, as QEMU does.

use serde_json::{Map, Number, Value};

use super::lexer::Punct;
use super::utf8;

/// One token of a message.
#[derive(Debug)]
pub(crate) enum Token {
    Punct(Punct),
    /// A string, number or keyword, already decoded, or the error decoding it gave.
    Scalar(Scalar),
}

/// A decoded scalar in 24 bytes: a message may hold two million tokens, and as `Value`s
/// they would take three times the memory.
#[derive(Debug)]
pub(crate) enum Scalar {
    Null,
    Bool(bool),
    Number(Number),
    String(Box<str>),
    /// Why the token is not a value (reported only if the parse reaches it).
    Invalid(Box<str>),
}

impl Scalar {
    /// The value, or the error decoding it gave.
    pub(crate) fn into_value(self) -> Result<Value, String> {
        match self {
            Scalar::Null => Ok(Value::Null),
            Scalar::Bool(b) => Ok(Value::Bool(b)),
            Scalar::Number(n) => Ok(Value::Number(n)),
            Scalar::String(text) => Ok(Value::String(text.into())),
            Scalar::Invalid(error) => Err(error.into()),
        }
    }
}

impl Token {
    /// A string token from its raw content.
    pub(crate) fn string(content: Vec<u8>, quote: u8, plain: bool) -> Token {
        let value = if plain {
            // ASCII without escapes is its own text.
            String::from_utf8(content).map_err(|_| "invalid UTF-8 sequence in string".to_owned())
        } else {
            decode_string(&content, quote)
        };
        Token::Scalar(match value {
            Ok(text) => Scalar::String(text.into_boxed_str()),
            Err(error) => Scalar::Invalid(error.into_boxed_str()),
        })
    }

    /// A number token: int64 if it fits, else uint64 if non-negative and it fits, else double.
    pub(crate) fn number(text: &[u8], float: bool) -> Token {
        let text = std::str::from_utf8(text).unwrap_or("0");
        if !float {
            if let Ok(v) = text.parse::<i64>() {
                return Token::Scalar(Scalar::Number(Number::from(v)));
            }
            if !text.starts_with('-') {
                if let Ok(v) = text.parse::<u64>() {
                    return Token::Scalar(Scalar::Number(Number::from(v)));
                }
            }
        }
        // Out-of-range values saturate: JSON has no infinity (QEMU would echo `inf`).
        let v = text
            .parse::<f64>()
            .unwrap_or(0.0)
            .clamp(-f64::MAX, f64::MAX);
        Token::Scalar(Number::from_f64(v).map_or(Scalar::Null, Scalar::Number))
    }

    /// A keyword token: only `true`, `false` and `null` are values.
    pub(crate) fn keyword(text: &[u8]) -> Token {
        Token::Scalar(match text {
            b"true" => Scalar::Bool(true),
            b"false" => Scalar::Bool(false),
            b"null" => Scalar::Null,
            _ => Scalar::Invalid(
                format!("invalid keyword '{}'", String::from_utf8_lossy(text)).into_boxed_str(),
            ),
        })
    }
}

/// Decodes string content with escapes and/or non-ASCII bytes.
fn decode_string(content: &[u8], quote: u8) -> Result<String, String> {
    let mut text = String::with_capacity(content.len());
    let mut i = 0;
    while i < content.len() {
        let b = content[i];
        if b == b'\\' {
            let begin = i;
            let escaped = content.get(i + 1).copied().unwrap_or(quote);
            i += 2;
            let c = match escaped {
                b'"' => '"',
                b'\'' => '\'',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => {
                    let mut cp = hex4(content, i);
                    i += 4;
                    if let Some(lead) = cp.filter(|c| (0xD800..=0xDBFF).contains(c)) {
                        if content.get(i) == Some(&b'\\') && content.get(i + 1) == Some(&b'u') {
                            cp = match hex4(content, i + 2) {
                                Some(trail) if (0xDC00..=0xDFFF).contains(&trail) => {
                                    i += 6;
                                    Some(0x10000 + ((lead & 0x3FF) << 10) + (trail & 0x3FF))
                                }
                                _ => None,
                            };
                        }
                    }
                    match cp
                        .filter(|&c| utf8::is_valid_codepoint(c))
                        .and_then(char::from_u32)
                    {
                        Some(c) => c,
                        None => {
                            // The message shows the escape as written, cut at the token's end.
                            let mut full = content[begin..].to_vec();
                            full.push(quote);
                            full.truncate(i - begin);
                            return Err(format!(
                                "{} is not a valid Unicode character",
                                utf8::lossy(&full)
                            ));
                        }
                    }
                }
                _ => return Err("invalid escape sequence in string".to_owned()),
            };
            text.push(c);
        } else if b < 0x80 {
            let run = content[i..]
                .iter()
                .position(|&c| c == b'\\' || c >= 0x80)
                .unwrap_or(content.len() - i);
            // The run is ASCII, so it is valid UTF-8.
            text.push_str(std::str::from_utf8(&content[i..i + run]).unwrap_or_default());
            i += run;
        } else {
            match utf8::decode(&content[i..]) {
                (Some(cp), used) => {
                    text.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                    i += used;
                }
                (None, _) => return Err("invalid UTF-8 sequence in string".to_owned()),
            }
        }
    }
    Ok(text)
}

/// Four hex digits at `at`, or `None` if any of them is missing or not hex.
fn hex4(content: &[u8], at: usize) -> Option<u32> {
    let digits = content.get(at..at + 4)?;
    digits.iter().try_fold(0u32, |cp, &d| {
        char::from(d).to_digit(16).map(|v| (cp << 4) | v)
    })
}

/// Parses one message's tokens; the error is the detail after `JSON parse error, `.
pub(crate) fn parse(tokens: &mut [Token]) -> Result<Value, String> {
    let mut parser = Parser { tokens, pos: 0 };
    parser.value()
}

struct Parser<'a> {
    tokens: &'a mut [Token],
    pos: usize,
}

const PREMATURE_EOI: &str = "premature EOI";

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    /// The next token, taken out of the list.
    fn pop(&mut self) -> Option<Token> {
        let slot = self.tokens.get_mut(self.pos)?;
        self.pos += 1;
        Some(std::mem::replace(slot, Token::Punct(Punct::Comma)))
    }

    fn value(&mut self) -> Result<Value, String> {
        match self.peek() {
            None => Err(PREMATURE_EOI.to_owned()),
            Some(Token::Punct(Punct::LCurly)) => self.object(),
            Some(Token::Punct(Punct::LSquare)) => self.array(),
            Some(Token::Scalar(_)) => match self.pop() {
                Some(Token::Scalar(scalar)) => scalar.into_value(),
                _ => Err(PREMATURE_EOI.to_owned()),
            },
            Some(Token::Punct(_)) => Err("expecting value".to_owned()),
        }
    }

    fn object(&mut self) -> Result<Value, String> {
        self.pos += 1; // the '{'
        let mut map = Map::new();
        match self.peek() {
            None => return Err(PREMATURE_EOI.to_owned()),
            Some(Token::Punct(Punct::RCurly)) => {
                self.pos += 1;
                return Ok(Value::Object(map));
            }
            Some(_) => {}
        }
        self.pair(&mut map)?;
        loop {
            match self.pop() {
                None => return Err(PREMATURE_EOI.to_owned()),
                Some(Token::Punct(Punct::RCurly)) => return Ok(Value::Object(map)),
                Some(Token::Punct(Punct::Comma)) => self.pair(&mut map)?,
                Some(_) => return Err("expected separator in dict".to_owned()),
            }
        }
    }

    fn pair(&mut self, map: &mut Map<String, Value>) -> Result<(), String> {
        if self.peek().is_none() {
            return Err(PREMATURE_EOI.to_owned());
        }
        let Value::String(key) = self.value()? else {
            return Err("key is not a string in object".to_owned());
        };
        match self.pop() {
            None => return Err(PREMATURE_EOI.to_owned()),
            Some(Token::Punct(Punct::Colon)) => {}
            Some(_) => return Err("missing : in object pair".to_owned()),
        }
        let value = self.value()?;
        if map.contains_key(&key) {
            return Err("duplicate key".to_owned());
        }
        map.insert(key, value);
        Ok(())
    }

    fn array(&mut self) -> Result<Value, String> {
        self.pos += 1; // the '['
        let mut list = Vec::new();
        match self.peek() {
            None => return Err(PREMATURE_EOI.to_owned()),
            Some(Token::Punct(Punct::RSquare)) => {
                self.pos += 1;
                return Ok(Value::Array(list));
            }
            Some(_) => {}
        }
        list.push(self.value()?);
        loop {
            match self.pop() {
                None => return Err(PREMATURE_EOI.to_owned()),
                Some(Token::Punct(Punct::RSquare)) => return Ok(Value::Array(list)),
                Some(Token::Punct(Punct::Comma)) => list.push(self.value()?),
                Some(_) => return Err("expected separator in list".to_owned()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(raw: &str) -> Result<Value, String> {
        match Token::string(
            raw.as_bytes().to_vec(),
            b'"',
            raw.is_ascii() && !raw.contains('\\'),
        ) {
            Token::Scalar(v) => v.into_value(),
            Token::Punct(_) => unreachable!("string() makes scalars"),
        }
    }

    #[test]
    fn escapes() {
        assert_eq!(
            string(r#"a\"\/\b\f\n\r\t\u00e9"#).unwrap(),
            "a\"/\u{8}\u{c}\n\r\t\u{e9}"
        );
        assert_eq!(string(r"\ud83d\ude00").unwrap(), "\u{1F600}");
        assert_eq!(string(r"\u0000").unwrap(), "\0");
        assert_eq!(
            string(r"\q").unwrap_err(),
            "invalid escape sequence in string"
        );
        assert_eq!(
            string(r"\u12").unwrap_err(),
            "\\u12\" is not a valid Unicode character"
        );
        assert_eq!(
            string(r"\uD800\u0041").unwrap_err(),
            "\\uD800 is not a valid Unicode character"
        );
        assert_eq!(
            string(r"\uDBFF\uDFFF").unwrap_err(),
            "\\uDBFF\\uDFFF is not a valid Unicode character"
        );
        assert_eq!(
            string(r"\uzzzz").unwrap_err(),
            "\\uzzzz is not a valid Unicode character"
        );
    }

    #[test]
    fn raw_utf8() {
        let raw = |bytes: &[u8]| match Token::string(bytes.to_vec(), b'"', false) {
            Token::Scalar(v) => v.into_value(),
            Token::Punct(_) => unreachable!("string() makes scalars"),
        };
        assert_eq!(raw(b"\xc3\xa9").unwrap(), "\u{e9}");
        assert_eq!(raw(b"\xc0\x80").unwrap(), "\0");
        assert_eq!(
            raw(b"\xc0\xaf").unwrap_err(),
            "invalid UTF-8 sequence in string"
        );
        assert_eq!(
            raw(b"\xef\xbf\xbe").unwrap_err(),
            "invalid UTF-8 sequence in string"
        );
    }

    #[test]
    fn tokens_are_small() {
        // Two million of them fit in 48 MiB (qemu-ga's limit; with a Value inside, 144 MiB).
        assert_eq!(std::mem::size_of::<Token>(), 24);
    }

    #[test]
    fn numbers() {
        let num = |t: &str, f| match Token::number(t.as_bytes(), f) {
            Token::Scalar(v) => v.into_value().unwrap(),
            other => panic!("{other:?}"),
        };
        assert_eq!(num("-9223372036854775808", false), Value::from(i64::MIN));
        assert_eq!(num("18446744073709551615", false), Value::from(u64::MAX));
        assert_eq!(
            num("18446744073709551616", false),
            Value::from(1.8446744073709552e19)
        );
        assert_eq!(
            num("-9223372036854775809", false),
            Value::from(-9.223372036854776e18)
        );
        assert_eq!(num("1e999", true), Value::from(f64::MAX));
        assert_eq!(num("-0", false), Value::from(0));
    }
}
