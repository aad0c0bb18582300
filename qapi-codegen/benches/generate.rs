//! Generating formatted Rust for QEMU 10.0's whole QMP schema (the budget: load + generate at
//! least 3x faster than QEMU's Python generator producing its C output, timed in the same run).
//!
//! Generation runs on one thread.
//!
//! With QEMU's own generator fetched (`cargo xtask qemu-scripts`, or `$QEMU_SCRIPTS` pointing at
//! QEMU's `scripts/`), `reference: QEMU qapi-gen` times it in the same run: schema load plus C
//! generation into a temporary directory, in one Python process (interpreter start excluded).

use criterion::{criterion_group, criterion_main, Criterion};
use qapi_codegen::{generate, Options, UnmappedCfg};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const QMP: &str = "../../shared/schemas/qmp-10.0/qapi-schema.json";

fn options() -> Options {
    Options {
        unmapped_cfg: UnmappedCfg::Feature,
        ..Options::default()
    }
}

fn bench(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(QMP);
    let schema = match qapi_codegen::load_schema(&path, false) {
        Ok(schema) => schema,
        Err(e) => {
            eprintln!("skipping: cannot load {}: {e}", path.display());
            return;
        }
    };
    let opts = options();
    let mut group = c.benchmark_group("qmp-10.0");
    group.sample_size(20);
    group.bench_function("generate", |b| {
        b.iter(|| generate(&schema, &opts).map(|o| o.code.len()))
    });
    group.bench_function("load+generate", |b| {
        b.iter(|| {
            qapi_codegen::load_schema(&path, false)
                .and_then(|s| generate(&s, &opts))
                .map(|o| o.code.len())
        })
    });
    if let Some(scripts) = qemu_scripts() {
        group.sample_size(10);
        group.bench_function("reference: QEMU qapi-gen", |b| {
            b.iter_custom(|iters| python_generate(&scripts, &path, iters))
        });
    }
    group.finish();
}

/// QEMU's `scripts/` directory, if fetched.
fn qemu_scripts() -> Option<PathBuf> {
    let dir = std::env::var_os("QEMU_SCRIPTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/qemu-src/qemu-10.0.2/scripts")
        });
    if dir.join("qapi/schema.py").is_file() {
        Some(dir)
    } else {
        eprintln!("no reference: run `cargo xtask qemu-scripts` to time QEMU's generator too");
        None
    }
}

/// Runs QEMU's load + C generation `iters` times in one Python process; its own timing.
fn python_generate(scripts: &Path, schema: &Path, iters: u64) -> Duration {
    const DRIVER: &str = "
import sys, tempfile, time
sys.path.insert(0, sys.argv[1])
from qapi.backend import QAPICBackend
from qapi.schema import QAPISchema
total = 0.0
with tempfile.TemporaryDirectory() as out:
    for _ in range(int(sys.argv[3])):
        start = time.perf_counter()
        QAPICBackend().generate(QAPISchema(sys.argv[2]), output_dir=out, prefix='',
                                unmask=False, builtins=False, gen_tracing=True)
        total += time.perf_counter() - start
print(total)
";
    let out = Command::new("python3")
        .args(["-c", DRIVER])
        .arg(scripts)
        .arg(schema)
        .arg(iters.to_string())
        .output();
    let seconds = out
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok());
    match seconds {
        Some(s) => Duration::from_secs_f64(s),
        None => panic!("QEMU's generator failed under python3"),
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
