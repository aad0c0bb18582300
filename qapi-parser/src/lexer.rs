//! Tokenizes a schema file with the pest grammar in `qapi.pest`.
//!
//! One pest parse per file yields coarse pieces, split here into a flat token list with the
//! line of each token; the parser then consumes it one token at a time, so malformed tokens
//! surface exactly when QEMU's lazy lexer would reach them.

use pest::Parser as _;

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
    /// For [`LexError::BadEscape`]: offset of the escaped character; for [`Tok::Str`]: 1
    /// when the string holds an escape.
    pub aux: u32,
}

/// A file's tokens and the byte offset of the start of each line.
pub(crate) struct Tokens {
    pub tokens: Vec<Token>,
    pub line_starts: Vec<u32>,
}

/// Splits `text` (which must end with `\n`) into tokens, ending with [`Tok::Eof`] at the
/// final newline; `tokens` is a list to reuse.
pub(crate) fn tokenize(text: &str, mut tokens: Vec<Token>) -> Result<Tokens, String> {
    let pairs =
        Grammar::parse(Rule::file, text).map_err(|e| format!("internal lexer error: {e}"))?;
    let mut lx = Lexer {
        text,
        tokens: {
            tokens.clear();
            tokens.reserve(text.len() / 16);
            tokens
        },
        line_starts: Vec::with_capacity(text.len() / 24 + 1),
    };
    lx.line_starts.push(0);
    for pair in pairs {
        match pair.as_rule() {
            Rule::whole => lx.run(0, text.len()),
            Rule::tokens => {
                for piece in pair.into_inner() {
                    let span = piece.as_span();
                    let (start, end) = (span.start(), span.end());
                    match piece.as_rule() {
                        Rule::run => lx.run(start, end),
                        Rule::bad_string => lx.bad_string(start, end),
                        Rule::stray => lx.push(Tok::Error(LexError::Stray), start, end, 0),
                        _ => {} // EOI
                    }
                }
            }
            _ => {}
        }
    }
    // The final newline, on the line it ends.
    let eof = text.len().saturating_sub(1);
    let line = lx.line_starts.partition_point(|&s| s as usize <= eof);
    lx.tokens.push(Token {
        kind: Tok::Eof,
        start: eof as u32,
        end: eof as u32,
        line: line as u32,
        aux: 0,
    });
    Ok(Tokens {
        tokens: lx.tokens,
        line_starts: lx.line_starts,
    })
}

/// Turns the grammar's pieces, which cover the text in order, into QEMU's tokens, counting
/// lines on the way.
struct Lexer<'t> {
    text: &'t str,
    tokens: Vec<Token>,
    /// Start of every line up to the current piece: its length is the current line.
    line_starts: Vec<u32>,
}

