//! Stage two, one table at a time: each section of a workload file has its own constructor
//! (`Dataset::from_spec`, `RunSettings::from_spec`, `Mix::from_spec`, ...) that checks its
//! keys and fills its defaults. Adding a key touches its spec struct and one constructor.
//!
//! One file per part of the file: `dataset.rs` (`[dataset]`, `[cache]`, `[query]`: what is
//! loaded and asked), `run.rs` (`[run]`: threads, phases, pacing), `mix.rs` (`[mix]` and
//! `[distribution]`: which operations, on which keys), `variants.rs` (`variants`,
//! `--variants` and `[[target]]`: what runs and what it is held to).

mod dataset;
mod mix;
mod run;
mod variants;

pub(crate) use dataset::query_from_spec;
pub use dataset::{CacheSettings, Dataset};
pub use mix::Mix;
pub use run::{Bound, Mode, RunSettings};
pub(crate) use variants::{target_from_spec, variants_from_spec};
pub use variants::{variants_from_cli, DEFAULT_VARIANTS};
