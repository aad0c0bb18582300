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
    /// Also accept what the generators of QEMU 0.15 to 7.2 accepted, giving the model the
    /// modern spelling of each old construct (implicit types are marked with what made them,
    /// [`Implicit`]), so readers of the model need no legacy knowledge. The default is
    /// strict: exactly what QEMU 10.0.2 accepts. Where two eras disagree, the union is
    /// accepted when the meaning is the same; everything not listed stays strict.
    ///
    /// Each construct, with the release that introduced it and the one that dropped it:
    ///
    /// Syntax
    /// * commas between members or list elements left out, or one after the last
    ///   (`{ 'a': 'int' 'b': 'str', }`): QEMU 0.15's tokenizer; dropped in 1.6 (new parser);
    /// * `\'`, `\"` and `\/` in strings stand for the character escaped: 1.0; dropped in 5.0
    ///   (only `\\` since); escapes whose meaning changed between eras stay errors;
    /// * `##...` lines other than a bare `##` are ordinary comments: 0.15-2.8 (2.9 made `##`
    ///   open doc blocks).
    ///
    /// Expressions and types
    /// * `'type'` for `'struct'`: 0.15; dropped in 2.4 (renamed);
    /// * flag values `'yes'`/`'no'` for `true`/`false` (`'gen': 'no'`): 0.15; dropped in 2.4;
    /// * an anonymous struct as a member's type (`'qemu': { 'major': 'int' }`): 0.15;
    ///   dropped in 2.4. Modelled as the implicit struct `q_obj_<definition>-<member>-nested`
    ///   ([`Implicit::Nested`]; a dotted member path when nested deeper);
    /// * simple unions (no `base`, no `discriminator`): 0.15; dropped in 7.0. Desugared as
    ///   QEMU 2.x-6.x did: enum `<Union>Kind` ([`Implicit::UnionKind`]), implicit base
    ///   `q_obj_<Union>-base { type: <Union>Kind }` ([`Implicit::UnionBase`]), each branch type
    ///   wrapped in `q_obj_<Type>-wrapper { data: <Type> }` ([`Implicit::Wrapper`]);
    /// * a flat union's discriminator of type `str` (its value names a branch): 1.7 (flat
    ///   unions' first release); dropped in 2.0. Modelled as enum `<Union>Kind` of the branch
    ///   names and the implicit base `q_obj_<Union>-base`: the named base's members, the
    ///   discriminator typed by that enum (the named base itself is unchanged);
    /// * a union with `'discriminator': {}` is an alternate: 1.7; dropped in 2.4 (`alternate`);
    /// * `'visitor'`, `'dict'` and `'**'` mean `'any'`: 1.2; dropped in 2.5 (`any`);
    /// * names of QEMU 2.4's shape `[A-Za-z_][A-Za-z0-9_.-]*` for members, enum values (also
    ///   digit-led), branches and definitions (`'l1_grow.alloc_table'`): 0.15 (no checks
    ///   before 2.4); dropped in 2.6 (`.` only in a downstream prefix);
    /// * members, enum values and branches in upper case or with `_`: 0.15; checked from 2.9
    ///   unless excepted by pragma;
    /// * any command may return any type: 0.15; checked from 2.9 unless excepted by pragma;
    /// * definition names in any case (only their shape and the `List` suffix are checked),
    ///   commands with `_`: 0.15; case rules from 6.0;
    /// * pragmas `returns-whitelist` and `name-case-whitelist`, the old names of
    ///   `command-returns-exceptions` and `member-name-exceptions`: 2.9; renamed in 6.0;
    /// * `'if'` as a C preprocessor expression (`'defined(X) && !Y'`): 2.12; dropped in 6.2;
    ///   `'if'` as a list of conditions that must all hold: 3.0; dropped in 6.2;
    /// * conditional command arguments without `'boxed'`: 2.12 (conditions' first
    ///   release); refused from 9.1.
    ///
    /// Doc comments (checked from 2.9; older blocks are read as written)
    /// * a block may end with `# ##` or run into the next expression; a symbol line needs no
    ///   colon (`# @Name`); a block without symbol line right before a definition documents
    ///   it; a doc whose symbol differs from its definition is still its doc: 0.15-2.8;
    /// * a leading `#optional` marker is removed from member descriptions: 0.15; dropped in
    ///   2.10;
    /// * undocumented members and features are accepted (members get empty descriptions);
    ///   descriptions of members that do not exist are dropped, except that one such
    ///   description next to one undocumented member whose name contains it or is contained
    ///   in it describes that member (`@filepath` for `path`): 0.15-2.8;
    /// * section text continuing on unindented lines up to a blank line, `Since 1.5` (no
    ///   colon) as a Since section: 0.15-2.8;
    /// * `Note:` and `Notes:` are plain paragraphs, `Returns:`/`Errors:` where QEMU 10.0.2
    ///   forbids them become plain text: 0.15; stricter sections in 8.x-9.x;
    /// * an `Example:`/`Examples:` section (literal text up to the next tagged section)
    ///   becomes a `.. qmp-example::` directive: 0.15; dropped in 8.0.
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
