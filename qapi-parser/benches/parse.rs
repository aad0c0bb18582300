//! Parse-and-check speed on QEMU 10.0.2's whole QMP schema (43 files, 737 KB) and the guest
//! agent schema, plus peak heap use measured by a counting allocator.
//!
//! `cargo bench -p qapi-parser`. QEMU's Python front end needs about 200 ms for the QMP
//! schema; the target here is under 10 ms and 50 MB.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

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
        .join("../../shared/schemas")
        .join(rel)
}

fn bench(c: &mut Criterion) {
    let options = qapi_parser::Options::default();
    let qmp = schema("qmp-10.0/qapi-schema.json");
    let qga = schema("qga-10.0/qapi-schema.json");

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
        s.entities.len(),
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
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
