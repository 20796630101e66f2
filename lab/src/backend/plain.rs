//! `plain`: acorn + serde_json, the straightforward way (crack copies the nut out, then
//! decode a fresh document; every write allocates its JSON).

use super::codec::Format;
use super::engine::{Access, EngineBackend, Variant};
use super::{Backend, Options, Registration, Result, Tier, Version};

pub(crate) const REGISTRATIONS: &[Registration] = &[
    Registration::store(
        "plain",
        "acorn in memory; reads copy the value out, then decode JSON",
        Tier::Memory,
        Version::Acorn,
        open,
    ),
    Registration::store(
        "plain:durable",
        "plain on a WAL, fsync per commit",
        Tier::FsyncPerCommit,
        Version::Acorn,
        open,
    ),
    Registration::store(
        "plain:compressed",
        "plain:durable with LZ4-compressed log frames and snapshots \
                (TreeBuilder::compression)",
        Tier::FsyncPerCommit,
        Version::Acorn,
        open,
    ),
    Registration::store(
        "plain:group",
        "plain on a WAL, group commit (SyncPolicy::Group, 200 µs): writers share fsyncs",
        Tier::GroupCommit,
        Version::Acorn,
        open,
    ),
    Registration::store(
        "plain:never",
        "plain on a WAL written to the OS, never fsynced (SyncPolicy::Never)",
        Tier::OsBuffered,
        Version::Acorn,
        open,
    ),
];

pub(crate) const VARIANT: Variant = Variant {
    format: Format::Json,
    access: Access::Copy,
    policy: "reads copy the nut and decode a fresh document; writes encode into a fresh buffer",
};

fn open(reg: &Registration, options: &Options) -> Result<Box<dyn Backend>> {
    if reg.name == "plain:compressed" {
        let lz4 = acorn::Compression::Lz4;
        let backend = EngineBackend::open_with(VARIANT, reg, options, |b| b.compression(lz4))?;
        return Ok(Box::new(
            backend.compressed(lz4, "; LZ4-compressed log frames and snapshots"),
        ));
    }
    Ok(Box::new(EngineBackend::open(VARIANT, reg, options)?))
}

#[cfg(test)]
mod tests {
    use super::super::{open, Options};

    #[test]
    fn the_compressed_variant_says_so_and_the_durable_one_does_not() {
        let compressed = open("plain:compressed", &Options::default()).unwrap();
        let info = compressed.describe();
        assert!(info.durability.contains("LZ4-compressed"), "{info:?}");
        let plain = open("plain:durable", &Options::default()).unwrap();
        assert!(!plain.describe().durability.contains("LZ4"));
    }

    #[test]
    fn the_compressed_variant_takes_part_in_the_recover_phase() {
        let compressed = open("plain:compressed", &Options::default()).unwrap();
        assert!(compressed.can_reopen());
        let dir = compressed.data_dir().unwrap().to_path_buf();
        let reopened = compressed.reopen().unwrap();
        assert_eq!(reopened.data_dir(), Some(dir.as_path()));
        assert!(reopened.describe().durability.contains("LZ4-compressed"));
    }
}
