//! An I/O layer that fails on purpose, for tests (feature `fault-injection`, off by
//! default, not part of the supported API). The model is RocksDB's `FaultInjectionTestFS`
//! and redb's `FailingBackend`: every change durable mode makes to a directory goes through
//! [`FaultyIo`] (given to `TreeBuilder::io`), which counts and logs each call and asks a
//! plan what to do with it: let it through, fail it with an OS error (`ENOSPC`, `EIO`), cut
//! a write short, or halt the machine (this call and every later one fail, as if the power
//! went). Because it records how long each file was at its last fsync,
//! [`FaultyIo::lose_unsynced`] then does what a power loss does to data that was written
//! but not fsynced. Reads are not routed: a failed read is an error at open and changes
//! nothing.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

pub use super::io::Call;
use super::io::{Io, StdIo};

/// `ENOSPC`: no space left on device.
pub const ENOSPC: i32 = 28;
/// `EIO`: an I/O error.
pub const EIO: i32 = 5;

/// One call, as the plan sees it.
#[derive(Debug)]
pub struct CallInfo<'a> {
    /// What kind of call.
    pub call: Call,
    /// 1 for the first call of this kind, 2 for the second, and so on.
    pub nth: u64,
    /// Its position among all calls, from 0 (an index into [`FaultyIo::calls`]).
    pub index: usize,
    /// The file (or, for [`Call::SyncDir`], the directory; for [`Call::Rename`], the
    /// target) it names.
    pub path: &'a Path,
}

/// What to do with a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Do it.
    Pass,
    /// Do nothing and fail with this OS error (e.g. [`ENOSPC`], [`EIO`]).
    Fail(i32),
    /// A write takes the first half of its bytes, then fails with this OS error (a disk
    /// filling up in the middle of a write); any other call just fails with it.
    Short(i32),
    /// The machine stops: a write takes the first half of its bytes, and this call and
    /// every later one fail with [`EIO`]. Follow with [`FaultyIo::lose_unsynced`] for a
    /// power loss.
    Halt,
}

