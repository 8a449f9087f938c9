//! Transports that carry whole messages — queues and datagrams — rather than a byte stream. A
//! record (header and payload) travels as one message: it arrives whole or not at all, so a
//! receive never has to reassemble it, and a message of the wrong length is an error, not a
//! short read.

use super::{ByteStream, Endpoint, Medium, Setup};
use crate::os::watch::Watch;
use anyhow::{bail, Context, Result};
use std::os::fd::{AsRawFd, OwnedFd};

/// Both directions of a message transport. Blocking calls wait in slices (`poll`, or
/// [`sleep_alarm`] where there is no fd) and ask the watch between them, so that a dead or hung
/// peer and Ctrl-C are noticed.
pub trait MessagePort: Send {
    /// Sends `msg` as one message, blocking while the transport is full.
    fn send(&mut self, msg: &[u8], watch: &mut Watch) -> Result<()>;
    /// Receives one message into `buf` (which must hold the largest message) and returns its
    /// length.
    fn recv(&mut self, buf: &mut [u8], watch: &mut Watch) -> Result<usize>;
}

/// Both directions of a zero-copy message transport (a shared-memory library): the sender
/// loans a message buffer in shared memory and writes the record into it; the receiver is
/// handed the message where it lies, and gives it back when `take` returns.
pub trait LoanPort: Send {
    /// Loans `len` bytes, lets `fill` write the record there, sends it.
    fn send_with(
        &mut self,
        len: usize,
        fill: &mut dyn FnMut(&mut [u8]),
        watch: &mut Watch,
    ) -> Result<()>;
    /// Waits for the next message and hands it to `take` where it lies.
    fn recv_with(&mut self, take: &mut dyn FnMut(&[u8]), watch: &mut Watch) -> Result<()>;
}

/// A message port as the record patterns' [`ByteStream`]: each `write_all` is one message, each
/// `read_exact` receives one message that must fill the buffer exactly.
pub struct Records(pub Box<dyn MessagePort>);

impl ByteStream for Records {
    fn write_all(&mut self, buf: &[u8], watch: &mut Watch) -> Result<()> {
        self.0.send(buf, watch)
    }

    fn read_exact(&mut self, buf: &mut [u8], watch: &mut Watch) -> Result<()> {
        let n = self.0.recv(buf, watch)?;
        if n != buf.len() {
            bail!("a message of {n} bytes arrived where a whole record of {} was due", buf.len());
        }
        Ok(())
    }
}

/// Runs a call until it succeeds: first waits (in slices, asking the watch) until `fd` is ready
/// for `events`, then calls; `EINTR`, `EAGAIN` and `ETIMEDOUT` go round again. `call` returns
/// the raw result (negative: see errno). `ready` `None`: the call blocks by itself, bounded by
/// [`sleep_alarm`].
pub fn retrying(
    what: &str,
    ready: Option<(std::os::fd::RawFd, libc::c_short)>,
    watch: &mut Watch,
    mut call: impl FnMut() -> isize,
) -> Result<usize> {
    loop {
        if let Some((fd, events)) = ready {
            crate::os::watch::wait_ready(fd, events, watch)?;
        }
        let r = call();
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) | Some(libc::EAGAIN) | Some(libc::ETIMEDOUT) => watch.check()?,
            Some(libc::ECONNREFUSED) | Some(libc::ECONNRESET) | Some(libc::EPIPE) => {
                bail!("peer closed its end")
            }
            Some(libc::EIDRM) => bail!("the queue was removed"),
            _ => return Err(anyhow::Error::new(e).context(what.to_string())),
        }
    }
}

/// For a blocking call that has no fd to poll (`msgrcv`, `msgsnd`): `SIGALRM` a watch slice
/// from now and every slice after until disarmed (`arm` false, right after the call), so that
/// the call returns `EINTR` and the watch is asked. Its handler does nothing and is installed
/// without `SA_RESTART`. Repeating, not one-shot: a tick that lands between arming and the
/// call (a preempted side on a busy host) is lost, and with a hung peer a one-shot timer then
/// left the call blocked for good.
pub fn sleep_alarm(arm: bool) {
    static HANDLER: std::sync::Once = std::sync::Once::new();
    extern "C" fn nothing(_: libc::c_int) {}
    HANDLER.call_once(|| {
        // SAFETY: a handler that does nothing (async-signal-safe), no SA_RESTART.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = nothing as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGALRM, &sa, std::ptr::null_mut());
        }
    });
    let slice = crate::os::watch::LOOK_EVERY_NS / 1000;
    let value = if arm {
        libc::timeval { tv_sec: (slice / 1_000_000) as _, tv_usec: (slice % 1_000_000) as _ }
    } else {
        libc::timeval { tv_sec: 0, tv_usec: 0 }
    };
    let t = libc::itimerval { it_interval: value, it_value: value };
    // SAFETY: a valid itimerval.
    unsafe { libc::setitimer(libc::ITIMER_REAL, &t, std::ptr::null_mut()) };
}

/// A host limit from /proc (message size, queue depth), if readable.
pub fn proc_limit(path: &str) -> Option<usize> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// A connected datagram socket (`udp`, `unix-dgram`): one `send`, one `recv` per message.
pub struct DatagramPort(pub OwnedFd);

impl MessagePort for DatagramPort {
    fn send(&mut self, msg: &[u8], watch: &mut Watch) -> Result<()> {
        let fd = self.0.as_raw_fd();
        // SAFETY: valid fd and buffer.
        let n = retrying("send", Some((fd, libc::POLLOUT)), watch, || unsafe {
            libc::send(fd, msg.as_ptr().cast(), msg.len(), 0)
        })?;
        if n != msg.len() {
            bail!("send took {n} of a {}-byte datagram", msg.len());
        }
        Ok(())
    }
    fn recv(&mut self, buf: &mut [u8], watch: &mut Watch) -> Result<usize> {
        let fd = self.0.as_raw_fd();
        // SAFETY: valid fd and buffer. MSG_TRUNC: the datagram's real length comes back, so a
        // longer one than the buffer shows as a wrong length instead of a silent cut.
        retrying("recv", Some((fd, libc::POLLIN)), watch, || unsafe {
            libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_TRUNC)
        })
    }
}

/// Two connected datagram sockets: the runner keeps one, the peer inherits the other (a forked
/// child by `fork`, a spawned worker as an inherited fd).
pub struct SocketPairSetup {
    pub mine: Option<OwnedFd>,
    pub theirs: Option<OwnedFd>,
}

impl Setup for SocketPairSetup {
    fn endpoint(&self) -> Endpoint {
        Endpoint { fds: self.theirs.iter().map(|f| f.as_raw_fd()).collect(), ..Default::default() }
    }
    fn forked_peer(&mut self) -> Result<Medium> {
        self.mine = None;
        let fd = self.theirs.take().context("socket already taken")?;
        Ok(Medium::Message(Box::new(DatagramPort(fd))))
    }
    fn local(&mut self, _: &mut Watch) -> Result<Medium> {
        // Close the peer's end here, so its death reads as a refused or reset send.
        self.theirs = None;
        let fd = self.mine.take().context("socket already taken")?;
        Ok(Medium::Message(Box::new(DatagramPort(fd))))
    }
}

/// In a spawned worker: the inherited socket.
pub fn inherited_datagram(endpoint: &Endpoint) -> Result<Medium> {
    let [fd] = endpoint.fds[..] else { bail!("a datagram transport needs one inherited fd") };
    // SAFETY: inherited from the runner for us alone.
    Ok(Medium::Message(Box::new(DatagramPort(unsafe { crate::os::process::adopt_fd(fd) }))))
}
