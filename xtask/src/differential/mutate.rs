//! QAPI-aware edits of a seed schema: a forgiving tokenizer over any bytes, and
//! [`Mutation`]s of lines, keys, values, strings, doc comments, definitions and bytes.

use super::{Rng, Seed};

/// Strings seen in the seeds, plus hand-picked ones that sit on naming-rule edges.
pub(super) struct Pool {
    strings: Vec<String>,
    /// Top-level expressions of the seeds with the comments before them.
    exprs: Vec<Vec<u8>>,
}

const EDGE_STRINGS: &[&str] = &[
    "",
    " ",
    "int",
    "str",
    "any",
    "null",
    "number",
    "bool",
    "size",
    "uint8",
    "int64",
    "QType",
    "q_empty",
    "q_obj_foo-arg",
    "q_foo",
    "q_Foo",
    "__org.qemu_x-foo",
    "__org.qemu_x-Foo",
    "__org.qemu_x_foo",
    "__org.qemu.x-foo",
    "_foo",
    "Foo",
    "foo",
    "FOO",
    "Foo_Bar",
    "foo_bar",
    "foo-bar",
    "Foo-Bar",
    "FooList",
    "fooList",
    "FooKind",
    "x-foo",
    "x-Foo",
    "*foo",
    "*Foo",
    "**foo",
    "*",
    "a",
    "A",
    "1a",
    "a.b",
    "a b",
    "a$b",
    "UPPER_CASE",
    "Upper-Case",
    "has-foo",
    "has_foo",
    "u",
    "max",
    "MAX",
    "deprecated",
    "unstable",
    "feat",
    "CONFIG_FOO",
    "defined(CONFIG_FOO)",
    "IFONE",
    "discriminator",
    "type",
    "kind",
    "data",
    "base",
    "if",
    "features",
    "name",
    "é",
    "tab\there",
    "back\\\\slash",
    "quote\\'s",
];

/// QAPI keys of definitions, members and pragmas.
const KEYS: &[&str] = &[
    "enum",
    "struct",
    "union",
    "alternate",
    "command",
    "event",
    "include",
    "pragma",
    "data",
    "base",
    "discriminator",
    "prefix",
    "if",
    "features",
    "returns",
    "boxed",
    "gen",
    "success-response",
    "allow-oob",
    "allow-preconfig",
    "coroutine",
    "type",
    "name",
    "doc-required",
    "command-name-exceptions",
    "command-returns-exceptions",
    "documentation-exceptions",
    "member-name-exceptions",
    "all",
    "any",
    "not",
    "bogus",
];

/// Values of every JSON type, some valid somewhere, some nowhere.
const VALUES: &[&str] = &[
    "'str'",
    "'int'",
    "'x'",
    "'Foo'",
    "['int']",
    "[ 'str' ]",
    "[]",
    "[ 'a', 'b' ]",
    "{}",
    "{ 'a': 'int' }",
    "{ '*a': 'str', 'b': 'bool' }",
    "{ 'type': 'str' }",
    "{ 'type': 'int', 'if': 'X' }",
    "{ 'type': ['int'] }",
    "true",
    "false",
    "null",
    "1",
    "True",
    "[ {} ]",
    "[ 'int', 'str' ]",
];

pub(super) const IF_VALUES: &[&str] = &[
    "'CONFIG_FOO'",
    "'defined(X)'",
    "'A B'",
    "''",
    "' '",
    "'bad-name'",
    "{ 'all': [ 'A', 'B' ] }",
    "{ 'any': [ 'A', { 'not': 'B' } ] }",
    "{ 'not': 'A' }",
    "{ 'not': { 'all': [ 'A' ] } }",
    "{ 'all': [] }",
    "{ 'any': [] }",
    "{ 'all': 'A' }",
    "{ 'foo': 'A' }",
    "{}",
    "{ 'not': 'A', 'all': [ 'B' ] }",
    "[ 'A' ]",
    "[]",
    "true",
    "{ 'not': [] }",
    "{ 'all': [ '' ] }",
    "{ 'any': [ 'A', 'A' ] }",
];

