//! The loader: takes each file's top-level items from its pest parse (`syntax`) in order, as
//! QEMU's parser meets them: values become expressions, doc blocks are read by `doc`, and
//! `include` and `pragma` directives are processed where they stand, so the error reported is
//! the first one in QEMU's order.

use std::collections::HashSet;
use std::iter::Peekable;

use pest::iterators::{Pair, Pairs};

use crate::diag::Diag;
use crate::doc::{self, BlockLines, Comment, DocBlock, DocSource};
use crate::error::{Error, ErrorKind};
use crate::model::Pragmas;
use crate::source::{
    fs_path, is_py_space, line_starts, normalize_text, py_abspath, py_dirname, py_join, strerror,
    FileId, Loc, SourceFile, TextArena,
};
use crate::syntax::{self, Rule, SyntaxError};
use crate::value::{self, Dict, Value};

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
        let items = syntax::parse_file(text, self.legacy)
            .map_err(|msg| Error::bare(ErrorKind::Parse, format!("{name}: {msg}")))?;
        self.diag
            .files
            .push(SourceFile::new(name, text, parent, line_starts(text)));
        self.abs_paths.push(abs);
        let mut parser = FileParser {
            ld: self,
            id,
            text,
            items: items.peekable(),
            cur: Comment {
                start: 0,
                end: 0,
                line: 1,
            },
            block: None,
            ended_early: false,
        };
        parser.parse()
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

/// Reads one file's items (QEMU's `QAPISchemaParser`).
struct FileParser<'l, 'a> {
    ld: &'l mut Loader<'a>,
    id: FileId,
    text: &'a str,
    /// The file's top-level pairs, in order (see `syntax::parse_file`).
    items: Peekable<Pairs<'a, Rule>>,
    /// The token QEMU's parser is at while a doc block is read: a comment of the block, or
    /// the token after it.
    cur: Comment,
    /// The comments of the doc block being read.
    block: Option<BlockLines<'a>>,
    /// Legacy: the doc block just read ended at a non-comment token.
    ended_early: bool,
}

impl<'l, 'a> FileParser<'l, 'a> {
    fn loc_at(&self, pos: usize) -> Loc {
        Loc {
            file: self.id,
            line: self.ld.diag.file(self.id).line_of(pos as u32),
        }
    }

    fn syntax_error(&self, e: SyntaxError) -> Error {
        self.ld.diag.parse_error(self.id, e.start, e.end, e.message)
    }

    /// A parse error at the current token of a doc block.
    fn parse_error(&self, msg: impl Into<String>) -> Error {
        self.ld
            .diag
            .parse_error(self.id, self.cur.start, self.cur.end, msg.into())
    }

    /// QEMU's lexer reads the token after an item before the item is processed: a malformed
    /// one is reported first.
    fn check_next_token(&mut self) -> Result<(), Error> {
        match self.items.peek().and_then(syntax::lexical_error) {
            Some(e) => Err(self.syntax_error(e)),
            None => Ok(()),
        }
    }

    /// The token after the current item (the final newline at the end of the file).
    fn next_token(&mut self) -> Comment {
        let len = self.text.len();
        let (start, end) = match self.items.peek() {
            Some(pair) => syntax::token_span(pair, len),
            None => {
                let eof = len.saturating_sub(1) as u32;
                (eof, eof)
            }
        };
        Comment {
            start,
            end,
            line: self.ld.diag.file(self.id).line_of(start),
        }
    }

