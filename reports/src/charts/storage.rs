//! What writes cost the storage (issue 26): one bar chart per figure, a bar per variant and
//! thread count labelled with its durability tier, so bars of different promises are never
//! read as like for like.

use super::throughput::ordered;
use super::{bars, Bar, BarSpec, Palette};
use crate::format::{human, human_ns, variant_threads, Unit};
use crate::results::{Results, VariantSummary};
use crate::storage::StorageSummary;

/// One figure: its key (the chart's id), title, axis, unit and how to read it.
struct Figure {
    key: &'static str,
    title: &'static str,
    axis: &'static str,
    fmt: fn(f64) -> String,
    value: fn(&StorageSummary) -> Option<f64>,
}

const FIGURES: [Figure; 5] = [
    Figure {
        key: "syncs",
        title: "Sync calls per commit (fsync, fdatasync, msync, sync_file_range, syncfs; counted)",
        axis: "sync calls per commit",
        fmt: |v| format!("{v:.2}"),
        value: |s| s.phases.syncs_per_commit(),
    },
    Figure {
        key: "device",
        title: "Bytes written to the device per operation (/proc/self/io write_bytes)",
        axis: "bytes per operation",
        fmt: |v| human(Unit::Bytes, v),
        value: |s| s.phases.device_bytes_per_op(),
    },
    Figure {
        key: "write-amp",
        title: "Write amplification: device bytes per byte of user data written",
        axis: "device bytes / user bytes",
        fmt: |v| format!("{v:.1}×"),
        value: |s| s.phases.write_amplification(),
    },
    Figure {
        key: "space-amp",
        title: "Space amplification after the load: data directory (du) / key + value bytes",
        axis: "disk bytes / user bytes",
        fmt: |v| format!("{v:.2}×"),
        value: StorageSummary::space_amplification,
    },
    Figure {
        key: "reopen",
        title: "Reopen time (recover phase: close, open from the files, first read)",
        axis: "time",
        fmt: |v| human_ns(v),
        value: |s| s.recovery.as_ref().map(|r| r.reopen_s * 1e9),
    },
];

/// The storage charts the results have data for: `(key, svg)`.
pub fn storage(r: &Results, palette: &Palette) -> Vec<(String, String)> {
    let list: Vec<&VariantSummary> = ordered(r, palette)
        .into_iter()
        .filter(|s| s.storage.is_some())
        .collect();
    FIGURES
        .iter()
        .filter_map(|f| {
            let rows: Vec<Bar> = list
                .iter()
                .filter_map(|s| {
                    let st = s.storage.as_ref()?;
                    Some(Bar {
                        label: format!("{} [{}]", variant_threads(&s.variant, s.threads), st.tier),
                        variant: s.variant.clone(),
                        value: (f.value)(st)?,
                        interval: None,
                    })
                })
                .collect();
            let svg = bars(
                BarSpec {
                    title: f.title,
                    axis: f.axis,
                    fmt: f.fmt,
                    palette,
                },
                &rows,
            )?;
            Some((f.key.to_owned(), svg))
        })
        .collect()
}
