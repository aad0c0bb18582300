//! qapi-parser: reads QAPI schema files into a checked, typed [`Schema`], or reports the first
//! error exactly as QEMU 10.0.2's generator would.
//!
//! The pipeline follows QEMU's phases, because their order decides which error is reported
//! first:
//!
//! 1. `syntax` (the pest grammar `qapi.pest`), `value` and `parser`: syntax, doc blocks,
//!    `include` and `pragma` directives, file by file as they are reached;
//! 2. `expr`: shape and name checks per definition, producing typed definitions;
//! 3. `build`: entities in QEMU's creation order, with implicit types;
//! 4. `check`: semantic checks, doc connection, the feature limit.
//!
//! Entry points: [`load`] and [`parse_str`] return a checked [`Schema`] (see [`model`]) or
//! the first [`Error`], whose `Display` is QEMU's message and whose [`Error::report`] is a
//! rustc-style rendering; [`dump`] prints a schema in the format of QEMU's test harness.
//!
//! ```no_run
//! let schema = qapi_parser::load("qapi-schema.json", &qapi_parser::Options::default())?;
//! for cmd in schema.commands() {
//!     println!("{}", cmd.common.name);
//! }
//! # Ok::<(), qapi_parser::Error>(())
//! ```

// pest is used without its `std` feature (see Cargo.toml); the parser it generates names
// `alloc` for its boxes.
extern crate alloc;

mod build;
mod check;
mod diag;
mod doc;
mod dump;
mod error;
mod expr;
mod legacy;
mod names;
mod parser;
mod source;
mod syntax;
mod value;

pub mod model;

use std::path::Path;

pub use dump::dump;
pub use error::{Context, Error, ErrorKind};
pub use model::*;

/// How to read a schema.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Also accept the older dialect of QEMU 1.x-7.x schemas, giving the model its modern
    /// spelling would. The default is strict: exactly what QEMU 10.0.2 accepts.
    ///
    /// Legacy mode relaxes specific checks; everything else stays strict:
    ///
    /// * expressions: `'type'` means `'struct'`; flag values `'yes'`/`'no'` mean
    ///   `true`/`false`; members, enum values and branches may use upper case and `_`,
    ///   commands `_`; definition names may use any case (only their shape and the `List`
    ///   suffix are checked); command arguments may be conditional without `'boxed'`; any
    ///   command may return any type; `'visitor'`, `'dict'` and `'**'`
    ///   mean `'any'`; `'if'` may be a C preprocessor expression (`defined(X) && !Y`) or a
    ///   list (all must hold); pragmas `returns-whitelist` and `name-case-whitelist` are the
    ///   old names of `command-returns-exceptions` and `member-name-exceptions`;
    /// * simple unions (no `base`/`discriminator`) are desugared as QEMU before 7.0 did: enum
    ///   `<Union>Kind`, implicit base `q_obj_<Union>-base { type: <Union>Kind }`, each branch
    ///   type wrapped in `q_obj_<Type>-wrapper { data: <Type> }`; a union with
    ///   `'discriminator': {}` (QEMU 1.7-2.x) is an alternate;
    /// * doc comments are read as before QEMU 2.9 checked them: `##...` lines other than `##`
    ///   are plain comments; a block may end with `# ##` or run into the next expression; a
    ///   symbol line needs no colon (`# @Name`); a block without symbol line right before a
    ///   definition documents it; a doc whose symbol differs from its definition is still
    ///   its doc; `Note:` and `Notes:` are plain paragraphs; an `Example:`/`Examples:`
    ///   section (literal text up to the next tagged section) becomes a `.. qmp-example::`
    ///   directive; section text may continue on unindented lines up to a blank line; `Since 1.5` is a Since
    ///   section; `Returns:`/`Errors:` where QEMU 10.0.2 forbids them become plain text;
    ///   undocumented members and features are accepted (members get empty descriptions);
    ///   descriptions of members that do not exist are dropped, except that one such
    ///   description next to one undocumented member whose name contains it or is contained
    ///   in it describes that member (`@filepath` for `path`); a leading `#optional` marker
    ///   is removed from member descriptions.
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
    run(name, Some(text), options)
}

/// Stack a load may need: values may nest 512 deep (the grammar's bound, above QEMU's own
/// limit), which takes about 2 MB unoptimized (under 0.4 MB optimized).
const LOAD_STACK: usize = 3 << 20;

/// Loads on the caller's stack when it has room for the deepest input, else on a fresh stack
/// segment (a test thread has 2 MB), so deep nesting cannot overflow; no thread is started,
/// whose fresh malloc arena would cost a tenth of a load.
fn run(name: &str, text: Option<&str>, options: &Options) -> Result<Schema, Error> {
    stacker::maybe_grow(LOAD_STACK, LOAD_STACK, || run_here(name, text, options))
}

fn run_here(name: &str, text: Option<&str>, options: &Options) -> Result<Schema, Error> {
    let text = text.map(str::to_string);
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
    if options.legacy {
        legacy::string_discriminators(&mut built, &diag)?;
    }
    check::check(&mut built, &mut docs, &diag, &pragmas, options.legacy)?;
    let docs = docs.into_iter().map(|d| model_doc(d, &diag)).collect();
    Ok(Schema::new(
        built.modules,
        built.entities,
        docs,
        pragmas,
        built.index,
    ))
}

fn line_info(diag: &diag::Diag<'_>, loc: source::Loc) -> SourceInfo {
    let file = diag.file(loc.file);
    let start = file.line_start(loc.line);
    SourceInfo {
        file: file.path.clone(),
        line: loc.line,
        col: 1,
        span: start..file.line_end(loc.line).max(start),
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
    let others = d.sections.get_mut(1..).unwrap_or_default();
    let mut sections = Vec::with_capacity(others.iter().filter(|s| s.is_other()).count());
    for s in others.iter_mut().filter(|s| s.is_other()) {
        sections.push(DocSection {
            kind: match s.kind {
                doc::Kind::Returns => SectionKind::Returns,
                doc::Kind::Errors => SectionKind::Errors,
                doc::Kind::Since => SectionKind::Since,
                doc::Kind::Todo => SectionKind::Todo,
                _ => SectionKind::Plain,
            },
            text: std::mem::take(&mut s.text),
            info: line_info(diag, s.loc),
        });
    }
    Doc {
        info: line_info(diag, d.loc),
        symbol: d.symbol.take(),
        body: std::mem::take(&mut d.sections[0].text),
        args,
        features,
        sections,
    }
}
