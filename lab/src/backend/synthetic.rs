//! `synthetic`: `btreemap` with a known amount of extra work on its read path, for checking
//! the lab's own gates rather than for comparing stores. `LAB_SYNTHETIC_READ_WORK=N` adds N
//! rounds of integer arithmetic to every read (read when the backend opens; default 0, when
//! it is `btreemap` under another name). A test sets N to make reads a known fraction more
//! expensive and checks that `lab compare` flags exactly that.

use std::borrow::Cow;
use std::hint::black_box;

use super::btreemap::Map;
use super::peer::{Items, Kv, Peer};
use super::{store_err, Backend, BackendInfo, Measures, Options, Registration, Result, Role, Tier, Version};

/// The environment variable that sets the extra rounds per read.
pub const READ_WORK_VAR: &str = "LAB_SYNTHETIC_READ_WORK";

pub(crate) const REGISTRATIONS: &[Registration] = &[Registration {
    name: "synthetic",
    about: "btreemap plus LAB_SYNTHETIC_READ_WORK rounds of arithmetic per read: checks the \
            lab's own gates",
    tier: Tier::Memory,
    version: Version::Std,
    measures: Measures::All,
    role: Role::Fixture,
    open,
}];

/// `btreemap`'s map, and the rounds of work each read adds.
struct Synthetic {
    map: Map,
    rounds: u64,
}

fn open(reg: &Registration, options: &Options) -> Result<Box<dyn Backend>> {
    let rounds = match std::env::var(READ_WORK_VAR) {
        Err(_) => 0,
        Ok(v) => v.trim().parse().map_err(|_| {
            store_err(
                reg.name,
                format!("{READ_WORK_VAR}={v:?}: not a number of rounds per read"),
            )
        })?,
    };
    let map = Map::new(options);
    Peer::open(reg, options, Synthetic { map, rounds })
}

/// `rounds` rounds of arithmetic the compiler cannot fold away: a fixed cost per round.
#[inline(never)]
fn work(rounds: u64) -> u64 {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..rounds {
        x = black_box(x.rotate_left(5) ^ i).wrapping_mul(0x2545_f491_4f6c_dd1d);
    }
    x
}

impl Kv for Synthetic {
    fn describe(&self, info: BackendInfo) -> BackendInfo {
        BackendInfo {
            store: format!(
                "btreemap plus {} rounds of arithmetic per read ({READ_WORK_VAR}); a test fixture",
                self.rounds
            ),
            ..self.map.describe(info)
        }
    }

    fn get<T>(
        &self,
        key: &[u8],
        scratch: &mut Vec<u8>,
        read: impl FnOnce(&[u8]) -> T,
    ) -> Result<Option<T>> {
        black_box(work(self.rounds));
        self.map.get(key, scratch, read)
    }

    fn put(&self, key: &[u8], value: Cow<'_, [u8]>) -> Result<()> {
        self.map.put(key, value)
    }

    fn delete(&self, key: &[u8]) -> Result<bool> {
        self.map.delete(key)
    }

    fn scan(&self, start: &[u8], each: impl FnMut(&[u8], &[u8]) -> Result<bool>) -> Result<()> {
        self.map.scan(start, each)
    }

    fn put_batch(&self, items: Items<'_>) -> Result<()> {
        self.map.put_batch(items)
    }
}
