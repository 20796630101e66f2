//! `lab sample`: the operation stream the first thread of the first repeat would run, one
//! line per operation — `<op> <key>`, plus the length for scans and batches — so people
//! (and tests) can inspect distributions, key names and scan lengths without running a
//! store. Operation words are YCSB's where YCSB has the operation (`readmodifywrite`).

use std::io::{self, Write};
use std::sync::Arc;

use super::keyspace::KeySpace;
use super::ops::OpStream;
use super::plan::Plan;
use acorn_reports::OpKind;

/// The word `lab sample` prints for an operation kind.
pub fn op_word(kind: OpKind) -> &'static str {
    match kind {
        OpKind::Rmw => "readmodifywrite",
        k => k.name(),
    }
}

/// Writes `ops` operations of `plan`'s first stream (its seed replaced by `seed` if given).
/// Every insert is treated as done before the next operation is drawn, as a single thread
/// running it would see.
pub fn write(plan: &Plan, ops: u64, seed: Option<u64>, out: &mut dyn Write) -> io::Result<()> {
    let mut plan = plan.clone();
    if let Some(s) = seed {
        plan.run.seed = s;
    }
    let spec = plan.stream_spec();
    let threads = plan.run.threads.first().copied().unwrap_or(1);
    let space = Arc::new(KeySpace::measured(plan.dataset.records));
    let mut stream = OpStream::new(&spec, 0, threads, space);
    let mut key = Vec::with_capacity(64);
    for _ in 0..ops {
        let Some(op) = stream.next() else { break };
        let word = op_word(op.kind);
        if op.kind == OpKind::Query {
            writeln!(out, "{word}")?;
        } else {
            plan.dataset.write_key(&mut key, op.id);
            out.write_all(word.as_bytes())?;
            out.write_all(b" ")?;
            out.write_all(&key)?;
            if matches!(op.kind, OpKind::Scan | OpKind::Batch) {
                write!(out, " {}", op.len)?;
            }
            out.write_all(b"\n")?;
        }
        stream.done(&op);
    }
    out.flush()
}
