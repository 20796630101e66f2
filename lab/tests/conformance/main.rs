//! One conformance suite for every registered backend: each test below loops over the
//! registry, so a new backend gets the whole suite by registering itself. Every test runs
//! with documents and with opaque values (`dataset.value`), and the `cached` variants under
//! both cache policies. `noop` stores nothing (its `describe()` says so); for it the suite
//! checks that every operation succeeds and reads find nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use acorn_lab::backend::{
    open, registry, Backend, CachePolicy, Options, QueryOrder, QuerySpec, Version, Worker,
};
use acorn_lab::doc::{key, Doc, DocShape, SplitMix, Value, ValueShape};

mod concurrency;
mod description;
mod queries;
mod round_trips;

const SHAPE: DocShape = DocShape {
    fields: 3,
    field_bytes: 12,
    tags: 2,
};

/// The two kinds of dataset every backend must store.
const KINDS: [ValueShape; 2] = [ValueShape::Doc(SHAPE), ValueShape::Bytes(24)];

fn value(kind: &ValueShape, id: u64, version: u64) -> Value {
    Value::generate(id, version, 7, kind)
}

/// Runs `test` on every registered backend, for documents and for opaque values, with
/// `cached` under both policies.
fn each_backend(test: impl Fn(&str, &ValueShape, &dyn Backend, bool)) {
    let scratch = tempfile::tempdir().unwrap();
    for kind in &KINDS {
        for policy in [CachePolicy::WriteThrough, CachePolicy::Invalidate] {
            let options = Options {
                cache_capacity: 64,
                cache_policy: policy,
                scratch_dir: scratch.path().to_path_buf(),
                values: *kind,
            };
            for reg in registry() {
                if policy == CachePolicy::Invalidate && !reg.name.starts_with("cached") {
                    continue; // the policy changes nothing else
                }
                let backend =
                    open(reg.name, &options).unwrap_or_else(|e| panic!("{}: {e}", reg.name));
                assert_eq!(
                    backend.describe().name,
                    reg.name,
                    "describe() names the registered variant"
                );
                let stores = backend.describe().stores_data;
                let label = format!("{} ({kind:?}, {policy:?})", reg.name);
                test(&label, kind, backend.as_ref(), stores);
            }
        }
    }
}