pub(super) const FEATURE_VALUES: &[&str] = &[
    "[ 'feat' ]",
    "[ 'deprecated' ]",
    "[ 'unstable' ]",
    "[ 'deprecated', 'unstable' ]",
    "[ { 'name': 'feat', 'if': 'X' } ]",
    "[ { 'name': 'feat', 'if': { 'not': 'X' } } ]",
    "[ 'feat', 'feat' ]",
    "[ 'Feat' ]",
    "[ 'q_feat' ]",
    "[ 'x-feat' ]",
    "[ 'feat_b' ]",
    "[ '__org.qemu_x-feat' ]",
    "'feat'",
    "[]",
    "[ { 'name': 'feat', 'foo': 'x' } ]",
    "[ {} ]",
    "[ { 'if': 'X' } ]",
    "[ [ 'feat' ] ]",
    "[ 'feat', 'deprecated' ]",
];

const DOC_LINES: &[&str] = &[
    "#",
    "##",
    "# Returns: something",
    "# Returns:",
    "# Returns: @Foo",
    "# Since: 9.0",
    "# Since:",
    "# Since 9.0",
    "# Errors:",
    "# Errors: - if bad",
    "# Errors:\n#     - if bad",
    "# TODO: fix",
    "# TODO:",
    "# Todo: x",
    "# Note: x",
    "# Notes: x",
    "# .. note:: x",
    "# Example:",
    "# .. qmp-example::",
    "# Features:",
    "# Features: x",
    "# @deprecated: gone",
    "# @unstable: maybe",
    "# @feat: text",
    "# @feat:",
    "# @member: text",
    "# @a: text",
    "# @b: text",
    "# @foo: text",
    "# @:",
    "# @",
    "# @Foo:",
    "# @foo-bar:",
    "#  indented",
    "#     indented more",
    "#\ttab",
    "#Returns: x",
    "# = Heading",
    "# == Sub heading",
    "# =",
    "#     Returns: x",
    "#   Since: 1",
    "# text @ref and *emph*",
    "# text",
];

impl Pool {
    pub(super) fn new(seeds: &[Seed]) -> Pool {
        let mut strings: Vec<String> = EDGE_STRINGS.iter().map(|s| s.to_string()).collect();
        let mut seen = std::collections::HashSet::new();
        let mut exprs = Vec::new();
        for seed in seeds {
            for tok in tokens(&seed.text) {
                if tok.kind == Kind::Str {
                    let s = String::from_utf8_lossy(&seed.text[tok.start + 1..tok.end - 1]);
                    if s.len() < 60 && seen.insert(s.to_string()) {
                        strings.push(s.into_owned());
                    }
                }
            }
            exprs.extend(
                top_level(&seed.text)
                    .into_iter()
                    .map(|(s, e)| seed.text[s..e].to_vec()),
            );
        }
        Pool { strings, exprs }
    }

