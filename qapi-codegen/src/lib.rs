//! qapi-codegen: turns a checked QAPI schema into one formatted Rust source file.
//!
//! The output has, for a schema:
//! - a Rust type per enum, struct, union and alternate (docs, `#[cfg]` from `if`,
//!   `#[deprecated]` from features), with `Decode` (QEMU's exact input rules and messages),
//!   `Serialize` (schema or QEMU member order) and `Deserialize`;
//! - a struct per implicit argument type (`<Command>Args`, `<Event>Event`);
//! - `Event`, the enum of all events;
//! - the server side: a trait with one method per command, `CommandReturn`, the table
//!   `COMMANDS`, and `dispatch`/`call`, which answer exactly as QEMU does;
//! - the client side: `Client`, one method per command over any byte stream;
//! - optionally `SCHEMA_INFO`, the schema's introspection as QEMU's `query-qmp-schema` returns
//!   it ([`Builder::introspection`]; the value itself: [`introspect`]).
//!
//! The generated code calls the small `qapi-runtime` crate, either as a dependency or inlined
//! as a module (for standalone crates).
//!
//! # Conditions
//!
//! QEMU's front end does not check that `if` conditions agree: an unconditional union may use
//! an enum defined under `if`. So that the output compiles under every combination of cfgs,
//! a definition is emitted under its own condition AND those of the types it needs (base,
//! union tag, array elements, command arguments and return type, event data, the types of
//! members and branches without an `if`), wherever it or a use of it appears (impls, `Event`
//! variants, trait and client methods, dispatcher arms, `COMMANDS`). A member or branch with
//! its own `if` takes its type's condition itself instead. Conditions already implied
//! (`A` implies `any(A, B)`) or mapped to the same predicate are not repeated.
//!
//! # Use from a build script
//!
//! ```no_run
//! // build.rs
//! let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("qga.rs");
//! qapi_codegen::Builder::new()
//!     .schema("schema/qga/qapi-schema.json")
//!     .cfg("CONFIG_LINUX", r#"target_os = "linux""#)
//!     .cfg("CONFIG_WIN32", "windows")
//!     .unmapped_cfg(qapi_codegen::UnmappedCfg::Feature)
//!     .generate_to(&out)
//!     .unwrap();
//! // lib.rs: include!(concat!(env!("OUT_DIR"), "/qga.rs"));
//! ```

mod avail;
mod cfg;
mod context;
mod docs;
mod emit;
mod error;
mod inline;
mod introspect;
mod names;
mod recursion;

pub use cfg::UnmappedCfg;
pub use error::Error;
pub use introspect::{condition_names, introspect, Conditions};

use qapi_parser::Schema;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The order in which `Serialize` writes object members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemberOrder {
    /// Schema order: base members, own members, branch members.
    #[default]
    Schema,
    /// QEMU's QDict iteration order, so output is byte-identical to QEMU's.
    Qemu,
}

/// Where the generated code finds the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Runtime {
    /// The `qapi_runtime` crate (a dependency of the including crate).
    #[default]
    Crate,
    /// Pasted into the output as `pub mod qapi_runtime`; the output then needs only serde and
    /// serde_json (with `preserve_order`).
    Inline,
}

/// How the output file starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Header {
    /// `// @generated ...`: safe for `include!` (which rejects inner attributes).
    #[default]
    Comment,
    /// `//! @generated ...`: for a module file (`mod generated;`) or a crate's `lib.rs`.
    ModuleDoc,
}

