//! Splits the byte stream into messages the way QEMU's JSON streamer does: tokens accumulate
//! until every `{`/`[` is closed (or a closer has no opener), then they are parsed as one value.

use serde_json::Value;

use super::lexer::{Lexeme, Lexer, Punct};
use super::parser::{self, Token};
use super::{utf8, MAX_NESTING, MAX_TOKEN_COUNT, MAX_TOKEN_SIZE};

/// A message that could not be read; its text is qemu-ga's error `desc` (class GenericError).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The streaming reader: feed it bytes as they arrive, get whole values or errors back.
///
/// All state, including a half-read message or a pending recovery, carries over between
/// `feed` calls (and, as in qemu-ga, between clients of a listening socket).
#[derive(Debug, Default)]
pub struct Streamer {
    lexer: Lexer,
    message: Message,
}

impl Streamer {
    /// Reads `input`, calling `emit` for every complete value or error, in order.
    pub fn feed(&mut self, input: &[u8], emit: &mut impl FnMut(Result<Value, ParseError>)) {
        let message = &mut self.message;
        self.lexer
            .feed(input, &mut |lexeme| message.push(lexeme, emit));
    }

    /// Whether no partial message or token is pending.
    pub fn is_idle(&self) -> bool {
        self.message.tokens.is_empty() && self.lexer.is_idle()
    }
}

/// The tokens of the message being assembled.
#[derive(Debug, Default)]
struct Message {
    tokens: Vec<Token>,
    /// Sum of the token lengths so far.
    size: usize,
    braces: i64,
    brackets: i64,
    /// After a token count or size limit: the rest of that message is dropped unread (only
    /// its nesting is followed) instead of being read as a flood of new messages.
    discarding: bool,
}

impl Message {
    fn push(&mut self, lexeme: Lexeme<'_>, emit: &mut impl FnMut(Result<Value, ParseError>)) {
        let len = lexeme.len();
        let token = match lexeme {
            Lexeme::Stray(text) => {
                // QEMU formats the token as a C string, so a NUL byte ends it.
                let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
                let desc = format!("JSON parse error, stray '{}'", utf8::lossy(&text[..end]));
                return self.finish(Err(ParseError(desc)), emit);
            }
            Lexeme::Oversized if self.discarding => return,
            Lexeme::Oversized => return self.finish(Err(limit("JSON token size")), emit),
            Lexeme::Punct(punct) => {
                match punct {
                    Punct::LCurly => self.braces += 1,
                    Punct::RCurly => self.braces -= 1,
                    Punct::LSquare => self.brackets += 1,
                    Punct::RSquare => self.brackets -= 1,
                    Punct::Colon | Punct::Comma => {}
                }
                Token::Punct(punct)
            }
            Lexeme::Str {
                content,
                quote,
                plain,
            } => Token::string(content, quote, plain),
            Lexeme::Number { text, float } => Token::number(text, float),
            Lexeme::Keyword(text) => Token::keyword(text),
        };
        if self.discarding {
            if self.braces <= 0 && self.brackets <= 0 {
                self.finish_silently();
            }
            return;
        }
        if self.size + len + 1 > MAX_TOKEN_SIZE {
            return self.discard(limit("JSON token size"), emit);
        }
        if self.tokens.len() + 1 > MAX_TOKEN_COUNT {
            return self.discard(limit("JSON token count"), emit);
        }
        if self.braces + self.brackets > MAX_NESTING as i64 {
            return self.finish(Err(limit("JSON nesting depth")), emit);
        }
        self.tokens.push(token);
        self.size += len;
        if (self.braces > 0 || self.brackets > 0) && self.braces >= 0 && self.brackets >= 0 {
            return;
        }
        let result = parser::parse(&mut self.tokens)
            .map_err(|detail| ParseError(format!("JSON parse error, {detail}")));
        self.finish(result, emit);
    }

    /// Ends the current message: forgets its tokens and hands `result` on.
    fn finish(
        &mut self,
        result: Result<Value, ParseError>,
        emit: &mut impl FnMut(Result<Value, ParseError>),
    ) {
        self.finish_silently();
        emit(result);
    }

    fn finish_silently(&mut self) {
        self.braces = 0;
        self.brackets = 0;
        self.size = 0;
        self.discarding = false;
        self.tokens.clear();
        if self.tokens.capacity() > 4096 {
            // Do not keep a huge message's token array for the agent's lifetime.
            self.tokens = Vec::new();
        }
    }

    /// Reports `error` once and drops the rest of the message: qemu-ga reads that rest as
    /// new input, answering each of up to millions of leftover tokens with its own error.
    fn discard(&mut self, error: ParseError, emit: &mut impl FnMut(Result<Value, ParseError>)) {
        self.size = 0;
        self.tokens = Vec::new();
        self.discarding = true;
        emit(Err(error));
        if self.braces <= 0 && self.brackets <= 0 {
            self.finish_silently();
        }
    }
}

