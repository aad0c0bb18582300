//! Tokenizes a schema file with the pest grammar in `qapi.pest`.
//!
//! One pest parse per file yields a flat token list; the parser then consumes it one token at
//! a time, so malformed tokens surface exactly when QEMU's lazy lexer would reach them.

use pest::Parser as _;

use crate::source::is_py_space;

#[derive(pest_derive::Parser)]
#[grammar = "qapi.pest"]
struct Grammar;

/// Why a token is malformed (the message is chosen by the parser).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LexError {
    /// Newline before the closing quote.
    Unterminated,
    /// `\` followed by the character at [`Token::aux`].
    BadEscape,
    /// A character outside printable ASCII inside a string.
    Funny,
    /// A run of characters that start no token.
    Stray,
}

/// Token kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Colon,
    Comma,
    /// A well-formed string; its text is `start + 1 .. end - 1`.
    Str,
    True,
    False,
    /// A comment, `#` up to the end of the line.
    Comment,
    /// The final newline of the file.
    Eof,
    Error(LexError),
}

/// A token with byte offsets into the file's text.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Token {
    pub kind: Tok,
    pub start: u32,
    pub end: u32,
    /// 1-based line of `start`.
    pub line: u32,
    /// For [`LexError::BadEscape`]: offset of the escaped character.
    pub aux: u32,
}

/// A file's tokens and the byte offset of the start of each line.
pub(crate) struct Tokens {
    pub tokens: Vec<Token>,
    pub line_starts: Vec<u32>,
}

/// Counts lines while tokens are appended in order: newlines only occur between tokens
/// (and inside malformed strings), so only those bytes are scanned.
struct Lines<'t> {
    bytes: &'t [u8],
    scanned: usize,
    starts: Vec<u32>,
}

impl Lines<'_> {
    /// Scans up to `pos` and returns the line of `pos`.
    fn line_at(&mut self, pos: usize) -> u32 {
        if pos > self.scanned {
            for (i, &b) in self.bytes[self.scanned..pos].iter().enumerate() {
                if b == b'\n' {
                    self.starts.push((self.scanned + i + 1) as u32);
                }
            }
            self.scanned = pos;
        }
        self.starts.len() as u32
    }

    /// Skips bytes known to hold no newline.
    fn skip_to(&mut self, pos: usize) {
        self.scanned = self.scanned.max(pos);
    }
}

/// Splits `text` (which must end with `\n`) into tokens, ending with [`Tok::Eof`] at the
/// final newline.
pub(crate) fn tokenize(text: &str) -> Result<Tokens, String> {
    let mut pairs =
        Grammar::parse(Rule::file, text).map_err(|e| format!("internal lexer error: {e}"))?;
    let file = pairs
        .next()
        .ok_or_else(|| "internal lexer error: no file".to_string())?;
    let bytes = text.as_bytes();
    let mut lines = Lines {
        bytes,
        scanned: 0,
        starts: Vec::with_capacity(text.len() / 24 + 1),
    };
    lines.starts.push(0);
    let mut tokens = Vec::with_capacity(text.len() / 16);
    let mut push = |lines: &mut Lines, kind, start: usize, end: usize, aux: usize| {
        let line = lines.line_at(start);
        tokens.push(Token {
            kind,
            start: start as u32,
            end: end as u32,
            line,
            aux: aux as u32,
        });
    };
    for pair in file.into_inner() {
        if pair.as_rule() != Rule::token {
            continue; // EOI
        }
        let span = pair.as_span();
        let (start, end) = (span.start(), span.end());
        let token = &text[start..end];
        match bytes[start] {
            b'{' | b'}' | b'[' | b']' | b':' | b',' => {
                structure(&mut push, &mut lines, bytes, start, end);
            }
            b'\'' => {
                let (kind, at) = string_kind(token);
                if kind == Tok::Str {
                    // The string, then the structure run the grammar attached to it.
                    push(&mut lines, kind, start, start + at + 1, 0);
                    lines.skip_to(start + at + 1); // well-formed strings hold no newline
                    structure(&mut push, &mut lines, bytes, start + at + 1, end);
                } else {
                    push(&mut lines, kind, start, end, start + at);
                }
            }
            b'#' => {
                // Comments on consecutive lines: one token per line.
                let mut at = start;
                loop {
                    let line_end = token.as_bytes()[at - start..]
                        .iter()
                        .position(|&b| b == b'\n')
                        .map_or(end, |i| at + i);
                    push(&mut lines, Tok::Comment, at, line_end, 0);
                    lines.skip_to(line_end);
                    if line_end >= end {
                        break;
                    }
                    at = line_end + 1;
                }
            }
            _ if token == "true" => push(&mut lines, Tok::True, start, end, 0),
            _ if token == "false" => push(&mut lines, Tok::False, start, end, 0),
            _ if token.starts_with(is_py_space) => {}
            _ => push(&mut lines, Tok::Error(LexError::Stray), start, end, 0),
        }
    }
    let eof = text.len().saturating_sub(1);
    push(&mut lines, Tok::Eof, eof, eof, 0);
    Ok(Tokens {
        tokens,
        line_starts: lines.starts,
    })
}

