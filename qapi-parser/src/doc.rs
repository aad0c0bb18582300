//! Documentation blocks (`##` ... `##`): splitting into sections as QEMU's doc parser does,
//! with its error checks, and the legacy relaxations for pre-10.0 doc comments.

use std::collections::HashMap;

use crate::error::Error;
use crate::source::{is_py_space, Loc};

/// Kinds of sections in a doc block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Plain,
    Member,
    Feature,
    Returns,
    Errors,
    Since,
    Todo,
}

impl Kind {
    /// QEMU's title-cased kind name, as in `text required after 'Member:'`.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Plain => "Plain",
            Kind::Member => "Member",
            Kind::Feature => "Feature",
            Kind::Returns => "Returns",
            Kind::Errors => "Errors",
            Kind::Since => "Since",
            Kind::Todo => "Todo",
        }
    }
}

/// One section of a doc block.
#[derive(Clone, Debug)]
pub(crate) struct Section {
    pub kind: Kind,
    /// Member or feature name (descriptions only).
    pub name: String,
    pub text: String,
    pub loc: Loc,
    /// Set when a schema member/feature was matched to this description.
    pub connected: bool,
    /// Created for an undocumented member (QEMU's stub), not written in the source.
    pub stub: bool,
    /// Removed by a legacy relaxation (stale description, void `Returns`).
    pub dropped: bool,
}

impl Section {
    /// Whether this is a section other than the body (`sections[0]`), descriptions and dropped
    /// ones.
    pub fn is_other(&self) -> bool {
        !self.dropped && !self.stub && !matches!(self.kind, Kind::Member | Kind::Feature)
    }

    fn new(kind: Kind, name: &str, loc: Loc) -> Section {
        Section {
            kind,
            name: name.to_string(),
            // Set from the block's pending text when the section ends.
            text: String::new(),
            loc,
            connected: false,
            stub: false,
            dropped: false,
        }
    }
}

/// A parsed doc block.
#[derive(Clone, Debug)]
pub(crate) struct DocBlock {
    /// Line of the opening `##`.
    pub loc: Loc,
    /// `Some` for definition documentation.
    pub symbol: Option<String>,
    /// Legacy: a block without symbol line, parsed as the next definition's documentation.
    pub inferred: bool,
    /// All sections in source order; `sections[0]` is the body.
    pub sections: Vec<Section>,
    /// Indices of member descriptions, in QEMU's dict order (stubs appended).
    pub args: Vec<usize>,
    /// Indices of feature descriptions.
    pub features: Vec<usize>,
    /// Description index by name for members and for features, built once a block has
    /// many descriptions (docs can be huge; most have a handful).
    arg_index: Option<HashMap<String, usize>>,
    feature_index: Option<HashMap<String, usize>>,
    returns: Option<usize>,
    errors: Option<usize>,
    since: Option<usize>,
    /// The text of the last section while the block is read; it moves into the section,
    /// trimmed and exactly sized, when the next one starts or the block ends.
    pending: String,
}

/// A comment of a doc block: its byte range in the file and its line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Comment {
    pub start: u32,
    pub end: u32,
    pub line: u32,
}

/// The comments of a doc block token (see `doc_block` in `qapi.pest`), in order, the opening
/// `##` first: every non-blank line of the block holds exactly one, possibly indented.
#[derive(Clone)]
pub(crate) struct BlockLines<'a> {
    text: &'a str,
    /// Where the next comment is searched from.
    at: usize,
    /// End of the block.
    end: usize,
    /// Line of `at`.
    line: u32,
}