/// Everything that shapes the output.
#[derive(Debug, Clone)]
pub struct Options {
    /// `if` condition name -> cfg predicate (`target_os = "linux"`, `unix`, `all()`, ...).
    pub cfg: BTreeMap<String, String>,
    pub unmapped_cfg: UnmappedCfg,
    pub member_order: MemberOrder,
    pub runtime: Runtime,
    /// `Type.member` -> Rust type path replacing the member's type (e.g. base64 bytes for a
    /// `str`); the type must implement `Decode`, `Serialize`, `Debug`, `Clone`, `PartialEq`.
    pub type_overrides: BTreeMap<String, String>,
    /// Name of the commands trait.
    pub trait_name: String,
    pub header: Header,
    /// Who generated the file, for the header (e.g. `cargo xtask codegen`).
    pub generated_by: String,
    /// Also emit `AsyncClient`, under `#[cfg(feature = "tokio")]`: the including crate declares
    /// a feature `tokio` that enables `qapi-runtime/tokio`.
    pub async_client: bool,
    /// Also emit `SCHEMA_INFO`, the schema's introspection (see [`Builder::introspection`]).
    pub introspection: bool,
    /// Keep the schema's type names in `SCHEMA_INFO` (see [`Builder::unmask_introspection`]).
    pub unmask_introspection: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cfg: BTreeMap::new(),
            unmapped_cfg: UnmappedCfg::Error,
            member_order: MemberOrder::Schema,
            runtime: Runtime::Crate,
            type_overrides: BTreeMap::new(),
            trait_name: "Commands".to_owned(),
            header: Header::Comment,
            generated_by: "qapi-codegen".to_owned(),
            async_client: false,
            introspection: false,
            unmask_introspection: false,
        }
    }
}

/// The generated source and what a crate needs to build it.
#[derive(Debug, Clone)]
pub struct Output {
    pub code: String,
    /// Cargo features the code tests (for conditions mapped with [`UnmappedCfg::Feature`]).
    pub features: Vec<String>,
}

impl Output {
    /// Whether the file at `path` holds exactly this code, for freshness checks of checked-in
    /// generated code. The error names the file and its first differing line.
    pub fn check_fresh(&self, path: &Path) -> Result<(), String> {
        let current = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if current == self.code {
            return Ok(());
        }
        let same = current
            .lines()
            .zip(self.code.lines())
            .take_while(|(a, b)| a == b)
            .count();
        Err(format!(
            "{} is stale (it differs from line {})",
            path.display(),
            same + 1
        ))
    }
}

/// Generates the Rust source for `schema`: its units (each generated type, the events, the
/// commands) in schema order, printed one after the other.
pub fn generate(schema: &Schema, options: &Options) -> Result<Output, Error> {
    let cfg = cfg::CfgMap::new(&options.cfg, options.unmapped_cfg)?;
    let mut ctx = context::Ctx::new(schema, options, cfg)?;
    let names = emit::ItemNames::claim(&mut ctx);
    let root = schema
        .modules()
        .get(1)
        .map(String::as_str)
        .unwrap_or("schema");
    let header = format!(
        "@generated by {} from {root}; do not edit.",
        options.generated_by
    );
    let mut code = match options.header {
        Header::ModuleDoc => format!("//! {header}\n"),
        Header::Comment => format!("// {header}\n\n"),
    };
    for (i, unit) in emit::units(&ctx).iter().enumerate() {
        if i > 0 {
            code.push('\n');
        }
        emit::unit(&ctx, &names, unit, &mut code)?;
    }
    if options.introspection {
        code.push('\n');
        code.push_str(&emit::introspection(schema, options));
    }
    if options.runtime == Runtime::Inline {
        code.push('\n');
        code.push_str(inline::runtime_text()?);
    }
    Ok(Output {
        code,
        features: ctx.cfg.features(),
    })
}

/// Loads a schema with the front end.
pub fn load_schema(path: &Path, legacy: bool) -> Result<Schema, Error> {
    Ok(qapi_parser::load(path, &qapi_parser::Options { legacy })?)
}

/// Configures and runs generation, for build scripts and tools (in the manner of
/// `prost-build`).
#[derive(Debug, Clone)]
pub struct Builder {
    schema: Option<PathBuf>,
    legacy: bool,
    options: Options,
    rerun_if_changed: Option<bool>,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// Defaults: schema member order, runtime as a crate, `Commands` trait, unmapped
    /// conditions are errors.
    pub fn new() -> Self {
        Builder {
            schema: None,
            legacy: false,
            options: Options::default(),
            rerun_if_changed: None,
        }
    }