    /// A corpus string or a variant of one on a naming-rule edge.
    fn string(&self, rng: &mut Rng) -> String {
        let s = rng.pick(&self.strings).clone();
        match rng.below(10) {
            0 => format!("q_{s}"),
            1 => format!("__org.qemu_x-{s}"),
            2 => format!("*{s}"),
            3 => s.to_uppercase(),
            4 => s.replace('-', "_"),
            5 => format!("{s}List"),
            6 => format!("x-{s}"),
            _ => s,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Str,
    Comment,
    Open,
    Close,
    Colon,
    Comma,
    Word,
}

#[derive(Clone, Copy, Debug)]
struct Tok {
    kind: Kind,
    start: usize,
    end: usize,
    /// For an opening bracket, the index of its closing one (the last token if unclosed).
    close: usize,
}

/// A forgiving tokenizer over any bytes (mutants are often broken already).
fn tokens(text: &[u8]) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let start = i;
        let kind = match text[i] {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < text.len() && text[i] != b'\n' {
                    i += 1;
                }
                Kind::Comment
            }
            b'\'' => {
                i += 1;
                while i < text.len() && text[i] != b'\'' && text[i] != b'\n' {
                    i += if text[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(text.len());
                Kind::Str
            }
            b'{' | b'[' => {
                i += 1;
                Kind::Open
            }
            b'}' | b']' => {
                i += 1;
                Kind::Close
            }
            b':' => {
                i += 1;
                Kind::Colon
            }
            b',' => {
                i += 1;
                Kind::Comma
            }
            _ => {
                while i < text.len() && !b" \t\n\r#'{}[]:,".contains(&text[i]) {
                    i += 1;
                }
                Kind::Word
            }
        };
        toks.push(Tok {
            kind,
            start,
            end: i.min(text.len()),
            close: 0,
        });
    }
    // Brackets matched in one pass (values can be nested tens of thousands deep).
    let mut open = Vec::new();
    for j in 0..toks.len() {
        match toks[j].kind {
            Kind::Open => open.push(j),
            Kind::Close => {
                if let Some(o) = open.pop() {
                    toks[o].close = j;
                }
            }
            _ => {}
        }
    }
    let last = toks.len().saturating_sub(1);
    for o in open {
        toks[o].close = last;
    }
    toks
}

/// Index of the last token of the value starting at token `i` (skipping comments).
fn value_end(toks: &[Tok], i: usize) -> usize {
    if toks[i].kind == Kind::Open {
        toks[i].close
    } else {
        i
    }
}

/// The next non-comment token after `i`.
fn next_code(toks: &[Tok], i: usize) -> Option<usize> {
    (i + 1..toks.len()).find(|&j| toks[j].kind != Kind::Comment)
}

/// Token indexes of `'key': value` pairs: (key, last token of the value).
fn pairs(toks: &[Tok]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for i in 0..toks.len() {
        if toks[i].kind != Kind::Str {
            continue;
        }
        let Some(colon) = next_code(toks, i) else {
            continue;
        };
        if toks[colon].kind != Kind::Colon {
            continue;
        }
        if let Some(v) = next_code(toks, colon) {
            out.push((i, value_end(toks, v)));
        }
    }
    out
}

fn splice(text: &mut Vec<u8>, start: usize, end: usize, with: &[u8]) {
    text.splice(start..end, with.iter().copied());
}

/// Byte ranges of the lines (without their newline).
fn lines(text: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &b) in text.iter().enumerate() {
        if b == b'\n' {
            out.push((start, i));
            start = i + 1;
        }
    }
    if start < text.len() {
        out.push((start, text.len()));
    }
    out
}

/// A `'key': value` pair picked at random: its key and the value's first and last tokens.
fn pick_value(toks: &[Tok], rng: &mut Rng) -> Option<(usize, usize, usize)> {
    let ps = pairs(toks);
    let &(k, v) = ps.get(rng.below(ps.len()))?;
    let first = next_code(toks, k).and_then(|c| next_code(toks, c))?;
    Some((k, first, v))
}

/// One of the lines `ls` of `text` that start with `first`, picked at random.
fn line_starting_with(
    text: &[u8],
    ls: &[(usize, usize)],
    first: u8,
    rng: &mut Rng,
) -> Option<(usize, usize)> {
    let found: Vec<(usize, usize)> = ls
        .iter()
        .copied()
        .filter(|&(s, e)| e > s && text[s] == first)
        .collect();
    found.get(rng.below(found.len())).copied()
}

/// 1 to 3 edits of `seed`.
pub(super) fn mutate(seed: &[u8], rng: &mut Rng, pool: &Pool) -> Vec<u8> {
    let mut text = seed.to_vec();
    let edits = match rng.below(10) {
        0..=5 => 1,
        6..=8 => 2,
        _ => 3,
    };
    for _ in 0..edits {
        // An edit that finds nothing to work on tries another kind.
        for _ in 0..8 {
            if edit(&mut text, rng, pool) {
                break;
            }
        }
    }
    text
}

/// The kinds of edit [`edit`] makes.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mutation {
    /// Delete a line.
    DeleteLine,
    /// Duplicate a line.
    DuplicateLine,
    /// Swap a line with the next.
    SwapLines,
    /// Drop a key with its value (and the comma after it, if any).
    DropPair,
    /// Duplicate a key with its value.
    DuplicatePair,
    /// Replace a string with another one.
    ReplaceString,
    /// Replace a value by one of another JSON type.
    RetypeValue,
    /// Insert a key into a dict: 'if', 'features' or any QAPI key.
    InsertKey,
    /// Doc comments: replace a comment line, insert one, or re-indent one.
    EditComment,
    /// A doc block before a definition.
    InsertDocBlock,
    /// A list or object from the corpus in place of a string.
    StringToCompound,
    /// A definition of another seed, with its doc comment, between two definitions.
    InsertDefinition,
    /// A value nested deeply in lists or objects (QEMU's recursion has a limit; ours too?).
    NestDeeply,
    /// Insert or delete a byte or an escape, inside a string more often than not.
    EditBytes,
}

