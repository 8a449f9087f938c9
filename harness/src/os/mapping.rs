//! A shared mapping, unmapped (or detached) when dropped.

use anyhow::{Context, Result};
use std::os::fd::AsFd;
use std::ptr::NonNull;

#[derive(Debug)]
enum Release {
    Munmap,
    Shmdt,
}

/// A region of memory shared with another process.
#[derive(Debug)]
pub struct Region {
    ptr: NonNull<u8>,
    len: usize,
    release: Release,
}

// SAFETY: the region is plain memory; synchronisation is the user's (atomics in the layout).
unsafe impl Send for Region {}

pub const PAGE: usize = 4096;

pub fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

impl Region {
    /// `mmap(MAP_SHARED)` of the first `len` bytes of a file, shm object or memfd.
    pub fn map_fd(fd: impl AsFd, len: usize) -> Result<Region> {
        use nix::sys::mman::{mmap, MapFlags, ProtFlags};
        let n = std::num::NonZeroUsize::new(len).context("cannot map 0 bytes")?;
        // SAFETY: a fresh mapping; nothing else aliases it in this process.
        let ptr = unsafe {
            mmap(None, n, ProtFlags::PROT_READ | ProtFlags::PROT_WRITE, MapFlags::MAP_SHARED, fd, 0)
        }
        .context("mmap(MAP_SHARED)")?;
        Ok(Region { ptr: ptr.cast(), len, release: Release::Munmap })
    }

    /// `mmap(MAP_SHARED | MAP_ANONYMOUS)`: shared with children forked after this call.
    /// (memmap2's `map_anon` is `MAP_PRIVATE`: a child's writes would stay its own.)
    pub fn anon_shared(len: usize) -> Result<Region> {
        use nix::sys::mman::{mmap_anonymous, MapFlags, ProtFlags};
        let n = std::num::NonZeroUsize::new(len).context("cannot map 0 bytes")?;
        // SAFETY: a fresh anonymous mapping.
        let ptr = unsafe {
            mmap_anonymous(
                None,
                n,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
        }
        .context("mmap(MAP_SHARED | MAP_ANONYMOUS)")?;
        Ok(Region { ptr: ptr.cast(), len, release: Release::Munmap })
    }

    /// `shmat` of a System V segment.
    pub fn sysv_attach(id: i32, len: usize) -> Result<Region> {
        // SAFETY: attaching a segment at an address the kernel picks.
        let p = unsafe { libc::shmat(id, std::ptr::null(), 0) };
        if p as isize == -1 {
            return Err(std::io::Error::last_os_error()).context("shmat");
        }
        Ok(Region {
            ptr: NonNull::new(p.cast()).context("shmat returned null")?,
            len,
            release: Release::Shmdt,
        })
    }

    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: we own the mapping; nobody uses it after drop.
        unsafe {
            match self.release {
                Release::Munmap => {
                    libc::munmap(self.ptr.as_ptr().cast(), self.len);
                }
                Release::Shmdt => {
                    libc::shmdt(self.ptr.as_ptr().cast());
                }
            }
        }
    }
}
