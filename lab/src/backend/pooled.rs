//! `pooled`: the seed guide's allocation advice done properly. Each worker owns one
//! document that reads decode into in place, straight from the stored bytes (serde's
//! `deserialize_in_place` reuses its strings and vectors), and one buffer that writes
//! encode into; field names are never allocated (serde derive matches them against static
//! strings). Reads of existing keys therefore allocate nothing, and an update or insert
//! allocates only the record the engine must store. The report prints the allocations per
//! operation beside its numbers.

use super::codec::Format;
use super::engine::{Access, EngineBackend, Variant};
use super::{Backend, Options, Registration, Result, Tier, Version};

pub(crate) const REGISTRATIONS: &[Registration] = &[
    Registration::store(
        "pooled",
        "acorn in memory; JSON decoded in place into a per-worker document, no allocation per read",
        Tier::Memory,
        Version::Acorn,
        open,
    ),
    Registration::store(
        "pooled:durable",
        "pooled on a WAL, fsync per commit",
        Tier::FsyncPerCommit,
        Version::Acorn,
        open,
    ),
];

pub(crate) const VARIANT: Variant = Variant {
    format: Format::Json,
    access: Access::Pooled,
    policy: "per-worker pooled document and buffers: reads decode in place from the stored \
             bytes, writes encode into a reused buffer (0 allocations per read, 1 per write: \
             the stored record)",
};

fn open(reg: &Registration, options: &Options) -> Result<Box<dyn Backend>> {
    Ok(Box::new(EngineBackend::open(VARIANT, reg, options)?))
}