    /// The root schema file.
    ///
    /// ```
    /// let b = qapi_codegen::Builder::new().schema("schema/qga/qapi-schema.json");
    /// ```
    pub fn schema(mut self, path: impl Into<PathBuf>) -> Self {
        self.schema = Some(path.into());
        self
    }

    /// Accept the QEMU 1.5-era dialect (the old guest-agent schema).
    ///
    /// ```
    /// let b = qapi_codegen::Builder::new().schema("schema/qga-1.5/qapi-schema.json").legacy(true);
    /// ```
    pub fn legacy(mut self, legacy: bool) -> Self {
        self.legacy = legacy;
        self
    }

    /// Maps an `if` condition to a cfg predicate.
    ///
    /// ```
    /// let b = qapi_codegen::Builder::new()
    ///     .cfg("CONFIG_LINUX", r#"target_os = "linux""#)
    ///     .cfg("CONFIG_POSIX", "unix")
    ///     .cfg("CONFIG_FSFREEZE", "all()"); // always true
    /// ```
    pub fn cfg(mut self, condition: &str, predicate: &str) -> Self {
        self.options
            .cfg
            .insert(condition.to_owned(), predicate.to_owned());
        self
    }

    /// What to do with conditions [`Builder::cfg`] does not map.
    ///
    /// ```
    /// let b = qapi_codegen::Builder::new().unmapped_cfg(qapi_codegen::UnmappedCfg::Feature);
    /// ```
    pub fn unmapped_cfg(mut self, policy: UnmappedCfg) -> Self {
        self.options.unmapped_cfg = policy;
        self
    }

    /// The member order of serialised objects.
    ///
    /// ```
    /// let b = qapi_codegen::Builder::new().member_order(qapi_codegen::MemberOrder::Qemu);
    /// ```
    pub fn member_order(mut self, order: MemberOrder) -> Self {
        self.options.member_order = order;
        self
    }

    /// Where the runtime is.
    ///
    /// ```
    /// let b = qapi_codegen::Builder::new().runtime(qapi_codegen::Runtime::Inline);
    /// ```
    pub fn runtime(mut self, runtime: Runtime) -> Self {
        self.options.runtime = runtime;
        self
    }

    /// Represents member `member` of type `ty` with the Rust type `rust_type`.
    ///
    /// ```
    /// let b = qapi_codegen::Builder::new()
    ///     .type_override("GuestFileRead.buf-b64", "qapi_runtime::Base64Bytes");
    /// ```
    pub fn type_override(mut self, member: &str, rust_type: &str) -> Self {
        self.options
            .type_overrides
            .insert(member.to_owned(), rust_type.to_owned());
        self
    }

    /// The name of the commands trait (default `Commands`).
    ///
    /// ```
    /// let b = qapi_codegen::Builder::new().commands_trait("QgaCommands");
    /// ```
    pub fn commands_trait(mut self, name: &str) -> Self {
        self.options.trait_name = name.to_owned();
        self
    }

    /// How the file starts (default: a comment, fit for `include!`).
    ///
    /// ```
    /// let b = qapi_codegen::Builder::new().header(qapi_codegen::Header::ModuleDoc);
    /// ```
    pub fn header(mut self, header: Header) -> Self {
        self.options.header = header;
        self
    }

    /// Who generates the file, named in the header.
    ///
    /// ```
    /// let b = qapi_codegen::Builder::new().generated_by("cargo xtask codegen");
    /// ```
    pub fn generated_by(mut self, who: &str) -> Self {
        self.options.generated_by = who.to_owned();
        self
    }

    /// Whether [`Builder::generate`] prints Cargo's build-script instructions:
    /// `cargo:rerun-if-changed` for every schema file and, for the features invented by
    /// [`UnmappedCfg::Feature`], `cargo::rustc-check-cfg` (default: when run by Cargo, i.e.
    /// `CARGO` is set).
    ///
    /// ```
    /// let b = qapi_codegen::Builder::new().emit_rerun_if_changed(false);
    /// ```
    pub fn emit_rerun_if_changed(mut self, emit: bool) -> Self {
        self.rerun_if_changed = Some(emit);
        self
    }

