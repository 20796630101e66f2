//! `binary`: postcard instead of JSON, decoded straight from the stored bytes (no copy of
//! the nut first). Why postcard and not the seed's bincode: RUSTSEC-2025-0141 (2025-12-16)
//! records that the bincode team ceased development permanently, and lists postcard among
//! the alternatives; postcard is maintained, serde-native, and its varint format is compact.

use super::engine::{Access, EngineBackend, Format, Variant};
use super::{Backend, Options, Result};

const VARIANT: Variant = Variant {
    name: "binary",
    format: Format::Postcard,
    access: Access::Borrow,
};

pub(crate) fn open(options: &Options, durable: bool) -> Result<Box<dyn Backend>> {
    Ok(Box::new(EngineBackend::open(VARIANT, options, durable)?))
}
