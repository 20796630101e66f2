//! `binary`: `pooled` with postcard instead of JSON. Reads decode straight from the stored
//! bytes into the worker's reused document (postcard in place: varints and string copies,
//! no allocation once warm); writes encode into the worker's reused buffer.
//!
//! Why postcard and not a zero-copy format such as rkyv: measured side by side
//! (`cargo bench -p acorn-lab --features codec-bench --bench codec`; numbers in
//! docs/PERFORMANCE.md: 1.2 KB document), postcard decoded in place takes 183 ns and
//! rkyv's validated access to an archive alone 206 ns; and that access hands over an
//! archive, not a `Doc`: a read here must hand over a `Doc` like every other variant's, and
//! rkyv's access plus deserialization (every string allocated) takes 408 ns. rkyv's archive also wants
//! aligned bytes, which an acorn record does not promise (copying first makes it slower
//! still). Why not the seed's bincode:
//! RUSTSEC-2025-0141 (2025-12-16) records that the bincode team ceased development
//! permanently, and lists postcard among the alternatives; postcard is maintained,
//! serde-native, and its varint format is compact.

use super::codec::Format;
use super::engine::{Access, EngineBackend, Variant};
use super::{Backend, Options, Registration, Result, Tier, Version};

pub(crate) const REGISTRATIONS: &[Registration] = &[
    Registration::store(
        "binary",
        "acorn in memory; postcard decoded straight from the stored bytes",
        Tier::Memory,
        Version::Acorn,
        open,
    ),
    Registration::store(
        "binary:durable",
        "binary on a WAL, fsync per commit",
        Tier::FsyncPerCommit,
        Version::Acorn,
        open,
    ),
];

const VARIANT: Variant = Variant {
    format: Format::Postcard,
    access: Access::Pooled,
    policy: "per-worker pooled document and buffers: reads decode postcard in place from the \
             stored bytes, writes encode into a reused buffer",
};

fn open(reg: &Registration, options: &Options) -> Result<Box<dyn Backend>> {
    Ok(Box::new(EngineBackend::open(VARIANT, reg, options)?))
}
