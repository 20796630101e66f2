//! JSON vs binary vs a hand-written encoding of the same document, through `Typed`.
#![allow(clippy::unwrap_used)]
mod common;
use acorn::{Binary, Codec, Json};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde::{Deserialize, Serialize};
use std::hint::black_box;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Doc {
    id: u64,
    value: f64,
    name: String,
    tags: Vec<String>,
    fields: Vec<String>,
}

fn doc() -> Doc {
    Doc {
        id: 42,
        value: 3.25,
        name: "ada lovelace".into(),
        tags: vec!["math".into(), "engine".into()],
        fields: (0..10).map(|i| format!("{i:0>10}").repeat(10)).collect(),
    }
}

/// A custom codec: fixed-width numbers then length-prefixed strings, no field names.
fn custom_encode(d: &Doc, out: &mut Vec<u8>) {
    out.extend_from_slice(&d.id.to_le_bytes());
    out.extend_from_slice(&d.value.to_le_bytes());
    let mut put = |s: &str| {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    };
    put(&d.name);
    for t in d.tags.iter().chain(&d.fields) {
        put(t);
    }
}

fn custom_decode(b: &[u8]) -> Option<Doc> {
    let id = u64::from_le_bytes(b.get(0..8)?.try_into().ok()?);
    let value = f64::from_le_bytes(b.get(8..16)?.try_into().ok()?);
    let mut at = 16;
    let mut strings = Vec::with_capacity(13);
    while at < b.len() {
        let len = u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?) as usize;
        strings.push(String::from_utf8(b.get(at + 4..at + 4 + len)?.to_vec()).ok()?);
        at += 4 + len;
    }
    let mut it = strings.into_iter();
    let name = it.next()?;
    let tags: Vec<String> = it.by_ref().take(2).collect();
    Some(Doc {
        id,
        value,
        name,
        tags,
        fields: it.collect(),
    })
}

fn serialization(c: &mut Criterion) {
    let d = doc();
    let mut g = c.benchmark_group("serialization");
    g.throughput(Throughput::Elements(1));
    let json = Json::encode(&d).unwrap();
    let bin = Binary::encode(&d).unwrap();
    let mut custom = Vec::new();
    custom_encode(&d, &mut custom);
    assert_eq!(custom_decode(&custom).as_ref(), Some(&d));
    println!(
        "serialization: json {} bytes, postcard {} bytes, custom {} bytes",
        json.len(),
        bin.len(),
        custom.len()
    );
    let mut buf = Vec::with_capacity(2048);
    g.bench_function("serialize_json", |b| {
        b.iter(|| {
            buf.clear();
            Json::encode_into(black_box(&d), &mut buf).unwrap();
        });
    });
    g.bench_function("serialize_postcard", |b| {
        b.iter(|| {
            buf.clear();
            Binary::encode_into(black_box(&d), &mut buf).unwrap();
        });
    });
    g.bench_function("serialize_custom", |b| {
        b.iter(|| {
            buf.clear();
            custom_encode(black_box(&d), &mut buf);
        });
    });
    g.bench_function("deserialize_json", |b| {
        b.iter(|| black_box(Json::decode::<Doc>(&json).unwrap()));
    });
    g.bench_function("deserialize_postcard", |b| {
        b.iter(|| black_box(Binary::decode::<Doc>(&bin).unwrap()));
    });
    g.bench_function("deserialize_custom", |b| {
        b.iter(|| black_box(custom_decode(&custom).unwrap()));
    });
    let tree = acorn::Tree::open_memory();
    let tj = tree.typed::<Doc, Json>();
    let tb = tree.typed::<Doc, Binary>();
    tj.stash("j", &d).unwrap();
    tb.stash("b", &d).unwrap();
    g.bench_function("typed_crack_json", |b| {
        b.iter(|| black_box(tj.crack("j").unwrap()));
    });
    g.bench_function("typed_crack_postcard", |b| {
        b.iter(|| black_box(tb.crack("b").unwrap()));
    });
    g.finish();
}

criterion_group!(benches, serialization);
criterion_main!(benches);
