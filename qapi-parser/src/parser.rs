//! The syntax driver: walks each file's tokens like QEMU's recursive-descent parser, builds
//! top-level expressions, reads doc blocks, and processes `include` and `pragma` directives
//! inline, reporting QEMU's exact parse errors.

use std::borrow::Cow;
use std::collections::HashSet;

use crate::diag::Diag;
use crate::doc::{self, DocBlock, DocSource};
use crate::error::{Error, ErrorKind};
use crate::lexer::{self, LexError, Tok, Token};
use crate::model::Pragmas;
use crate::source::{
    fs_path, is_py_space, normalize_text, py_abspath, py_dirname, py_join, strerror, FileId, Loc,
    SourceFile, TextArena,
};
use crate::value::{Dict, Value};

/// Deeper nesting than this is refused: QEMU itself dies of Python's recursion limit
/// somewhat below 500 levels, and later phases walk values recursively.
const MAX_DEPTH: usize = 480;

/// A top-level expression: a definition, or the record QEMU keeps of an include directive.
pub(crate) struct Expr<'a> {
    pub value: Dict<'a>,
    pub loc: Loc,
    /// Byte range of the expression in its file.
    pub start: u32,
    pub end: u32,
    /// Index into the doc list of the block right before a definition.
    pub doc: Option<usize>,
    /// For include records: the included file's path as QEMU built it.
    pub include: Option<String>,
}

/// An open container while parsing a value.
enum Frame<'a> {
    /// A dict and the key whose value is being parsed.
    Dict {
        dict: Dict<'a>,
        key: Cow<'a, str>,
        seen: Option<HashSet<Cow<'a, str>>>,
    },
    List(Vec<Value<'a>>),
}

/// State shared by all files of one schema.
pub(crate) struct Loader<'a> {
    arena: &'a TextArena,
    pub diag: Diag<'a>,
    pub exprs: Vec<Expr<'a>>,
    pub docs: Vec<DocBlock>,
    pub pragmas: Pragmas,
    pub legacy: bool,
    included: HashSet<String>,
    /// `py_abspath` of each file in `diag.files` (include-loop checks walk them often).
    abs_paths: Vec<String>,
    /// Token lists of finished files, reused by the next ones (fewer big allocations).
    token_pool: Vec<Vec<Token>>,
    /// Section text buffer of doc blocks, reused from block to block.
    doc_buffer: String,
}

/// Why a file could not be parsed.
enum LoadError {
    /// The file could not be read (the caller words the message).
    Read(String),
    Schema(Error),
}

/// Schema files bigger than this are refused (devices such as `/dev/zero` never end).
const MAX_FILE_SIZE: u64 = 64 << 20;

fn read_limited(path: &std::path::Path) -> Result<Vec<u8>, LoadError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| LoadError::Read(strerror(&e)))?;
    // Room for the whole file and the newline the parser may append: no regrowing.
    let size = file
        .metadata()
        .map(|m| m.len().min(MAX_FILE_SIZE))
        .unwrap_or(0);
    let mut bytes = Vec::with_capacity(size as usize + 2);
    file.take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| LoadError::Read(strerror(&e)))?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(LoadError::Read("File too large".into()));
    }
    Ok(bytes)
}

impl From<Error> for LoadError {
    fn from(e: Error) -> Self {
        LoadError::Schema(e)
    }
}

