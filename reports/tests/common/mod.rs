//! What the report tests share: the fixed results file and the report's sections.
#![allow(dead_code, clippy::unwrap_used)]

pub mod xml;

use std::collections::BTreeMap;
use std::path::Path;

use acorn_reports::counts::{Events, InstructionRun, InstructionSummary, OpCounts, Skipped};
use acorn_reports::{Measure, Results, SCHEMA_VERSION};

/// Every section `index.html` always has (ids).
pub const SECTIONS: [&str; 8] = [
    "verdict",
    "legend",
    "summary",
    "winners",
    "targets",
    "charts",
    "operations",
    "backends",
];

/// The committed results file the report tests render.
pub fn fixture() -> Results {
    Results::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results.json"))
        .unwrap()
}

/// `count` operations of `instructions` each (memory traffic and misses in proportion).
pub fn op(count: u64, instructions: u64) -> OpCounts {
    OpCounts {
        count,
        events: Events::from_callgrind([
            count * instructions,
            count * instructions / 4,
            count * instructions / 8,
            count,
            count * 3,
            count,
            0,
            count / 2,
            0,
        ]),
        ..OpCounts::default()
    }
}

pub fn variant(name: &str, read: u64, update: u64) -> InstructionSummary {
    let per_op = BTreeMap::from([
        ("read".to_owned(), op(80, read)),
        ("update".to_owned(), op(20, update)),
    ]);
    let mut all = OpCounts::default();
    for c in per_op.values() {
        all.count += c.count;
        all.events.add(&c.events);
    }
    InstructionSummary {
        variant: name.into(),
        info: BTreeMap::from([("durability".to_owned(), "in memory".to_owned())]),
        all,
        per_op,
        ..InstructionSummary::default()
    }
}

/// The fixture's workload counted: plain cheapest, then btreemap, then cached (the wall
/// clock ranks btreemap, plain, cached).
pub fn counted(plain_read: u64) -> Results {
    Results {
        schema_version: SCHEMA_VERSION,
        workload: "fixture".into(),
        measure: Measure::Instructions,
        instructions: Some(InstructionRun {
            tool: "callgrind (valgrind-3.19.0)".into(),
            caches: "I1 32 KiB".into(),
            cycles_formula: acorn_reports::counts::CYCLES_FORMULA.into(),
            ops: 100,
            warmup_ops: 25,
            variants: vec![
                variant("plain", plain_read, 9_000),
                variant("cached", 20_000, 12_000),
                variant("btreemap", 10_000, 9_500),
            ],
            skipped: vec![Skipped {
                variant: "plain:durable".into(),
                reason: "fsync <cannot be seen>".into(),
            }],
        }),
        ..Results::default()
    }
}
