//! Every file operation that changes a durable directory goes through [`Io`], one small
//! trait (the model is redb's `StorageBackend`): the log's appends and fsyncs, segment and
//! snapshot creation, renames, removals, truncation at recovery and directory fsyncs.
//! [`StdIo`] is the real filesystem; tests put a backend in its place that fails the k-th
//! call of a kind, to prove what each failure leaves behind. A checkpoint's copy is made
//! through it too (its hard links included). Reads are not routed: a read
//! that fails is an error at open and changes nothing.

use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// The kinds of call [`Io`] makes, for a test layer to count and fail.
#[cfg(any(test, feature = "fault-injection"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Call {
    /// Creating a file (a new segment's or snapshot's temporary file).
    Create,
    /// Opening a segment to append to it.
    OpenAppend,
    /// Writing to a file.
    Write,
    /// fsyncing a file.
    Sync,
    /// Cutting a file short (a torn tail at open).
    Truncate,
    /// Renaming a file into place.
    Rename,
    /// Removing a file.
    Remove,
    /// fsyncing a directory.
    SyncDir,
    /// Giving a file a second name (a checkpoint's hard link).
    Link,
}

#[cfg(any(test, feature = "fault-injection"))]
impl Call {
    /// Every kind.
    pub const ALL: [Call; 9] = [
        Call::Create,
        Call::OpenAppend,
        Call::Write,
        Call::Sync,
        Call::Truncate,
        Call::Rename,
        Call::Remove,
        Call::SyncDir,
        Call::Link,
    ];
}

/// The operations durable mode performs on files. Each returns the operating system's
/// error unchanged; callers add the path and decide what the failure means.
pub(crate) trait Io: Debug + Send + Sync {
    /// Creates `path` empty (replacing any file there) for writing at its start.
    fn create(&self, path: &Path) -> io::Result<File>;
    /// Opens the existing file `path` for appending at its end.
    fn open_append(&self, path: &Path) -> io::Result<File>;
    /// Writes all of `buf` at the file's position. On error, any prefix may have been
    /// written.
    fn write(&self, file: &File, path: &Path, buf: &[u8]) -> io::Result<()>;
    /// Makes the file's contents and length durable (`fdatasync`). After an error, which
    /// earlier writes reached the disk is unknown.
    fn sync(&self, file: &File, path: &Path) -> io::Result<()>;
    /// Cuts the file `path` to `len` bytes and makes that durable.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
    /// Renames `from` over `to` atomically (both in one directory).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes the file `path`.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Makes the creations, renames and removals in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Gives the file `from` the second name `to` (a hard link; fails across file
    /// systems, and where the file system has none).
    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()>;
}

/// The real filesystem.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct StdIo;

impl Io for StdIo {
    fn create(&self, path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(path)
    }

    fn open_append(&self, path: &Path) -> io::Result<File> {
        OpenOptions::new().append(true).open(path)
    }

    fn write(&self, mut file: &File, _path: &Path, buf: &[u8]) -> io::Result<()> {
        file.write_all(buf)
    }

    fn sync(&self, file: &File, _path: &Path) -> io::Result<()> {
        file.sync_data()
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let file = OpenOptions::new().write(true).open(path)?;
        file.set_len(len)?;
        file.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::hard_link(from, to)
    }
}

/// Which file a path names (device and inode on Unix, and its birth time where the file
/// system keeps one: a file system may give a new file the inode number of one deleted
/// just before), to notice one replaced under us.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FileId {
    dev: u64,
    ino: u64,
    born: Option<std::time::SystemTime>,
}

impl FileId {
    #[cfg(unix)]
    pub(crate) fn of(meta: &std::fs::Metadata) -> FileId {
        use std::os::unix::fs::MetadataExt;
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
            born: meta.created().ok(),
        }
    }

    /// Elsewhere only disappearance is noticed (an open file cannot be deleted on Windows).
    #[cfg(not(unix))]
    pub(crate) fn of(_meta: &std::fs::Metadata) -> FileId {
        FileId::default()
    }
}
