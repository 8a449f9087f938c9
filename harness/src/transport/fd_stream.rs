//! A byte stream over a pair of fds (pipes) or one socket: the baselines' common read/write path.
//! Blocking calls return EINTR at each tick (see `process`), and the [`Watch`] decides whether
//! to go on.

use super::ByteStream;
use crate::os::watch::Watch;
use anyhow::{bail, Context, Result};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

pub struct FdStream {
    rx: OwnedFd,
    tx: OwnedFd,
}

impl FdStream {
    pub fn new(rx: OwnedFd, tx: OwnedFd) -> FdStream {
        FdStream { rx, tx }
    }

    /// One socket serves both directions.
    pub fn socket(sock: OwnedFd) -> Result<FdStream> {
        let tx = sock.try_clone().context("dup socket")?;
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

/// Writes all of `buf`, blocking as needed.
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
            Some(libc::EINTR) => watch.check()?,
            Some(libc::EPIPE) | Some(libc::ECONNRESET) => bail!("peer closed its end"),
            _ => return Err(e).context("write"),
        }
    }
    Ok(())
}

/// Reads at least one byte (blocking); end of stream is an error: the peer went away.
pub fn read_some(fd: RawFd, buf: &mut [u8], watch: &mut Watch) -> Result<usize> {
    loop {
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
            Some(libc::EINTR) => watch.check()?,
            Some(libc::ECONNRESET) => bail!("peer closed its end"),
            _ => return Err(e).context("read"),
        }
    }
}

/// Waits for a connection on a non-blocking listener, checking the watch meanwhile.
pub fn accept_watched<T>(
    mut accept: impl FnMut() -> std::io::Result<T>,
    watch: &mut Watch,
) -> Result<T> {
    loop {
        match accept() {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(std::time::Duration::from_micros(200));
                watch.check()?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => watch.check()?,
            Err(e) => return Err(e).context("accept"),
        }
    }
}