fn limit(what: &str) -> ParseError {
    ParseError(format!("{what} limit exceeded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `chunks` one after another and renders each result as compact JSON or `!error`.
    fn run(chunks: &[&[u8]]) -> Vec<String> {
        let mut streamer = Streamer::default();
        let mut out = Vec::new();
        for chunk in chunks {
            streamer.feed(chunk, &mut |r| {
                out.push(match r {
                    Ok(v) => v.to_string(),
                    Err(e) => format!("!{}", e.0),
                })
            });
        }
        out
    }

    fn bytewise(input: &[u8]) -> Vec<String> {
        let chunks: Vec<&[u8]> = input.chunks(1).collect();
        let whole = run(&[input]);
        assert_eq!(
            whole,
            run(&chunks),
            "byte-by-byte feeding differs for {input:?}"
        );
        whole
    }

    #[test]
    fn values_with_and_without_separators() {
        assert_eq!(
            bytewise(b"{\"a\":1}{\"b\":[2,3]}\n[]  \"s\" 4 "),
            [r#"{"a":1}"#, r#"{"b":[2,3]}"#, "[]", r#""s""#, "4"]
        );
        // A value split over reads is emitted once complete; key order is kept.
        assert_eq!(
            run(&[b"{\"execute\": \"guest-", b"ping\", \"id\"", b": 7}"]),
            [r#"{"execute":"guest-ping","id":7}"#]
        );
    }

    #[test]
    fn parse_errors() {
        assert_eq!(bytewise(b"}"), ["!JSON parse error, expecting value"]);
        assert_eq!(
            bytewise(b"[1 2]"),
            ["!JSON parse error, expected separator in list"]
        );
        assert_eq!(
            bytewise(b"{\"a\" 1}"),
            ["!JSON parse error, missing : in object pair"]
        );
        assert_eq!(
            bytewise(b"{1:2}"),
            ["!JSON parse error, key is not a string in object"]
        );
        assert_eq!(
            bytewise(b"{\"a\":1 \"b\":2}"),
            ["!JSON parse error, expected separator in dict"]
        );
        assert_eq!(
            bytewise(b"{\"a\":1,\"a\":2}"),
            ["!JSON parse error, duplicate key"]
        );
        assert_eq!(
            bytewise(b"{\"a\":1]"),
            ["!JSON parse error, expected separator in dict"]
        );
        assert_eq!(bytewise(b"[}"), ["!JSON parse error, expecting value"]);
        assert_eq!(
            bytewise(b"nul "),
            ["!JSON parse error, invalid keyword 'nul'"]
        );
        assert_eq!(
            bytewise(b"[nul, 1 2]"),
            ["!JSON parse error, invalid keyword 'nul'"]
        );
        assert_eq!(
            bytewise(b"[1 2, \"\\q\"]"),
            ["!JSON parse error, expected separator in list"]
        );
    }

    #[test]
    fn stray_bytes_discard_the_message_and_recover() {
        assert_eq!(
            bytewise(b"{\"execute\": @ \"guest-ping\"}\n{\"a\":1}"),
            [
                "!JSON parse error, stray '@'",
                "!JSON parse error, expecting value",
                r#"{"a":1}"#
            ]
        );
        assert_eq!(
            bytewise(b"\xff{\"a\":1}"),
            ["!JSON parse error, stray '\u{FFFD}'", r#"{"a":1}"#]
        );
        assert_eq!(bytewise(b"\x00"), ["!JSON parse error, stray ''"]);
        assert_eq!(
            bytewise(b"\"ab\xc0\xaf\x01"),
            ["!JSON parse error, stray '\"ab\u{FFFD}\u{1}'"]
        );
        // Every 0xFF is an error of its own, even one that ends a recovery.
        assert_eq!(bytewise(b"@ \xff").len(), 2);
    }

    #[test]
    fn nesting_limit() {
        let ok = [b"[".repeat(1024), b"]".repeat(1024)].concat();
        assert_eq!(run(&[&ok]).len(), 1);
        assert!(run(&[&ok])[0].starts_with("[[[["));
        let deep = [b"[".repeat(1025), b"]".repeat(1025)].concat();
        let out = run(&[&deep]);
        assert_eq!(out[0], "!JSON nesting depth limit exceeded");
        // The rest of the message is lexed as new input: "]" alone is "expecting value".
        assert_eq!(out.len(), 1 + 1025);
        assert!(out[1..]
            .iter()
            .all(|e| e == "!JSON parse error, expecting value"));
    }

    #[test]
    fn token_count_limit() {
        let mut input = b"[".to_vec();
        input.extend(b"1,".repeat(MAX_TOKEN_COUNT / 2));
        input.extend(b"1]");
        let out = run(&[&input]);
        assert_eq!(out[0], "!JSON token count limit exceeded");
        // One error for the whole message (qemu-ga answers each leftover token), then the
        // next message is read as usual, also when fed in pieces.
        input.extend(b"{\"execute\": \"guest-ping\"}");
        assert_eq!(out.len(), 1);
        let pieces: Vec<&[u8]> = input.chunks(4093).collect();
        assert_eq!(
            run(&pieces),
            [
                "!JSON token count limit exceeded",
                "{\"execute\":\"guest-ping\"}"
            ]
        );
        // Nested deeper: the message ends where its outermost bracket closes.
        let mut nested = b"{\"a\": [[".to_vec();
        nested.extend(b"{},".repeat(MAX_TOKEN_COUNT / 3));
        nested.extend(b"[]]]}[2]");
        assert_eq!(run(&[&nested]), ["!JSON token count limit exceeded", "[2]"]);
    }

    #[test]
    fn token_size_limit() {
        // One string token longer than the limit is cut, and what follows is lexed afresh.
        let mut input = b"[\"".to_vec();
        input.extend(std::iter::repeat_n(b'a', MAX_TOKEN_SIZE));
        input.extend(b"\"]");
        let out = run(&[&input]);
        assert_eq!(out[0], "!JSON token size limit exceeded");
        // Many tokens adding up past the limit.
        let big = format!("\"{}\"", "b".repeat(MAX_TOKEN_SIZE / 2));
        let msg = format!("[{big},{big}]");
        let out = run(&[msg.as_bytes()]);
        assert_eq!(out, ["!JSON token size limit exceeded"]);
    }

    #[test]
    fn big_string_is_kept_intact() {
        let payload = "QUJD".repeat(1 << 20);
        let msg = format!("{{\"buf-b64\": \"{payload}\"}}");
        let out = run(&[msg.as_bytes()]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].len(), msg.len() - 1);
    }
}