/// Pushes one token per structural character of `bytes[start..end]` (the rest is blanks).
fn structure(
    push: &mut impl FnMut(&mut Lines, Tok, usize, usize, usize),
    lines: &mut Lines,
    bytes: &[u8],
    start: usize,
    end: usize,
) {
    for (i, &b) in bytes[start..end].iter().enumerate() {
        let kind = match b {
            b'{' => Tok::LBrace,
            b'}' => Tok::RBrace,
            b'[' => Tok::LBracket,
            b']' => Tok::RBracket,
            b':' => Tok::Colon,
            b',' => Tok::Comma,
            _ => continue,
        };
        push(lines, kind, start + i, start + i + 1, 0);
    }
}

/// A string token's kind, and the offset within the token of its closing quote (well-formed)
/// or of its escaped character (bad escape). The grammar ends a malformed string token at
/// the first character QEMU rejects; a well-formed one at its closing quote, which is the
/// first quote after the opening one (quotes cannot be escaped).
fn string_kind(token: &str) -> (Tok, usize) {
    let b = token.as_bytes();
    // Backslashes pair up from the left, so an odd run right before a character means that
    // character is escaped.
    let escaped = |at: usize| b[1..at].iter().rev().take_while(|&&c| c == b'\\').count() % 2 == 1;
    if let Some(q) = b[1..].iter().position(|&c| c == b'\'').map(|i| i + 1) {
        return if escaped(q) {
            (Tok::Error(LexError::BadEscape), q)
        } else {
            (Tok::Str, q)
        };
    }
    let Some((at, last)) = token.char_indices().last().filter(|&(at, _)| at > 0) else {
        return (Tok::Error(LexError::Unterminated), 0);
    };
    if last == '\n' {
        (Tok::Error(LexError::Unterminated), 0)
    } else if escaped(at) {
        (Tok::Error(LexError::BadEscape), at)
    } else {
        (Tok::Error(LexError::Funny), 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Tok> {
        tokenize(text)
            .unwrap()
            .tokens
            .iter()
            .map(|t| t.kind)
            .collect()
    }

    #[test]
    fn structural_and_literals() {
        use Tok::*;
        assert_eq!(
            kinds("{ 'a': [ true, false ] }\n"),
            vec![LBrace, Str, Colon, LBracket, True, Comma, False, RBracket, RBrace, Eof]
        );
    }

    #[test]
    fn true_is_a_prefix_match() {
        use Tok::*;
        assert_eq!(kinds("truex\n"), vec![True, Error(LexError::Stray), Eof]);
        assert_eq!(kinds("falsetrue\n"), vec![False, True, Eof]);
    }

    #[test]
    fn string_errors() {
        use Tok::*;
        assert_eq!(kinds("'ab\n"), vec![Error(LexError::Unterminated), Eof]);
        assert_eq!(kinds("'a\\\nb'\n")[0], Error(LexError::Unterminated));
        assert_eq!(kinds("'a\\u'\n")[0], Error(LexError::BadEscape));
        assert_eq!(kinds("'a\\\\b'\n")[0], Str);
        assert_eq!(kinds("'a\tb'\n")[0], Error(LexError::Funny));
        assert_eq!(kinds("'é'\n")[0], Error(LexError::Funny));
        assert_eq!(kinds("'\u{7f}'\n")[0], Error(LexError::Funny));
    }

    #[test]
    fn strings_and_their_structure_runs_split() {
        use Tok::*;
        assert_eq!(
            kinds("{ 'a': [ 'b\\\\' ],\n 'c' }\n"),
            vec![LBrace, Str, Colon, LBracket, Str, RBracket, Comma, Str, RBrace, Eof]
        );
        let t = tokenize("'a' ,\n'b'\n").unwrap().tokens;
        assert_eq!((t[0].start, t[0].end, t[0].line), (0, 3, 1));
        assert_eq!((t[1].kind, t[1].line), (Comma, 1));
        assert_eq!((t[2].kind, t[2].line), (Str, 2));
        assert_eq!(kinds("'a\\\\\\'\n")[0], Error(LexError::BadEscape));
    }

    #[test]
    fn bad_escape_points_at_the_escaped_char() {
        let t = tokenize("  'x\\q'\n").unwrap().tokens;
        assert_eq!(t[0].start, 2);
        assert_eq!(t[0].aux, 5);
    }

    #[test]
    fn stray_runs_stop_at_structure_quotes_and_space() {
        let text = "ab#c,d 'x' \u{1d}e\n";
        let t = tokenize(text).unwrap().tokens;
        assert_eq!(t[0].kind, Tok::Error(LexError::Stray));
        assert_eq!(&text[t[0].start as usize..t[0].end as usize], "ab#c");
        // U+001D is whitespace for Python, so 'e' starts a new run.
        let last = t[t.len() - 2];
        assert_eq!(&text[last.start as usize..last.end as usize], "e");
    }

    #[test]
    fn comments_run_to_end_of_line() {
        let text = "# one\n  ## two\n";
        let t = tokenize(text).unwrap().tokens;
        assert_eq!(&text[t[1].start as usize..t[1].end as usize], "## two");
    }
}
