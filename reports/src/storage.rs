//! What writes cost the storage (issue 26), as `results.json` keeps it: per measured phase
//! ([`StorageCost`]: sync calls counted, bytes the process wrote to the device and asked
//! the kernel to write, the user's bytes behind them), and per variant and thread count
//! ([`StorageSummary`]: the phases summed, the data directory's size after the load and
//! after the run, the reopen time). How each is measured: `docs/storage.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Sync calls, device bytes and user bytes of one measured phase (or, in a summary, of
/// every measured phase summed).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StorageCost {
    /// Operations in the phase(s).
    pub ops: u64,
    /// Operations that commit a write: inserts, updates, deletes, read-modify-writes and
    /// batches (one commit each).
    pub commits: u64,
    /// Key + value bytes the commits handed the store (values as the user gives them: a
    /// document's JSON, opaque bytes as they are).
    pub user_bytes: u64,
    /// Sync calls counted while the phase ran, by C function (`fsync`, `fdatasync`,
    /// `msync`, `sync_file_range`, `syncfs`); absent when not counted (`not_counted` says
    /// why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syncs: Option<BTreeMap<String, u64>>,
    /// Bytes the process caused to be written to the device (`/proc/self/io` `write_bytes`
    /// less `cancelled_write_bytes`, the file system synced before and after the phase);
    /// absent when not counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_write_bytes: Option<u64>,
    /// Bytes the process asked to write and read through system calls (`wchar`, `rchar`):
    /// page-cache traffic, disk or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wchar: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rchar: Option<u64>,
    /// Why something was not counted (parallel mode, no counting functions, no
    /// `/proc/self/io`); absent when everything was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_counted: Option<String>,
}

fn per(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

impl StorageCost {
    /// Every sync call counted, when counted.
    pub fn syncs_total(&self) -> Option<u64> {
        self.syncs.as_ref().map(|s| s.values().sum())
    }

    /// Sync calls per operation.
    pub fn syncs_per_op(&self) -> Option<f64> {
        per(self.syncs_total()?, self.ops)
    }

    /// Sync calls per commit (what a durability tier promises).
    pub fn syncs_per_commit(&self) -> Option<f64> {
        per(self.syncs_total()?, self.commits)
    }

    /// Device bytes written per operation.
    pub fn device_bytes_per_op(&self) -> Option<f64> {
        per(self.device_write_bytes?, self.ops)
    }

    /// Write amplification: device bytes per byte of user data written.
    pub fn write_amplification(&self) -> Option<f64> {
        per(self.device_write_bytes?, self.user_bytes)
    }

    /// `self` and `other` added up (a figure either lacks is absent in the sum).
    pub fn add(&self, other: &StorageCost) -> StorageCost {
        let both = |a: Option<u64>, b: Option<u64>| Some(a? + b?);
        StorageCost {
            ops: self.ops + other.ops,
            commits: self.commits + other.commits,
            user_bytes: self.user_bytes + other.user_bytes,
            syncs: match (&self.syncs, &other.syncs) {
                (Some(a), Some(b)) => {
                    let mut s = a.clone();
                    for (k, v) in b {
                        *s.entry(k.clone()).or_default() += v;
                    }
                    Some(s)
                }
                _ => None,
            },
            device_write_bytes: both(self.device_write_bytes, other.device_write_bytes),
            wchar: both(self.wchar, other.wchar),
            rchar: both(self.rchar, other.rchar),
            not_counted: self
                .not_counted
                .clone()
                .or_else(|| other.not_counted.clone()),
        }
    }

    /// The sum of `costs`; `None` when there are none.
    pub fn sum<'a>(costs: impl IntoIterator<Item = &'a StorageCost>) -> Option<StorageCost> {
        costs.into_iter().fold(None, |acc, c| {
            Some(match acc {
                None => c.clone(),
                Some(a) => a.add(c),
            })
        })
    }
}

/// The reopen of a store after its measured phases (`[run] recover = true`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    /// From dropping the open store to the reopened one answering a read.
    pub reopen_s: f64,
    /// The data directory's size when it was reopened.
    pub bytes: u64,
    /// Records it held (loaded records; the measured phases' inserts were removed).
    pub records: u64,
}