impl<'a> Loader<'a> {
    pub fn new(arena: &'a TextArena, legacy: bool) -> Loader<'a> {
        Loader {
            arena,
            diag: Diag::new(crate::source::current_dir()),
            exprs: Vec::new(),
            docs: Vec::new(),
            pragmas: Pragmas::default(),
            legacy,
            included: HashSet::new(),
            abs_paths: Vec::new(),
            token_pool: Vec::new(),
            doc_buffer: String::new(),
        }
    }

    /// Parses the root file `name` (its text given, or read from disk) and its includes.
    pub fn load_root(&mut self, name: &str, text: Option<String>) -> Result<(), Error> {
        match self.parse_file(name.to_string(), None, text) {
            Ok(()) => Ok(()),
            Err(LoadError::Schema(e)) => Err(e),
            Err(LoadError::Read(why)) => Err(Error::bare(
                ErrorKind::Io,
                format!("can't read schema file '{name}': {why}"),
            )),
        }
    }

    fn parse_file(
        &mut self,
        name: String,
        parent: Option<Loc>,
        text: Option<String>,
    ) -> Result<(), LoadError> {
        let abs = py_abspath(&self.diag.cwd, &name);
        self.included.insert(abs.clone());
        let text = match text {
            Some(t) => t,
            None => {
                let bytes = read_limited(&fs_path(&name))?;
                String::from_utf8(bytes).map_err(|e| {
                    LoadError::Read(format!(
                        "invalid UTF-8 at byte {}",
                        e.utf8_error().valid_up_to()
                    ))
                })?
            }
        };
        let text: &'a str = self.arena.alloc(normalize_text(text));
        let id = self.diag.files.len() as FileId;
        let lexer::Tokens {
            tokens,
            line_starts,
        } = lexer::tokenize(text, self.token_pool.pop().unwrap_or_default())
            .map_err(|msg| Error::bare(ErrorKind::Parse, format!("{name}: {msg}")))?;
        self.diag
            .files
            .push(SourceFile::new(name, text, parent, line_starts));
        self.abs_paths.push(abs);
        let mut parser = FileParser {
            ld: self,
            id,
            text,
            tokens,
            next: 0,
            cur: Token {
                kind: Tok::Eof,
                start: 0,
                end: 0,
                line: 1,
                aux: 0,
            },
            last_end: 0,
            ended_early: false,
            frames: Vec::new(),
        };
        let result = parser.parse();
        let tokens = std::mem::take(&mut parser.tokens);
        self.token_pool.push(tokens);
        result
    }

    /// Processes an include directive found at `info`.
    fn include(&mut self, include: &str, info: Loc, incl_fname: String) -> Result<(), Error> {
        let abs = py_abspath(&self.diag.cwd, &incl_fname);
        let mut inf = Some(info);
        while let Some(i) = inf {
            let f = self.diag.file(i.file);
            if self.abs_paths.get(i.file as usize) == Some(&abs) {
                return Err(self
                    .diag
                    .error(info, format!("inclusion loop for {include}")));
            }
            inf = f.parent;
        }
        if self.included.contains(&abs) {
            return Ok(());
        }
        match self.parse_file(incl_fname.clone(), Some(info), None) {
            Ok(()) => Ok(()),
            Err(LoadError::Schema(e)) => Err(e),
            Err(LoadError::Read(why)) => Err(self.diag.error(
                info,
                format!("can't read include file '{incl_fname}': {why}"),
            )),
        }
    }

    /// Applies one pragma key.
    fn pragma(&mut self, name: &str, value: &Value<'a>, info: Loc) -> Result<(), Error> {
        let list = |ld: &Self, name: &str| -> Result<Vec<String>, Error> {
            match value {
                Value::List(items) => items
                    .iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>(),
                _ => None,
            }
            .ok_or_else(|| {
                ld.diag
                    .error(info, format!("pragma {name} must be a list of strings"))
            })
        };
        match name {
            "doc-required" => match value {
                Value::Bool(b) => self.pragmas.doc_required = *b,
                _ => {
                    return Err(self
                        .diag
                        .error(info, "pragma 'doc-required' must be boolean".into()))
                }
            },
            "command-name-exceptions" => {
                self.pragmas.command_name_exceptions = list(self, name)?;
            }
            "command-returns-exceptions" => {
                self.pragmas.command_returns_exceptions = list(self, name)?;
            }
            "documentation-exceptions" => {
                self.pragmas.documentation_exceptions = list(self, name)?;
            }
            "member-name-exceptions" => {
                self.pragmas.member_name_exceptions = list(self, name)?;
            }
            // QEMU 2.9-5.x names of the two exception lists.
            "returns-whitelist" if self.legacy => {
                self.pragmas.command_returns_exceptions = list(self, name)?;
            }
            "name-case-whitelist" if self.legacy => {
                self.pragmas.member_name_exceptions = list(self, name)?;
            }
            _ => return Err(self.diag.error(info, format!("unknown pragma '{name}'"))),
        }
        Ok(())
    }
}

/// Parses one file: QEMU's `QAPISchemaParser` over the token list.
struct FileParser<'l, 'a> {
    ld: &'l mut Loader<'a>,
    id: FileId,
    text: &'a str,
    tokens: Vec<Token>,
    /// Index of the next token to read.
    next: usize,
    /// The current token.
    cur: Token,
    /// End offset of the previous token (for expression spans).
    last_end: u32,
    /// Legacy: the doc block just read ended at a non-comment token, which is now current.
    ended_early: bool,
    /// Open containers of `get_expr`, kept between calls for their allocation.
    frames: Vec<Frame<'a>>,
}

impl<'l, 'a> FileParser<'l, 'a> {
    fn loc(&self) -> Loc {
        Loc {
            file: self.id,
            line: self.cur.line,
        }
    }

