//! `lab`: parses arguments, dispatches to [`acorn_lab::commands`], and turns the outcome
//! into the exit code (the table is in `acorn_lab::error` and `lab --help`).

use std::process::ExitCode;

use acorn_lab::cli::{Cli, Command};
use acorn_lab::commands;
use acorn_lab::error::Exit;
use acorn_lab::measure::alloc::CountingAlloc;
use clap::Parser;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

// Every sync call in the process is counted (`acorn_lab::measure::syncs`).
acorn_lab::count_sync_calls!();

/// Under valgrind only, this replaces libc's `getrandom` (valgrind's function wrapping finds
/// it by this encoded name: `getrandom` in `libc.so*`), handing out a fixed stream instead,
/// so the hash-table seeds of the stores under test (std's `RandomState`, ahash) and with
/// them the instructions of a counted run (`lab run --measure instructions`) are the same
/// in every run. Natively nothing calls it. It lives in the binary because valgrind reads
/// wrappers from the loaded objects' symbols and a library's unreferenced code is dropped.
///
/// # Safety
/// getrandom(2)'s contract: `buf` points to `len` writable bytes.
#[allow(unsafe_code, non_snake_case)]
#[no_mangle]
pub unsafe extern "C" fn _vgw00000ZU_libcZdsoZa_getrandom(
    buf: *mut u8,
    len: usize,
    _flags: u32,
) -> isize {
    if buf.is_null() || len == 0 {
        return 0;
    }
    // SAFETY: getrandom(2)'s contract: `buf` points to `len` writable bytes, not aliased
    // for the duration of the call.
    let bytes = unsafe { std::slice::from_raw_parts_mut(buf, len) };
    acorn_lab::measure::client::fixed_random(bytes);
    isize::try_from(len).unwrap_or(isize::MAX)
}

/// Keeps the wrapper in the executable (the linker would drop an unreferenced function).
#[used]
static KEEP_GETRANDOM_WRAPPER: unsafe extern "C" fn(*mut u8, usize, u32) -> isize =
    _vgw00000ZU_libcZdsoZa_getrandom;

/// `struct timespec` on 64-bit Linux.
#[derive(Debug)]
#[repr(C)]
pub struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

/// Under valgrind only, this replaces libc's `clock_gettime` (every clock) with a fixed
/// clock that moves 1 µs per call (`measure::client::fixed_time_ns`), for the same reason
/// as the `getrandom` wrapper above: foldhash mixes the time into its hash seeds
/// (rusqlite's statement cache uses it), and code that compares timestamps takes a branch
/// that depends on how fast the clock moved. A counted run never reads the clock for a
/// measurement (callgrind counts), so nothing it reports depends on the real time.
/// Natively nothing calls it.
///
/// # Safety
/// clock_gettime(2)'s contract: `ts` points to a writable `struct timespec` (or is null).
#[allow(unsafe_code, non_snake_case)]
#[no_mangle]
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
pub unsafe extern "C" fn _vgw00000ZU_libcZdsoZa_clock_gettime(
    _clock: i32,
    ts: *mut Timespec,
) -> i32 {
    let ns = acorn_lab::measure::client::fixed_time_ns();
    if !ts.is_null() {
        // SAFETY: clock_gettime(2)'s contract: a non-null `ts` points to a writable
        // `struct timespec`, which on 64-bit Linux is two i64s (`Timespec`).
        unsafe {
            *ts = Timespec {
                tv_sec: (ns / 1_000_000_000) as i64,
                tv_nsec: (ns % 1_000_000_000) as i64,
            };
        }
    }
    0
}

/// Keeps the wrapper in the executable.
#[used]
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
static KEEP_CLOCK_GETTIME_WRAPPER: unsafe extern "C" fn(i32, *mut Timespec) -> i32 =
    _vgw00000ZU_libcZdsoZa_clock_gettime;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            let code = if e.use_stderr() {
                Exit::BadInput
            } else {
                Exit::Success // --help, --version
            };
            return ExitCode::from(code.code());
        }
    };
    let outcome = match &cli.command {
        Command::Run(args) => commands::run(args),
        Command::Compare {
            base,
            new,
            threshold,
            reference,
            formats,
        } => commands::compare(
            base,
            new,
            threshold.as_deref(),
            reference.as_deref(),
            formats,
        ),
        Command::Export {
            format,
            results,
            output,
        } => acorn_lab::formats::export(format, results, output.as_deref()),
        Command::Report {
            results,
            out,
            baseline,
            beside,
        } => commands::report(
            results,
            out.as_deref(),
            baseline.as_deref(),
            beside.as_deref(),
        ),
        Command::Merge { files, output } => commands::merge(files, output),
        Command::Validate { files } => commands::validate(files),
        Command::List => commands::list(),
        Command::Sample { file, ops, seed } => commands::sample(file, *ops, *seed),
        Command::Count(args) => commands::count(args),
        Command::Ab(args) => commands::ab(args),
        Command::Sweep(args) => commands::sweep(args),
        Command::Worker(args) => commands::worker(args),
    };
    match outcome {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
