//! Runs the pest grammar in `qapi.pest` over a schema file and words its error points as QEMU
//! does.

use pest::iterators::{Pair, Pairs};
use pest::Parser as _;

#[derive(pest_derive::Parser)]
#[grammar = "qapi.pest"]
pub(crate) struct Grammar;

/// A syntax error: QEMU's message and the byte range of the token it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub start: u32,
    pub end: u32,
    pub message: String,
}

/// Parses `text`, which ends with a newline, into its top-level pairs, in order: doc blocks
/// (`doc_block`; legacy: `legacy_doc_block`, `legacy_comment`), values (`dict`, `list`,
/// `string`, `boolean`), at most one error point, and `EOI`.
///
/// The grammar matches every input; pest fails only when nesting exhausts its stack.
pub(crate) fn parse_file(text: &str, legacy: bool) -> Result<Pairs<'_, Rule>, String> {
    let rule = if legacy {
        Rule::legacy_file
    } else {
        Rule::file
    };
    let mut pairs = Grammar::parse(rule, text).map_err(|e| match e.variant {
        pest::error::ErrorVariant::CustomError { message } => message,
        _ => e.to_string(),
    })?;
    pairs
        .next()
        .map(Pair::into_inner)
        .ok_or_else(|| "empty parse".to_string())
}

/// Whether `rule` marks an error point (see `qapi.pest`).
pub(crate) fn is_error_point(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::want_value
            | Rule::want_value_or_rbracket
            | Rule::want_string_or_rbrace
            | Rule::want_colon
            | Rule::want_comma_or_rbrace
            | Rule::want_string
            | Rule::want_comma_or_rbracket
            | Rule::too_deep
    )
}

/// The byte range of the token a pair starts with, as QEMU's parser sees it: the opening
/// character of an object or list, the whole of a string or boolean, the token at an error
/// point, or the final newline at the end of the input (QEMU's end-of-file token). `len` is
/// the length of the file's text.
pub(crate) fn token_span(pair: &Pair<'_, Rule>, len: usize) -> (u32, u32) {
    let span = pair.as_span();
    let eof = len.saturating_sub(1);
    let (start, end) = match pair.as_rule() {
        Rule::dict | Rule::list | Rule::legacy_dict | Rule::legacy_list => {
            (span.start(), span.start() + 1)
        }
        r if is_error_point(r) => match error_token(pair) {
            Some(token) => (token.as_span().start(), token.as_span().end()),
            None => (eof, eof),
        },
        _ => (span.start(), span.end()),
    };
    let start = start.min(eof);
    (start as u32, end.max(start) as u32)
}

/// When `pair` is an error point at a malformed token: QEMU's lexical error for it (its
/// lexer reports a bad token as soon as it reads it, before the parser looks at it).
pub(crate) fn lexical_error(pair: &Pair<'_, Rule>) -> Option<SyntaxError> {
    if !is_error_point(pair.as_rule()) {
        return None;
    }
    let token = error_token(pair)?;
    let message = match token.as_rule() {
        Rule::bad_string_end => "missing terminating \"'\"".to_string(),
        Rule::bad_string_char => "funny character in string".to_string(),
        Rule::bad_escape => {
            let escaped = token.as_str().chars().next_back().unwrap_or(' ');
            format!("unknown escape \\{escaped}")
        }
        Rule::stray => format!("stray '{}'", token.as_str()),
        _ => return None,
    };
    let span = token.as_span();
    Some(SyntaxError {
        start: span.start() as u32,
        end: span.end() as u32,
        message,
    })
}

/// The token at the error point `pair` (none at the end of the input).
fn error_token<'i>(pair: &Pair<'i, Rule>) -> Option<Pair<'i, Rule>> {
    pair.clone()
        .into_inner()
        .next()
        .filter(|token| token.as_rule() != Rule::rest)
}

/// QEMU's error at the error point `pair`: the lexical error of its token, or what the
/// position wants.
pub(crate) fn error_point(pair: &Pair<'_, Rule>, len: usize) -> SyntaxError {
    if let Some(e) = lexical_error(pair) {
        return e;
    }
    let message = match pair.as_rule() {
        Rule::want_value_or_rbracket => "expected '{', '[', ']', string, or boolean",
        Rule::want_string_or_rbrace => "expected string or '}'",
        Rule::want_colon => "expected ':'",
        Rule::want_comma_or_rbrace => "expected ',' or '}'",
        Rule::want_string => "expected string",
        Rule::want_comma_or_rbracket => "expected ',' or ']'",
        Rule::too_deep => "expressions nested too deeply",
        _ => "expected '{', '[', string, or boolean",
    };
    let (start, end) = token_span(pair, len);
    SyntaxError {
        start,
        end,
        message: message.to_string(),
    }
}
