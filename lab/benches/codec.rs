//! Decoding a stored document (10 fields of 100 B, as the `reads` workload stores them),
//! postcard against rkyv, side by side: why `binary` decodes postcard in place.
//!
//! A read in the lab hands over a `Doc` (every variant's does), so rkyv's zero-copy access
//! is measured both alone (what a reader that can work on the archive would pay) and
//! followed by the deserialization a `Doc` needs. rkyv also wants its archive aligned; an
//! acorn record stores the value at an arbitrary offset, so the last case copies the bytes
//! into an aligned buffer first, as a read from the engine would have to.

use std::hint::black_box;

use acorn_lab::doc::{Doc, DocShape};
use criterion::{criterion_group, criterion_main, Criterion};
use rkyv::rancor::Error;
use serde::Deserialize;

fn doc() -> Doc {
    Doc::generate(7, 0, 42, &DocShape::default())
}

/// Reads every field, as a caller of the decoded document would.
fn touch(d: &Doc) -> usize {
    d.fields
        .iter()
        .chain(&d.tags)
        .map(String::len)
        .sum::<usize>()
        + d.id as usize
}

fn decode(c: &mut Criterion) {
    let d = doc();
    let json = serde_json::to_vec(&d).unwrap_or_default();
    let post = postcard::to_allocvec(&d).unwrap_or_default();
    let archive = rkyv::to_bytes::<Error>(&d).unwrap_or_default();
    // The same archive at an odd offset, as inside a stored record.
    let mut record = vec![0u8; 3];
    record.extend_from_slice(&archive);
    let stored = &record[3..];

    let mut g = c.benchmark_group("decode 1 KB doc");
    g.bench_function("json fresh (plain)", |b| {
        b.iter(|| touch(&serde_json::from_slice::<Doc>(black_box(&json)).unwrap_or_default()));
    });
    let mut reused = Doc::default();
    g.bench_function("json in place (pooled)", |b| {
        b.iter(|| {
            let mut de = serde_json::Deserializer::from_slice(black_box(&json));
            let _ = Doc::deserialize_in_place(&mut de, &mut reused);
            touch(&reused)
        });
    });
    g.bench_function("postcard fresh", |b| {
        b.iter(|| touch(&postcard::from_bytes::<Doc>(black_box(&post)).unwrap_or_default()));
    });
    g.bench_function("postcard in place (binary)", |b| {
        b.iter(|| {
            let mut de = postcard::Deserializer::from_bytes(black_box(&post));
            let _ = Doc::deserialize_in_place(&mut de, &mut reused);
            touch(&reused)
        });
    });
    g.bench_function("rkyv access, validated (no Doc)", |b| {
        b.iter(|| {
            rkyv::access::<rkyv::Archived<Doc>, Error>(black_box(&archive)).map_or(0, |a| {
                a.fields
                    .iter()
                    .chain(a.tags.iter())
                    .map(|s| s.len())
                    .sum::<usize>()
                    + a.id.to_native() as usize
            })
        });
    });
    g.bench_function("rkyv access + deserialize to Doc", |b| {
        b.iter(|| {
            let a = rkyv::access::<rkyv::Archived<Doc>, Error>(black_box(&archive));
            a.and_then(rkyv::deserialize::<Doc, Error>)
                .map_or(0, |d| touch(&d))
        });
    });
    let mut aligned = rkyv::util::AlignedVec::<16>::new();
    g.bench_function(
        "rkyv from a record: align (reused buffer), access + deserialize",
        |b| {
            b.iter(|| {
                aligned.clear();
                aligned.extend_from_slice(black_box(stored));
                let a = rkyv::access::<rkyv::Archived<Doc>, Error>(&aligned);
                a.and_then(rkyv::deserialize::<Doc, Error>)
                    .map_or(0, |d| touch(&d))
            });
        },
    );
    g.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