impl<'a> BlockLines<'a> {
    /// The block `text[start..end]`, which starts with its opening comment on `line`.
    pub fn new(text: &'a str, start: usize, end: usize, line: u32) -> BlockLines<'a> {
        BlockLines {
            text,
            at: start,
            end,
            line,
        }
    }
}

impl BlockLines<'_> {
    /// The next comment; `line_starts` are the file's (see `source::line_starts`): the
    /// comment runs to the end of its line.
    pub fn next(&mut self, line_starts: &[u32]) -> Option<Comment> {
        let bytes = self.text.as_bytes();
        // Whitespace up to the next comment.
        while self.at < self.end {
            match bytes[self.at] {
                b'#' => break,
                b'\n' => {
                    self.line += 1;
                    self.at += 1;
                }
                _ => {
                    let c = self.text[self.at..].chars().next().unwrap_or(' ');
                    self.at += c.len_utf8();
                }
            }
        }
        if self.at >= self.end {
            return None;
        }
        let start = self.at;
        let end = match line_starts.get(self.line as usize) {
            Some(&next) => (next as usize - 1).min(self.end),
            None => self.end,
        };
        self.at = end;
        Some(Comment {
            start: start as u32,
            end: end as u32,
            line: self.line,
        })
    }
}

/// Where doc lines come from: the parser, which reads comment tokens the way QEMU does.
pub(crate) trait DocSource<'a> {
    /// The next line of the block (text after `# `, right-stripped), or `None` at its end.
    fn next_line(&mut self) -> Result<Option<&'a str>, Error>;
    /// Line of the current token.
    fn loc(&self) -> Loc;
    /// A parse error (with column) at the current token.
    fn parse_error(&self, msg: String) -> Error;
    /// A semantic error (line only) at `loc`.
    fn sem_error(&self, loc: Loc, msg: String) -> Error;
    fn legacy(&self) -> bool;
}

/// `@name:` at the start of a line (QEMU's `@([^:]*): *`): the name and the text after it.
pub(crate) fn at_name_colon(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('@')?;
    let colon = rest.find(':')?;
    Some((&rest[..colon], rest[colon + 1..].trim_start_matches(' ')))
}

/// A tagged section line (QEMU's `(Returns|Errors|Since|Notes?|Examples?|TODO)(?!::): *`):
/// the tag as written and the text after it.
fn tagged(line: &str) -> Option<(&str, &str)> {
    const TAGS: [&str; 8] = [
        "Returns", "Errors", "Since", "Notes", "Note", "Examples", "Example", "TODO",
    ];
    if !matches!(
        line.as_bytes().first(),
        Some(b'R' | b'E' | b'S' | b'N' | b'T')
    ) {
        return None;
    }
    TAGS.iter().find_map(|tag| {
        let rest = line.strip_prefix(tag)?;
        if rest.starts_with("::") {
            return None;
        }
        let rest = rest.strip_prefix(':')?;
        Some((*tag, rest.trim_start_matches(' ')))
    })
}

/// Number of leading whitespace characters (QEMU's `\s*`).
fn indentation(line: &str) -> usize {
    line.chars().take_while(|&c| is_py_space(c)).count()
}

impl DocBlock {
    /// `pending` is a buffer to reuse for section texts.
    fn new(loc: Loc, symbol: Option<String>, mut pending: String) -> DocBlock {
        pending.clear();
        DocBlock {
            loc,
            symbol,
            inferred: false,
            sections: {
                // A symbol line, a few descriptions and sections: room for most blocks.
                let mut sections = Vec::with_capacity(8);
                sections.push(Section::new(Kind::Plain, "", loc));
                sections
            },
            args: Vec::new(),
            features: Vec::new(),
            arg_index: None,
            feature_index: None,
            returns: None,
            errors: None,
            since: None,
            pending,
        }
    }

    pub fn returns(&self) -> Option<&Section> {
        self.returns.map(|i| &self.sections[i])
    }

    pub fn errors(&self) -> Option<&Section> {
        self.errors.map(|i| &self.sections[i])
    }

    /// Index of the description of `name` among members or features.
    pub fn find(&self, features: bool, name: &str) -> Option<usize> {
        let (list, index) = if features {
            (&self.features, &self.feature_index)
        } else {
            (&self.args, &self.arg_index)
        };
        match index {
            Some(index) => index.get(name).copied(),
            None => list
                .iter()
                .copied()
                .find(|&i| crate::value::same_str(&self.sections[i].name, name)),
        }
    }

