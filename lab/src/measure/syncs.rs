//! Counting the process's sync calls (`fsync`, `fdatasync`, `msync`, `sync_file_range`,
//! `syncfs`): what a durable store really asks the kernel to make durable, counted rather
//! than declared.
//!
//! How: the executable defines those five C functions itself ([`count_sync_calls!`], in
//! `main.rs`, and in the library's own unit tests). An executable's definition of a symbol
//! wins over the C library's for every object linked into it, so every caller in the
//! process (Rust's `File::sync_all` / `sync_data`, which redb, fjall and acorn use, and
//! SQLite's C code) reaches the counting function, which adds one to a process-wide counter
//! and makes the system call itself (`syscall(2)`). Exact, and cheap next to the call it
//! counts (one atomic add), with no privileges, no tracer and no second process.
//!
//! Limits: calls made by a raw system call instruction (not through the C library's
//! functions: rustix's `linux_raw` backend, io_uring) and calls inside the C library itself
//! are not seen; no store the lab runs makes them. Counters are process-wide, so a phase's
//! count is the count of every thread (the store's background threads included) while it
//! ran: variants running at once (parallel mode) cannot be told apart, and the runner does
//! not count them. In an executable without the definitions (the library used by another
//! program) nothing is counted, and [`counting`] says so.
//!
//! Why not the alternatives (evaluated for issue 26): the `syscalls:sys_enter_fsync`
//! tracepoint through `perf_event_open` is exact too, but needs tracefs mounted to learn
//! the tracepoint's id (it is not on this VM) and perf privileges; `strace -c -f` stops the
//! process on every counted call and counts a whole process, not a phase; an `LD_PRELOAD`
//! shim is this, built separately and loaded by hand.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// A counted call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncCall {
    Fsync,
    Fdatasync,
    Msync,
    SyncFileRange,
    Syncfs,
}

impl SyncCall {
    /// Every counted call, in index order.
    pub const ALL: [SyncCall; 5] = [
        SyncCall::Fsync,
        SyncCall::Fdatasync,
        SyncCall::Msync,
        SyncCall::SyncFileRange,
        SyncCall::Syncfs,
    ];

    /// The C function's name (what results key the count by).
    pub fn name(self) -> &'static str {
        match self {
            SyncCall::Fsync => "fsync",
            SyncCall::Fdatasync => "fdatasync",
            SyncCall::Msync => "msync",
            SyncCall::SyncFileRange => "sync_file_range",
            SyncCall::Syncfs => "syncfs",
        }
    }
}

static COUNTS: [AtomicU64; 5] = [
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
];

/// Counts one call (the functions [`count_sync_calls!`] defines call it).
pub fn record(call: SyncCall) {
    COUNTS[call as usize].fetch_add(1, Ordering::Relaxed);
}

/// The calls counted so far in this process, by [`SyncCall`] index.
pub fn snapshot() -> [u64; 5] {
    std::array::from_fn(|i| COUNTS[i].load(Ordering::Relaxed))
}

/// Whether this executable counts sync calls; `Err` says why not. Found out once, by
/// calling `fsync` on an invalid descriptor (it fails at once, touching nothing) and
/// looking whether the counter moved.
pub fn counting() -> Result<(), &'static str> {
    static PROBED: OnceLock<bool> = OnceLock::new();
    let counts = *PROBED.get_or_init(|| {
        let before = snapshot()[SyncCall::Fsync as usize];
        // SAFETY: fsync(2) on an invalid descriptor only returns EBADF.
        #[allow(unsafe_code)]
        let _ = unsafe { libc::fsync(-1) };
        snapshot()[SyncCall::Fsync as usize] > before
    });
    if counts {
        Ok(())
    } else {
        Err("this executable does not define the counting sync functions (count_sync_calls!)")
    }
}