/// What writes cost a variant at one thread count.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StorageSummary {
    /// The declared durability tier (`fsync-per-commit`, `group-commit`, `os-buffered`,
    /// `memory`).
    pub tier: String,
    /// Every measured phase summed; sync calls per commit are checked against `tier`.
    pub phases: StorageCost,
    /// Records loaded, and their key + value bytes per record on average.
    pub records: u64,
    pub user_bytes_per_item: f64,
    /// The data directory's allocated size (`du`) after the load and after the last
    /// measured phase; absent for a store with no directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_after_load: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_after_run: Option<u64>,
    /// The reopen (`[run] recover`), when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<Recovery>,
    /// The counted sync calls disagree with the declared tier: what and by how much.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier_mismatch: Option<String>,
}

impl StorageSummary {
    /// Space amplification after the load: disk bytes per byte of user data.
    pub fn space_amplification(&self) -> Option<f64> {
        let user = self.user_bytes_per_item * self.records as f64;
        let disk = self.disk_after_load?;
        (user > 0.0).then(|| disk as f64 / user)
    }

    /// Disk bytes per record after the load.
    pub fn disk_per_item_after_load(&self) -> Option<f64> {
        per(self.disk_after_load?, self.records)
    }

    /// Disk bytes per record after the run.
    pub fn disk_per_item_after_run(&self) -> Option<f64> {
        per(self.disk_after_run?, self.records)
    }
}

/// What a tier promises, in sync calls per commit: `Err` says how `counted` disagrees.
/// `fsync-per-commit` needs at least 0.5 per commit at one thread (more threads may share
/// them: at least 0.5 / threads; not 1, because a store may skip the sync of a commit that
/// changed nothing: SQLite writes no WAL frame for an update that stores the bytes already
/// there); `group-commit` at least one per 1,000 commits and no more than 1.5 per commit;
/// `os-buffered` and `memory` below 0.1 per commit (a store's background flushes fsync now
/// and then). Phases without commits, or whose sync calls were not counted, are not judged.
pub fn check_tier(tier: &str, threads: usize, cost: &StorageCost) -> Result<(), String> {
    let Some(per_commit) = cost.syncs_per_commit() else {
        return Ok(());
    };
    let threads = threads.max(1) as f64;
    let (ok, wanted) = match tier {
        "fsync-per-commit" => (
            per_commit >= 0.5 / threads,
            format!("at least {:.2} per commit", 0.5 / threads),
        ),
        "group-commit" => (
            (0.001..=1.5).contains(&per_commit),
            "between 0.001 and 1.5 per commit".to_owned(),
        ),
        "os-buffered" | "memory" => (per_commit < 0.1, "below 0.1 per commit".to_owned()),
        _ => (true, String::new()),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "declared {tier}, but counted {per_commit:.3} sync calls per commit ({wanted} expected)"
        ))
    }
}

/// The storage table's columns (terminal and report).
pub const COLUMNS: [&str; 11] = [
    "variant",
    "thr",
    "tier",
    "syncs/commit",
    "syncs/op",
    "device/op",
    "write amp",
    "disk/item load",
    "disk/item run",
    "space amp",
    "reopen",
];

/// One row of the storage table per variant and thread count that measured storage, in
/// the order of `r.summaries` grouped by tier (fsync-per-commit first: equal promises
/// side by side). A tier the counts contradict is marked `!`.
pub fn rows(r: &crate::Results) -> Vec<Vec<String>> {
    use crate::format::{human, human_ns, Unit};
    let figure = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or_else(|| "-".into(), f);
    let mut list: Vec<&crate::VariantSummary> =
        r.summaries.iter().filter(|s| s.storage.is_some()).collect();
    list.sort_by_key(|s| {
        s.storage
            .as_ref()
            .map_or(usize::MAX, |st| tier_rank(&st.tier))
    });
    list.into_iter()
        .filter_map(|s| {
            let st = s.storage.as_ref()?;
            let p = &st.phases;
            let counted = |v: Option<f64>, f: &dyn Fn(f64) -> String| {
                if p.syncs.is_none() {
                    "not counted".into()
                } else {
                    figure(v, f)
                }
            };
            Some(vec![
                s.variant.clone(),
                s.threads.to_string(),
                format!(
                    "{}{}",
                    st.tier,
                    if st.tier_mismatch.is_some() { " !" } else { "" }
                ),
                counted(p.syncs_per_commit(), &|v| format!("{v:.2}")),
                counted(p.syncs_per_op(), &|v| format!("{v:.2}")),
                figure(p.device_bytes_per_op(), &|v| human(Unit::Bytes, v)),
                figure(p.write_amplification(), &|v| format!("{v:.1}×")),
                figure(st.disk_per_item_after_load(), &|v| human(Unit::Bytes, v)),
                figure(st.disk_per_item_after_run(), &|v| human(Unit::Bytes, v)),
                figure(st.space_amplification(), &|v| format!("{v:.2}×")),
                st.recovery.as_ref().map_or_else(
                    || "-".into(),
                    |rc| {
                        format!(
                            "{} ({})",
                            human_ns(rc.reopen_s * 1e9),
                            human(Unit::Bytes, rc.bytes as f64)
                        )
                    },
                ),
            ])
        })
        .collect()
}