impl Lexer<'_> {
    fn push(&mut self, kind: Tok, start: usize, end: usize, aux: usize) {
        self.tokens.push(Token {
            kind,
            start: start as u32,
            end: end as u32,
            line: self.line_starts.len() as u32,
            aux: aux as u32,
        });
    }

    /// Splits a run: every token in it starts with its own character, the grammar has
    /// matched each string up to its closing quote (quotes cannot be escaped) and each
    /// comment up to the end of its line, and everything else is whitespace.
    fn run(&mut self, start: usize, end: usize) {
        let bytes = self.text.as_bytes();
        let mut at = start;
        while at < end {
            let (kind, len) = match bytes[at] {
                b' ' => {
                    at += 1;
                    continue;
                }
                b'\n' => {
                    at += 1;
                    self.line_starts.push(at as u32);
                    continue;
                }
                b'#' => (
                    Tok::Comment,
                    find_newline(&bytes[at..end]).unwrap_or(end - at),
                ),
                b'\'' => {
                    // Up to the closing quote: any character outside printable ASCII, and
                    // whether there is an escape to undo.
                    let body = &bytes[at + 1..end];
                    let (mut close, mut funny, mut escaped) = (body.len(), false, false);
                    for (i, &b) in body.iter().enumerate() {
                        if b == b'\'' {
                            close = i;
                            break;
                        }
                        funny |= !(b' '..=b'~').contains(&b);
                        escaped |= b == b'\\';
                    }
                    if funny {
                        (Tok::Error(LexError::Funny), close + 2)
                    } else {
                        self.push(Tok::Str, at, at + close + 2, usize::from(escaped));
                        at += close + 2;
                        continue;
                    }
                }
                b',' => (Tok::Comma, 1),
                b':' => (Tok::Colon, 1),
                b'{' => (Tok::LBrace, 1),
                b'}' => (Tok::RBrace, 1),
                b'[' => (Tok::LBracket, 1),
                b']' => (Tok::RBracket, 1),
                b't' => (Tok::True, 4),
                b'f' => (Tok::False, 5),
                lead => {
                    // Other whitespace: skip the whole character.
                    at += match lead {
                        0xf0.. => 4,
                        0xe0.. => 3,
                        0xc0.. => 2,
                        _ => 1,
                    };
                    continue;
                }
            };
            self.push(kind, at, at + len, 0);
            at += len;
        }
    }

    /// A refused string: it ends with a newline (or the end of the text), or with `\\`
    /// and the character it escapes. A character outside printable ASCII before that
    /// point is reported first, as QEMU reads strings left to right.
    fn bad_string(&mut self, start: usize, end: usize) {
        let token = &self.text.as_bytes()[start..end];
        let (kind, aux, body_end) = match token.last() {
            Some(b'\n') => (LexError::Unterminated, 0, token.len() - 1),
            _ if end >= self.text.len() => (LexError::Unterminated, 0, token.len()),
            _ => {
                // The escaped character starts right after the last backslash.
                let backslash = token.iter().rposition(|&b| b == b'\\').unwrap_or(0);
                (LexError::BadEscape, start + backslash + 1, backslash)
            }
        };
        let kind = if funny(&token[1.min(body_end)..body_end]) {
            LexError::Funny
        } else {
            kind
        };
        self.push(Tok::Error(kind), start, end, aux);
        if token.last() == Some(&b'\n') {
            self.line_starts.push(end as u32);
        }
    }
}

/// Offset of the first newline in `bytes`, eight bytes at a time (comment lines are long
/// and many; `str::find` is slower on them).
fn find_newline(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const NEWLINES: u64 = u64::from_ne_bytes([b'\n'; 8]);
    let mut chunks = bytes.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        // A zero byte of `x` sets its high bit in `(x - ONES) & !x & HIGHS`; bytes above it may
        // also set theirs (borrows), so only the lowest one counts.
        let x = u64::from_le_bytes(word) ^ NEWLINES;
        let zeros = x.wrapping_sub(ONES) & !x & HIGHS;
        if zeros != 0 {
            return Some(base + zeros.trailing_zeros() as usize / 8);
        }
        base += 8;
    }
    let rest = chunks.remainder();
    rest.iter().position(|&b| b == b'\n').map(|i| base + i)
}

