//! Fuzzes the whole front end: any text, strict and legacy, must give a schema (which must
//! dump) or an error (which must render), never a panic or a hang.
//!
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run parse` in `qapi-parser/` (seed the corpus with
//! the schemas under `../schema` for faster coverage).

#![no_main]

use libfuzzer_sys::fuzz_target;
use qapi_parser::{dump, parse_str, Options};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Include directives would read arbitrary files of this machine; they are tested with
    // files of our own in the test suite instead.
    if text.contains("include") {
        return;
    }
    for legacy in [false, true] {
        match parse_str("fuzz.json", text, &Options { legacy }) {
            Ok(schema) => {
                let _ = dump(&schema);
            }
            Err(e) => {
                let _ = e.to_string();
                let _ = e.report();
            }
        }
    }
});
