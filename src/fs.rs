//! Files for goroutines: `std::fs` run through [`blocking`](crate::blocking()).
//!
//! Regular files cannot be waited on with epoll (they are always "ready", and a read of a
//! cold page blocks in the kernel anyway), so, as Go does, every file operation is a
//! blocking call: the goroutine's processor is handed to another thread if the call takes
//! long, and the other goroutines keep running. From a plain thread these are `std::fs`.
//!
//! ```
//! let path = std::env::temp_dir().join(format!("gort-fs-doc-{}", std::process::id()));
//! let p = path.clone();
//! let text = gort::go!(move || {
//!     gort::fs::write(&p, "hello").unwrap();
//!     gort::fs::read_to_string(&p).unwrap()
//! })
//! .join()
//! .unwrap();
//! assert_eq!(text, "hello");
//! gort::fs::remove_file(&path).unwrap();
//! ```

use std::fs::{Metadata, OpenOptions};
use std::io::{self, IoSlice, IoSliceMut, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::path::Path;

use crate::blocking;

/// Reads a whole file (`std::fs::read` as a blocking call).
///
/// # Errors
/// As `std::fs::read`.
pub fn read<P: AsRef<Path>>(path: P) -> io::Result<Vec<u8>> {
    blocking(|| std::fs::read(path))
}

/// Reads a whole file as UTF-8 (`std::fs::read_to_string` as a blocking call).
///
/// # Errors
/// As `std::fs::read_to_string`.
pub fn read_to_string<P: AsRef<Path>>(path: P) -> io::Result<String> {
    blocking(|| std::fs::read_to_string(path))
}

/// Writes a whole file, creating or truncating it (`std::fs::write` as a blocking call).
///
/// # Errors
/// As `std::fs::write`.
pub fn write<P: AsRef<Path>, C: AsRef<[u8]>>(path: P, contents: C) -> io::Result<()> {
    blocking(|| std::fs::write(path, contents))
}

/// A file's metadata (`std::fs::metadata` as a blocking call).
///
/// # Errors
/// As `std::fs::metadata`.
pub fn metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    blocking(|| std::fs::metadata(path))
}

/// Removes a file (`std::fs::remove_file` as a blocking call).
///
/// # Errors
/// As `std::fs::remove_file`.
pub fn remove_file<P: AsRef<Path>>(path: P) -> io::Result<()> {
    blocking(|| std::fs::remove_file(path))
}

/// Renames a file or directory (`std::fs::rename` as a blocking call).
///
/// # Errors
/// As `std::fs::rename`.
pub fn rename<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<()> {
    blocking(|| std::fs::rename(from, to))
}

/// Creates a directory and its missing parents (`std::fs::create_dir_all` as a blocking
/// call).
///
/// # Errors
/// As `std::fs::create_dir_all`.
pub fn create_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    blocking(|| std::fs::create_dir_all(path))
}

/// An open file whose every operation is a blocking call (see the module docs). `Read`,
/// `Write` and `Seek` are implemented for the type and for `&File`.
///
/// ```
/// use std::io::{Read, Write};
/// let path = std::env::temp_dir().join(format!("gort-file-doc-{}", std::process::id()));
/// let p = path.clone();
/// gort::go!(move || {
///     let mut f = gort::fs::File::create(&p).unwrap();
///     f.write_all(b"abc").unwrap();
///     f.sync_all().unwrap();
///     let mut s = String::new();
///     gort::fs::File::open(&p).unwrap().read_to_string(&mut s).unwrap();
///     assert_eq!(s, "abc");
/// })
/// .join()
/// .unwrap();
/// std::fs::remove_file(&path).unwrap();
/// ```
#[derive(Debug)]
pub struct File {
    inner: std::fs::File,
}

impl File {
    /// Opens a file for reading.
    ///
    /// # Errors
    /// As `std::fs::File::open`.
    pub fn open<P: AsRef<Path>>(path: P) -> io::Result<File> {
        blocking(|| std::fs::File::open(path)).map(File::from_std)
    }

    /// Creates (or truncates) a file for writing.
    ///
    /// # Errors
    /// As `std::fs::File::create`.
    pub fn create<P: AsRef<Path>>(path: P) -> io::Result<File> {
        blocking(|| std::fs::File::create(path)).map(File::from_std)
    }

    /// Opens a file with the given options (`OpenOptions::open` as a blocking call).
    ///
    /// # Errors
    /// As `OpenOptions::open`.
    pub fn open_with<P: AsRef<Path>>(options: &OpenOptions, path: P) -> io::Result<File> {
        blocking(|| options.open(path)).map(File::from_std)
    }

    /// Wraps a std file.
    pub fn from_std(file: std::fs::File) -> File {
        File { inner: file }
    }

    /// The std file inside.
    pub fn into_std(self) -> std::fs::File {
        self.inner
    }

    /// Flushes data and metadata to the device (`fsync`).
    ///
    /// # Errors
    /// As `File::sync_all`.
    pub fn sync_all(&self) -> io::Result<()> {
        blocking(|| self.inner.sync_all())
    }

    /// Flushes data to the device (`fdatasync`).
    ///
    /// # Errors
    /// As `File::sync_data`.
    pub fn sync_data(&self) -> io::Result<()> {
        blocking(|| self.inner.sync_data())
    }

    /// Truncates or extends the file.
    ///
    /// # Errors
    /// As `File::set_len`.
    pub fn set_len(&self, size: u64) -> io::Result<()> {
        blocking(|| self.inner.set_len(size))
    }

    /// The file's metadata.
    ///
    /// # Errors
    /// As `File::metadata`.
    pub fn metadata(&self) -> io::Result<Metadata> {
        blocking(|| self.inner.metadata())
    }

    /// Another handle to the same open file (`dup`).
    ///
    /// # Errors
    /// As `File::try_clone`.
    pub fn try_clone(&self) -> io::Result<File> {
        self.inner.try_clone().map(File::from_std)
    }
}

impl Read for &File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        blocking(|| (&self.inner).read(buf))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        blocking(|| (&self.inner).read_vectored(bufs))
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        blocking(|| (&self.inner).read_to_end(buf))
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        blocking(|| (&self.inner).read_to_string(buf))
    }
}

impl Write for &File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        blocking(|| (&self.inner).write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        blocking(|| (&self.inner).write_vectored(bufs))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        blocking(|| (&self.inner).write_all(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for &File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        blocking(|| (&self.inner).seek(pos))
    }
}

impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        (&*self).read_to_end(buf)
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        (&*self).read_to_string(buf)
    }
}

impl Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        (&*self).write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        (&*self).seek(pos)
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsFd for File {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl From<std::fs::File> for File {
    fn from(file: std::fs::File) -> File {
        File::from_std(file)
    }
}