/// Makes `call`'s system call with up to four arguments, as the C library's function
/// would, and counts it. For the functions [`count_sync_calls!`] defines.
///
/// # Safety
/// The arguments are the C function's (`msync`'s address range must be a mapping of the
/// caller's); the kernel checks descriptors and flags.
#[allow(unsafe_code)]
pub unsafe fn call(
    call: SyncCall,
    a: libc::c_long,
    b: libc::c_long,
    c: libc::c_long,
    d: libc::c_long,
) -> libc::c_int {
    record(call);
    let nr = match call {
        SyncCall::Fsync => libc::SYS_fsync,
        SyncCall::Fdatasync => libc::SYS_fdatasync,
        SyncCall::Msync => libc::SYS_msync,
        SyncCall::SyncFileRange => libc::SYS_sync_file_range,
        SyncCall::Syncfs => libc::SYS_syncfs,
    };
    // SAFETY: the caller passes the C function's own arguments (see above); syscall(2)
    // returns -1 with errno set on failure, as the C functions do.
    let r = unsafe { libc::syscall(nr, a, b, c, d) };
    r as libc::c_int
}

/// `syncfs(2)` on the file system holding `dir`, not counted (the lab's own, around a
/// phase): every dirty page of that file system is written back when it returns.
pub fn sync_file_system(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(dir)?;
    // SAFETY: syncfs(2) on a descriptor this function owns for the call's duration.
    #[allow(unsafe_code)]
    let r = unsafe { libc::syscall(libc::SYS_syncfs, libc::c_long::from(f.as_raw_fd())) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Defines `fsync`, `fdatasync`, `msync`, `sync_file_range` and `syncfs` in the executable
/// that invokes it (once, at the crate's top level: `lab`'s `main.rs`), so that every sync
/// call in the process is counted ([`counting`] then says `Ok`). See the module's comment.
#[macro_export]
macro_rules! count_sync_calls {
    () => {
        /// Counts the call, then makes it (see `acorn_lab::measure::syncs`).
        ///
        /// # Safety
        /// fsync(3)'s contract.
        #[allow(unsafe_code)]
        #[no_mangle]
        pub unsafe extern "C" fn fsync(fd: i32) -> i32 {
            use $crate::measure::syncs::{call, SyncCall};
            // SAFETY: the C function's own arguments.
            unsafe { call(SyncCall::Fsync, fd.into(), 0, 0, 0) }
        }

        /// Counts the call, then makes it.
        ///
        /// # Safety
        /// fdatasync(3)'s contract.
        #[allow(unsafe_code)]
        #[no_mangle]
        pub unsafe extern "C" fn fdatasync(fd: i32) -> i32 {
            use $crate::measure::syncs::{call, SyncCall};
            // SAFETY: the C function's own arguments.
            unsafe { call(SyncCall::Fdatasync, fd.into(), 0, 0, 0) }
        }

        /// Counts the call, then makes it.
        ///
        /// # Safety
        /// msync(3)'s contract: `addr..addr + len` is a mapping of the caller's.
        #[allow(unsafe_code)]
        #[no_mangle]
        pub unsafe extern "C" fn msync(addr: *mut u8, len: usize, flags: i32) -> i32 {
            use $crate::measure::syncs::{call, SyncCall};
            // SAFETY: the C function's own arguments.
            unsafe { call(SyncCall::Msync, addr as _, len as _, flags.into(), 0) }
        }

        /// Counts the call, then makes it.
        ///
        /// # Safety
        /// sync_file_range(2)'s contract.
        #[allow(unsafe_code)]
        #[no_mangle]
        pub unsafe extern "C" fn sync_file_range(fd: i32, offset: i64, n: i64, flags: u32) -> i32 {
            use $crate::measure::syncs::{call, SyncCall};
            // SAFETY: the C function's own arguments.
            unsafe {
                call(
                    SyncCall::SyncFileRange,
                    fd.into(),
                    offset as _,
                    n as _,
                    flags as _,
                )
            }
        }

        /// Counts the call, then makes it.
        ///
        /// # Safety
        /// syncfs(2)'s contract.
        #[allow(unsafe_code)]
        #[no_mangle]
        pub unsafe extern "C" fn syncfs(fd: i32) -> i32 {
            use $crate::measure::syncs::{call, SyncCall};
            // SAFETY: the C function's own arguments.
            unsafe { call(SyncCall::Syncfs, fd.into(), 0, 0, 0) }
        }
    };
}