    /// Also generate the async client, behind the crate's cargo feature `tokio` (which must
    /// enable `qapi-runtime/tokio`).
    ///
    /// ```
    /// let b = qapi_codegen::Builder::new().async_client(true);
    /// ```
    pub fn async_client(mut self, on: bool) -> Self {
        self.options.async_client = on;
        self
    }

    /// Also emit `pub const SCHEMA_INFO: &str`: the compact JSON text of what QEMU's
    /// `query-qmp-schema` returns for the schema (see [`introspect`]). It reflects one set of
    /// conditions, fixed at generation time: every condition holds, except those left unmapped
    /// under [`UnmappedCfg::Disabled`] and those mapped to the predicate `any()` (never true).
    /// Off by default.
    ///
    /// ```
    /// let b = qapi_codegen::Builder::new().introspection(true);
    /// ```
    pub fn introspection(mut self, on: bool) -> Self {
        self.options.introspection = on;
        self
    }

    /// Keep the schema's type names in `SCHEMA_INFO` instead of QEMU's numbers, as QEMU's
    /// `--unmask-non-abi-names` does: what a client needs to find a generated type in it
    /// (`Capabilities::has_value`); a server answering `query-qmp-schema` keeps them masked.
    ///
    /// ```
    /// let b = qapi_codegen::Builder::new().introspection(true).unmask_introspection(true);
    /// ```
    pub fn unmask_introspection(mut self, on: bool) -> Self {
        self.options.unmask_introspection = on;
        self
    }

    /// The options as configured.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Loads the schema and generates the code.
    pub fn generate(&self) -> Result<Output, Error> {
        let path = self.schema_path()?;
        let schema = load_schema(path, self.legacy)?;
        let output = generate(&schema, &self.options)?;
        if self
            .rerun_if_changed
            .unwrap_or_else(|| std::env::var_os("CARGO").is_some())
        {
            for file in schema_files(path, &schema) {
                println!("cargo:rerun-if-changed={}", file.display());
            }
            // The features [`UnmappedCfg::Feature`] invented are expected cfgs even when the
            // crate does not declare them, so rustc's `unexpected_cfgs` lint stays quiet.
            let mut features = output.features.clone();
            if self.options.async_client {
                features.push("tokio".to_owned());
            }
            if let Some(values) = check_cfg_values(&features) {
                println!("cargo::rustc-check-cfg=cfg(feature, values({values}))");
            }
        }
        Ok(output)
    }

    /// Generates into `path`, rewriting it only when the content changed (so its mtime
    /// stays otherwise).
    pub fn generate_to(&self, path: impl AsRef<Path>) -> Result<Output, Error> {
        let path = path.as_ref();
        let output = self.generate()?;
        write_if_changed(path, &output.code)?;
        Ok(output)
    }

    fn schema_path(&self) -> Result<&Path, Error> {
        self.schema.as_deref().ok_or(Error::NoSchema)
    }
}

/// `"a", "b"` for the features `a` and `b`, or `None` when there are none.
fn check_cfg_values(features: &[String]) -> Option<String> {
    let quoted: Vec<String> = features.iter().map(|f| format!("{f:?}")).collect();
    (!quoted.is_empty()).then(|| quoted.join(", "))
}

/// The files a schema was read from (the root and its includes).
pub fn schema_files(root: &Path, schema: &Schema) -> Vec<PathBuf> {
    let dir = root.parent().unwrap_or(Path::new(""));
    let mut files = vec![root.to_path_buf()];
    for module in schema.modules().iter().skip(2) {
        files.push(dir.join(module));
    }
    files
}

/// Writes `text` to `path` unless the file already holds exactly that.
pub fn write_if_changed(path: &Path, text: &str) -> Result<bool, Error> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(false);
    }
    std::fs::write(path, text).map_err(|error| Error::Io {
        path: path.to_path_buf(),
        error,
    })?;
    Ok(true)
}
