//! qapi-parser: reads QAPI schema files into a checked, typed [`Schema`], or reports the first
//! error exactly as QEMU 10.0.2's generator would.
//!
//! The pipeline follows QEMU's phases, because their order decides which error is reported
//! first:
//!
//! 1. `lexer` (the pest grammar `qapi.pest`) and `parser`: syntax, doc blocks, `include` and
//!    `pragma` directives, file by file as they are reached;
//! 2. `expr`: shape and name checks per definition, producing typed definitions;
//! 3. `build`: entities in QEMU's creation order, with implicit types;
//! 4. `check`: semantic checks, doc connection, the feature limit.
//!
//! ```no_run
//! let schema = qapi_parser::load("qapi-schema.json", &qapi_parser::Options::default())?;
//! for cmd in schema.commands() {
//!     println!("{}", cmd.common.name);
//! }
//! # Ok::<(), qapi_parser::Error>(())
//! ```

mod build;
mod check;
mod construct;
mod diag;
mod doc;
mod dump;
mod error;
mod expr;
mod legacy;
mod lexer;
mod names;
mod parser;
mod source;
mod value;

pub mod model;

use std::path::{Path, PathBuf};

pub use dump::dump;
pub use error::{Context, Error, ErrorKind};
pub use model::*;

/// How to read a schema.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Also accept the older dialect of QEMU 1.x-7.x schemas (`'type'` for structs,
    /// `'success-response': 'no'`, simple unions, unchecked doc comments, ...). The default
    /// is strict: exactly what QEMU 10.0.2 accepts.
    pub legacy: bool,
}

/// Reads the schema file at `path` and every file it includes, and checks it.
///
/// File names in messages are `path` as given and include paths joined onto the including
/// file's directory, as QEMU prints them.
pub fn load(path: impl AsRef<Path>, options: &Options) -> Result<Schema, Error> {
    let name = path.as_ref().to_string_lossy().into_owned();
    run(&name, None, options)
}

/// Checks the schema text `text` as if read from the file `name`; includes are read from
/// disk relative to `name`'s directory.
pub fn parse_str(name: &str, text: &str, options: &Options) -> Result<Schema, Error> {
    run(name, Some(text.to_string()), options)
}

fn run(name: &str, text: Option<String>, options: &Options) -> Result<Schema, Error> {
    let arena = source::TextArena::default();
    let mut loader = parser::Loader::new(&arena, options.legacy);
    loader.load_root(name, text)?;
    let parser::Loader {
        mut diag,
        exprs,
        mut docs,
        pragmas,
        ..
    } = loader;
    let items = expr::check_exprs(exprs, &mut docs, &pragmas, &mut diag, options.legacy)?;
    let mut built = build::build(items, &diag)?;
    check::check(&mut built, &mut docs, &diag, &pragmas, options.legacy)?;
    let docs = docs.into_iter().map(|d| model_doc(d, &diag)).collect();
    Ok(Schema {
        modules: built.modules,
        entities: built.entities,
        docs,
        pragmas,
        index: built.index,
    })
}

fn line_info(diag: &diag::Diag<'_>, loc: source::Loc) -> SourceInfo {
    let file = diag.file(loc.file);
    let start = file.line_start(loc.line);
    SourceInfo {
        file: PathBuf::from(&file.name),
        line: loc.line,
        col: 1,
        span: start..start + file.line_text(loc.line).len(),
    }
}

/// Moves a checked doc block into the model.
fn model_doc(mut d: doc::DocBlock, diag: &diag::Diag<'_>) -> Doc {
    let describe = |list: &[usize], sections: &mut [doc::Section]| -> Vec<DocDescription> {
        let mut out = Vec::with_capacity(list.len());
        for &i in list {
            let s = &mut sections[i];
            if !s.dropped {
                out.push(DocDescription {
                    name: std::mem::take(&mut s.name),
                    text: std::mem::take(&mut s.text),
                    info: line_info(diag, s.loc),
                });
            }
        }
        out
    };
    let args = describe(&d.args, &mut d.sections);
    let features = describe(&d.features, &mut d.sections);
    let others = d.other_sections();
    let sections = others
        .iter()
        .map(|&i| {
            let s = &mut d.sections[i];
            DocSection {
                kind: match s.kind {
                    doc::Kind::Returns => SectionKind::Returns,
                    doc::Kind::Errors => SectionKind::Errors,
                    doc::Kind::Since => SectionKind::Since,
                    doc::Kind::Todo => SectionKind::Todo,
                    _ => SectionKind::Plain,
                },
                text: std::mem::take(&mut s.text),
                info: line_info(diag, s.loc),
            }
        })
        .collect();
    Doc {
        info: line_info(diag, d.loc),
        symbol: d.symbol.take(),
        body: std::mem::take(&mut d.sections[0].text),
        args,
        features,
        sections,
    }
}
