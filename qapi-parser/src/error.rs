//! The error type: QEMU's exact message on `Display`, a rustc-style report on demand.

use std::fmt;
use std::ops::Range;

/// Which phase found the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The schema file or an include could not be read.
    Io,
    /// A lexical or syntactic error (QEMU's `QAPIParseError`: the location has a column).
    Parse,
    /// Any other schema error (QEMU's `QAPISemError`: the location is a line).
    Semantic,
}

/// The definition an error belongs to (QEMU's `In <meta> '<name>':` line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub file: String,
    pub meta: String,
    pub name: String,
}

/// Source text around the error, for [`Error::report`].
#[derive(Debug, Clone)]
pub(crate) struct Excerpt {
    /// 1-based number of the first line of `text`.
    pub line_start: usize,
    pub text: String,
    /// Byte range within `text` to underline.
    pub span: Range<usize>,
}

/// The first error in a schema, as QEMU 10.0.2 would report it.
///
/// `Display` gives QEMU's message byte for byte (several lines when QEMU prints several):
///
/// ```text
/// In file included from <parent>:<line>:
/// <file>: In <meta> '<name>':
/// <file>:<line>[:<col>]: <message>
/// ```
#[derive(Debug, Clone)]
pub struct Error {
    inner: Box<Inner>,
}

/// The parts of an error (boxed: errors travel through every `Result` of the crate).
#[derive(Debug, Clone)]
struct Inner {
    kind: ErrorKind,
    includes: Vec<(String, u32)>,
    context: Option<Context>,
    file: Option<String>,
    line: Option<u32>,
    col: Option<u32>,
    message: String,
    excerpt: Option<Excerpt>,
}

impl Error {
    /// An error with no location (an unreadable root file).
    pub(crate) fn bare(kind: ErrorKind, message: String) -> Error {
        Error::from(Inner {
            kind,
            includes: Vec::new(),
            context: None,
            file: None,
            line: None,
            col: None,
            message,
            excerpt: None,
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn located(
        kind: ErrorKind,
        includes: Vec<(String, u32)>,
        context: Option<Context>,
        file: String,
        line: u32,
        col: Option<u32>,
        message: String,
        excerpt: Option<Excerpt>,
    ) -> Error {
        Error::from(Inner {
            kind,
            includes,
            context,
            file: Some(file),
            line: Some(line),
            col,
            message,
            excerpt,
        })
    }

    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The message after the location (may span several lines, like QEMU's).
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The file as QEMU names it, if the error has a location.
    pub fn file(&self) -> Option<&str> {
        self.inner.file.as_deref()
    }

    /// 1-based line, if the error has a location.
    pub fn line(&self) -> Option<u32> {
        self.inner.line
    }

    /// QEMU's column (parse errors only).
    pub fn column(&self) -> Option<u32> {
        self.inner.col
    }

    /// The definition the error belongs to, if QEMU names one.
    pub fn context(&self) -> Option<&Context> {
        self.inner.context.as_ref()
    }

    /// The chain of include directives leading to the file, outermost first.
    pub fn include_chain(&self) -> &[(String, u32)] {
        &self.inner.includes
    }

    /// `file:line[:col]` as QEMU prints it before the message.
    pub fn location(&self) -> Option<String> {
        let file = self.inner.file.as_ref()?;
        let mut loc = file.clone();
        if let Some(line) = self.inner.line {
            loc.push_str(&format!(":{line}"));
        }
        if let Some(col) = self.inner.col {
            loc.push_str(&format!(":{col}"));
        }
        Some(loc)
    }

    /// A rustc-style report: the location, the offending source line with a caret, and the
    /// definition/include context as notes. Rendered by annotate-snippets, without colour.
    pub fn report(&self) -> String {
        use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

        let mut lines = self.inner.message.lines();
        let title = lines.next().unwrap_or("");
        let path = self.inner.file.as_deref().unwrap_or("");
        let location = self.location().unwrap_or_default();
        let label = match &self.inner.context {
            Some(c) => format!("in {} '{}'", c.meta, c.name),
            None => String::new(),
        };
        let mut group = match &self.inner.excerpt {
            Some(ex) => Level::ERROR.primary_title(title).element(
                Snippet::source(ex.text.as_str())
                    .path(path)
                    .line_start(ex.line_start)
                    .annotation(
                        AnnotationKind::Primary
                            .span(ex.span.clone())
                            .label(label.as_str()),
                    ),
            ),
            None if self.inner.file.is_some() => Level::ERROR
                .primary_title(title)
                .element(Level::NOTE.message(location.as_str())),
            None => Group::with_title(Level::ERROR.primary_title(title)),
        };
        // Further message lines ("Valid keys are ...", "previous definition") and the include
        // chain, innermost first, become notes.
        let mut notes: Vec<String> = lines.map(str::to_string).collect();
        for (file, line) in self.inner.includes.iter().rev() {
            notes.push(format!("included from {file}:{line}"));
        }
        for note in &notes {
            group = group.element(Level::NOTE.message(note.as_str()));
        }
        Renderer::plain().render(&[group]).to_string()
    }
}

impl From<Inner> for Error {
    fn from(inner: Inner) -> Error {
        Error {
            inner: Box::new(inner),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (file, line) in &self.inner.includes {
            writeln!(f, "In file included from {file}:{line}:")?;
        }
        if let Some(c) = &self.inner.context {
            writeln!(f, "{}: In {} '{}':", c.file, c.meta, c.name)?;
        }
        match self.location() {
            Some(loc) => write!(f, "{loc}: {}", self.inner.message),
            None => write!(f, "{}", self.inner.message),
        }
    }
}

impl std::error::Error for Error {}
