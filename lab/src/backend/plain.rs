//! `plain`: acorn + serde_json, the straightforward way (crack copies the nut out, then
//! decode a fresh document; every write allocates its JSON).

use super::codec::Format;
use super::engine::{Access, EngineBackend, Variant};
use super::{Backend, Measures, Options, Registration, Result, Role, Tier, Version, WRITES_TO_DISK};

pub(crate) const REGISTRATIONS: &[Registration] = &[
    Registration {
        name: "plain",
        about: "acorn in memory; reads copy the value out, then decode JSON",
        tier: Tier::Memory,
        version: Version::Acorn,
        measures: Measures::All,
        role: Role::Store,
        open,
    },
    Registration {
        name: "plain:durable",
        about: "plain on a WAL, fsync per commit",
        tier: Tier::FsyncPerCommit,
        version: Version::Acorn,
        measures: Measures::WallClockOnly(WRITES_TO_DISK),
        role: Role::Store,
        open,
    },
    Registration {
        name: "plain:group",
        about: "plain on a WAL, group commit (SyncPolicy::Group, 200 µs): writers share fsyncs",
        tier: Tier::GroupCommit,
        version: Version::Acorn,
        measures: Measures::WallClockOnly(WRITES_TO_DISK),
        role: Role::Store,
        open,
    },
    Registration {
        name: "plain:never",
        about: "plain on a WAL written to the OS, never fsynced (SyncPolicy::Never)",
        tier: Tier::OsBuffered,
        version: Version::Acorn,
        measures: Measures::WallClockOnly(WRITES_TO_DISK),
        role: Role::Store,
        open,
    },
];

pub(crate) const VARIANT: Variant = Variant {
    format: Format::Json,
    access: Access::Copy,
    policy: "reads copy the nut and decode a fresh document; writes encode into a fresh buffer",
};

fn open(reg: &Registration, options: &Options) -> Result<Box<dyn Backend>> {
    Ok(Box::new(EngineBackend::open(VARIANT, reg, options)?))
}
