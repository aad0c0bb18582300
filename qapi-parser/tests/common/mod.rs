//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use qapi_parser::{parse_str, Error, Options, Schema};

pub fn strict() -> Options {
    Options::default()
}

pub fn legacy() -> Options {
    Options { legacy: true }
}

/// Checks `src` as file `t.json`; the error's full text, QEMU's format.
pub fn err(src: &str) -> String {
    match parse_str("t.json", src, &strict()) {
        Ok(_) => panic!("expected an error for:\n{src}"),
        Err(e) => e.to_string(),
    }
}

pub fn ok(src: &str) -> Schema {
    parse_str("t.json", src, &strict()).unwrap_or_else(|e| panic!("unexpected error:\n{e}"))
}

pub fn legacy_ok(src: &str) -> Schema {
    parse_str("t.json", src, &legacy()).unwrap_or_else(|e| panic!("unexpected error:\n{e}"))
}

pub fn legacy_err(src: &str) -> Error {
    match parse_str("t.json", src, &legacy()) {
        Ok(_) => panic!("expected an error for:\n{src}"),
        Err(e) => e,
    }
}

/// The dump without the fixed `./builtin` module.
pub fn dump_user(schema: &Schema) -> String {
    let d = qapi_parser::dump(schema);
    let start = d.find("\nmodule t.json\n").map(|i| i + 1).unwrap_or(0);
    d[start..].to_string()
}

/// A file of the repository, `rel` from its root (the schemas are under `schema/`).
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "qapi-parser-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.0.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dir");
        }
        std::fs::write(&path, text).expect("write file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
