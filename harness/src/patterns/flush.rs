//! Making written bytes durable: `msync(MS_SYNC)` of a mapped range against `fdatasync` and
//! `fsync` after `pwrite` — and the one place that knows `msync` wants a page-aligned start.
//!
//! On Linux `msync(MS_SYNC)` is an `fdatasync` of the range (`vfs_fsync_range`), and
//! `msync(MS_ASYNC)` has scheduled nothing since 2.6.19: dirty shared pages are already known
//! to the kernel, which writes them back on its own schedule.
//!
//! What a flush writes depends on the file's history: the page cache holds a file in folios,
//! and a folio is dirtied and written back whole. A file written with `write`/`pwrite` may sit
//! in large folios (up to 2 MiB on ext4 since 6.x), so one dirty byte costs a large write; a
//! file faulted in through a mapping sits in small ones. [`written_bytes`] reads what the
//! kernel charged this thread for the device to write.

use crate::os::mapping::{round_up, Region, PAGE};
use anyhow::{Context, Result};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// How a [`FlushTarget`] makes its dirty pages durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FlushMethod {
    /// Pages dirtied through a `MAP_SHARED` mapping, then `msync(MS_SYNC)`.
    MsyncSync,
    /// Pages dirtied through a `MAP_SHARED` mapping, then `msync(MS_ASYNC)` (a no-op).
    MsyncAsync,
    /// Pages dirtied with `pwrite`, then `fdatasync`.
    PwriteFdatasync,
    /// Pages dirtied with `pwrite`, then `fsync` (metadata too).
    PwriteFsync,
}

impl FlushMethod {
    pub const ALL: [FlushMethod; 4] = [
        FlushMethod::MsyncSync,
        FlushMethod::MsyncAsync,
        FlushMethod::PwriteFdatasync,
        FlushMethod::PwriteFsync,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FlushMethod::MsyncSync => "msync-sync",
            FlushMethod::MsyncAsync => "msync-async",
            FlushMethod::PwriteFdatasync => "pwrite-fdatasync",
            FlushMethod::PwriteFsync => "pwrite-fsync",
        }
    }

    pub fn from_name(s: &str) -> Option<FlushMethod> {
        Self::ALL.into_iter().find(|m| m.name() == s)
    }

    pub fn mapped(self) -> bool {
        matches!(self, FlushMethod::MsyncSync | FlushMethod::MsyncAsync)
    }

    /// One sentence for results: how pages are dirtied and flushed.
    pub fn how(self) -> &'static str {
        match self {
            FlushMethod::MsyncSync => {
                "one byte written in every page through a MAP_SHARED mapping, then msync(MS_SYNC)"
            }
            FlushMethod::MsyncAsync => {
                "one byte written in every page through a MAP_SHARED mapping, then msync(MS_ASYNC)"
            }
            FlushMethod::PwriteFdatasync => "one pwrite of every page, then fdatasync",
            FlushMethod::PwriteFsync => "one pwrite of every page, then fsync",
        }
    }
}

impl std::fmt::Display for FlushMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `msync` of `[ptr, ptr + len)`, widened to whole pages (msync refuses an unaligned start).
///
/// # Safety
/// The range must lie within one live mapping of this process.
pub unsafe fn msync_range(ptr: *const u8, len: usize, flags: libc::c_int) -> Result<()> {
    let start = ptr as usize & !(PAGE - 1);
    let end = round_up(ptr as usize + len, PAGE);
    if libc::msync(start as *mut libc::c_void, end - start, flags) != 0 {
        return Err(std::io::Error::last_os_error()).context("msync");
    }
    Ok(())
}

/// How the file's pages came into the page cache before the measured flushes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum History {
    /// Written with one `pwrite` of the whole file (large folios where the kernel makes them).
    Written,
    /// Space reserved (`fallocate`), then every page written through a `MAP_SHARED` mapping
    /// (page faults bring them in, one small folio each).
    Faulted,
}

impl History {
    pub const ALL: [History; 2] = [History::Written, History::Faulted];
    pub fn name(self) -> &'static str {
        match self {
            History::Written => "written",
            History::Faulted => "faulted",
        }
    }
}

/// Bytes this thread has been charged for the device to write (`write_bytes` of
/// `/proc/thread-self/io`): the kernel charges a folio's whole size when it becomes dirty, so
/// the difference across dirtying and flushing is what the flush asks the device to write.
/// `None` where the kernel does not say (no task I/O accounting).
pub fn written_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/io").ok()?;
    s.lines().find_map(|l| l.strip_prefix("write_bytes:")).and_then(|v| v.trim().parse().ok())
}

/// A file of `file_pages` 4 KiB pages with real blocks behind them, of which the first `pages`
/// are dirtied and flushed by one method. The file is created `O_EXCL`, mode 0600, with an
/// unpredictable name, and removed on drop.
pub struct FlushTarget {
    method: FlushMethod,
    pages: usize,
    file: tempfile::NamedTempFile,
    map: Option<Region>,
    /// The bytes `pwrite` methods write; one byte per page changes every round.
    buf: Vec<u8>,
    round: u8,
}

impl FlushTarget {
    /// A written file of exactly `pages` pages.
    pub fn create(dir: &Path, pages: usize, method: FlushMethod) -> Result<FlushTarget> {
        Self::create_with(dir, pages, pages, History::Written, method)
    }

