//! One open tree per directory, across threads and processes.
//!
//! The lock is an OS lock (`flock`) on the directory itself, so deleting or replacing a file
//! in it cannot release it; the process dying does. A `LOCK` file is locked too, for tools
//! that look for it (and where a directory cannot be opened as a file).
//!
//! Such a lock belongs to the open file, not to the process, and a forked child holds a
//! copy of every open file of its parent until it runs its program (they are all
//! close-on-exec). Closing our handle would leave the lock held through a child spawned
//! at that moment by any thread, and a reopen would be `Locked`. So a handle unlocks
//! before it closes ([`Flock`]): an unlock releases the lock for every copy. For that
//! reason only the process that took the lock unlocks: a forked child that drops its
//! copies (before its program runs, or because it never runs one) only closes them, and
//! the parent stays locked while it writes.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use crate::{Error, Result};

/// Holds the locks until dropped (the OS also releases them if the process dies).
#[derive(Debug)]
pub(crate) struct DirLock {
    _dir: Option<Flock>,
    _file: Flock,
}

/// A file this process locked: unlocked when dropped by the process that locked it
/// (a forked child's copy is only closed), then closed.
#[derive(Debug)]
pub(crate) struct Flock {
    file: File,
    /// The process that took the lock.
    owner: u32,
}

impl Flock {
    /// `file`, just locked by this process.
    fn new(file: File) -> Self {
        Flock {
            file,
            owner: std::process::id(),
        }
    }
}

impl Drop for Flock {
    fn drop(&mut self) {
        if std::process::id() == self.owner {
            // An error leaves only what closing leaves: the lock, until every copy is
            // closed.
            let _ = self.file.unlock();
        }
    }
}

fn take(file: &File, dir: &Path, what: &Path) -> Result<()> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(TryLockError::WouldBlock) => Err(Error::Locked {
            path: dir.to_path_buf(),
        }),
        Err(TryLockError::Error(e)) => Err(super::io_at(what, e)),
    }
}

impl DirLock {
    pub(crate) fn acquire(dir: &Path) -> Result<Self> {
        let dir_handle = lock_directory(dir)?;
        let path = dir.join("LOCK");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| super::io_at(&path, e))?;
        take(&file, dir, &path)?;
        Ok(Self {
            _dir: dir_handle,
            _file: Flock::new(file),
        })
    }
}

/// Locks the directory itself (not its `LOCK` file): what a checkpoint holds while it fills
/// a directory, so that neither a second checkpoint nor a tree opens it meanwhile. Held
/// until the handle is dropped; `Error::Locked` when another holds it.
#[cfg(unix)]
pub(crate) fn lock_directory(dir: &Path) -> Result<Option<Flock>> {
    let handle = File::open(dir).map_err(|e| super::io_at(dir, e))?;
    take(&handle, dir, dir)?;
    Ok(Some(Flock::new(handle)))
}

/// Windows cannot open a directory as a `File`; it also refuses to delete a file another
/// handle has open, so the `LOCK` file alone holds there.
#[cfg(not(unix))]
pub(crate) fn lock_directory(_dir: &Path) -> Result<Option<Flock>> {
    Ok(None)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// A child forked while the tree is open holds copies of its locked files, and may drop
    /// them before it runs its program (or without ever running one: a process that forks
    /// and whose child drops what it inherited). The lock is the parent's: a child's drop
    /// must neither keep it (closing alone does not) nor release it (an unlock would, for
    /// every copy), or a second writer opens the directory while the parent still writes.
    #[test]
    fn a_forked_child_dropping_its_copy_leaves_the_parent_locked() {
        use std::os::unix::process::CommandExt;
        let dir = tempfile::tempdir().unwrap();
        let mut lock = DirLock::acquire(dir.path()).unwrap();
        let at = std::ptr::addr_of_mut!(lock) as usize;
        let mut child = std::process::Command::new("true");
        #[allow(unsafe_code)]
        // SAFETY: the closure runs in the forked child, on the child's copy of `lock`,
        // which nothing in the child uses again; dropping it only unlocks and closes.
        unsafe {
            child.pre_exec(move || {
                std::ptr::drop_in_place(at as *mut DirLock);
                Ok(())
            });
        }
        assert!(child.status().unwrap().success());
        match DirLock::acquire(dir.path()) {
            Err(Error::Locked { .. }) => {}
            other => panic!("a child's drop released the parent's lock: {other:?}"),
        }
        drop(lock);
        DirLock::acquire(dir.path()).expect("free once the parent drops it");
    }
}
