//! The byte-level tokenizer of QEMU's JSON reader.
//!
//! It accepts what QEMU's lexer accepts (single-quoted strings, raw bytes 0x20-0xFD inside
//! strings, numbers that end only when a byte that cannot continue them arrives) and reports a
//! byte that cannot start or continue a token as a *stray* token, after which it skips input
//! ("recovery") until a structural character, a control byte other than TAB, or 0xFE/0xFF.

use super::MAX_TOKEN_SIZE;

/// A one-byte structural token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Punct {
    LCurly,
    RCurly,
    LSquare,
    RSquare,
    Colon,
    Comma,
}

/// What the lexer hands to the streamer.
#[derive(Debug)]
pub(crate) enum Lexeme<'a> {
    Punct(Punct),
    /// A complete string token: its raw content (between the quotes, escapes not yet decoded)
    /// and the quote byte. `plain` is true when the content has no escape and no byte >= 0x80.
    Str {
        content: Vec<u8>,
        quote: u8,
        plain: bool,
    },
    /// A complete number token; `float` when it has a fraction or exponent.
    Number {
        text: &'a [u8],
        float: bool,
    },
    /// A complete `[a-z]+` token.
    Keyword(&'a [u8]),
    /// A byte that cannot continue the token: the token so far including that byte.
    Stray(&'a [u8]),
    /// A single token grew beyond the size limit; the lexer starts afresh after it.
    Oversized,
}

impl Lexeme<'_> {
    /// The token's length in bytes as QEMU counts it (quotes included).
    pub(crate) fn len(&self) -> usize {
        match self {
            Lexeme::Punct(_) => 1,
            Lexeme::Str { content, .. } => content.len() + 2,
            Lexeme::Number { text, .. } => text.len(),
            Lexeme::Keyword(text) | Lexeme::Stray(text) => text.len(),
            Lexeme::Oversized => MAX_TOKEN_SIZE + 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Recovery,
    Str,
    StrEscape,
    Zero,
    Digits,
    Sign,
    Mantissa,
    MantissaDigits,
    ExpE,
    ExpSign,
    ExpDigits,
    Keyword,
}

/// The tokenizer; its state (including a partial token) carries over between `feed` calls.
#[derive(Debug)]
pub(crate) struct Lexer {
    state: State,
    /// Bytes of the token being read; for strings, the content without the opening quote.
    token: Vec<u8>,
    quote: u8,
    plain: bool,
}

impl Default for Lexer {
    fn default() -> Self {
        Lexer {
            state: State::Start,
            token: Vec::new(),
            quote: b'"',
            plain: true,
        }
    }
}

/// Whether `b` ends recovery (and is then lexed normally).
fn ends_recovery(b: u8) -> bool {
    matches!(b, b'{' | b'}' | b'[' | b']' | b':' | b',' | 0xFE | 0xFF) || (b < 0x20 && b != b'\t')
}

impl Lexer {
    /// Whether no token is partly read and no recovery is pending.
    pub(crate) fn is_idle(&self) -> bool {
        self.state == State::Start
    }

    /// Lexes `input`, handing every complete token (or error) to `sink` in order.
    pub(crate) fn feed(&mut self, input: &[u8], sink: &mut impl FnMut(Lexeme<'_>)) {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                State::Start => {
                    i += 1;
                    self.start(b, sink);
                }
                State::Recovery => {
                    let rest = &input[i..];
                    match rest.iter().position(|&c| ends_recovery(c)) {
                        Some(n) => {
                            i += n;
                            self.state = State::Start;
                        }
                        None => i = input.len(),
                    }
                }
                State::Str => i += self.string_run(&input[i..], sink),
                State::StrEscape => {
                    i += 1;
                    self.token.push(b);
                    if (0x20..=0xFD).contains(&b) {
                        self.state = State::Str;
                        self.check_size(sink);
                    } else {
                        self.stray(sink);
                    }
                }
                State::Zero | State::Digits | State::MantissaDigits | State::ExpDigits => {
                    match (self.state, b) {
                        (State::Zero, b'0'..=b'9') => {
                            i += 1;
                            self.token.push(b);
                            self.stray(sink);
                        }
                        (_, b'0'..=b'9') => self.consume(b, self.state, &mut i, sink),
                        (State::Zero | State::Digits, b'.') => {
                            self.consume(b, State::Mantissa, &mut i, sink)
                        }
                        (State::Digits | State::MantissaDigits, b'e' | b'E') => {
                            self.consume(b, State::ExpE, &mut i, sink)
                        }
                        _ => {
                            // The byte ends the number and is lexed again from the start.
                            let float =
                                matches!(self.state, State::MantissaDigits | State::ExpDigits);
                            sink(Lexeme::Number {
                                text: &self.token,
                                float,
                            });
                            self.state = State::Start;
                        }
                    }
                }
                State::Sign | State::Mantissa | State::ExpE | State::ExpSign => {
                    let next = match (self.state, b) {
                        (State::Sign, b'0') => Some(State::Zero),
                        (State::Sign, b'1'..=b'9') => Some(State::Digits),
                        (State::Mantissa, b'0'..=b'9') => Some(State::MantissaDigits),
                        (State::ExpE, b'-' | b'+') => Some(State::ExpSign),
                        (State::ExpE | State::ExpSign, b'0'..=b'9') => Some(State::ExpDigits),
                        _ => None,
                    };
                    match next {
                        Some(next) => self.consume(b, next, &mut i, sink),
                        None => {
                            i += 1;
                            self.token.push(b);
                            self.stray(sink);
                        }
                    }
                }
                State::Keyword => {
                    if b.is_ascii_lowercase() {
                        self.consume(b, State::Keyword, &mut i, sink);
                    } else {
                        sink(Lexeme::Keyword(&self.token));
                        self.state = State::Start;
                    }
                }
            }
        }
    }

    /// Lexes byte `b` in the start state (it has been consumed).
    fn start(&mut self, b: u8, sink: &mut impl FnMut(Lexeme<'_>)) {
        let punct = match b {
            b' ' | b'\t' | b'\r' | b'\n' => return,
            b'{' => Punct::LCurly,
            b'}' => Punct::RCurly,
            b'[' => Punct::LSquare,
            b']' => Punct::RSquare,
            b':' => Punct::Colon,
            b',' => Punct::Comma,
            b'"' | b'\'' => {
                self.token.clear();
                self.quote = b;
                self.plain = true;
                self.state = State::Str;
                return;
            }
            _ => {
                self.token.clear();
                self.token.push(b);
                self.state = match b {
                    b'0' => State::Zero,
                    b'1'..=b'9' => State::Digits,
                    b'-' => State::Sign,
                    b'a'..=b'z' => State::Keyword,
                    _ => return self.stray(sink),
                };
                return;
            }
        };
        sink(Lexeme::Punct(punct));
    }

    /// Appends a byte that continues the current number or keyword.
    fn consume(&mut self, b: u8, next: State, i: &mut usize, sink: &mut impl FnMut(Lexeme<'_>)) {
        *i += 1;
        self.token.push(b);
        self.state = next;
        self.check_size(sink);
    }

    /// Consumes string bytes from the start of `input`; returns how many were used.
    fn string_run(&mut self, input: &[u8], sink: &mut impl FnMut(Lexeme<'_>)) -> usize {
        let quote = self.quote;
        let stop = input
            .iter()
            .position(|&c| c == quote || c == b'\\' || !(0x20..0xFE).contains(&c))
            .unwrap_or(input.len());
        // The opening quote counts towards the token size, so the content byte that makes the
        // content MAX_TOKEN_SIZE bytes long ends the token as oversized.
        let room = MAX_TOKEN_SIZE.saturating_sub(self.token.len());
        if stop >= room {
            self.push_plain(&input[..room]);
            self.check_size(sink);
            return room;
        }
        self.push_plain(&input[..stop]);
        let Some(&b) = input.get(stop) else {
            return stop;
        };
        if b == quote {
            let content = std::mem::take(&mut self.token);
            sink(Lexeme::Str {
                content,
                quote,
                plain: self.plain,
            });
            self.state = State::Start;
        } else if b == b'\\' {
            self.token.push(b);
            self.plain = false;
            self.state = State::StrEscape;
            self.check_size(sink);
        } else {
            self.token.push(b);
            self.stray(sink);
        }
        stop + 1
    }

    fn push_plain(&mut self, bytes: &[u8]) {
        if self.plain && !bytes.is_ascii() {
            self.plain = false;
        }
        self.token.extend_from_slice(bytes);
    }

    /// Ends an over-long token; QEMU then lexes the following bytes from the start state.
    fn check_size(&mut self, sink: &mut impl FnMut(Lexeme<'_>)) {
        let len =
            self.token.len() + usize::from(matches!(self.state, State::Str | State::StrEscape));
        if len > MAX_TOKEN_SIZE {
            self.token = Vec::new();
            self.state = State::Start;
            sink(Lexeme::Oversized);
        }
    }

    /// Reports the current token (whose last byte is the offending one) and enters recovery.
    fn stray(&mut self, sink: &mut impl FnMut(Lexeme<'_>)) {
        if matches!(self.state, State::Str | State::StrEscape) {
            self.token.insert(0, self.quote);
        }
        sink(Lexeme::Stray(&self.token));
        self.token.clear();
        self.state = State::Recovery;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lexes `input` in chunks of `chunk` bytes and renders the lexemes as short strings.
    fn lex(input: &[u8], chunk: usize) -> Vec<String> {
        let mut lexer = Lexer::default();
        let mut out = Vec::new();
        for piece in input.chunks(chunk) {
            lexer.feed(piece, &mut |l| {
                out.push(match l {
                    Lexeme::Punct(p) => format!("{p:?}"),
                    Lexeme::Str {
                        content,
                        quote,
                        plain,
                    } => format!(
                        "str{}{}:{}",
                        quote as char,
                        if plain { "" } else { "!" },
                        String::from_utf8_lossy(&content)
                    ),
                    Lexeme::Number { text, float } => {
                        format!(
                            "{}:{}",
                            if float { "float" } else { "int" },
                            String::from_utf8_lossy(text)
                        )
                    }
                    Lexeme::Keyword(k) => format!("kw:{}", String::from_utf8_lossy(k)),
                    Lexeme::Stray(s) => format!("stray:{}", String::from_utf8_lossy(s)),
                    Lexeme::Oversized => "oversized".into(),
                })
            });
        }
        out
    }

    fn both(input: &[u8]) -> Vec<String> {
        let whole = lex(input, input.len().max(1));
        assert_eq!(
            whole,
            lex(input, 1),
            "byte-by-byte lexing differs for {input:?}"
        );
        whole
    }

    #[test]
    fn structural_and_scalars() {
        assert_eq!(
            both(b"{\"a\": [1, -2.5e3, 'x\"y', true]} "),
            [
                "LCurly",
                "str\":a",
                "Colon",
                "LSquare",
                "int:1",
                "Comma",
                "float:-2.5e3",
                "Comma",
                "str':x\"y",
                "Comma",
                "kw:true",
                "RSquare",
                "RCurly"
            ]
        );
    }

    #[test]
    fn numbers_end_only_on_a_following_byte() {
        assert_eq!(both(b"42"), Vec::<String>::new());
        assert_eq!(both(b"42\x80"), ["int:42", "stray:\u{FFFD}"]);
        assert_eq!(both(b"0e5 "), ["int:0", "kw:e", "int:5"]);
    }

    #[test]
    fn strays_include_the_bad_byte_and_recovery_skips() {
        assert_eq!(both(b"01 2"), ["stray:01"]);
        assert_eq!(both(b"-x 5 {"), ["stray:-x", "LCurly"]);
        assert_eq!(both(b"1e+ x\n7 "), ["stray:1e+ ", "int:7"]);
        assert_eq!(both(b"\"ab\x01 zz\"\n"), ["stray:\"ab\u{1}"]);
        assert_eq!(both(b"\xff\xff"), ["stray:\u{FFFD}", "stray:\u{FFFD}"]);
        assert_eq!(both(b"@abc\tdef]"), ["stray:@", "RSquare"]);
    }

    #[test]
    fn string_flags() {
        assert_eq!(both(b"\"a\\\"b\""), ["str\"!:a\\\"b"]);
        assert_eq!(both("'é'".as_bytes()), ["str'!:é"]);
    }
}
