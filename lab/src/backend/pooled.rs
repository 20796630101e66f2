//! `pooled`: the seed guide's allocation advice done properly. Each worker owns one
//! document that reads decode into in place, straight from the stored bytes (serde's
//! `deserialize_in_place` reuses its strings and vectors), and one buffer that writes
//! encode into; field names are never allocated (serde derive matches them against static
//! strings). Reads of existing keys therefore allocate nothing, and an update or insert
//! allocates only the record the engine must store. The report prints the allocations per
//! operation beside its numbers.

use super::codec::Format;
use super::engine::{Access, EngineBackend, Variant};
use super::{Backend, Options, Result};

pub(crate) const VARIANT: Variant = Variant {
    name: "pooled",
    format: Format::Json,
    access: Access::Pooled,
    policy: "per-worker pooled document and buffers: reads decode in place from the stored \
             bytes, writes encode into a reused buffer (0 allocations per read, 1 per write: \
             the stored record)",
};

pub(crate) fn open(options: &Options, durable: bool) -> Result<Box<dyn Backend>> {
    Ok(Box::new(EngineBackend::open(VARIANT, options, durable)?))
}
