// How qga-types' `src/generated.rs` is generated: the one configuration that both
// `cargo xtask codegen` (which writes the file) and `tests/generated_is_fresh.rs` (which
// checks it) `include!`. A file, not a crate item, so regenerating never needs qga-types to
// build.

/// The qga schema's `if` conditions on the Rust targets we build for. qga-types' crate docs
/// explain each choice; keep the two in step.
pub const QGA_CFG: &[(&str, &str)] = &[
    ("CONFIG_LINUX", r#"target_os = "linux""#),
    ("CONFIG_POSIX", "unix"),
    ("CONFIG_WIN32", "windows"),
    ("CONFIG_FREEBSD", r#"target_os = "freebsd""#),
    (
        "CONFIG_FSFREEZE",
        r#"any(target_os = "linux", target_os = "freebsd")"#,
    ),
    ("CONFIG_FSTRIM", r#"target_os = "linux""#),
    ("HAVE_GETIFADDRS", "unix"),
    ("HAVE_UTMPX", "unix"),
    ("CONFIG_GETLOADAVG", "unix"),
    ("CONFIG_LIBUDEV", r#"target_os = "linux""#),
];

/// Where the generated file lives, relative to the workspace root.
pub const GENERATED: &str = "qga-types/src/generated.rs";

/// The builder that produces `src/generated.rs`, for the workspace at `root`.
pub fn qga_types_builder(root: &std::path::Path) -> qapi_codegen::Builder {
    let mut builder = qapi_codegen::Builder::new()
        .schema(root.join("schema/qga/qapi-schema.json"))
        .member_order(qapi_codegen::MemberOrder::Qemu)
        .type_override("GuestFileRead.buf-b64", "qapi_runtime::Base64Bytes")
        .header(qapi_codegen::Header::ModuleDoc)
        .generated_by("`cargo xtask codegen`")
        .emit_rerun_if_changed(false);
    for (name, predicate) in QGA_CFG {
        builder = builder.cfg(name, predicate);
    }
    builder
}
