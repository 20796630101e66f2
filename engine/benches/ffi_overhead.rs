//! The cost of the C ABI: the same operation native and through the `extern "C"` functions,
//! side by side — tree creation, batch creation, query creation, and a single crack into a
//! caller's buffer. Overhead = ABI time − native time.
#![allow(unsafe_code, clippy::unwrap_used)]

mod common;
use acorn::ffi::{
    acorn_batch_free, acorn_batch_new, acorn_close, acorn_crack, acorn_open_memory,
    acorn_query_free, acorn_query_new, AcornTree, ACORN_OK,
};
use common::*;
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use std::hint::black_box;
use std::ptr;

type Group<'a> = BenchmarkGroup<'a, WallTime>;

fn ffi(c: &mut Criterion) {
    let mut g = c.benchmark_group("ffi_overhead");
    tree_creation(&mut g);
    let n = 10_000;
    let keys = keys(n);
    let tree = filled(n);
    let handle = filled_handle(&keys);
    batch_and_query_creation(&mut g, &tree, handle);
    crack(&mut g, &tree, handle, &keys);
    g.finish();
    // SAFETY: closed exactly once.
    unsafe { acorn_close(handle) };
}

fn tree_creation(g: &mut Group<'_>) {
    g.bench_function("tree_creation_native", |b| {
        b.iter(|| black_box(acorn::Tree::open_memory()))
    });
    g.bench_function("tree_creation_abi", |b| {
        b.iter(|| {
            let mut t = ptr::null_mut();
            // SAFETY: `t` is writable; the handle is closed right after.
            unsafe {
                assert_eq!(acorn_open_memory(&raw mut t), ACORN_OK);
                acorn_close(black_box(t));
            }
        });
    });
}

/// An in-memory tree through the ABI holding `keys`, as `filled` does natively; the
/// caller closes it.
fn filled_handle(keys: &[String]) -> *mut AcornTree {
    let mut handle: *mut AcornTree = ptr::null_mut();
    // SAFETY: `handle` is writable.
    unsafe { acorn_open_memory(&raw mut handle) };
    for (i, k) in keys.iter().enumerate() {
        let v = value(i);
        // SAFETY: live handle; key and value valid for their lengths.
        unsafe {
            acorn::ffi::acorn_stash(
                handle,
                k.as_ptr(),
                k.len(),
                v.as_ptr(),
                v.len(),
                ptr::null_mut(),
            )
        };
    }
    handle
}

fn batch_and_query_creation(g: &mut Group<'_>, tree: &acorn::Tree, handle: *mut AcornTree) {
    g.bench_function("batch_creation_native", |b| {
        b.iter(|| black_box(tree.batch()))
    });
    g.bench_function("batch_creation_abi", |b| {
        b.iter(|| {
            let mut batch = ptr::null_mut();
            // SAFETY: live tree handle; `batch` writable and freed right after.
            unsafe {
                acorn_batch_new(handle, &raw mut batch);
                acorn_batch_free(black_box(batch));
            }
        });
    });
    g.bench_function("query_creation_native", |b| {
        b.iter(|| {
            black_box(
                tree.query()
                    .prefix("user-00000000000")
                    .take(10)
                    .count()
                    .unwrap(),
            )
        });
    });
    g.bench_function("query_creation_abi", |b| {
        b.iter(|| {
            let mut q = ptr::null_mut();
            let p = b"user-00000000000";
            // SAFETY: live tree handle; prefix valid; `q` writable and freed right after.
            unsafe {
                acorn_query_new(handle, p.as_ptr(), p.len(), 0, 10, &raw mut q);
                acorn_query_free(black_box(q));
            }
        });
    });
}

/// A single crack of a random key into a caller's buffer.
fn crack(g: &mut Group<'_>, tree: &acorn::Tree, handle: *mut AcornTree, keys: &[String]) {
    let n = keys.len();
    let mut buf = vec![0u8; 256];
    let mut rng = Rng(11);
    g.bench_function("crack_native", |b| {
        b.iter(|| {
            let k = &keys[rng.below(n)];
            black_box(
                tree.crack_with(k, |v| {
                    buf[..v.value.len()].copy_from_slice(v.value);
                    v.value.len()
                })
                .unwrap(),
            )
        });
    });
    g.bench_function("crack_abi", |b| {
        b.iter(|| {
            let k = &keys[rng.below(n)];
            let mut len = 0;
            // SAFETY: live handle; key valid; `buf` writable for its length; `len` writable.
            let code = unsafe {
                acorn_crack(
                    handle,
                    k.as_ptr(),
                    k.len(),
                    buf.as_mut_ptr(),
                    buf.len(),
                    &raw mut len,
                )
            };
            black_box((code, len))
        });
    });
}

criterion_group!(benches, ffi);
criterion_main!(benches);
