//! The proof of README's "Guarantees (durable mode)": one module per line of that section,
//! each trying to break its line on purpose. Run: `cargo test -p acorn --test guarantees`
//! (the crate's tests turn on the `fault-injection` feature, which gives `FaultyIo`).
//!
//! | README line | tests |
//! |---|---|
//! | Process killed | [`process_killed`] (a torn tail is cut, counted and logged); `tests/crash/` (SIGKILL at random — under buffered `Never` a prefix of the acknowledged batches with every flushed one — and with a compaction held after its cut, with its temporary snapshot written, after its rename: at least two segments on disk; `scripts/soak.sh` for minutes); `tests/durable.rs::a_torn_tail_at_every_byte_recovers_exactly_the_complete_frames`; `tests/durable.rs::never_*` (the buffer: batched writes, written out at drop, after its delay and at `flush()`) |
//! | Power loss or OS crash | [`power_loss`] (`FaultyIo::lose_unsynced` under writers and compactions; `Never` loses only unflushed writes; only `Group` shows a commit before its fsync) |
//! | Disk full or an I/O error | [`io_errors`] (every call of a workload failed in turn with `ENOSPC`, `EIO`, a short write; failed compactions leave the tree writable); `tests/durable.rs::never_flush_writes_out_and_a_failed_buffered_write_keeps_a_prefix` |
//! | `LOCK` deleted | [`lock`]; `tests/crash/` (across processes, under every killed child) |
//! | A tree dropped while another thread spawns a process | [`lock`] (a child that sleeps between its fork and its exec holds copies of the locks while the tree is dropped and reopened); a forked child dropping its copies leaves the parent locked: `storage::lock`'s unit test |
//! | Directory deleted, moved or replaced | [`moved_directory`] |
//! | A missing or damaged file | [`damaged_files`]: the regressions of issue 25 (defects 1, 2, 3, 8) and 13, and every file of every state of [`states`] (compactions failed at each step, cuts stopped half way) damaged every way of [`damage`] — strict opens hold every acknowledged write or refuse naming the file and changing nothing, remove no unproven file, and salvage reports exactly what a strict reopen then lacks |
//! | A directory written by an older acorn | [`older_format`] (format 2 fixtures); format 1: unit tests in `storage/recovery` |
//! | A checkpoint | [`checkpoint`] (every call of a checkpoint failed in turn, hard links refused, a power loss right after it, a checkpoint of every state of [`states`]); `tests/checkpoint.rs` (taken while writers commit and a compactor cuts the log; two checkpoints into one directory at once); `tests/crash/` (killed while checkpointing) |
//! | A read-only open | [`read_only`] (every state of [`states`] damaged every way: nothing on disk changes, no lock is taken, it opens when and as a strict open does); `tests/read_only.rs` (beside a writer that compacts all the time); `tests/crash/` (beside a writer process killed again and again) |
//! | A compressed tree | `tests/compression.rs` (a model across reopens and switches, a flipped bit in a compressed frame and in a compressed snapshot chunk, salvage, the fixture refused without the feature); `tests/crash/` (the `group` scenario compresses with the feature) |
//! | A panicking callback (README, just above the section: it holds in memory too) | `tests/callback_panics/` (its own test binary, with the `tokio` feature): extractors (commits, index creation, reopen, an impure one), query filters and `order_by` keys, `crack_with`/`next_ref`, transaction closures and a panicking `Subscription` consumer, in memory and under every `SyncPolicy`, blocking and async: the call fails alone, nothing hangs, index and data stay together, reopens hold exactly the acknowledged writes |

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod checkpoint;
mod damage;
mod damaged_files;
mod io_errors;
mod lock;
mod moved_directory;
mod older_format;
mod power_loss;
mod process_killed;
mod read_only;
#[path = "../common/runtime.rs"]
mod runtime;
mod states;
mod support;
#[path = "../common/trees.rs"]
mod trees;
