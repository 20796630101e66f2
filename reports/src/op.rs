//! The operation kinds a workload mixes, named once: the lab draws them, results key their
//! numbers by [`OpKind::name`], and target metrics start with one.

use serde::Serialize;

/// One kind of operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    Read,
    Update,
    Insert,
    Delete,
    Scan,
    /// Read-modify-write: read a record, then update it.
    Rmw,
    Query,
    Batch,
}

impl OpKind {
    /// Every kind, in index order.
    pub const ALL: [OpKind; 8] = [
        OpKind::Read,
        OpKind::Update,
        OpKind::Insert,
        OpKind::Delete,
        OpKind::Scan,
        OpKind::Rmw,
        OpKind::Query,
        OpKind::Batch,
    ];

    /// The name used in workload files, results and metrics.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Read => "read",
            OpKind::Update => "update",
            OpKind::Insert => "insert",
            OpKind::Delete => "delete",
            OpKind::Scan => "scan",
            OpKind::Rmw => "rmw",
            OpKind::Query => "query",
            OpKind::Batch => "batch",
        }
    }

    /// The kind named `s`, if any.
    pub fn parse(s: &str) -> Option<OpKind> {
        OpKind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Whether the operation changes the data (so a repeat after it must restore them).
    pub fn writes(self) -> bool {
        !matches!(self, OpKind::Read | OpKind::Scan | OpKind::Query)
    }

    /// A dense index (`0..ALL.len()`), for per-kind arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}
