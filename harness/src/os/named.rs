//! Named objects another process can open: a POSIX shared-memory object and a System V segment.
//! Each is created exclusively (`O_EXCL` / `IPC_EXCL`), mode 0600, under a name nobody can
//! guess, and removed by its owner on drop — on every path out.

use crate::os::mapping::Region;
use anyhow::{Context, Result};
use nix::fcntl::OFlag;
use nix::sys::mman::{shm_open, shm_unlink};
use nix::sys::stat::Mode;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// `{prefix}-{pid}-{random}`: unique, unpredictable, and traceable to the process that made it
/// (the pid lets a later run sweep what a dead one left).
pub fn unpredictable_name(prefix: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(crate::os::clock::now_ns());
    format!("{prefix}-{}-{:016x}", std::process::id(), h.finish())
}

/// A POSIX shared-memory object (`shm_open`), sized; its name is unlinked on drop.
#[derive(Debug)]
pub struct ShmObject {
    name: String,
    fd: OwnedFd,
}

impl ShmObject {
    /// Creates `/{prefix}-{pid}-{random}` (`O_CREAT | O_EXCL`, 0600) of `len` bytes, reserved.
    pub fn create(prefix: &str, len: usize) -> Result<ShmObject> {
        let name = format!("/{}", unpredictable_name(prefix));
        let fd = shm_open(
            name.as_str(),
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR,
            Mode::S_IRUSR | Mode::S_IWUSR,
        )
        .with_context(|| format!("shm_open({name})"))?;
        // From here on drop unlinks the name, whatever happens next.
        let shm = ShmObject { name, fd };
        crate::os::mapping::reserve(&shm.fd, len, "a POSIX shared-memory object in /dev/shm")?;
        Ok(shm)
    }

    /// Opens an object another process created (the peer's side); unlinking stays its owner's.
    pub fn open(name: &str) -> Result<OwnedFd> {
        shm_open(name, OFlag::O_RDWR, Mode::empty()).with_context(|| format!("shm_open({name})"))
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl AsFd for ShmObject {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for ShmObject {
    fn drop(&mut self) {
        let _ = shm_unlink(self.name.as_str());
    }
}

/// A System V segment (`shmget(IPC_PRIVATE)`), marked for removal (`IPC_RMID`) on drop: Linux
/// still lets a process attach it by id afterwards, and frees it at the last detach — even if
/// everyone is killed.
#[derive(Debug)]
pub struct SysvSegment {
    id: i32,
}

impl SysvSegment {
    /// `shmget(IPC_PRIVATE, len, IPC_CREAT | IPC_EXCL | 0600)`.
    pub fn create(len: usize) -> Result<SysvSegment> {
        // SAFETY: plain syscall.
        let id = unsafe {
            libc::shmget(libc::IPC_PRIVATE, len, libc::IPC_CREAT | libc::IPC_EXCL | 0o600)
        };
        if id < 0 {
            return Err(std::io::Error::last_os_error()).context("shmget");
        }
        Ok(SysvSegment { id })
    }

    pub fn id(&self) -> i32 {
        self.id
    }

    /// `shmat` of the segment, detached when the region drops.
    pub fn attach(&self, len: usize) -> Result<Region> {
        Region::sysv_attach(self.id, len)
    }
}

impl Drop for SysvSegment {
    fn drop(&mut self) {
        // SAFETY: our own segment; removing it twice fails harmlessly.
        unsafe { libc::shmctl(self.id, libc::IPC_RMID, std::ptr::null_mut()) };
    }
}