type Plan = Box<dyn Fn(&CallInfo<'_>) -> Action + Send + Sync>;

#[derive(Debug, Default)]
struct State {
    counts: BTreeMap<Call, u64>,
    calls: Vec<(Call, PathBuf)>,
    /// The first call the plan did not let through, as an index into `calls`.
    fired: Option<usize>,
    halted: bool,
    /// Length of each file written through this layer at its last fsync (or creation).
    synced: HashMap<PathBuf, u64>,
}

/// The real filesystem, with a plan that may fail any call; see the module comment.
pub struct FaultyIo {
    plan: Plan,
    fsync: bool,
    state: Mutex<State>,
}

impl fmt::Debug for FaultyIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultyIo")
            .field("fsync", &self.fsync)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl FaultyIo {
    /// Asks `plan` about every call, from another thread than the caller's only when the
    /// tree calls from one (a plan may block, to hold a call while a test kills the process).
    pub fn new(plan: impl Fn(&CallInfo<'_>) -> Action + Send + Sync + 'static) -> FaultyIo {
        FaultyIo {
            plan: Box::new(plan),
            fsync: true,
            state: Mutex::new(State::default()),
        }
    }

    /// Lets every call through, counting and logging them.
    pub fn counting() -> FaultyIo {
        FaultyIo::new(|_| Action::Pass)
    }

    /// Does `action` to the `nth` call of kind `call` (from 1), and lets the rest through.
    pub fn on_nth(call: Call, nth: u64, action: Action) -> FaultyIo {
        FaultyIo::new(move |c| {
            if c.call == call && c.nth == nth {
                action
            } else {
                Action::Pass
            }
        })
    }

    /// Records fsyncs instead of making them (faster; lengths are still tracked for
    /// [`FaultyIo::lose_unsynced`]). Only for tests of failures and process death.
    #[must_use]
    pub fn without_fsync(mut self) -> FaultyIo {
        self.fsync = false;
        self
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Calls of each kind so far.
    pub fn counts(&self) -> BTreeMap<Call, u64> {
        self.state().counts.clone()
    }

    /// Every call so far, in order, with the path it named.
    pub fn calls(&self) -> Vec<(Call, PathBuf)> {
        self.state().calls.clone()
    }

    /// The first call the plan did not let through: its index into [`FaultyIo::calls`],
    /// kind and path.
    pub fn fired(&self) -> Option<(usize, Call, PathBuf)> {
        let s = self.state();
        s.fired.map(|i| (i, s.calls[i].0, s.calls[i].1.clone()))
    }

    /// Whether the plan halted the machine.
    pub fn halted(&self) -> bool {
        self.state().halted
    }

    /// A power loss: halts (every later call fails), then cuts every file written through
    /// this layer back to its length at its last fsync (a file created and never fsynced
    /// loses everything). Directory changes (creations, renames, removals) are kept, as
    /// if each had been made durable. Returns the bytes lost.
    pub fn lose_unsynced(&self) -> io::Result<u64> {
        let mut s = self.state();
        s.halted = true;
        let mut lost = 0;
        for (path, &synced) in &s.synced {
            let Ok(meta) = std::fs::metadata(path) else {
                continue;
            };
            if meta.is_file() && meta.len() > synced {
                lost += meta.len() - synced;
                OpenOptions::new().write(true).open(path)?.set_len(synced)?;
            }
        }
        Ok(lost)
    }

    /// Counts and logs the call, then asks the plan (outside the lock: a plan may block).
    fn enter(&self, call: Call, path: &Path) -> Action {
        let (nth, index) = {
            let mut s = self.state();
            let n = s.counts.entry(call).or_insert(0);
            *n += 1;
            let nth = *n;
            s.calls.push((call, path.to_path_buf()));
            if s.halted {
                return Action::Fail(EIO);
            }
            (nth, s.calls.len() - 1)
        };
        let action = (self.plan)(&CallInfo {
            call,
            nth,
            index,
            path,
        });
        if action != Action::Pass {
            let mut s = self.state();
            s.fired.get_or_insert(index);
            s.halted |= action == Action::Halt;
        }
        action
    }

    /// Runs `op` if the plan lets `call` through and the machine still runs; otherwise
    /// fails as the plan says. The operation runs under the state lock, so a power loss
    /// ([`FaultyIo::lose_unsynced`]) falls between two operations, never inside one.
    fn run<T>(
        &self,
        call: Call,
        path: &Path,
        op: impl FnOnce(&mut State) -> io::Result<T>,
    ) -> io::Result<T> {
        match self.enter(call, path) {
            Action::Pass => {
                let mut s = self.state();
                if s.halted {
                    return Err(io::Error::from_raw_os_error(EIO));
                }
                op(&mut s)
            }
            Action::Fail(errno) | Action::Short(errno) => Err(io::Error::from_raw_os_error(errno)),
            Action::Halt => Err(io::Error::from_raw_os_error(EIO)),
        }
    }
}

impl Io for FaultyIo {
    fn create(&self, path: &Path) -> io::Result<File> {
        self.run(Call::Create, path, |s| {
            let file = StdIo.create(path)?;
            s.synced.insert(path.to_path_buf(), 0);
            Ok(file)
        })
    }

    fn open_append(&self, path: &Path) -> io::Result<File> {
        self.run(Call::OpenAppend, path, |s| {
            let file = StdIo.open_append(path)?;
            // A file from before: what it holds is on disk.
            let len = file.metadata()?.len();
            s.synced.entry(path.to_path_buf()).or_insert(len);
            Ok(file)
        })
    }

    fn write(&self, file: &File, path: &Path, buf: &[u8]) -> io::Result<()> {
        let errno = match self.enter(Call::Write, path) {
            Action::Pass => {
                let s = self.state();
                if s.halted {
                    return Err(io::Error::from_raw_os_error(EIO));
                }
                return StdIo.write(file, path, buf);
            }
            Action::Fail(errno) => return Err(io::Error::from_raw_os_error(errno)),
            Action::Short(errno) => errno,
            Action::Halt => EIO,
        };
        StdIo.write(file, path, &buf[..buf.len() / 2])?;
        Err(io::Error::from_raw_os_error(errno))
    }

    fn sync(&self, file: &File, path: &Path) -> io::Result<()> {
        self.run(Call::Sync, path, |s| {
            if self.fsync {
                StdIo.sync(file, path)?;
            }
            s.synced.insert(path.to_path_buf(), file.metadata()?.len());
            Ok(())
        })
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        self.run(Call::Truncate, path, |s| {
            StdIo.truncate(path, len)?;
            s.synced.insert(path.to_path_buf(), len);
            Ok(())
        })
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.run(Call::Rename, to, |s| {
            StdIo.rename(from, to)?;
            match s.synced.remove(from) {
                Some(len) => s.synced.insert(to.to_path_buf(), len),
                None => s.synced.remove(to),
            };
            Ok(())
        })
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.run(Call::Remove, path, |s| {
            StdIo.remove(path)?;
            s.synced.remove(path);
            Ok(())
        })
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.run(Call::SyncDir, dir, |_| {
            if self.fsync {
                StdIo.sync_dir(dir)?;
            }
            Ok(())
        })
    }
}
