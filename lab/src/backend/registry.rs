//! The registry: every backend by name, with what the lab needs to know before opening it
//! ([`Registration`]: its phrase for `lab list`, its durability [`Tier`], the measures it
//! supports, where its version comes from). Each backend file declares its own
//! `REGISTRATIONS`; the `backends!` list in `backend/mod.rs` collects them.

use acorn_reports::counts::Measure;

use super::{Backend, BackendError, Options, Result};

/// How durable a write is when the backend says it is done: what survives if the process
/// or the machine goes down right after. Declared per variant; issue 26's storage counters
/// will check the declaration against the fsyncs they count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tier {
    /// Every write waits for an fsync before it returns, one write in flight per worker:
    /// about one fsync per write at one thread (a store that lets concurrent commits share
    /// an fsync, as acorn's `SyncPolicy::Always` does, may use fewer across threads).
    /// Survives a power loss.
    FsyncPerCommit,
    /// Writes in flight together (several per thread: `[run] in_flight`) share one fsync,
    /// each returning once the fsync covering it has landed: fewer fsyncs than writes.
    /// Survives a power loss.
    GroupCommit,
    /// Every write is handed to the OS (written, not fsynced) before it returns: survives
    /// the process crashing, not the machine losing power.
    OsBuffered,
    /// Kept in the process only (or, for `noop`, nowhere): gone when it exits.
    Memory,
}

impl Tier {
    /// The name `lab list` shows.
    pub fn name(self) -> &'static str {
        match self {
            Tier::FsyncPerCommit => "fsync-per-commit",
            Tier::GroupCommit => "group-commit",
            Tier::OsBuffered => "os-buffered",
            Tier::Memory => "memory",
        }
    }

    /// Whether the backend writes to disk (every tier but `Memory`).
    pub const fn on_disk(self) -> bool {
        !matches!(self, Tier::Memory)
    }
}

/// Where the version a backend reports (`describe().store`, `lab list`) comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// acorn's own: the workspace's version (the engine and the lab are released together).
    Acorn,
    /// A dependency of the lab, at the version Cargo.lock resolved (`build.rs` reads every
    /// dependency's, so naming the crate here is all it takes).
    Crate(&'static str),
    /// The standard library of the compiler that built the lab.
    Std,
    /// Nothing to version (`noop` stores nothing).
    None,
}

// `LOCKED`: every dependency of acorn-lab with its version from Cargo.lock (build.rs).
include!(concat!(env!("OUT_DIR"), "/locked.rs"));

impl Version {
    /// The version number: `"3.1.0"`, or `"unknown"` for a crate the lab does not depend
    /// on (the registry's tests refuse that).
    pub fn number(self) -> &'static str {
        match self {
            Version::Acorn => env!("CARGO_PKG_VERSION"),
            Version::Crate(name) => LOCKED
                .iter()
                .find(|(n, _)| *n == name)
                .map_or("unknown", |(_, v)| v),
            Version::Std => env!("LAB_RUSTC_VERSION"),
            Version::None => "none",
        }
    }

    /// What `lab list` shows: `"redb 3.1.0"`, `"acorn 0.1.0"`, `"std (rustc 1.95.0 ...)"`.
    pub fn label(self) -> String {
        match self {
            Version::Acorn => format!("acorn {}", self.number()),
            Version::Crate(name) => format!("{name} {}", self.number()),
            Version::Std => format!("std ({})", self.number()),
            Version::None => "none".into(),
        }
    }
}

/// What a backend can be measured by. Wall-clock time measures every backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measures {
    /// Wall-clock time and instruction counts.
    All,
    /// Wall-clock time only; instruction counts would rank it wrongly, for this reason.
    /// (Callgrind counts the user-space instructions of the measuring thread, so a backend
    /// whose cost is mostly elsewhere would get a misleading number rather than none.)
    WallClockOnly(&'static str),
}

/// What a backend is for: a store the reports rank, or a harness fixture they show but
/// never rank against stores. The lab records it per summary (`VariantSummary::fixture`),
/// so this is the one place that decides it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A store (the engine's variants and its peers): ranked.
    Store,
    /// A harness fixture (`noop` measures the lab's own cost per operation, `synthetic`
    /// plants a known cost for the lab's gates): shown, not ranked against stores.
    Fixture,
}

/// Why a backend that writes to disk is not counted.
pub(crate) const WRITES_TO_DISK: &str = "it writes to disk and its cost is mostly fsync and \
    kernel I/O, which instruction counts cannot see; compare it by wall clock";

