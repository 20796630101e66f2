//! `toy`: a backend added the way docs/design.md says to add one, compiled for tests only
//! (its line in the `backends!` list says `#[cfg(test)]`): this file (a [`Kv`] and its
//! `REGISTRATIONS`) and one line in the list. Its tests check that the registry alone
//! carries it everywhere: `open`, `lab list`, the instruction-count gate, and a workload
//! run through the runner with every operation kind.
//!
//! The store: a sorted `Vec` of pairs behind a mutex, binary-searched.

use std::borrow::Cow;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::peer::{Items, Kv, Peer};
use super::{Backend, BackendInfo, Options, Registration, Result, Tier, Version};

pub(crate) const REGISTRATIONS: &[Registration] = &[
    // Declares a tier it does not keep (it never fsyncs): the lab's tier check must say so.
    Registration::store(
        "toy:unsynced",
        "toy, declared fsync-per-commit though it never syncs: the tier check's test",
        Tier::FsyncPerCommit,
        Version::Std,
        open,
    ),
    Registration::store(
        "toy",
        "a sorted Vec behind a mutex: the test that adding a backend takes one file",
        Tier::Memory,
        Version::Std,
        open,
    ),
];

type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

#[derive(Debug, Default)]
struct Toy(Mutex<Pairs>);

fn open(reg: &Registration, options: &Options) -> Result<Box<dyn Backend>> {
    Peer::open(reg, options, Toy::default())
}

impl Toy {
    fn pairs(&self) -> MutexGuard<'_, Pairs> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Stores `value` under `key` in sorted `pairs`.
fn upsert(pairs: &mut Pairs, key: &[u8], value: Vec<u8>) {
    match pairs.binary_search_by(|(k, _)| k.as_slice().cmp(key)) {
        Ok(i) => pairs[i].1 = value,
        Err(i) => pairs.insert(i, (key.to_vec(), value)),
    }
}

impl Kv for Toy {
    fn describe(&self, info: BackendInfo) -> BackendInfo {
        BackendInfo {
            store: format!("sorted Vec, {}", Version::Std.label()),
            durability: "in memory".into(),
            cache: "none".into(),
            ..info
        }
    }

    fn put(&self, key: &[u8], value: Cow<'_, [u8]>) -> Result<()> {
        upsert(&mut self.pairs(), key, value.into_owned());
        Ok(())
    }

    fn get<T>(&self, key: &[u8], _: &mut Vec<u8>, read: impl FnOnce(&[u8]) -> T) -> Result<Option<T>> {
        let pairs = self.pairs();
        let found = pairs.binary_search_by(|(k, _)| k.as_slice().cmp(key));
        Ok(found.ok().map(|i| read(&pairs[i].1)))
    }

    fn delete(&self, key: &[u8]) -> Result<bool> {
        let mut pairs = self.pairs();
        let found = pairs.binary_search_by(|(k, _)| k.as_slice().cmp(key));
        Ok(found.map(|i| pairs.remove(i)).is_ok())
    }

    fn scan(
        &self,
        start: &[u8],
        mut each: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        let pairs = self.pairs();
        let from = pairs.partition_point(|(k, _)| k.as_slice() < start);
        for (k, v) in &pairs[from..] {
            if !each(k, v)? {
                break;
            }
        }
        Ok(())
    }

