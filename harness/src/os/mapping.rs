//! A mapping, unmapped (or detached) when dropped — the one owner of mapped memory: anonymous
//! (shared or private, populated, huge pages), of a file, shm object or memfd, and a System V
//! attachment.

use anyhow::{Context, Result};
use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use nix::sys::mman::{madvise, mmap, mmap_anonymous, MapFlags, MmapAdvise, ProtFlags};
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
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
    /// The eventfds the sides sharing the region sleep on (wait `eventfd`): fds, not memory, so
    /// they travel beside the mapping (inherited, or handed to a spawned worker) and are closed
    /// with it.
    doorbells: Vec<crate::os::eventfd::Eventfd>,
}

// SAFETY: the region is plain memory; synchronisation is the user's (atomics in the layout).
unsafe impl Send for Region {}

pub const PAGE: usize = 4096;

pub fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

/// How to map: `MAP_SHARED` read-write unless told otherwise.
#[derive(Clone, Copy, Debug, Default)]
pub struct MapOptions {
    /// `MAP_PRIVATE`: writes stay this process's (copy on write across fork).
    pub private: bool,
    /// `MAP_POPULATE`: the kernel faults every page in during `mmap`.
    pub populate: bool,
    /// `MAP_HUGETLB`: pages from the reserved huge-page pool (anonymous mappings).
    pub huge_tlb: bool,
    /// `PROT_READ` only.
    pub read_only: bool,
}

impl MapOptions {
    fn prot(&self) -> ProtFlags {
        if self.read_only {
            ProtFlags::PROT_READ
        } else {
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE
        }
    }
    fn flags(&self) -> MapFlags {
        let mut f = if self.private { MapFlags::MAP_PRIVATE } else { MapFlags::MAP_SHARED };
        if self.populate {
            f |= MapFlags::MAP_POPULATE;
        }
        if self.huge_tlb {
            f |= MapFlags::MAP_HUGETLB;
        }
        f
    }
}

impl Region {
    /// `mmap(MAP_SHARED)` of the first `len` bytes of a file, shm object or memfd.
    pub fn map_fd(fd: impl AsFd, len: usize) -> Result<Region> {
        Region::map_fd_with(fd, len, MapOptions::default())
    }

    /// `mmap` of the first `len` bytes of a file, shm object or memfd, as `opts` say.
    pub fn map_fd_with(fd: impl AsFd, len: usize, opts: MapOptions) -> Result<Region> {
        let n = NonZeroUsize::new(len).context("cannot map 0 bytes")?;
        // SAFETY: a fresh mapping; nothing else aliases it in this process.
        let ptr = unsafe { mmap(None, n, opts.prot(), opts.flags(), fd, 0) }
            .with_context(|| format!("mmap({:?})", opts.flags()))?;
        Ok(Region { ptr: ptr.cast(), len, release: Release::Munmap, doorbells: Vec::new() })
    }

    /// `mmap(MAP_SHARED | MAP_ANONYMOUS)`: shared with children forked after this call.
    /// (memmap2's `map_anon` is `MAP_PRIVATE`: a child's writes would stay its own.)
    pub fn anon_shared(len: usize) -> Result<Region> {
        Region::anon(len, MapOptions::default())
    }

    /// An anonymous mapping, as `opts` say.
    pub fn anon(len: usize, opts: MapOptions) -> Result<Region> {
        let n = NonZeroUsize::new(len).context("cannot map 0 bytes")?;
        // SAFETY: a fresh anonymous mapping.
        let ptr = unsafe { mmap_anonymous(None, n, opts.prot(), opts.flags()) }
            .with_context(|| format!("mmap({:?} | MAP_ANONYMOUS)", opts.flags()))?;
        Ok(Region { ptr: ptr.cast(), len, release: Release::Munmap, doorbells: Vec::new() })
    }

    /// `madvise` over the whole mapping.
    pub fn advise(&self, advice: MmapAdvise) -> Result<()> {
        // SAFETY: our own mapping; advice changes no memory we hand out.
        unsafe { madvise(self.ptr.cast(), self.len, advice) }
            .with_context(|| format!("madvise({advice:?})"))
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
            doorbells: Vec::new(),
        })
    }

    /// The region with the doorbells its sides sleep on (wait `eventfd`), one per side.
    pub fn with_doorbells(mut self, bells: Vec<crate::os::eventfd::Eventfd>) -> Region {
        self.doorbells = bells;
        self
    }

    pub fn doorbells(&self) -> &[crate::os::eventfd::Eventfd] {
        &self.doorbells
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

/// A `memfd` of `len` bytes, its memory reserved: an anonymous file to map, whose fd a peer
/// may inherit.
pub fn memfd(len: usize) -> Result<OwnedFd> {
    let fd = memfd_create(c"ipcbench", MemFdCreateFlag::MFD_CLOEXEC).context("memfd_create")?;
    reserve(&fd, len, "a memfd")?;
    Ok(fd)
}

/// Sizes a file, shm object or memfd to `len` bytes and reserves its backing store
/// (`posix_fallocate`), so that a full filesystem (`/dev/shm`, a disk under `--dir`) is this
/// error now, not a SIGBUS at the first touch of a page the filesystem cannot supply.
/// `what` names the object in the error: "a POSIX shared-memory object", "a file in /tmp/…".
pub fn reserve(fd: impl AsFd, len: usize, what: &str) -> Result<()> {
    let fd = fd.as_fd();
    nix::unistd::ftruncate(fd, len as i64).with_context(|| format!("sizing {what}"))?;
    match nix::fcntl::posix_fallocate(fd.as_raw_fd(), 0, len as i64) {
        Ok(()) => Ok(()),
        // A filesystem that cannot reserve (fallocate unsupported): the size alone must do.
        Err(nix::errno::Errno::EOPNOTSUPP) | Err(nix::errno::Errno::EINVAL) => Ok(()),
        Err(e) => Err(anyhow::anyhow!(
            "cannot reserve {} for {what}: {} (its filesystem is full or limited)",
            human_bytes(len),
            e.desc()
        )),
    }
}

fn human_bytes(n: usize) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} bytes"),
    }
}
