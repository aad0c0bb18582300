//! Parse-and-check speed on QEMU 10.0.2's whole QMP schema (43 files, 737 KB) and the guest
//! agent schema, plus peak heap use measured by a counting allocator.
//!
//! `cargo bench -p qapi-parser`. QEMU's Python front end needs about 200 ms for the QMP
//! schema; the target here is under 10 ms and 50 MB. With QEMU's scripts fetched
//! (`cargo xtask qemu-scripts`, or `$QEMU_SCRIPTS` pointing at QEMU's `scripts/`),
//! `load/reference: QEMU qmp-10.0` times QEMU's own front end (`QAPISchema`) in the same run,
//! in one Python process (interpreter start excluded).

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};

/// Counts live and peak heap bytes while `COUNTING` is set (off during timing).
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            let size = layout.size() as isize;
            let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            if new_size >= layout.size() {
                let grow = (new_size - layout.size()) as isize;
                let live = LIVE.fetch_add(grow, Ordering::Relaxed) + grow;
                PEAK.fetch_max(live, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub((layout.size() - new_size) as isize, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn schema(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../schema")
        .join(rel)
}

fn bench(c: &mut Criterion) {
    let options = qapi_parser::Options::default();
    let qmp = schema("qmp/qapi-schema.json");
    let qga = schema("qga/qapi-schema.json");

    // Peak heap of one full load (counted from zero: frees of older blocks may take LIVE
    // below its start, so it is a signed count), reported once next to the timings.
    LIVE.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    let s = qapi_parser::load(&qmp, &options).expect("the QMP schema is valid");
    COUNTING.store(false, Ordering::Relaxed);
    let peak = PEAK.load(Ordering::Relaxed);
    println!(
        "qmp-10.0: {} entities, peak heap during load {:.1} MB",
        s.entities().len(),
        peak as f64 / 1e6
    );
    drop(s);

    let mut group = c.benchmark_group("load");
    group.sample_size(50);
    group.bench_function("qmp-10.0 (737 KB, 43 files)", |b| {
        b.iter_with_large_drop(|| qapi_parser::load(&qmp, &options).expect("valid"))
    });
    group.bench_function("qga-10.0", |b| {
        b.iter_with_large_drop(|| qapi_parser::load(&qga, &options).expect("valid"))
    });
    let s = qapi_parser::load(&qmp, &options).expect("valid");
    group.bench_function("dump qmp-10.0", |b| b.iter(|| qapi_parser::dump(&s)));
    if let Some((python, scripts)) = reference() {
        group.sample_size(10);
        group.bench_function("reference: QEMU qmp-10.0", |b| {
            b.iter_custom(|iters| python_load(&python, &scripts, &qmp, iters))
        });
    }
    group.finish();
}

/// Loads `schema` with QEMU's front end `iters` times in one Python process; its own timing.
fn python_load(python: &Path, scripts: &Path, schema: &Path, iters: u64) -> Duration {
    const DRIVER: &str = "
import sys, time
sys.path.insert(0, sys.argv[1])
from qapi.schema import QAPISchema
total = 0.0
for _ in range(int(sys.argv[3])):
    start = time.perf_counter()
    QAPISchema(sys.argv[2])
    total += time.perf_counter() - start
print(total)
";
    let out = Command::new(python)
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
        None => panic!("QEMU's front end failed under python3"),
    }
}

/// python3 and QEMU's scripts, when both are there (else a notice, see `testenv`).
fn reference() -> Option<(PathBuf, PathBuf)> {
    Some((testenv::external("python3")?, testenv::qemu_scripts()?))
}

criterion_group!(benches, bench);
criterion_main!(benches);