/// Whether string text holds a character outside printable ASCII (QEMU's "funny character").
fn funny(text: &[u8]) -> bool {
    text.iter().any(|&b| !(b' '..=b'~').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Tok> {
        tokenize(text, Vec::new())
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
        let t = tokenize("'a' ,\n'b'\n", Vec::new()).unwrap().tokens;
        assert_eq!((t[0].start, t[0].end, t[0].line), (0, 3, 1));
        assert_eq!((t[1].kind, t[1].line), (Comma, 1));
        assert_eq!((t[2].kind, t[2].line), (Str, 2));
        assert_eq!(kinds("'a\\\\\\'\n")[0], Error(LexError::BadEscape));
    }

    #[test]
    fn strings_note_their_escapes() {
        let t = tokenize("['a\\\\b', 'c']\n", Vec::new()).unwrap().tokens;
        assert_eq!((t[1].kind, t[1].aux), (Tok::Str, 1));
        assert_eq!((t[3].kind, t[3].aux), (Tok::Str, 0));
    }

    #[test]
    fn bad_escape_points_at_the_escaped_char() {
        let t = tokenize("  'x\\q'\n", Vec::new()).unwrap().tokens;
        assert_eq!(t[0].start, 2);
        assert_eq!(t[0].aux, 5);
    }

    #[test]
    fn stray_runs_stop_at_structure_quotes_and_space() {
        let text = "ab#c,d 'x' \u{1d}e\n";
        let t = tokenize(text, Vec::new()).unwrap().tokens;
        assert_eq!(t[0].kind, Tok::Error(LexError::Stray));
        assert_eq!(&text[t[0].start as usize..t[0].end as usize], "ab#c");
        // U+001D is whitespace for Python, so 'e' starts a new run.
        let last = t[t.len() - 2];
        assert_eq!(&text[last.start as usize..last.end as usize], "e");
    }

    #[test]
    fn comments_run_to_end_of_line() {
        let text = "# one\n  ## two\n";
        let t = tokenize(text, Vec::new()).unwrap().tokens;
        assert_eq!(&text[t[1].start as usize..t[1].end as usize], "## two");
    }
    #[test]
    fn other_whitespace_inside_runs() {
        use Tok::*;
        let text = "{\t'a':\u{a0}[\u{1c}true,\u{3000}'b' ]\x0b}\n";
        assert_eq!(
            kinds(text),
            vec![LBrace, Str, Colon, LBracket, True, Comma, Str, RBracket, RBrace, Eof]
        );
    }

    #[test]
    fn funny_characters_come_first() {
        use Tok::*;
        assert_eq!(kinds("'a\u{1}b' x\n")[0], Error(LexError::Funny));
        assert_eq!(kinds("'é\\q'\n")[0], Error(LexError::Funny));
        assert_eq!(kinds("'a\\qé'\n")[0], Error(LexError::BadEscape));
        assert_eq!(kinds("'\u{7f}\n")[0], Error(LexError::Funny));
        assert_eq!(kinds("'a\\é'\n")[0], Error(LexError::BadEscape));
    }

    #[test]
    fn lines_count_through_comments_and_errors() {
        let text = "##\n# a\n##\n{ 'x': 'y' } # c\n\n'bad\n  'z'\n";
        let t = tokenize(text, Vec::new()).unwrap();
        let lines: Vec<(Tok, u32)> = t.tokens.iter().map(|t| (t.kind, t.line)).collect();
        assert_eq!(lines[0], (Tok::Comment, 1));
        assert_eq!(lines[2], (Tok::Comment, 3));
        assert_eq!(lines[3], (Tok::LBrace, 4));
        assert_eq!(lines[8], (Tok::Comment, 4));
        assert_eq!(lines[9], (Tok::Error(LexError::Unterminated), 6));
        assert_eq!(lines[10], (Tok::Str, 7));
        assert_eq!(t.line_starts, vec![0, 3, 7, 10, 27, 28, 33, 39]);
    }

    #[test]
    fn newline_search_matches_a_plain_scan() {
        for len in 0..40 {
            for at in 0..=len {
                let mut bytes = vec![b'#'; len];
                if at < len {
                    bytes[at] = b'\n';
                }
                // Bytes just below and above '\n' must not count.
                if at + 1 < len {
                    bytes[at + 1] = b'\x0b';
                }
                if at > 0 {
                    bytes[at - 1] = b'\x09';
                }
                assert_eq!(
                    find_newline(&bytes),
                    bytes.iter().position(|&b| b == b'\n'),
                    "{bytes:?}"
                );
            }
        }
    }

    /// QEMU's lexer, character by character: kind, start, end (errors: start only) and line
    /// of each token, up to the first malformed one (nothing after it is ever reached).
    fn reference(text: &str) -> Vec<(Tok, usize, usize, u32)> {
        let is_space = |c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c);
        let mut out = Vec::new();
        let (mut at, mut line) = (0, 1);
        while at < text.len() {
            let c = text[at..].chars().next().unwrap();
            let single = match c {
                '{' => Some(Tok::LBrace),
                '}' => Some(Tok::RBrace),
                '[' => Some(Tok::LBracket),
                ']' => Some(Tok::RBracket),
                ':' => Some(Tok::Colon),
                ',' => Some(Tok::Comma),
                _ => None,
            };
            if let Some(kind) = single {
                out.push((kind, at, at + 1, line));
                at += 1;
            } else if c == '#' {
                let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
                out.push((Tok::Comment, at, end, line));
                at = end;
            } else if c == '\'' {
                let mut i = at + 1;
                let mut esc = false;
                let bad = loop {
                    let Some(ch) = text[i..].chars().next() else {
                        break Some(LexError::Unterminated);
                    };
                    if ch == '\n' {
                        break Some(LexError::Unterminated);
                    }
                    i += ch.len_utf8();
                    if esc {
                        if ch != '\\' {
                            break Some(LexError::BadEscape);
                        }
                        esc = false;
                    } else if ch == '\\' {
                        esc = true;
                        continue;
                    } else if ch == '\'' {
                        break None;
                    }
                    if !(' '..='~').contains(&ch) {
                        break Some(LexError::Funny);
                    }
                };
                match bad {
                    None => out.push((Tok::Str, at, i, line)),
                    Some(e) => {
                        out.push((Tok::Error(e), at, at, line));
                        return out;
                    }
                }
                at = i;
            } else if text[at..].starts_with("true") {
                out.push((Tok::True, at, at + 4, line));
                at += 4;
            } else if text[at..].starts_with("false") {
                out.push((Tok::False, at, at + 5, line));
                at += 5;
            } else if is_space(c) {
                if c == '\n' {
                    line += 1;
                }
                at += c.len_utf8();
            } else {
                let end = text[at..]
                    .char_indices()
                    .find(|&(_, c)| "{}[]:,'".contains(c) || is_space(c))
                    .map_or(text.len(), |(i, _)| at + i);
                out.push((Tok::Error(LexError::Stray), at, end, line));
                return out;
            }
        }
        out.push((Tok::Eof, text.len() - 1, text.len() - 1, line - 1));
        out
    }

    fn compare_with_reference(text: &str) {
        let want = reference(text);
        let got = tokenize(text, Vec::new()).unwrap().tokens;
        for (i, w) in want.iter().enumerate() {
            let g = got[i];
            let (start, end) = (g.start as usize, g.end as usize);
            let end = if matches!(g.kind, Tok::Error(e) if e != LexError::Stray) {
                start
            } else {
                end
            };
            assert_eq!((g.kind, start, end, g.line), *w, "token {i} of {text:?}");
        }
    }

    #[test]
    fn same_tokens_as_qemus_lexer() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema");
        let mut texts = vec![
            "{ 'a': 'b' } # x\n\t## y\n'c\\\\d', [ truefalse ]\n".to_string(),
            "'a'b\n".to_string(),
            "x\u{a0}y\n".to_string(),
        ];
        for name in ["qga/qapi-schema.json", "qga-1.5/qapi-schema.json"] {
            texts.push(std::fs::read_to_string(dir.join(name)).unwrap());
        }
        // Damage copies at spread-out places, with characters that matter to the lexer.
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let originals = texts.len();
        for n in 0..originals {
            for round in 0..40 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let mut chars: Vec<char> = texts[n].chars().collect();
                let at = (seed % chars.len() as u64) as usize;
                let c = ['\'', '\\', '\n', 'é', '\t', '#', 'x', '\u{1}', '}'][round % 9];
                chars.insert(at, c);
                texts.push(chars.into_iter().collect());
            }
        }
        for text in &texts {
            let text = if text.ends_with('\n') {
                text.clone()
            } else {
                format!("{text}\n")
            };
            compare_with_reference(&text);
        }
    }
}