    /// Adds section `index` to the member or feature descriptions.
    fn register(&mut self, features: bool, index: usize) {
        let (list, map) = if features {
            (&mut self.features, &mut self.feature_index)
        } else {
            (&mut self.args, &mut self.arg_index)
        };
        list.push(index);
        let sections = &self.sections;
        match map {
            Some(map) => {
                map.insert(sections[index].name.clone(), index);
            }
            None if list.len() > 16 => {
                *map = Some(
                    list.iter()
                        .map(|&i| (sections[i].name.clone(), i))
                        .collect(),
                );
            }
            None => {}
        }
    }

    fn append_line(&mut self, line: &str) {
        self.pending.push_str(line);
        self.pending.push('\n');
    }

    /// Ends the last section's text: surrounding newlines go.
    fn flush(&mut self) {
        if let Some(last) = self.sections.last_mut() {
            last.text.push_str(self.pending.trim_matches('\n'));
        }
        self.pending.clear();
    }

    fn push_section(&mut self, section: Section) {
        self.flush();
        self.sections.push(section);
    }

    /// Continues the trailing plain section or starts a new one.
    fn ensure_untagged(&mut self, loc: Loc) {
        if let Some(last) = self.sections.last_mut() {
            if last.kind == Kind::Plain {
                if self.pending.is_empty() {
                    last.loc = loc;
                }
                self.pending.push('\n');
                return;
            }
        }
        self.push_section(Section::new(Kind::Plain, "", loc));
    }

    fn new_tagged<'a>(&mut self, src: &dyn DocSource<'a>, kind: Kind) -> Result<(), Error> {
        let loc = src.loc();
        let slot = match kind {
            Kind::Returns => Some(&mut self.returns),
            Kind::Errors => Some(&mut self.errors),
            Kind::Since => Some(&mut self.since),
            _ => None,
        };
        let index = self.sections.len();
        if let Some(slot) = slot {
            if slot.is_some() {
                if !src.legacy() {
                    return Err(
                        src.sem_error(loc, format!("duplicated '{}' section", kind.title()))
                    );
                }
            } else {
                *slot = Some(index);
            }
        }
        self.push_section(Section::new(kind, "", loc));
        Ok(())
    }

    fn new_description<'a>(
        &mut self,
        src: &dyn DocSource<'a>,
        kind: Kind,
        name: &str,
    ) -> Result<(), Error> {
        let loc = src.loc();
        if name.is_empty() {
            return Err(src.sem_error(loc, "invalid parameter name".into()));
        }
        let features = kind == Kind::Feature;
        if self.find(features, name).is_some() {
            if !src.legacy() {
                return Err(src.sem_error(loc, format!("'{name}' parameter name duplicated")));
            }
            // Legacy: a repeated description becomes a plain paragraph.
            self.push_section(Section::new(Kind::Plain, "", loc));
            return Ok(());
        }
        let index = self.sections.len();
        self.push_section(Section::new(kind, name, loc));
        self.register(features, index);
        Ok(())
    }

    /// Finishes the block (every text without surrounding newlines) and requires text in
    /// every non-plain section.
    pub fn end<'a>(&mut self, src: &dyn DocSource<'a>) -> Result<(), Error> {
        self.flush();
        let legacy = src.legacy();
        for section in &mut self.sections {
            if legacy && section.kind == Kind::Member {
                // `#optional` marked optional members; the schema says so itself now.
                if let Some(rest) = section.text.strip_prefix("#optional") {
                    section.text = rest.trim_start_matches(' ').to_string();
                }
            }
            if section.kind != Kind::Plain && section.text.is_empty() {
                if legacy {
                    if !matches!(section.kind, Kind::Member | Kind::Feature) {
                        section.dropped = true;
                    }
                    continue;
                }
                return Err(src.sem_error(
                    section.loc,
                    format!("text required after '{}:'", section.kind.title()),
                ));
            }
        }
        if legacy {
            for slot in [&mut self.returns, &mut self.errors, &mut self.since] {
                if slot.is_some_and(|i| self.sections[i].dropped) {
                    *slot = None;
                }
            }
        }
        Ok(())
    }

    /// The text buffer, for the next block.
    pub fn take_buffer(&mut self) -> String {
        std::mem::take(&mut self.pending)
    }

    /// Legacy: a `Returns:`/`Errors:` section QEMU 10.0.2 would reject here becomes plain
    /// text, keeping its tag.
    pub fn demote(&mut self, returns: bool) {
        let slot = if returns {
            self.returns.take()
        } else {
            self.errors.take()
        };
        if let Some(i) = slot {
            let s = &mut self.sections[i];
            s.text = format!("{}: {}", s.kind.title(), s.text);
            s.kind = Kind::Plain;
        }
    }

    /// Adds an empty description for an undocumented member.
    pub fn add_stub(&mut self, name: &str) -> usize {
        let mut s = Section::new(Kind::Member, name, self.loc);
        s.stub = true;
        s.connected = true;
        self.push_section(s);
        let index = self.sections.len() - 1;
        self.register(false, index);
        index
    }
}

