//! Valgrind client requests: the few instructions valgrind's `valgrind.h` defines for a
//! program to talk to the tool it runs under. Natively they do nothing (the rotations add up
//! to a full turn and `xchg rbx, rbx` is a no-op), so the result is the default.
//!
//! Written out here rather than taken from a crate: the maintained binding (crabgrind)
//! compiles a C shim against valgrind's headers at build time (bindgen and libclang from
//! 0.3 on), so every build of the lab would need valgrind installed, or would get stubs that
//! panic at run time; the request itself is a stable five-instruction sequence.
//!
//! Only x86_64 Linux has them; elsewhere they are no-ops and [`SUPPORTED`] is false, and
//! callgrind is then started with instrumentation on from the beginning (slower, same
//! counts).
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};

/// Whether client requests reach valgrind on this platform.
pub const SUPPORTED: bool = cfg!(all(target_arch = "x86_64", target_os = "linux"));

/// `VG_USERREQ_TOOL_BASE('C', 'T')`: callgrind's requests (`callgrind.h`).
const CALLGRIND_BASE: usize = ((b'C' as usize) << 24) | ((b'T' as usize) << 16);
/// `VG_USERREQ__START_INSTRUMENTATION`: the fifth of callgrind's requests.
const START_INSTRUMENTATION: usize = CALLGRIND_BASE + 4;
/// `VG_USERREQ__RUNNING_ON_VALGRIND` (`valgrind.h`).
const RUNNING_ON_VALGRIND: usize = 0x1001;

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn request(default: usize, request: usize, arg1: usize) -> usize {
    let args: [usize; 6] = [request, arg1, 0, 0, 0, 0];
    let result: usize;
    // SAFETY: valgrind's x86_64 client-request sequence (`VALGRIND_DO_CLIENT_REQUEST_EXPR`
    // in valgrind.h). Natively: four rotations of rdi by 3 + 13 + 61 + 51 = 128 bits leave it
    // unchanged, `xchg rbx, rbx` changes nothing, rdx keeps `default`; only the flags change
    // (declared by not preserving them). Under valgrind, the tool reads the six words `rax`
    // points to (a live local array) and writes its answer to rdx.
    unsafe {
        std::arch::asm!(
            "rol rdi, 3",
            "rol rdi, 13",
            "rol rdi, 61",
            "rol rdi, 51",
            "xchg rbx, rbx",
            inout("rdx") default => result,
            in("rax") args.as_ptr(),
            options(nostack),
        );
    }
    result
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn request(default: usize, _request: usize, _arg1: usize) -> usize {
    default
}

/// Turns callgrind's instrumentation on (a process started with `--instr-atstart=no` runs
/// uninstrumented, many times faster, until then). Does nothing natively.
pub fn start_instrumentation() {
    request(0, START_INSTRUMENTATION, 0);
}

/// How many valgrinds deep this process runs: 0 natively.
pub fn running_on_valgrind() -> usize {
    request(0, RUNNING_ON_VALGRIND, 0)
}

/// The state of [`fixed_random`]'s stream.
static RANDOM: AtomicU64 = AtomicU64::new(0x6c61_625f_7365_6564);

/// Fills `buf` from a fixed stream (SplitMix64 from a constant seed): the same bytes, in
/// the same order of calls, in every process. The lab's `getrandom` wrapper hands these out
/// under valgrind only (see `lab/src/main.rs`), so the seeds of every hash table in a
/// counted run (std's `RandomState`, ahash's) are the same in every run, and with them the
/// instructions each hash lookup takes.
pub fn fixed_random(buf: &mut [u8]) {
    for chunk in buf.chunks_mut(8) {
        let mut z = RANDOM
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
    }
}

/// The state of [`fixed_time_ns`]'s clock: nanoseconds since the Unix epoch (2026-01-01).
static TIME_NS: AtomicU64 = AtomicU64::new(1_767_225_600_000_000_000);

/// A clock that reads the same in every process: 1 µs later at every call, from a fixed
/// start. The lab's `clock_gettime` wrapper hands it out under valgrind only (see
/// `lab/src/main.rs`), so what depends on the time in a counted run — hash seeds mixed
/// from the clock (foldhash's, inside rusqlite's statement cache), a timestamp that must
/// move past the last one, tokio's clock — takes the same instructions in every run.
pub fn fixed_time_ns() -> u64 {
    TIME_NS.fetch_add(1_000, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixed_clock_moves_forward_by_a_microsecond() {
        let a = fixed_time_ns();
        let b = fixed_time_ns();
        assert!(b > a && b - a >= 1_000, "{a} {b}");
    }

    #[test]
    fn natively_requests_do_nothing_and_answer_the_default() {
        // Tests do not run under valgrind.
        assert_eq!(running_on_valgrind(), 0);
        start_instrumentation();
        assert_eq!(request(7, START_INSTRUMENTATION, 0), 7);
        assert_eq!(START_INSTRUMENTATION, 0x4354_0004);
    }

    #[test]
    fn fixed_random_fills_every_byte_and_moves_on() {
        let (mut a, mut b) = ([0u8; 13], [0u8; 13]);
        fixed_random(&mut a);
        fixed_random(&mut b);
        assert_ne!(a, b);
        assert!(a.iter().any(|x| *x != 0) && a[8..].iter().any(|x| *x != 0));
    }
}