    /// A file of `file_pages` pages (at least `pages`) with the given history.
    pub fn create_with(
        dir: &Path,
        pages: usize,
        file_pages: usize,
        history: History,
        method: FlushMethod,
    ) -> Result<FlushTarget> {
        anyhow::ensure!(pages > 0, "a flush needs at least one page");
        anyhow::ensure!(file_pages >= pages, "the file must hold the dirtied pages");
        let len = file_pages * PAGE;
        let file = tempfile::Builder::new()
            .prefix("ipcbench-flush-")
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a file in {}", dir.display()))?;
        // Real blocks, not holes: the measured flushes overwrite allocated blocks, as a
        // long-lived shared file would.
        let mut map = None;
        match history {
            History::Written => {
                file.as_file().write_all_at(&vec![1u8; len], 0).context("writing the file")?;
            }
            History::Faulted => {
                nix::fcntl::fallocate(
                    file.as_file().as_raw_fd(),
                    nix::fcntl::FallocateFlags::empty(),
                    0,
                    len as libc::off_t,
                )
                .context("fallocate")?;
                let region = Region::map_fd(file.as_file(), len)?;
                let p = region.as_ptr();
                for page in 0..file_pages {
                    // SAFETY: within the mapping; each store faults its page in.
                    unsafe { std::ptr::write_bytes(p.add(page * PAGE), 1, PAGE) };
                }
                map = Some(region);
            }
        }
        file.as_file().sync_all().context("fsync of the new file")?;
        if !method.mapped() {
            map = None;
        } else if map.is_none() {
            map = Some(Region::map_fd(file.as_file(), len)?);
        }
        let buf = vec![1u8; pages * PAGE];
        Ok(FlushTarget { method, pages, file, map, buf, round: 1 })
    }

    pub fn bytes(&self) -> usize {
        self.pages * PAGE
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Makes every page dirty again with new contents (one changed byte per page).
    pub fn dirty(&mut self) -> Result<()> {
        self.round = self.round.wrapping_add(1).max(2);
        match &self.map {
            Some(region) => {
                let p = region.as_ptr();
                for page in 0..self.pages {
                    // SAFETY: within the mapping; volatile so the stores are not merged away.
                    unsafe { p.add(page * PAGE).write_volatile(self.round) };
                }
            }
            None => {
                for page in 0..self.pages {
                    self.buf[page * PAGE] = self.round;
                }
                self.file.as_file().write_all_at(&self.buf, 0).context("pwrite")?;
            }
        }
        Ok(())
    }

    /// Makes the dirty pages durable (or, for `msync-async`, asks the kernel to). `msync`
    /// covers the dirtied range only: what it writes beyond is the folios' doing.
    pub fn flush(&mut self) -> Result<()> {
        let len = self.bytes();
        match (self.method, &self.map) {
            (FlushMethod::MsyncSync, Some(r)) => unsafe {
                // SAFETY: the dirtied range of the mapping, which we own.
                msync_range(r.as_ptr(), len, libc::MS_SYNC)
            },
            (FlushMethod::MsyncAsync, Some(r)) => unsafe {
                // SAFETY: as above.
                msync_range(r.as_ptr(), len, libc::MS_ASYNC)
            },
            (FlushMethod::PwriteFdatasync, _) => {
                self.file.as_file().sync_data().context("fdatasync")
            }
            (FlushMethod::PwriteFsync, _) => self.file.as_file().sync_all().context("fsync"),
            (m, None) => anyhow::bail!("{m} needs a mapping"),
        }
    }

    /// The file's contents as `read()` sees them (tests).
    pub fn read_back(&self) -> Result<Vec<u8>> {
        let mut v = vec![0; self.bytes()];
        self.file.as_file().read_exact_at(&mut v, 0).context("pread")?;
        Ok(v)
    }

    /// The value `dirty` last wrote at the start of each page.
    pub fn round(&self) -> u8 {
        self.round
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_dirties_and_flushes_every_page() {
        let dir = tempfile::tempdir().unwrap();
        for m in FlushMethod::ALL {
            let mut t = FlushTarget::create(dir.path(), 3, m).unwrap();
            for _ in 0..2 {
                t.dirty().unwrap();
                t.flush().unwrap();
            }
            let back = t.read_back().unwrap();
            for page in 0..3 {
                assert_eq!(back[page * PAGE], t.round(), "{m} page {page}");
                assert_eq!(back[page * PAGE + 1], 1, "{m} page {page}");
            }
            let path = t.path().to_path_buf();
            drop(t);
            assert!(!path.exists(), "{m} left {}", path.display());
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_large_file_of_either_history_flushes_its_dirtied_pages() {
        let dir = tempfile::tempdir().unwrap();
        for h in History::ALL {
            for m in FlushMethod::ALL {
                let mut t = FlushTarget::create_with(dir.path(), 2, 64, h, m).unwrap();
                t.dirty().unwrap();
                t.flush().unwrap();
                let back = {
                    let mut v = vec![0; 64 * PAGE];
                    t.file.as_file().read_exact_at(&mut v, 0).unwrap();
                    v
                };
                assert_eq!(back[PAGE], t.round(), "{} {m}", h.name());
                assert_eq!(back[2 * PAGE], 1, "{} {m}: beyond the dirtied range", h.name());
            }
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn msync_range_takes_an_unaligned_start() {
        let dir = tempfile::tempdir().unwrap();
        let t = FlushTarget::create(dir.path(), 2, FlushMethod::MsyncSync).unwrap();
        let r = t.map.as_ref().unwrap();
        // SAFETY: within the mapping.
        unsafe { msync_range(r.as_ptr().add(100), 5000, libc::MS_SYNC).unwrap() };
        assert!(FlushMethod::from_name("pwrite-fsync") == Some(FlushMethod::PwriteFsync));
    }
}