/// Tiers from the strongest promise to the weakest (unknown ones last).
pub fn tier_rank(tier: &str) -> usize {
    ["fsync-per-commit", "group-commit", "os-buffered", "memory"]
        .iter()
        .position(|t| *t == tier)
        .unwrap_or(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(syncs: u64, commits: u64) -> StorageCost {
        StorageCost {
            ops: commits * 2,
            commits,
            user_bytes: commits * 100,
            syncs: Some(BTreeMap::from([("fsync".to_owned(), syncs)])),
            device_write_bytes: Some(commits * 4096),
            ..StorageCost::default()
        }
    }

    #[test]
    fn derived_figures_divide_by_the_right_counts() {
        let c = cost(30, 10);
        assert_eq!(c.syncs_per_commit(), Some(3.0));
        assert_eq!(c.syncs_per_op(), Some(1.5));
        assert_eq!(c.device_bytes_per_op(), Some(2048.0));
        assert_eq!(c.write_amplification(), Some(40.96));
        let none = StorageCost::default();
        assert_eq!(none.syncs_per_op(), None);
        assert_eq!(none.write_amplification(), None);
    }

    #[test]
    fn sums_add_every_counter_and_drop_what_one_side_lacks() {
        let mut b = cost(5, 5);
        b.syncs.as_mut().map(|s| s.insert("fdatasync".into(), 2));
        let s = StorageCost::sum([&cost(30, 10), &b]).unwrap_or_default();
        assert_eq!(s.commits, 15);
        assert_eq!(s.syncs_total(), Some(37));
        assert_eq!(s.device_write_bytes, Some(15 * 4096));
        let uncounted = StorageCost {
            not_counted: Some("parallel mode".into()),
            ..StorageCost::default()
        };
        let s = cost(1, 1).add(&uncounted);
        assert_eq!(s.syncs, None);
        assert_eq!(s.not_counted.as_deref(), Some("parallel mode"));
    }

    #[test]
    fn tiers_are_checked_against_counted_syncs() {
        assert!(check_tier("fsync-per-commit", 1, &cost(10, 10)).is_ok());
        let e = check_tier("fsync-per-commit", 1, &cost(0, 10)).unwrap_err();
        assert!(
            e.contains("declared fsync-per-commit") && e.contains("0.000"),
            "{e}"
        );
        // Four threads sharing fsyncs still keep the promise.
        assert!(check_tier("fsync-per-commit", 4, &cost(2, 10)).is_ok());
        assert!(check_tier("fsync-per-commit", 1, &cost(4, 10)).is_err());
        assert!(check_tier("os-buffered", 1, &cost(0, 10)).is_ok());
        assert!(check_tier("os-buffered", 1, &cost(10, 10)).is_err());
        assert!(check_tier("memory", 1, &cost(1, 10)).is_err());
        assert!(check_tier("group-commit", 1, &cost(2, 100)).is_ok());
        assert!(check_tier("group-commit", 1, &cost(0, 10_000)).is_err());
        // Nothing committed, or nothing counted: nothing to judge.
        assert!(check_tier("fsync-per-commit", 1, &cost(0, 0)).is_ok());
        assert!(check_tier("fsync-per-commit", 1, &StorageCost::default()).is_ok());
    }

    #[test]
    fn space_amplification_is_disk_over_user_bytes() {
        let s = StorageSummary {
            records: 1000,
            user_bytes_per_item: 100.0,
            disk_after_load: Some(250_000),
            disk_after_run: Some(300_000),
            ..StorageSummary::default()
        };
        assert_eq!(s.space_amplification(), Some(2.5));
        assert_eq!(s.disk_per_item_after_load(), Some(250.0));
        assert_eq!(s.disk_per_item_after_run(), Some(300.0));
    }
}
