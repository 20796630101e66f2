//! `plain`: acorn + serde_json, the straightforward way (crack copies the nut out, then
//! decode a fresh document; every write allocates its JSON).

use super::codec::Format;
use super::engine::{Access, EngineBackend, Variant};
use super::{Backend, Options, Result};

pub(crate) const VARIANT: Variant = Variant {
    name: "plain",
    format: Format::Json,
    access: Access::Copy,
    policy: "reads copy the nut and decode a fresh document; writes encode into a fresh buffer",
};

pub(crate) fn open(options: &Options, durable: bool) -> Result<Box<dyn Backend>> {
    Ok(Box::new(EngineBackend::open(VARIANT, options, durable)?))
}