impl Mutation {
    /// Each mutation with its weight. Order and weights decide which mutant a seed and an
    /// index give: changing them changes every run's mutants.
    const WEIGHTED: [(Mutation, usize); 14] = [
        (Mutation::DeleteLine, 1),
        (Mutation::DuplicateLine, 1),
        (Mutation::SwapLines, 1),
        (Mutation::DropPair, 1),
        (Mutation::DuplicatePair, 1),
        (Mutation::ReplaceString, 2),
        (Mutation::RetypeValue, 1),
        (Mutation::InsertKey, 2),
        (Mutation::EditComment, 2),
        (Mutation::InsertDocBlock, 1),
        (Mutation::StringToCompound, 1),
        (Mutation::InsertDefinition, 1),
        (Mutation::NestDeeply, 1),
        (Mutation::EditBytes, 2),
    ];

    fn pick(rng: &mut Rng) -> Mutation {
        let total = Self::WEIGHTED.iter().map(|&(_, weight)| weight).sum();
        let mut n = rng.below(total);
        for (mutation, weight) in Self::WEIGHTED {
            if n < weight {
                return mutation;
            }
            n -= weight;
        }
        Mutation::EditBytes
    }
}

/// One edit; false when the text has nothing it applies to.
fn edit(text: &mut Vec<u8>, rng: &mut Rng, pool: &Pool) -> bool {
    let toks = tokens(text);
    let ls = lines(text);
    match Mutation::pick(rng) {
        Mutation::DeleteLine => {
            let Some(&(s, e)) = ls.get(rng.below(ls.len())) else {
                return false;
            };
            splice(text, s, (e + 1).min(text.len()), b"");
        }
        Mutation::DuplicateLine => {
            let Some(&(s, e)) = ls.get(rng.below(ls.len())) else {
                return false;
            };
            let mut line = text[s..e].to_vec();
            line.push(b'\n');
            splice(text, s, s, &line);
        }
        Mutation::SwapLines => {
            if ls.len() < 2 {
                return false;
            }
            let k = rng.below(ls.len() - 1);
            let ((s1, e1), (s2, e2)) = (ls[k], ls[k + 1]);
            let mut swapped = text[s2..e2].to_vec();
            swapped.push(b'\n');
            swapped.extend_from_slice(&text[s1..e1]);
            splice(text, s1, e2, &swapped);
        }
        Mutation::DropPair => {
            let ps = pairs(&toks);
            let Some(&(k, v)) = ps.get(rng.below(ps.len())) else {
                return false;
            };
            let mut end = toks[v].end;
            if let Some(c) = next_code(&toks, v).filter(|&c| toks[c].kind == Kind::Comma) {
                end = toks[c].end;
            }
            splice(text, toks[k].start, end, b"");
        }
        Mutation::DuplicatePair => {
            let ps = pairs(&toks);
            let Some(&(k, v)) = ps.get(rng.below(ps.len())) else {
                return false;
            };
            let mut copy = text[toks[k].start..toks[v].end].to_vec();
            copy.extend_from_slice(b", ");
            splice(text, toks[k].start, toks[k].start, &copy);
        }
        Mutation::ReplaceString => {
            let strs: Vec<&Tok> = toks.iter().filter(|t| t.kind == Kind::Str).collect();
            let Some(t) = strs.get(rng.below(strs.len())) else {
                return false;
            };
            let with = format!("'{}'", pool.string(rng));
            splice(text, t.start, t.end, with.as_bytes());
        }
        Mutation::RetypeValue => {
            let Some((k, first, v)) = pick_value(&toks, rng) else {
                return false;
            };
            let key = &text[toks[k].start..toks[k].end];
            let with = match key {
                b"'if'" => *rng.pick(IF_VALUES),
                b"'features'" => *rng.pick(FEATURE_VALUES),
                _ => *rng.pick(VALUES),
            };
            splice(text, toks[first].start, toks[v].end, with.as_bytes());
        }
        Mutation::InsertKey => {
            let opens: Vec<&Tok> = toks
                .iter()
                .filter(|t| t.kind == Kind::Open && text[t.start] == b'{')
                .collect();
            let Some(t) = opens.get(rng.below(opens.len())) else {
                return false;
            };
            let pair = match rng.below(3) {
                0 => format!(" 'if': {},", rng.pick(IF_VALUES)),
                1 => format!(" 'features': {},", rng.pick(FEATURE_VALUES)),
                _ => {
                    let key = if rng.below(2) == 0 {
                        rng.pick(KEYS).to_string()
                    } else {
                        pool.string(rng)
                    };
                    let value = if rng.below(2) == 0 {
                        rng.pick(VALUES).to_string()
                    } else {
                        format!("'{}'", pool.string(rng))
                    };
                    format!(" '{key}': {value},")
                }
            };
            // Before the closing brace (no trailing comma) or right after the opening one.
            if rng.below(2) == 0 {
                splice(text, t.end, t.end, pair.as_bytes());
            } else {
                let i = toks.iter().position(|x| x.start == t.start).unwrap_or(0);
                let close = value_end(&toks, i);
                if toks[close].kind != Kind::Close {
                    return false;
                }
                let pair = format!(", {}", pair.trim().trim_end_matches(','));
                splice(text, toks[close].start, toks[close].start, pair.as_bytes());
            }
        }
        Mutation::EditComment => {
            let Some((s, e)) = line_starting_with(text, &ls, b'#', rng) else {
                return false;
            };
            match rng.below(4) {
                0 => {
                    let line = doc_line(rng, pool);
                    splice(text, s, e, line.as_bytes());
                }
                1 => {
                    let line = format!("{}\n", doc_line(rng, pool));
                    splice(text, s, s, line.as_bytes());
                }
                2 => splice(text, s + 1, s + 1, b" "),
                _ => {
                    if text.get(s + 1) == Some(&b' ') {
                        splice(text, s + 1, s + 2, b"");
                    } else {
                        splice(text, s, e, b"#");
                    }
                }
            }
        }
        Mutation::InsertDocBlock => {
            let Some((s, _)) = line_starting_with(text, &ls, b'{', rng) else {
                return false;
            };
            let mut block = format!("##\n# @{}:\n", pool.string(rng));
            for _ in 0..rng.below(4) {
                block.push_str(&doc_line(rng, pool));
                block.push('\n');
            }
            block.push_str("##\n");
            splice(text, s, s, block.as_bytes());
        }
        Mutation::StringToCompound => {
            let strs: Vec<&Tok> = toks.iter().filter(|t| t.kind == Kind::Str).collect();
            let Some(t) = strs.get(rng.below(strs.len())) else {
                return false;
            };
            let s = pool.string(rng);
            let with = match rng.below(3) {
                0 => format!("[ '{s}' ]"),
                1 => format!("{{ '{s}': 'str' }}"),
                _ => format!("{{ 'type': '{s}' }}"),
            };
            splice(text, t.start, t.end, with.as_bytes());
        }
        Mutation::InsertDefinition => {
            if pool.exprs.is_empty() {
                return false;
            }
            let at = match top_level(text).get(rng.below(top_level(text).len() + 1)) {
                Some(&(s, _)) => s,
                None => text.len(),
            };
            let mut with = rng.pick(&pool.exprs).clone();
            with.push(b'\n');
            splice(text, at, at, &with);
        }
        Mutation::NestDeeply => {
            let Some((_, first, v)) = pick_value(&toks, rng) else {
                return false;
            };
            let depth = *rng.pick(&[2, 10, 100, 300, 490, 494, 495, 1000, 5000, 30_000]);
            let (open, close) = if rng.below(2) == 0 {
                ("[".repeat(depth), "]".repeat(depth))
            } else {
                ("{ 'not': ".repeat(depth), " }".repeat(depth))
            };
            let inner = text[toks[first].start..toks[v].end].to_vec();
            let mut with = open.into_bytes();
            with.extend_from_slice(&inner);
            with.extend_from_slice(close.as_bytes());
            splice(text, toks[first].start, toks[v].end, &with);
        }
        Mutation::EditBytes => {
            if text.is_empty() {
                return false;
            }
            const BYTES: &[&[u8]] = &[
                b"'",
                b"\\",
                b"#",
                b"\xc3\xa9",
                b"\xe2\x80\xa8",
                b"\t",
                b"\x0c",
                b"\r",
                b"\x00",
                b"{",
                b"}",
                b"[",
                b"]",
                b":",
                b",",
                b"\"",
                b"\n",
                b" ",
                b"\xff",
                b"\x7f",
                b"\\u0041",
                b"\\'",
                b"\\\\",
            ];
            let at = rng.below(text.len() + 1);
            if rng.below(4) == 0 {
                splice(text, at.min(text.len() - 1), (at + 1).min(text.len()), b"");
            } else {
                // Inside a string more often than not: that is where escapes matter.
                let at = match toks.iter().filter(|t| t.kind == Kind::Str).count() {
                    0 => at,
                    n if rng.below(2) == 0 => {
                        let t = toks
                            .iter()
                            .filter(|t| t.kind == Kind::Str)
                            .nth(rng.below(n));
                        t.map(|t| t.start + 1 + rng.below(t.end - t.start))
                            .unwrap_or(at)
                            .min(text.len())
                    }
                    _ => at,
                };
                let with = *rng.pick(BYTES);
                splice(text, at, at, with);
            }
        }
    }
    true
}

