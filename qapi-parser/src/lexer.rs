//! Tokenizes a schema file with the pest grammar in `qapi.pest`.
//!
//! One pest parse per file yields a flat token list; the parser then consumes it one token at
//! a time, so malformed tokens surface exactly when QEMU's lazy lexer would reach them.

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
    /// For [`LexError::BadEscape`]: offset of the escaped character.
    pub aux: u32,
}

/// Splits `text` (which must end with `\n`) into tokens, ending with [`Tok::Eof`] at the
/// final newline.
pub(crate) fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let pairs = Grammar::parse(Rule::file, text).map_err(|e| format!("internal lexer error: {e}"))?;
    let mut tokens = Vec::with_capacity(text.len() / 8);
    for pair in pairs {
        let span = pair.as_span();
        let (start, end) = (span.start() as u32, span.end() as u32);
        let kind = match pair.as_rule() {
            Rule::comment => Tok::Comment,
            Rule::lbrace => Tok::LBrace,
            Rule::rbrace => Tok::RBrace,
            Rule::lbracket => Tok::LBracket,
            Rule::rbracket => Tok::RBracket,
            Rule::colon => Tok::Colon,
            Rule::comma => Tok::Comma,
            Rule::true_lit => Tok::True,
            Rule::false_lit => Tok::False,
            Rule::stray => Tok::Error(LexError::Stray),
            Rule::string => {
                // The first inner pair is the text; a second one, if any, is the error.
                let mut kind = Tok::Str;
                let mut aux = 0;
                for inner in pair.into_inner() {
                    let at = inner.as_span().start() as u32;
                    kind = match inner.as_rule() {
                        Rule::string_text => continue,
                        Rule::string_unterminated => Tok::Error(LexError::Unterminated),
                        Rule::string_bad_escape => {
                            aux = at + 1;
                            Tok::Error(LexError::BadEscape)
                        }
                        _ => Tok::Error(LexError::Funny),
                    };
                }
                tokens.push(Token {
                    kind,
                    start,
                    end,
                    aux,
                });
                continue;
            }
            Rule::EOI => continue,
            other => return Err(format!("internal lexer error: unexpected {other:?}")),
        };
        tokens.push(Token {
            kind,
            start,
            end,
            aux: 0,
        });
    }
    let eof = text.len().saturating_sub(1) as u32;
    tokens.push(Token {
        kind: Tok::Eof,
        start: eof,
        end: eof,
        aux: 0,
    });
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Tok> {
        tokenize(text).unwrap().iter().map(|t| t.kind).collect()
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
    fn bad_escape_points_at_the_escaped_char() {
        let t = tokenize("  'x\\q'\n").unwrap();
        assert_eq!(t[0].start, 2);
        assert_eq!(t[0].aux, 5);
    }

    #[test]
    fn stray_runs_stop_at_structure_quotes_and_space() {
        let text = "ab#c,d 'x' \u{1d}e\n";
        let t = tokenize(text).unwrap();
        assert_eq!(t[0].kind, Tok::Error(LexError::Stray));
        assert_eq!(&text[t[0].start as usize..t[0].end as usize], "ab#c");
        // U+001D is whitespace for Python, so 'e' starts a new run.
        let last = t[t.len() - 2];
        assert_eq!(&text[last.start as usize..last.end as usize], "e");
    }

    #[test]
    fn comments_run_to_end_of_line() {
        let text = "# one\n  ## two\n";
        let t = tokenize(text).unwrap();
        assert_eq!(&text[t[1].start as usize..t[1].end as usize], "## two");
    }
}
