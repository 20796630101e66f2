//! `pooled`: the seed guide's allocation advice done properly. Each worker owns one `Doc`
//! that reads decode into in place (serde's `deserialize_in_place` reuses its strings and
//! vectors), and one buffer that writes encode into; field names are never allocated
//! (serde derive matches them against static strings). Reads of existing keys therefore
//! allocate nothing, and an update allocates only the record the engine must store.

use super::engine::{Access, EngineBackend, Format, Variant};
use super::{Backend, Options, Result};

const VARIANT: Variant = Variant {
    name: "pooled",
    format: Format::Json,
    access: Access::Pooled,
};

pub(crate) fn open(options: &Options, durable: bool) -> Result<Box<dyn Backend>> {
    Ok(Box::new(EngineBackend::open(VARIANT, options, durable)?))
}