    fn put_batch(&self, items: Items<'_>) -> Result<()> {
        let encoded = items.owned().collect::<Result<Vec<_>>>()?;
        let mut pairs = self.pairs();
        for (k, v) in encoded {
            upsert(&mut pairs, k, v);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::atomic::AtomicBool;

    use acorn_reports::Measure;

    use super::super::{find, open, registry, uncountable};
    use super::*;
    use crate::doc::{key, Value, ValueShape};
    use crate::runner::{self, clock::RealClock, RunOptions, Silent};
    use crate::workload::{OpKind, Plan};

    #[test]
    fn the_registry_alone_carries_it() {
        assert_eq!(registry().last().map(|r| r.name), Some("toy"));
        let reg = find("toy").unwrap();
        assert_eq!((reg.tier, reg.version), (Tier::Memory, Version::Std));
        assert_eq!(reg.supports(Measure::Instructions), Ok(()));
        assert_eq!(uncountable("toy"), None);
        let lines = crate::commands::backend_list();
        let at = lines.iter().position(|l| l.trim_start().starts_with("toy ")).unwrap();
        assert!(lines[at].contains(reg.about), "{lines:?}");
        assert!(lines[at + 1].contains("tier: memory; version: std (rustc"), "{lines:?}");
        assert!(lines[at + 2].contains("measures: wall-clock, instructions"), "{lines:?}");
        let b = open("toy", &Options::default()).unwrap();
        let info = b.describe();
        assert_eq!((b.name(), info.name.as_str()), ("toy", "toy"));
        assert!(info.serialization.starts_with("JSON"), "{info:?}");
    }

    #[test]
    fn it_keeps_the_worker_contract_over_documents_and_opaque_values() {
        for values in [ValueShape::default(), ValueShape::Bytes(16)] {
            let options = Options {
                values,
                ..Options::default()
            };
            let b = open("toy", &options).unwrap();
            let mut w = b.worker();
            let v = |id| Value::generate(id, 0, 3, &values);
            let items: Vec<_> = [3u64, 1, 2].iter().map(|i| (key("k", 2, *i), v(*i))).collect();
            w.batch_insert(&items).unwrap();
            w.update(&key("k", 2, 1), &v(9)).unwrap();
            assert_eq!(w.read(&key("k", 2, 1)).unwrap(), Some(&v(9)));
            assert_eq!(w.scan(&key("k", 2, 2), 10).unwrap(), 2);
            assert!(w.delete(&key("k", 2, 2)).unwrap());
            assert!(!w.delete(&key("k", 2, 2)).unwrap());
            assert_eq!(w.read(&key("k", 2, 2)).unwrap(), None);
            let q = crate::backend::QuerySpec {
                prefix: b"k".to_vec(),
                min_value: None,
                order: crate::backend::QueryOrder::Key,
                skip: 1,
                take: 5,
            };
            let page: Vec<&[u8]> = w.query(&q).unwrap().keys().collect();
            assert_eq!(page, [key("k", 2, 3).as_slice()]);
        }
    }

    /// Runs the workload `src` through the runner.
    fn run(src: &str) -> acorn_reports::Results {
        let plan = Plan::parse(Path::new("toy.toml"), src).unwrap();
        runner::run(
            &plan,
            &RunOptions::default(),
            &RealClock::default(),
            &AtomicBool::new(false),
            &Silent,
        )
        .unwrap()
    }

    #[test]
    fn a_declared_tier_that_the_counted_syncs_contradict_is_warned_about() {
        let src = "name = \"liar\"\nvariants = [\"toy:unsynced\", \"toy\"]\n[dataset]\n\
                   records = 100\n[run]\nops = 300\nwarmup = \"0s\"\nrepeats = 1\n\
                   [mix]\nupdate = 50\ninsert = 50\n";
        let r = run(src);
        let liar = r.summaries.iter().find(|s| s.variant == "toy:unsynced").unwrap();
        let st = liar.storage.as_ref().unwrap();
        assert_eq!(st.tier, "fsync-per-commit");
        assert_eq!(st.phases.commits, 300);
        let m = st.tier_mismatch.as_deref().unwrap();
        assert!(m.starts_with("declared fsync-per-commit, but counted 0.0"), "{m}");
        assert!(
            r.warnings.iter().any(|w| w.starts_with("toy:unsynced at 1 thread: declared")),
            "{:?}",
            r.warnings
        );
        // The one that keeps its promise (memory: no syncs) is not warned about.
        let toy = r.summaries.iter().find(|s| s.variant == "toy").unwrap();
        assert_eq!(toy.storage.as_ref().unwrap().tier_mismatch, None);
        let table = acorn_reports::table::render(&r);
        assert!(table.contains("fsync-per-commit !"), "{table}");
    }

    #[test]
    fn a_workload_runs_every_operation_on_it() {
        let src = "name = \"toy\"\nvariants = [\"toy\"]\n[dataset]\nrecords = 200\n\
                   [run]\nops = 400\nwarmup = \"0s\"\nrepeats = 1\nthreads = [2]\n\
                   batch_size = 4\nscan_length = 5\n\
                   [mix]\nread = 30\nupdate = 10\ninsert = 10\ndelete = 10\nscan = 10\n\
                   rmw = 10\nquery = 10\nbatch = 10\n";
        let r = run(src);
        let s = &r.summaries[0];
        assert_eq!(s.variant, "toy");
        assert!(s.load_throughput > 0.0);
        for kind in OpKind::ALL {
            let op = &s.per_op[kind.name()];
            assert!(op.count > 0, "{kind:?} never ran");
            assert_eq!(op.errors, 0, "{kind:?}: {:?}", op.error_samples);
        }
    }
}
