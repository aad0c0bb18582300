// How qmp-types' `src/generated.rs` is generated: the one configuration that both
// `cargo xtask codegen` (which writes the file) and `tests/generated_is_fresh.rs` (which
// checks it) `include!`. A file, not a crate item, so regenerating never needs qmp-types to
// build.

/// Where the generated file lives, relative to the workspace root.
pub const QMP_GENERATED: &str = "qmp-types/src/generated.rs";

/// The builder that produces `src/generated.rs`, for the workspace at `root`: every `if`
/// condition on, since a client talks to QEMUs of every target and configuration; with
/// `SCHEMA_INFO`, the introspection of that schema (what the bindings know), type names
/// unmasked so that a generated type can be found in it.
pub fn qmp_types_builder(root: &std::path::Path) -> qapi_codegen::Builder {
    qapi_codegen::Builder::new()
        .schema(root.join("schema/qmp/qapi-schema.json"))
        .unmapped_cfg(qapi_codegen::UnmappedCfg::Enabled)
        .header(qapi_codegen::Header::ModuleDoc)
        .generated_by("`cargo xtask codegen`")
        .async_client(true)
        .introspection(true)
        .unmask_introspection(true)
        .emit_rerun_if_changed(false)
}