/// A registered backend: everything the lab knows about it before opening it.
#[derive(Clone, Copy)]
pub struct Registration {
    /// The name workloads and `--variants` use (`plain`, `redb:durable`, ...).
    pub name: &'static str,
    /// What sets it apart from the others, in a phrase (`lab list`).
    pub about: &'static str,
    /// How durable a write is when it returns.
    pub tier: Tier,
    /// Where its version comes from.
    pub version: Version,
    /// What can measure it.
    pub measures: Measures,
    /// A store, or a harness fixture the reports do not rank.
    pub role: Role,
    /// Opens it empty, as registered (its name, its tier).
    pub open: fn(&Registration, &Options) -> Result<Box<dyn Backend>>,
}

impl Registration {
    /// A store whose measures follow its tier: every measure in memory, wall clock only on
    /// disk ([`WRITES_TO_DISK`]). A store that cannot be counted for another reason, and a
    /// fixture, spell out their registration.
    pub const fn store(
        name: &'static str,
        about: &'static str,
        tier: Tier,
        version: Version,
        open: fn(&Registration, &Options) -> Result<Box<dyn Backend>>,
    ) -> Registration {
        Registration {
            name,
            about,
            tier,
            version,
            measures: if tier.on_disk() {
                Measures::WallClockOnly(WRITES_TO_DISK)
            } else {
                Measures::All
            },
            role: Role::Store,
            open,
        }
    }

    /// Whether `measure` can measure it; `Err` says why not.
    pub fn supports(&self, measure: Measure) -> Result<(), &'static str> {
        match (measure, self.measures) {
            (Measure::WallClock, _) | (Measure::Instructions, Measures::All) => Ok(()),
            (Measure::Instructions, Measures::WallClockOnly(why)) => Err(why),
        }
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("name", &self.name)
            .field("tier", &self.tier)
            .field("version", &self.version)
            .field("measures", &self.measures)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// How many registrations the backend files declare in all.
const COUNT: usize = {
    let (mut n, mut file) = (0, 0);
    while file < super::BACKENDS.len() {
        n += super::BACKENDS[file].len();
        file += 1;
    }
    n
};

/// Every backend file's registrations in one array, built at compile time (nothing
/// allocated or initialized at run time).
static ALL: [Registration; COUNT] = {
    let files = super::BACKENDS;
    let mut all = [files[0][0]; COUNT];
    let (mut file, mut at) = (0, 0);
    while file < files.len() {
        let mut i = 0;
        while i < files[file].len() {
            all[at] = files[file][i];
            (i, at) = (i + 1, at + 1);
        }
        file += 1;
    }
    all
};

/// Every backend, in the order of the `backends!` list.
pub fn registry() -> &'static [Registration] {
    &ALL
}

/// The backend registered as `name`.
pub fn find(name: &str) -> Option<&'static Registration> {
    registry().iter().find(|r| r.name == name)
}

/// Why the backend registered as `name` cannot be measured by instruction count
/// (`--measure instructions`), or `None` when it can (or is not registered).
pub fn uncountable(name: &str) -> Option<&'static str> {
    find(name)?.supports(Measure::Instructions).err()
}

/// Whether `name` is registered as a harness fixture ([`Role::Fixture`]).
pub fn is_fixture(name: &str) -> bool {
    find(name).is_some_and(|r| r.role == Role::Fixture)
}

/// The names of every registered backend, comma separated.
pub fn known_names() -> String {
    registry()
        .iter()
        .map(|r| r.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Opens the backend registered as `name`.
pub fn open(name: &str, options: &Options) -> Result<Box<dyn Backend>> {
    let reg = find(name).ok_or_else(|| BackendError::Unknown {
        name: name.to_owned(),
        known: known_names(),
    })?;
    (reg.open)(reg, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = registry().iter().map(|r| r.name).collect();
        names.sort_unstable();
        let len = names.len();
        names.dedup();
        assert_eq!(names.len(), len, "{names:?}");
    }

    #[test]
    fn every_version_resolves() {
        for r in registry() {
            assert_ne!(r.version.number(), "unknown", "{}: {:?}", r.name, r.version);
        }
        assert_eq!(Version::Crate("no-such-crate").number(), "unknown");
        assert!(LOCKED.iter().any(|(n, _)| *n == "redb"), "{LOCKED:?}");
    }

    #[test]
    fn the_harness_fixtures_are_declared_here_and_nothing_else_is_one() {
        let fixtures: Vec<&str> = registry()
            .iter()
            .filter(|r| r.role == Role::Fixture)
            .map(|r| r.name)
            .collect();
        assert_eq!(fixtures, ["noop", "synthetic", "synthetic:durable"]);
        assert!(is_fixture("noop") && !is_fixture("plain") && !is_fixture("no-such"));
    }

    #[test]
    fn backends_that_write_to_disk_are_not_counted() {
        for r in registry() {
            if r.tier.on_disk() {
                assert!(r.supports(Measure::Instructions).is_err(), "{}", r.name);
            }
            assert_eq!(r.supports(Measure::WallClock), Ok(()), "{}", r.name);
        }
    }
}