/// Parses a doc block whose opening `##` is the current token. With `inferred`, a block
/// without symbol line is parsed as definition documentation (legacy only).
/// `buffer` is reused for section texts (see [`DocBlock::take_buffer`]).
pub(crate) fn parse_block<'a>(
    src: &mut dyn DocSource<'a>,
    inferred: bool,
    buffer: String,
) -> Result<DocBlock, Error> {
    let info = src.loc();
    let legacy = src.legacy();
    let mut line = src.next_line()?;
    match line {
        Some(first) if first.starts_with('@') => {
            let (symbol, rest) = symbol_line(src, first)?;
            let mut doc = DocBlock::new(info, Some(symbol), buffer);
            line = src.next_line()?;
            if let Some(rest) = rest {
                // Legacy `@name: text` or `@name text`: the text opens the body.
                doc.ensure_untagged(src.loc());
                doc.append_line(rest);
            }
            definition_sections(src, &mut doc, line)?;
            Ok(doc)
        }
        _ if legacy && inferred => {
            let mut doc = DocBlock::new(info, None, buffer);
            doc.inferred = true;
            definition_sections(src, &mut doc, line)?;
            Ok(doc)
        }
        _ => {
            let mut doc = DocBlock::new(info, None, buffer);
            doc.ensure_untagged(src.loc());
            let mut first = true;
            while let Some(l) = line {
                if !legacy {
                    if let Some((name, _)) = at_name_colon(l) {
                        return Err(src.parse_error(format!(
                            "'@{name}:' not allowed in free-form documentation"
                        )));
                    }
                    if l.starts_with('=') && !first {
                        return Err(src
                            .parse_error("'=' heading must come first in a comment block".into()));
                    }
                }
                doc.append_line(l);
                line = src.next_line()?;
                first = false;
            }
            Ok(doc)
        }
    }
}

/// The `@symbol:` line. Legacy also takes `@symbol` and `@symbol: text` (returned as the
/// second value).
fn symbol_line<'a>(
    src: &dyn DocSource<'a>,
    line: &'a str,
) -> Result<(String, Option<&'a str>), Error> {
    let body = &line[1..];
    if src.legacy() {
        let end = body
            .find(|c: char| c == ':' || is_py_space(c))
            .unwrap_or(body.len());
        let name = &body[..end];
        let rest = body[end..].strip_prefix(':').unwrap_or(&body[end..]);
        let rest = rest.trim_start_matches(is_py_space);
        if !name.is_empty() {
            return Ok((name.to_string(), (!rest.is_empty()).then_some(rest)));
        }
    }
    if !line.ends_with(':') {
        return Err(src.parse_error("line should end with ':'".into()));
    }
    let symbol = &line[1..line.len() - 1];
    if symbol.is_empty() {
        return Err(src.parse_error("name required after '@'".into()));
    }
    Ok((symbol.to_string(), None))
}

