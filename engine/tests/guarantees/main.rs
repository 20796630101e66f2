//! The proof of README's "Guarantees (durable mode)", one module per line of that section.
//! Each module's tests try to break its line on purpose.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod damage;
mod damaged_files;
mod io_errors;
mod lock;
mod moved_directory;
mod older_format;
mod power_loss;
mod process_killed;
mod states;
mod support;