    fn parse(&mut self) -> Result<(), LoadError> {
        let len = self.text.len();
        let mut cur_doc: Option<usize> = None;
        while let Some(item) = self.items.next() {
            match item.as_rule() {
                Rule::EOI => break,
                Rule::doc_block | Rule::legacy_doc_block => {
                    self.reject_expr_doc(cur_doc)?;
                    cur_doc = Some(self.get_doc(&item)?);
                }
                // Before QEMU 2.9, `##...` lines were ordinary comments.
                Rule::legacy_comment => {}
                Rule::dict
                | Rule::list
                | Rule::legacy_dict
                | Rule::legacy_list
                | Rule::string
                | Rule::legacy_string
                | Rule::boolean => {
                    let span = item.as_span();
                    let (start, end) = (span.start() as u32, span.end() as u32);
                    let info = self.loc_at(span.start());
                    let expr = value::from_pair(item, len).map_err(|e| self.syntax_error(e))?;
                    self.check_next_token()?;
                    self.expression(expr, info, start, end, cur_doc)?;
                    cur_doc = None;
                }
                _ => return Err(self.syntax_error(syntax::error_point(&item, len)).into()),
            }
        }
        self.reject_expr_doc(cur_doc)?;
        Ok(())
    }

    /// Processes a top-level expression: a directive or a definition.
    fn expression(
        &mut self,
        expr: Value<'a>,
        info: Loc,
        start: u32,
        end: u32,
        cur_doc: Option<usize>,
    ) -> Result<(), LoadError> {
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

    /// Reads the doc block `block`; returns its index.
    fn get_doc(&mut self, block: &Pair<'a, Rule>) -> Result<usize, Error> {
        let span = block.as_span();
        let line = self.ld.diag.file(self.id).line_of(span.start() as u32);
        let mut lines = BlockLines::new(self.text, span.start(), span.end(), line);
        let Some(opening) = lines.next(self.ld.diag.file(self.id).line_starts()) else {
            return Err(self.parse_error("documentation comment must start with '##'"));
        };
        self.cur = opening;
        if &self.text[opening.start as usize..opening.end as usize] != "##" {
            return Err(self.parse_error("junk after '##' at start of documentation comment"));
        }
        let inferred = self.ld.legacy && self.block_precedes_expression(&lines);
        self.block = Some(lines);
        let buffer = std::mem::take(&mut self.ld.doc_buffer);
        let mut doc = doc::parse_block(self, inferred, buffer)?;
        self.block = None;
        if self.ended_early {
            self.ended_early = false;
        } else {
            // QEMU's lexer reads the token after the closing `##`.
            self.check_next_token()?;
        }
        doc.end(self)?;
        self.ld.doc_buffer = doc.take_buffer();
        self.ld.docs.push(doc);
        Ok(self.ld.docs.len() - 1)
    }

    /// Legacy: whether the doc block whose comments after the opening `##` are `lines` has no
    /// symbol line, does not open with a heading, and is directly followed by an expression.
    fn block_precedes_expression(&mut self, lines: &BlockLines<'a>) -> bool {
        let Some(first) = lines.clone().next(self.ld.diag.file(self.id).line_starts()) else {
            return false;
        };
        let text = &self.text[first.start as usize..first.end as usize];
        let first = text
            .strip_prefix("# ")
            .unwrap_or(&text[1..])
            .trim_end_matches(is_py_space);
        if first.starts_with('@') || first.starts_with('=') {
            return false;
        }
        matches!(
            self.items.peek().map(Pair::as_rule),
            Some(Rule::dict | Rule::legacy_dict)
        )
    }
}

impl<'l, 'a> DocSource<'a> for FileParser<'l, 'a> {
    fn next_line(&mut self) -> Result<Option<&'a str>, Error> {
        let line_starts = self.ld.diag.file(self.id).line_starts();
        let Some(comment) = self.block.as_mut().and_then(|b| b.next(line_starts)) else {
            // The block ends at a non-comment token (or the end of the file).
            self.cur = self.next_token();
            self.check_next_token()?;
            if self.ld.legacy {
                self.ended_early = true;
                return Ok(None);
            }
            return Err(self.parse_error("documentation comment must end with '##'"));
        };
        self.cur = comment;
        let val = &self.text[comment.start as usize..comment.end as usize];
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
        Loc {
            file: self.id,
            line: self.cur.line,
        }
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