    fn parse_error(&self, msg: impl Into<String>) -> Error {
        self.ld
            .diag
            .parse_error(self.id, self.cur.start, self.cur.end, msg.into())
    }

    fn token_text(&self, t: Token) -> &'a str {
        &self.text[t.start as usize..t.end as usize]
    }

    /// Reads the next token, skipping plain comments when `skip_comment`; malformed tokens
    /// are reported here, when reached.
    fn accept(&mut self, skip_comment: bool) -> Result<(), Error> {
        self.last_end = self.cur.end;
        loop {
            let i = self.next.min(self.tokens.len() - 1);
            self.cur = self.tokens[i];
            self.next = i + 1;
            match self.cur.kind {
                Tok::Comment => {
                    if !skip_comment || self.token_text(self.cur).starts_with("##") {
                        return Ok(());
                    }
                }
                Tok::Error(e) => return Err(self.lex_error(e)),
                _ => return Ok(()),
            }
        }
    }

    fn lex_error(&self, e: LexError) -> Error {
        let t = self.cur;
        let msg = match e {
            LexError::Unterminated => "missing terminating \"'\"".to_string(),
            LexError::Funny => "funny character in string".to_string(),
            LexError::BadEscape => {
                let c = self.text[t.aux as usize..].chars().next().unwrap_or(' ');
                format!("unknown escape \\{c}")
            }
            LexError::Stray => format!("stray '{}'", self.token_text(t)),
        };
        let end = if e == LexError::Stray {
            t.end
        } else {
            t.start + 1
        };
        self.ld.diag.parse_error(self.id, t.start, end, msg)
    }

