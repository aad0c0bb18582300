//! Builds located errors the way QEMU renders them: include chains, the `In <meta> '<name>':`
//! context of the definition a line belongs to, and a source excerpt for reports.

use std::borrow::Cow;

use crate::error::{Context, Error, ErrorKind, Excerpt};
use crate::source::{FileId, Loc, SourceFile};

/// The files of a schema and the definition context of their lines.
#[derive(Default)]
pub(crate) struct Diag<'a> {
    pub files: Vec<SourceFile<'a>>,
    /// The current directory when loading started (relative paths are taken against it).
    pub cwd: String,
    /// QEMU records the definition on the line's shared source-info object, so a line
    /// reports the definition most recently checked on it (normally the one starting there).
    /// Looked up only for messages, so a list searched from its end does.
    /// Names borrow the schema text where they can.
    defn: Vec<(Loc, &'static str, Cow<'a, str>)>,
}

impl<'a> Diag<'a> {
    pub fn new(cwd: String) -> Diag<'a> {
        Diag {
            cwd,
            ..Diag::default()
        }
    }

    pub fn file(&self, id: FileId) -> &SourceFile<'a> {
        &self.files[id as usize]
    }

    /// Records that the definition starting at `loc` is being checked.
    pub fn set_defn(&mut self, loc: Loc, meta: &'static str, name: Cow<'a, str>) {
        self.defn.push((loc, meta, name));
    }

    /// The definition most recently recorded at `loc`.
    fn defn(&self, loc: Loc) -> Option<(&'static str, &str)> {
        self.defn
            .iter()
            .rev()
            .find(|(l, _, _)| *l == loc)
            .map(|(_, meta, name)| (*meta, name.as_ref()))
    }

    pub fn defn_name(&self, loc: Loc) -> Option<&str> {
        self.defn(loc).map(|(_, name)| name)
    }

    pub fn defn_meta(&self, loc: Loc) -> Option<&'static str> {
        self.defn(loc).map(|(meta, _)| meta)
    }

    /// The include directives leading to `file`, outermost first.
    pub fn include_chain(&self, file: FileId) -> Vec<(String, u32)> {
        let mut chain = Vec::new();
        let mut parent = self.file(file).parent;
        while let Some(p) = parent {
            chain.push((self.file(p.file).name.clone(), p.line));
            parent = self.file(p.file).parent;
        }
        chain.reverse();
        chain
    }

    /// QEMU prints the `In <meta> '<name>':` line only when the name is not empty.
    fn context(&self, loc: Loc) -> Option<Context> {
        self.defn(loc)
            .filter(|(_, name)| !name.is_empty())
            .map(|(meta, name)| Context {
                file: self.file(loc.file).name.clone(),
                meta: meta.to_string(),
                name: name.to_string(),
            })
    }

    fn excerpt(&self, loc: Loc, span: Option<(u32, u32)>) -> Excerpt {
        let file = self.file(loc.file);
        let text = file.line_text(loc.line);
        let line_start = file.line_start(loc.line);
        let span = match span {
            Some((start, end)) => {
                let s = (start as usize).saturating_sub(line_start).min(text.len());
                let e = (end as usize)
                    .saturating_sub(line_start)
                    .clamp(s, text.len());
                if e > s {
                    s..e
                } else {
                    // An empty token (end of line or input): point just past the text.
                    s..s
                }
            }
            None => {
                let first = text.len() - text.trim_start().len();
                first..text.trim_end().len().max(first)
            }
        };
        Excerpt {
            line_start: loc.line as usize,
            text: text.to_string(),
            span,
        }
    }

    /// A parse error at byte offset `pos` (QEMU's `QAPIParseError`: column, no context).
    pub fn parse_error(&self, file: FileId, pos: u32, end: u32, msg: String) -> Error {
        let f = self.file(file);
        let loc = f.loc_of(file, pos);
        Error::located(
            ErrorKind::Parse,
            self.include_chain(file),
            None,
            f.name.clone(),
            loc.line,
            Some(f.column_of(pos)),
            msg,
            Some(self.excerpt(loc, Some((pos, end.max(pos + 1))))),
        )
    }

    /// A semantic error at `loc` (QEMU's `QAPISemError`), with the line's definition context.
    pub fn error(&self, loc: Loc, msg: String) -> Error {
        Error::located(
            ErrorKind::Semantic,
            self.include_chain(loc.file),
            self.context(loc),
            self.file(loc.file).name.clone(),
            loc.line,
            None,
            msg,
            Some(self.excerpt(loc, None)),
        )
    }

    /// `loc` rendered as QEMU's `str(info)`: include chain, context, `file:line`.
    pub fn render_loc(&self, loc: Loc) -> String {
        let mut out = String::new();
        for (file, line) in self.include_chain(loc.file) {
            out.push_str(&format!("In file included from {file}:{line}:\n"));
        }
        if let Some(c) = self.context(loc) {
            out.push_str(&format!("{}: In {} '{}':\n", c.file, c.meta, c.name));
        }
        out.push_str(&format!("{}:{}", self.file(loc.file).name, loc.line));
        out
    }
}
