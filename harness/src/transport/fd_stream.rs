//! A byte stream over a pair of fds (pipes) or one socket: the baselines' common read/write path.
//!
//! No signal interrupts a blocking call (the harness is silent inside a measured loop): a read
//! first waits in `poll(2)` ([`wait_ready`]) for at most `LOOK_EVERY_NS`, and each time that runs out the
//! [`Watch`] looks for a dead or hung peer and Ctrl-C (whose handler makes `poll` return
//! `EINTR`). The sending fd is non-blocking, so a write never sleeps where the watch cannot see
//! it: when the buffer is full it waits in the same `poll`. What this costs: one `poll` per
//! read (it is where the reader sleeps, so a record that arrives wakes the `poll`, then one
//! `read` takes it); a write costs nothing extra unless the buffer is full.

use super::ByteStream;
use crate::os::watch::{wait_ready, Watch};
use anyhow::{bail, Context, Result};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

pub struct FdStream {
    rx: OwnedFd,
    tx: OwnedFd,
}

impl FdStream {
    pub fn new(rx: OwnedFd, tx: OwnedFd) -> FdStream {
        let _ = set_nonblocking(tx.as_raw_fd());
        FdStream { rx, tx }
    }

    /// One socket serves both directions.
    pub fn socket(sock: OwnedFd) -> Result<FdStream> {
        let tx = sock.try_clone().context("dup socket")?;
        set_nonblocking(tx.as_raw_fd())?;
        Ok(FdStream { rx: sock, tx })
    }
}

impl ByteStream for FdStream {
    fn write_all(&mut self, buf: &[u8], watch: &mut Watch) -> Result<()> {
        write_all_fd(self.tx.as_raw_fd(), buf, watch)
    }

    fn read_exact(&mut self, buf: &mut [u8], watch: &mut Watch) -> Result<()> {
        self.read_exact_seen(buf, watch).map(|_| ())
    }

    fn read_exact_seen(&mut self, buf: &mut [u8], watch: &mut Watch) -> Result<u64> {
        if buf.is_empty() {
            return Ok(crate::os::clock::now_ns());
        }
        let n = read_some(self.rx.as_raw_fd(), buf, watch)?;
        let seen = crate::os::clock::now_ns();
        let mut rest = &mut buf[n..];
        while !rest.is_empty() {
            let n = read_some(self.rx.as_raw_fd(), rest, watch)?;
            rest = &mut rest[n..];
        }
        Ok(seen)
    }
}

/// Makes a sending fd non-blocking (its open file description: a dup shares the flag).
pub fn set_nonblocking(fd: RawFd) -> Result<()> {
    // SAFETY: plain fcntl on a valid fd.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error()).context("fcntl O_NONBLOCK");
    }
    Ok(())
}

/// Writes all of `buf`, waiting in [`wait_ready`] while the peer's buffer is full.
pub fn write_all_fd(fd: RawFd, mut buf: &[u8], watch: &mut Watch) -> Result<()> {
    while !buf.is_empty() {
        // SAFETY: valid fd and buffer.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n >= 0 {
            buf = &buf[n as usize..];
            continue;
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EAGAIN) => wait_ready(fd, libc::POLLOUT, watch)?,
            Some(libc::EINTR) => watch.check()?,
            Some(libc::EPIPE) | Some(libc::ECONNRESET) => bail!("peer closed its end"),
            _ => return Err(e).context("write"),
        }
    }
    Ok(())
}

/// Reads at least one byte, waiting in [`wait_ready`] first; end of stream is an error: the
/// peer went away.
pub fn read_some(fd: RawFd, buf: &mut [u8], watch: &mut Watch) -> Result<usize> {
    loop {
        wait_ready(fd, libc::POLLIN, watch)?;
        // SAFETY: valid fd and buffer.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            return Ok(n as usize);
        }
        if n == 0 {
            bail!("peer closed its end");
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            // Readable a moment ago; a non-blocking fd found nothing after all: poll again.
            Some(libc::EAGAIN) => {}
            Some(libc::EINTR) => watch.check()?,
            Some(libc::ECONNRESET) => bail!("peer closed its end"),
            _ => return Err(e).context("read"),
        }
    }
}

/// Waits for a connection on the non-blocking listener `fd`, checking the watch meanwhile.
pub fn accept_watched<T>(
    fd: RawFd,
    mut accept: impl FnMut() -> std::io::Result<T>,
    watch: &mut Watch,
) -> Result<T> {
    loop {
        match accept() {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                wait_ready(fd, libc::POLLIN, watch)?
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => watch.check()?,
            Err(e) => return Err(e).context("accept"),
        }
    }
}