/// The sections after the symbol line of a definition doc.
fn definition_sections<'a>(
    src: &mut dyn DocSource<'a>,
    doc: &mut DocBlock,
    mut line: Option<&'a str>,
) -> Result<(), Error> {
    let legacy = src.legacy();
    let mut no_more_args = false;
    while let Some(mut l) = line {
        if l.is_empty() {
            line = src.next_line()?;
            continue;
        }
        if l == "Features:" {
            if !doc.features.is_empty() && !legacy {
                return Err(src.parse_error("duplicated 'Features:' line".into()));
            }
            line = src.next_line()?;
            while line == Some("") {
                line = src.next_line()?;
            }
            let before = doc.features.len();
            while let Some((name, text)) = line.and_then(at_name_colon) {
                doc.new_description(src, Kind::Feature, name)?;
                if !text.is_empty() {
                    doc.append_line(text);
                }
                line = indented(src, doc)?;
            }
            if doc.features.len() == before && !legacy {
                return Err(src.parse_error("feature descriptions expected".into()));
            }
            no_more_args = true;
            continue;
        }
        if let Some((name, _)) = at_name_colon(l) {
            if no_more_args && !legacy {
                return Err(src.parse_error(format!("description of '@{name}:' follows a section")));
            }
            while let Some((name, text)) = line.and_then(at_name_colon) {
                doc.new_description(src, Kind::Member, name)?;
                if !text.is_empty() {
                    doc.append_line(text);
                }
                line = indented(src, doc)?;
            }
            no_more_args = true;
            continue;
        }
        let mut tag = tagged(l);
        if legacy && tag.is_none() {
            tag = legacy_since(l);
        }
        if let Some((word, text)) = tag {
            let kind = match word {
                "Returns" => Some(Kind::Returns),
                "Errors" => Some(Kind::Errors),
                "Since" => Some(Kind::Since),
                "TODO" => Some(Kind::Todo),
                "Note" | "Notes" if !legacy => {
                    return Err(src.parse_error(format!(
                        "The '{word}' section is no longer supported. Please use rST's \
                         '.. note::' or '.. admonition:: notes' directives, or another \
                         suitable admonition instead."
                    )));
                }
                "Example" | "Examples" if !legacy => {
                    return Err(src.parse_error(format!(
                        "The '{word}' section is no longer supported. Please use the \
                         '.. qmp-example::' directive, or other suitable markup instead."
                    )));
                }
                "Example" | "Examples" => {
                    // Legacy: an example section is literal text up to the next tagged
                    // section; its modern form is a `.. qmp-example::` directive.
                    line = legacy_example(src, doc, text)?;
                    no_more_args = true;
                    continue;
                }
                // Legacy: notes are plain paragraphs.
                _ => None,
            };
            if let Some(kind) = kind {
                doc.new_tagged(src, kind)?;
                if !text.is_empty() {
                    doc.append_line(text);
                }
                line = indented(src, doc)?;
                no_more_args = true;
                continue;
            }
        } else if l.starts_with('=') && !legacy {
            return Err(src.parse_error("unexpected '=' markup in definition documentation".into()));
        }
        // A plain paragraph: every line up to a blank line, whatever it contains.
        doc.ensure_untagged(src.loc());
        loop {
            doc.append_line(l);
            match src.next_line()? {
                Some(next) if !next.is_empty() => l = next,
                other => {
                    line = other;
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Legacy `Example:` section: `text` and the lines after it, up to the next tagged section or
/// the end of the block, as the body of a `.. qmp-example::` directive in a plain section.
/// Returns the first line after it.
fn legacy_example<'a>(
    src: &mut dyn DocSource<'a>,
    doc: &mut DocBlock,
    text: &str,
) -> Result<Option<&'a str>, Error> {
    doc.ensure_untagged(src.loc());
    doc.append_line(".. qmp-example::");
    doc.append_line("");
    let mut body: Vec<&str> = Vec::new();
    if !text.is_empty() {
        body.push(text);
    }
    let mut line = src.next_line()?;
    while let Some(l) = line {
        if tagged(l).is_some() || legacy_since(l).is_some() {
            break;
        }
        body.push(l);
        line = src.next_line()?;
    }
    while body.last() == Some(&"") {
        body.pop();
    }
    let body_start = body
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(body.len());
    let mut indented = String::new();
    for l in &body[body_start..] {
        indented.clear();
        if !l.is_empty() {
            indented.push_str("    ");
            indented.push_str(l);
        }
        doc.append_line(&indented);
    }
    Ok(line)
}

/// Legacy `Since 1.5` (no colon, version number follows) as a Since section.
fn legacy_since(line: &str) -> Option<(&'static str, &str)> {
    let rest = line.strip_prefix("Since ")?;
    let rest = rest.trim_start_matches(' ');
    rest.starts_with(|c: char| c.is_ascii_digit())
        .then_some(("Since", rest))
}

/// The continuation lines of a description or tagged section (QEMU's indentation rule).
/// Returns the first line that is not part of it.
fn indented<'a>(src: &mut dyn DocSource<'a>, doc: &mut DocBlock) -> Result<Option<&'a str>, Error> {
    let legacy = src.legacy();
    let mut line = src.next_line()?;
    let mut skipped_blank = false;
    while line == Some("") {
        doc.append_line("");
        skipped_blank = true;
        line = src.next_line()?;
    }
    let Some(first) = line else {
        return Ok(None);
    };
    let indent = indentation(first);
    if indent == 0 {
        if legacy && !skipped_blank && !starts_section(first) {
            // Old docs wrapped section text without indenting it: the section runs to the
            // next blank line.
            let mut l = first;
            loop {
                doc.append_line(l);
                match src.next_line()? {
                    Some(next) if !next.is_empty() && !starts_section(next) => l = next,
                    other => return Ok(other),
                }
            }
        }
        return Ok(line);
    }
    doc.append_line(first);
    // QEMU's flag is set after every line, so only the line right after the first
    // continuation line can trigger the de-indent error.
    let mut prev_blank = false;
    loop {
        let Some(l) = src.next_line()? else {
            return Ok(None);
        };
        if at_name_colon(l).is_some() {
            return Ok(Some(l));
        }
        if !l.is_empty() && indentation(l) < indent {
            if prev_blank || legacy {
                return Ok(Some(l));
            }
            return Err(src.parse_error(format!(
                "unexpected de-indent (expected at least {indent} spaces)"
            )));
        }
        doc.append_line(l);
        prev_blank = true;
    }
}

/// Lines that open a section of their own in a definition doc.
fn starts_section(line: &str) -> bool {
    line == "Features:"
        || at_name_colon(line).is_some()
        || tagged(line).is_some()
        || legacy_since(line).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_colon_matches_like_qemu() {
        assert_eq!(at_name_colon("@a: text"), Some(("a", "text")));
        assert_eq!(at_name_colon("@a b:  x"), Some(("a b", "x")));
        assert_eq!(at_name_colon("@:"), Some(("", "")));
        assert_eq!(at_name_colon("@a"), None);
        assert_eq!(at_name_colon(" @a:"), None);
    }

    #[test]
    fn tags_need_one_colon() {
        assert_eq!(tagged("Returns: x"), Some(("Returns", "x")));
        assert_eq!(tagged("Notes:"), Some(("Notes", "")));
        assert_eq!(tagged("Note:x"), Some(("Note", "x")));
        assert_eq!(tagged("Examples::"), None);
        assert_eq!(tagged("Note::"), None);
        assert_eq!(tagged("Since 1.5"), None);
        assert_eq!(tagged("since: 1.5"), None);
        assert_eq!(tagged("TODO: x"), Some(("TODO", "x")));
    }

    #[test]
    fn legacy_since_needs_a_version() {
        assert_eq!(legacy_since("Since 1.5"), Some(("Since", "1.5")));
        assert_eq!(legacy_since("Since the dawn"), None);
    }
}
