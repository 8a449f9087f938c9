//! An eventfd as a doorbell: the sender publishes a record in shared memory, then writes 1 to
//! the receiver's eventfd; the receiver, finding nothing yet, blocks in `read()` on it — the
//! notification most production shared-memory code uses. The counter is reset by each read, so
//! a bell rung while nobody slept only costs the next waiter one spurious return (it looks at
//! the word again and reads again).

use crate::os::watch::Watch;
use anyhow::{Context, Result};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// One eventfd, blocking, closed on exec unless handed to a spawned worker.
#[derive(Debug)]
pub struct Eventfd(OwnedFd);

impl Eventfd {
    pub fn new() -> Result<Eventfd> {
        // SAFETY: plain syscall.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error()).context("eventfd");
        }
        // SAFETY: just created, ours alone.
        Ok(Eventfd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Adopts an inherited eventfd.
    ///
    /// # Safety
    /// `fd` must be an eventfd this process owns and nothing else will close.
    pub unsafe fn adopt(fd: RawFd) -> Eventfd {
        Eventfd(OwnedFd::from_raw_fd(fd))
    }

    pub fn try_clone(&self) -> Result<Eventfd> {
        Ok(Eventfd(self.0.try_clone().context("dup eventfd")?))
    }

    pub fn raw(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// Rings the bell on `fd` (adds 1 to its counter).
#[inline]
pub fn ring(fd: RawFd) {
    let one: u64 = 1;
    // SAFETY: an 8-byte write to an eventfd. It fails only if the counter would overflow, which
    // 2^64 - 1 unread rings cannot reach.
    unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
}

/// Blocks until the bell on `fd` rings (or rang since the last read): `poll(2)` in slices that
/// ask the watch, then the `read` that resets the counter — the epoll/poll-then-read idiom of
/// production event loops.
#[inline]
pub fn wait(fd: RawFd, watch: &mut Watch) -> anyhow::Result<()> {
    let mut count: u64 = 0;
    loop {
        crate::os::watch::wait_ready(fd, libc::POLLIN, watch)?;
        // SAFETY: an 8-byte read from a non-blocking eventfd.
        let n = unsafe { libc::read(fd, (&mut count as *mut u64).cast(), 8) };
        if n == 8 {
            return Ok(());
        }
        watch.check()?;
    }
}