/// Byte ranges of the top-level expressions, each from the first comment line before it.
fn top_level(text: &[u8]) -> Vec<(usize, usize)> {
    let toks = tokens(text);
    let mut out = Vec::new();
    let mut i = 0;
    let mut comments_from = None;
    while i < toks.len() {
        match toks[i].kind {
            Kind::Comment => {
                comments_from.get_or_insert(toks[i].start);
                i += 1;
            }
            Kind::Open if text[toks[i].start] == b'{' => {
                let end = value_end(&toks, i);
                out.push((comments_from.unwrap_or(toks[i].start), toks[end].end));
                comments_from = None;
                i = end + 1;
            }
            _ => {
                comments_from = None;
                i += 1;
            }
        }
    }
    out
}

fn doc_line(rng: &mut Rng, pool: &Pool) -> String {
    match rng.below(5) {
        0 => format!("# @{}: text", pool.string(rng)),
        _ => rng.pick(DOC_LINES).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> Pool {
        Pool {
            strings: vec!["a".into(), "b".into()],
            exprs: vec![b"{ 'enum': 'E', 'data': [] }".to_vec()],
        }
    }

    #[test]
    fn mutants_are_deterministic_and_differ() {
        let seed = b"##\n# @Foo:\n##\n{ 'struct': 'Foo', 'data': { 'a': 'int', '*b': ['str'] } }\n";
        let p = pool();
        let one: Vec<Vec<u8>> = (0..50)
            .map(|i| mutate(seed, &mut Rng::new(7, i), &p))
            .collect();
        let two: Vec<Vec<u8>> = (0..50)
            .map(|i| mutate(seed, &mut Rng::new(7, i), &p))
            .collect();
        assert_eq!(one, two);
        assert!(one.iter().filter(|m| m.as_slice() != seed).count() > 40);
    }

    #[test]
    fn every_mutation_gets_picked() {
        let mut rng = Rng::new(1, 0);
        let mut seen = Vec::new();
        for _ in 0..1000 {
            let mutation = Mutation::pick(&mut rng);
            if !seen.contains(&mutation) {
                seen.push(mutation);
            }
        }
        assert_eq!(seen.len(), Mutation::WEIGHTED.len());
    }

    #[test]
    fn top_level_takes_comments_along() {
        let text = b"# c\n{ 'a': { 'b': 1 } }\n{ 'c': 2 }\n";
        let spans: Vec<&[u8]> = top_level(text).iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(spans, [&b"# c\n{ 'a': { 'b': 1 } }"[..], b"{ 'c': 2 }"]);
    }

    #[test]
    fn pairs_span_whole_values() {
        let text = b"{ 'a': { 'b': [ 'c' ] }, 'd': true }";
        let toks = tokens(text);
        let spans: Vec<&[u8]> = pairs(&toks)
            .iter()
            .map(|&(k, v)| &text[toks[k].start..toks[v].end])
            .collect();
        assert_eq!(
            spans,
            [&b"'a': { 'b': [ 'c' ] }"[..], b"'b': [ 'c' ]", b"'d': true"]
        );
    }

    #[test]
    fn tokens_survive_broken_text() {
        for text in [&b"'unterminated"[..], b"\\", b"{ ]] ", b"'a\\"] {
            let toks = tokens(text);
            assert!(toks.iter().all(|t| t.end <= text.len()));
        }
    }
}
