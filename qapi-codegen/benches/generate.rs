//! Generating formatted Rust for QEMU 10.0's whole QMP schema (the speed target: 10x faster
//! than QEMU's Python generator, ~650 ms for its C output, i.e. under 65 ms).
//!
//! Generation uses one thread per available core; under `taskset -c 0` it runs on one.

use criterion::{criterion_group, criterion_main, Criterion};
use qapi_codegen::{generate, Options, UnmappedCfg};
use std::path::Path;

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
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
