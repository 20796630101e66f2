//! `plain`: acorn + serde_json, the straightforward way (crack copies the nut out, then
//! decode; every write allocates its JSON).

use super::engine::{Access, EngineBackend, Format, Variant};
use super::{Backend, Options, Result};

pub(crate) const VARIANT: Variant = Variant {
    name: "plain",
    format: Format::Json,
    access: Access::Copy,
};

pub(crate) fn open(options: &Options, durable: bool) -> Result<Box<dyn Backend>> {
    Ok(Box::new(EngineBackend::open(VARIANT, options, durable)?))
}