    /// The value of the current string token.
    fn string_value(&self) -> Cow<'a, str> {
        let raw = &self.text[self.cur.start as usize + 1..self.cur.end as usize - 1];
        if self.cur.aux != 0 {
            Cow::Owned(raw.replace("\\\\", "\\"))
        } else {
            Cow::Borrowed(raw)
        }
    }

    fn parse(&mut self) -> Result<(), LoadError> {
        self.accept(true)?;
        let mut cur_doc: Option<usize> = None;
        while self.cur.kind != Tok::Eof {
            let info = self.loc();
            if self.cur.kind == Tok::Comment {
                self.reject_expr_doc(cur_doc)?;
                if self.ld.legacy && self.token_text(self.cur) != "##" {
                    // Before QEMU 2.9, `##...` lines were ordinary comments.
                    self.accept(true)?;
                    continue;
                }
                cur_doc = Some(self.get_doc()?);
                continue;
            }
            let start = self.cur.start;
            let expr = self.get_expr()?;
            let end = self.last_end;
            let Value::Dict(dict) = expr else {
                return Err(self
                    .ld
                    .diag
                    .error(info, "top-level expression must be an object".into())
                    .into());
            };
            if dict.contains("include") {
                self.reject_expr_doc(cur_doc)?;
                if dict.len() != 1 {
                    return Err(self
                        .ld
                        .diag
                        .error(info, "invalid 'include' directive".into())
                        .into());
                }
                let Some(Value::Str(include)) = dict.get("include") else {
                    return Err(self
                        .ld
                        .diag
                        .error(info, "value of 'include' must be a string".into())
                        .into());
                };
                let include = include.to_string();
                let dir = py_dirname(&self.ld.diag.file(self.id).name).to_string();
                let incl_fname = py_join(&dir, &include);
                self.ld.exprs.push(Expr {
                    value: dict,
                    loc: info,
                    start,
                    end,
                    doc: None,
                    include: Some(incl_fname.clone()),
                });
                self.ld.include(&include, info, incl_fname)?;
            } else if dict.contains("pragma") {
                self.reject_expr_doc(cur_doc)?;
                if dict.len() != 1 {
                    return Err(self
                        .ld
                        .diag
                        .error(info, "invalid 'pragma' directive".into())
                        .into());
                }
                let Some(Value::Dict(pragma)) = dict.get("pragma") else {
                    return Err(self
                        .ld
                        .diag
                        .error(info, "value of 'pragma' must be an object".into())
                        .into());
                };
                for (name, value) in &pragma.entries {
                    self.ld.pragma(name, value, info)?;
                }
            } else {
                let mut doc = cur_doc;
                if let Some(d) = cur_doc {
                    let block = &self.ld.docs[d];
                    if block.symbol.is_none() && !block.inferred {
                        if !self.ld.legacy {
                            return Err(self
                                .ld
                                .diag
                                .error(block.loc, "definition documentation required".into())
                                .into());
                        }
                        // Legacy: a heading block stays free-form.
                        doc = None;
                    }
                }
                self.ld.exprs.push(Expr {
                    value: dict,
                    loc: info,
                    start,
                    end,
                    doc,
                    include: None,
                });
            }
            cur_doc = None;
        }
        self.reject_expr_doc(cur_doc)?;
        Ok(())
    }

    /// A definition doc must be followed by its definition.
    fn reject_expr_doc(&self, doc: Option<usize>) -> Result<(), Error> {
        if let Some(d) = doc {
            let block = &self.ld.docs[d];
            if let (Some(symbol), false) = (&block.symbol, self.ld.legacy) {
                return Err(self.ld.diag.error(
                    block.loc,
                    format!("documentation for '{symbol}' is not followed by the definition"),
                ));
            }
        }
        Ok(())
    }

    /// Parses a value (QEMU's `get_expr`, `get_members` and `get_values`, with the same
    /// checks in the same order). Iterative, so nesting costs heap, not stack.
    fn get_expr(&mut self) -> Result<Value<'a>, Error> {
        let mut stack = std::mem::take(&mut self.frames);
        let value = self.get_expr_in(&mut stack);
        stack.clear();
        self.frames = stack;
        value
    }

    fn get_expr_in(&mut self, stack: &mut Vec<Frame<'a>>) -> Result<Value<'a>, Error> {
        loop {
            if stack.len() > MAX_DEPTH {
                return Err(self.parse_error("expressions nested too deeply"));
            }
            // The start of a value.
            let mut value = match self.cur.kind {
                Tok::LBrace => {
                    self.accept(true)?;
                    if self.cur.kind == Tok::RBrace {
                        self.accept(true)?;
                        Value::Dict(Dict::default())
                    } else if self.cur.kind != Tok::Str {
                        return Err(self.parse_error("expected string or '}'"));
                    } else {
                        let mut frame = Frame::Dict {
                            dict: Dict::default(),
                            key: Cow::Borrowed(""),
                            seen: None,
                        };
                        self.member_key(&mut frame)?;
                        stack.push(frame);
                        continue;
                    }
                }
                Tok::LBracket => {
                    self.accept(true)?;
                    if self.cur.kind == Tok::RBracket {
                        self.accept(true)?;
                        Value::List(Vec::new())
                    } else if !matches!(
                        self.cur.kind,
                        Tok::LBrace | Tok::LBracket | Tok::Str | Tok::True | Tok::False
                    ) {
                        return Err(self.parse_error("expected '{', '[', ']', string, or boolean"));
                    } else {
                        stack.push(Frame::List(Vec::new()));
                        continue;
                    }
                }
                Tok::Str => {
                    let s = self.string_value();
                    self.accept(true)?;
                    Value::Str(s)
                }
                Tok::True | Tok::False => {
                    let b = self.cur.kind == Tok::True;
                    self.accept(true)?;
                    Value::Bool(b)
                }
                _ => return Err(self.parse_error("expected '{', '[', string, or boolean")),
            };
            // A complete value: store it in its container, closing containers as they end.
            loop {
                match stack.last_mut() {
                    None => return Ok(value),
                    Some(Frame::Dict { dict, key, .. }) => {
                        dict.entries.push((std::mem::take(key), value));
                        if self.cur.kind == Tok::RBrace {
                            self.accept(true)?;
                            value = match stack.pop() {
                                Some(Frame::Dict { dict, .. }) => Value::Dict(dict),
                                _ => return Err(self.parse_error("internal parser error")),
                            };
                            continue;
                        }
                        if self.cur.kind != Tok::Comma {
                            return Err(self.parse_error("expected ',' or '}'"));
                        }
                        self.accept(true)?;
                        if self.cur.kind != Tok::Str {
                            return Err(self.parse_error("expected string"));
                        }
                        if let Some(frame) = stack.last_mut() {
                            self.member_key(frame)?;
                        }
                        break;
                    }
                    Some(Frame::List(items)) => {
                        items.push(value);
                        if self.cur.kind == Tok::RBracket {
                            self.accept(true)?;
                            value = match stack.pop() {
                                Some(Frame::List(items)) => Value::List(items),
                                _ => return Err(self.parse_error("internal parser error")),
                            };
                            continue;
                        }
                        if self.cur.kind != Tok::Comma {
                            return Err(self.parse_error("expected ',' or ']'"));
                        }
                        self.accept(true)?;
                        break;
                    }
                }
            }
        }
    }

    /// Reads `'key' :` (the current token is the key string) into a dict frame, refusing
    /// duplicate keys at the token after the colon, as QEMU does.
    fn member_key(&mut self, frame: &mut Frame<'a>) -> Result<(), Error> {
        let Frame::Dict { dict, key, seen } = frame else {
            return Ok(());
        };
        let new_key = self.string_value();
        self.accept(true)?;
        if self.cur.kind != Tok::Colon {
            return Err(self.parse_error("expected ':'"));
        }
        self.accept(true)?;
        // Big dicts get a hash set for the duplicate check.
        let duplicate = match seen {
            Some(set) => !set.insert(new_key.clone()),
            None => {
                let dup = dict.contains(&new_key);
                if dict.len() >= 16 {
                    let mut set: HashSet<Cow<'a, str>> =
                        dict.entries.iter().map(|(k, _)| k.clone()).collect();
                    set.insert(new_key.clone());
                    *seen = Some(set);
                }
                dup
            }
        };
        if duplicate {
            return Err(self.parse_error(format!("duplicate key '{new_key}'")));
        }
        *key = new_key;
        Ok(())
    }

    /// Reads the doc block starting at the current `##` token; returns its index.
    fn get_doc(&mut self) -> Result<usize, Error> {
        if self.token_text(self.cur) != "##" {
            return Err(self.parse_error("junk after '##' at start of documentation comment"));
        }
        let inferred = self.ld.legacy && self.block_precedes_expression();
        let buffer = std::mem::take(&mut self.ld.doc_buffer);
        let mut block = doc::parse_block(self, inferred, buffer)?;
        if self.ended_early {
            self.ended_early = false;
        } else {
            self.accept(true)?;
        }
        block.end(self)?;
        self.ld.doc_buffer = block.take_buffer();
        self.ld.docs.push(block);
        Ok(self.ld.docs.len() - 1)
    }

    /// Legacy: whether the doc block at the current token has no symbol line, does not open
    /// with a heading, and is directly followed by an expression.
    fn block_precedes_expression(&self) -> bool {
        let mut i = self.next;
        let line_of = |t: Token| -> &str {
            let text = self.token_text(t);
            text.strip_prefix("# ")
                .unwrap_or(&text[1..])
                .trim_end_matches(is_py_space)
        };
        match self.tokens.get(i) {
            Some(t) if t.kind == Tok::Comment => {
                let first = line_of(*t);
                if first.starts_with('@') || first.starts_with('=') {
                    return false;
                }
            }
            _ => return false,
        }
        // Find the end of the block, then the next token that is not a plain comment.
        while let Some(t) = self.tokens.get(i) {
            if t.kind != Tok::Comment {
                return t.kind == Tok::LBrace;
            }
            i += 1;
            if self.token_text(*t).starts_with("##") || line_of(*t) == "##" {
                break;
            }
        }
        while let Some(t) = self.tokens.get(i) {
            if t.kind == Tok::Comment && !self.token_text(*t).starts_with("##") {
                i += 1;
                continue;
            }
            return t.kind == Tok::LBrace;
        }
        false
    }
}

