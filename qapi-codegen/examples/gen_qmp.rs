//! Profiling harness: generates the QMP 10.0 schema N times (`gen_qmp [N [OUT_FILE]]`,
//! default once), optionally writes the code to OUT_FILE, and prints its size; for timing and
//! callgrind (generation runs on one thread).

use qapi_codegen::{generate, load_schema, Options, UnmappedCfg};
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args().nth(1).map_or(Ok(1), |a| a.parse())?;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema/qmp/qapi-schema.json");
    let schema = load_schema(&path, false)?;
    let options = Options {
        unmapped_cfg: UnmappedCfg::Feature,
        ..Options::default()
    };
    let mut code = String::new();
    for _ in 0..n {
        code = generate(&schema, &options)?.code;
    }
    if let Some(out) = std::env::args().nth(2) {
        std::fs::write(out, &code)?;
    }
    println!("{} bytes", code.len());
    Ok(())
}
