//! What an instruction-count run records (`lab run --measure instructions`): per variant and
//! per operation kind, the events callgrind counted around the measured operations only, and
//! the estimated cycle count derived from them. A leaf of the schema: `results.rs` holds it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a results file measured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Measure {
    /// Time: throughput and latency over repeats (the default; files before schema 2).
    #[default]
    #[serde(rename = "wall-clock")]
    WallClock,
    /// Instructions and simulated cache events, counted under callgrind.
    #[serde(rename = "instructions")]
    Instructions,
}

impl Measure {
    pub const ALL: [Measure; 2] = [Measure::WallClock, Measure::Instructions];

    /// The name used on the command line, in workload files and in `results.json`.
    pub fn name(self) -> &'static str {
        match self {
            Measure::WallClock => "wall-clock",
            Measure::Instructions => "instructions",
        }
    }

    pub fn parse(s: &str) -> Option<Measure> {
        Measure::ALL.into_iter().find(|m| m.name() == s)
    }
}

/// The estimated cycle count, as every report states it.
pub const CYCLES_FORMULA: &str = "Ir + 10 × L1 misses + 100 × LL misses";

/// Events callgrind counted (its names in brackets), summed over the operations they
/// belong to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Events {
    /// Instructions executed (Ir).
    pub instructions: u64,
    /// Memory reads (Dr).
    pub data_reads: u64,
    /// Memory writes (Dw).
    pub data_writes: u64,
    /// L1 instruction-cache misses (I1mr).
    pub l1i_misses: u64,
    /// L1 data-cache read misses (D1mr).
    pub l1d_read_misses: u64,
    /// L1 data-cache write misses (D1mw).
    pub l1d_write_misses: u64,
    /// Last-level misses on instruction fetch (ILmr).
    pub ll_instruction_misses: u64,
    /// Last-level read misses (DLmr).
    pub ll_read_misses: u64,
    /// Last-level write misses (DLmw).
    pub ll_write_misses: u64,
}

impl Events {
    /// Callgrind's event names, in the order of [`Events::from_callgrind`].
    pub const CALLGRIND: [&'static str; 9] = [
        "Ir", "Dr", "Dw", "I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw",
    ];

    /// From values in the order of [`Events::CALLGRIND`].
    pub fn from_callgrind(v: [u64; 9]) -> Events {
        Events {
            instructions: v[0],
            data_reads: v[1],
            data_writes: v[2],
            l1i_misses: v[3],
            l1d_read_misses: v[4],
            l1d_write_misses: v[5],
            ll_instruction_misses: v[6],
            ll_read_misses: v[7],
            ll_write_misses: v[8],
        }
    }

    /// Misses in either L1 cache (instruction or data, reads and writes).
    pub fn l1_misses(&self) -> u64 {
        self.l1i_misses + self.l1d_read_misses + self.l1d_write_misses
    }

    /// Misses in the last-level cache (instruction or data, reads and writes).
    pub fn ll_misses(&self) -> u64 {
        self.ll_instruction_misses + self.ll_read_misses + self.ll_write_misses
    }

    /// [`CYCLES_FORMULA`]: a last-level miss also counts as an L1 miss, so it costs 110.
    pub fn estimated_cycles(&self) -> u64 {
        self.instructions + 10 * self.l1_misses() + 100 * self.ll_misses()
    }

    /// Adds `other` to these counts.
    pub fn add(&mut self, other: &Events) {
        self.instructions += other.instructions;
        self.data_reads += other.data_reads;
        self.data_writes += other.data_writes;
        self.l1i_misses += other.l1i_misses;
        self.l1d_read_misses += other.l1d_read_misses;
        self.l1d_write_misses += other.l1d_write_misses;
        self.ll_instruction_misses += other.ll_instruction_misses;
        self.ll_read_misses += other.ll_read_misses;
        self.ll_write_misses += other.ll_write_misses;
    }
}

/// One operation kind (or the whole mix) of one variant: how many operations ran and
/// everything they cost, in total.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpCounts {
    pub count: u64,
    pub errors: u64,
    /// The first error message of each failing kind, for the report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_samples: Vec<String>,
    pub events: Events,
}

/// One of the per-operation numbers the reports show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PerOp {
    Instructions,
    EstimatedCycles,
    DataReads,
    DataWrites,
    L1Misses,
    LlMisses,
}

impl OpCounts {
    /// `which` divided by the operation count (0 when nothing ran).
    pub fn per_op(&self, which: PerOp) -> f64 {
        let e = &self.events;
        let total = match which {
            PerOp::Instructions => e.instructions,
            PerOp::EstimatedCycles => e.estimated_cycles(),
            PerOp::DataReads => e.data_reads,
            PerOp::DataWrites => e.data_writes,
            PerOp::L1Misses => e.l1_misses(),
            PerOp::LlMisses => e.ll_misses(),
        };
        if self.count == 0 {
            0.0
        } else {
            total as f64 / self.count as f64
        }
    }
}

/// One variant's counted run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InstructionSummary {
    pub variant: String,
    /// The backend's own description: store, durability, serialization, cache.
    pub info: BTreeMap<String, String>,
    /// Extra numbers the backend reports (e.g. `cache_hit_ratio`), read after the run.
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// Every measured operation.
    pub all: OpCounts,
    /// Per operation kind ("read", "update", ...).
    pub per_op: BTreeMap<String, OpCounts>,
}

/// A variant the run left out, and why.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub variant: String,
    pub reason: String,
}

/// Everything an instruction-count run produced, with how it was counted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InstructionRun {
    /// The tool and its version, e.g. "callgrind (valgrind-3.19.0)".
    pub tool: String,
    /// The simulated caches, e.g. "I1 32768 B 8-way, D1 32768 B 8-way, LL 8388608 B 16-way,
    /// 64 B lines".
    pub caches: String,
    /// How estimated cycles are derived ([`CYCLES_FORMULA`]).
    pub cycles_formula: String,
    /// Measured operations per variant (one thread).
    pub ops: u64,
    /// Operations run before counting starts (not counted).
    pub warmup_ops: u64,
    pub variants: Vec<InstructionSummary>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimated_cycles_follow_the_stated_formula() {
        let e = Events::from_callgrind([1000, 300, 200, 4, 3, 2, 1, 1, 0]);
        assert_eq!(e.l1_misses(), 9);
        assert_eq!(e.ll_misses(), 2);
        assert_eq!(e.estimated_cycles(), 1000 + 90 + 200);
        let c = OpCounts {
            count: 10,
            events: e,
            ..OpCounts::default()
        };
        assert!((c.per_op(PerOp::Instructions) - 100.0).abs() < 1e-9);
        assert!((c.per_op(PerOp::EstimatedCycles) - 129.0).abs() < 1e-9);
        assert_eq!(OpCounts::default().per_op(PerOp::DataReads), 0.0);
    }

    #[test]
    fn measure_names_round_trip() {
        for m in Measure::ALL {
            assert_eq!(Measure::parse(m.name()), Some(m));
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.name()));
        }
        assert_eq!(Measure::parse("cycles"), None);
    }
}
