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
//! before it closes ([`Flock`]): an unlock releases the lock for every copy.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use crate::{Error, Result};

/// Holds the locks until dropped (the OS also releases them if the process dies).
#[derive(Debug)]
pub(crate) struct DirLock {
    _dir: Option<Flock>,
    _file: Flock,
}

/// A file this process locked: unlocked when dropped, then closed.
#[derive(Debug)]
pub(crate) struct Flock(File);

impl Drop for Flock {
    fn drop(&mut self) {
        // An error leaves only what closing leaves: the lock, until every copy is closed.
        let _ = self.0.unlock();
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
            _file: Flock(file),
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
    Ok(Some(Flock(handle)))
}

/// Windows cannot open a directory as a `File`; it also refuses to delete a file another
/// handle has open, so the `LOCK` file alone holds there.
#[cfg(not(unix))]
pub(crate) fn lock_directory(_dir: &Path) -> Result<Option<Flock>> {
    Ok(None)
}