impl<'l, 'a> DocSource<'a> for FileParser<'l, 'a> {
    fn next_line(&mut self) -> Result<Option<&'a str>, Error> {
        self.accept(false)?;
        if self.cur.kind != Tok::Comment {
            if self.ld.legacy {
                self.ended_early = true;
                return Ok(None);
            }
            return Err(self.parse_error("documentation comment must end with '##'"));
        }
        let val = self.token_text(self.cur);
        if val.starts_with("##") {
            if val != "##" && !self.ld.legacy {
                return Err(self.parse_error("junk after '##' at end of documentation comment"));
            }
            return Ok(None);
        }
        if val == "#" {
            return Ok(Some(""));
        }
        let rest = &val[1..];
        let line = match rest.strip_prefix(' ') {
            Some(line) => line,
            None if self.ld.legacy => rest,
            None => return Err(self.parse_error("missing space after #")),
        };
        let line = line.trim_end_matches(is_py_space);
        if self.ld.legacy && line == "##" {
            // Old blocks were sometimes closed by `# ##`.
            return Ok(None);
        }
        Ok(Some(line))
    }

    fn loc(&self) -> Loc {
        FileParser::loc(self)
    }

    fn parse_error(&self, msg: String) -> Error {
        FileParser::parse_error(self, msg)
    }

    fn sem_error(&self, loc: Loc, msg: String) -> Error {
        self.ld.diag.error(loc, msg)
    }

    fn legacy(&self) -> bool {
        self.ld.legacy
    }
}
