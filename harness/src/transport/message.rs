//! Transports that carry whole messages — queues and datagrams — rather than a byte stream. A
//! record (header and payload) travels as one message: it arrives whole or not at all, so a
//! receive never has to reassemble it, and a message of the wrong length is an error, not a
//! short read.

use super::{ByteStream, Endpoint, Medium, Setup};
use crate::os::watch::Watch;
use anyhow::{bail, Context, Result};
use std::os::fd::{AsRawFd, OwnedFd};

/// Both directions of a message transport. Blocking calls wait in slices (`poll`, or a
/// [`SliceTimer`] where there is no fd) and ask the watch between them, so that a dead or hung
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
/// a [`SliceTimer`].
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

/// The calling thread's timer that bounds a blocking call which has no fd to poll (`msgrcv`,
/// `msgsnd`): [`SliceTimer::around`] arms it to raise `SIGALRM` in this thread a watch slice
/// ([`LOOK_EVERY_NS`](crate::os::watch::LOOK_EVERY_NS)) from now and every slice after, makes
/// the call, and disarms it, so that the call returns `EINTR` and the caller asks its watch.
/// The handler does nothing and is installed without `SA_RESTART`.
///
/// A POSIX timer that signals one thread (`SIGEV_THREAD_ID`), not `setitimer`: an
/// `ITIMER_REAL` signal is meant for the process, and the kernel hands it to any thread that
/// does not block it — usually the main thread, not the one waiting (a test binary, a runner
/// with helper threads) — and two threads arming the one process-wide timer disarm each other.
/// One timer per thread, made when the thread first sends or receives on a System V queue and
/// deleted when it ends; a forked child (which inherits no timers) makes its own.
///
/// Repeating, not one-shot: a tick that lands between arming and the call (a preempted side on
/// a busy host) is lost, and with a hung peer a one-shot timer then left the call blocked for
/// good. Armed only around a call that blocks: no signal reaches a side that is not waiting.
#[derive(Clone, Copy)]
pub struct SliceTimer(libc::timer_t);

/// Forks this process has been through (counted in the child of each, `pthread_atfork`): a
/// thread's timer made before the latest fork belongs to the parent.
static FORKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A thread's timer and the fork count it was made under; deleted when the thread ends, unless
/// it is the parent's (this thread is a forked child's).
struct OwnTimer {
    id: libc::timer_t,
    forks: u64,
}

impl Drop for OwnTimer {
    fn drop(&mut self) {
        if self.forks == FORKS.load(std::sync::atomic::Ordering::Relaxed) {
            // SAFETY: a timer this process made and nothing else deletes.
            unsafe { libc::timer_delete(self.id) };
        }
    }
}

thread_local! {
    static TIMER: std::cell::RefCell<Option<OwnTimer>> = const { std::cell::RefCell::new(None) };
}

impl SliceTimer {
    /// This thread's timer, made on first use (in this process).
    pub fn this_thread() -> Result<SliceTimer> {
        TIMER
            .try_with(|cell| {
                let mut own = cell.borrow_mut();
                let forks = FORKS.load(std::sync::atomic::Ordering::Relaxed);
                match &*own {
                    Some(t) if t.forks == forks => Ok(SliceTimer(t.id)),
                    _ => {
                        let id = make_timer()?;
                        // A parent's timer is forgotten, not deleted (see OwnTimer's drop).
                        *own = Some(OwnTimer { id, forks });
                        Ok(SliceTimer(id))
                    }
                }
            })
            .context("a slice timer for a thread that is ending")?
    }

    /// Runs `call` (a raw result, negative: see errno) with the timer armed, and keeps its
    /// errno across the disarming.
    pub fn around(self, call: impl FnOnce() -> isize) -> isize {
        if !self.set(crate::os::watch::LOOK_EVERY_NS) {
            // Unarmed, the call could block for good: fail it with the timer's errno instead.
            return -1;
        }
        let r = call();
        let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        self.set(0);
        // SAFETY: this thread's errno.
        unsafe { *libc::__errno_location() = e };
        r
    }

    /// Arms the timer to fire every `ns` from now (0: disarms it); false if it failed (errno).
    fn set(self, ns: u64) -> bool {
        let every = libc::timespec {
            tv_sec: (ns / 1_000_000_000) as _,
            tv_nsec: (ns % 1_000_000_000) as _,
        };
        let t = libc::itimerspec { it_interval: every, it_value: every };
        // SAFETY: a timer of this process, a valid itimerspec.
        unsafe { libc::timer_settime(self.0, 0, &t, std::ptr::null_mut()) == 0 }
    }
}

/// A timer on `CLOCK_MONOTONIC` that raises `SIGALRM` in the calling thread alone; installs
/// the handler (and the fork count) first.
fn make_timer() -> Result<libc::timer_t> {
    static ONCE: std::sync::Once = std::sync::Once::new();
    extern "C" fn nothing(_: libc::c_int) {}
    extern "C" fn forked() {
        FORKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    ONCE.call_once(|| {
        // SAFETY: a handler that does nothing (async-signal-safe), no SA_RESTART; a fork
        // handler that only adds to an atomic.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = nothing as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGALRM, &sa, std::ptr::null_mut());
            libc::pthread_atfork(None, None, Some(forked));
        }
    });
    // SAFETY: a zeroed sigevent is valid; the fields set are the ones SIGEV_THREAD_ID reads.
    unsafe {
        let mut ev: libc::sigevent = std::mem::zeroed();
        ev.sigev_notify = libc::SIGEV_THREAD_ID;
        ev.sigev_signo = libc::SIGALRM;
        ev.sigev_notify_thread_id = libc::gettid();
        let mut id: libc::timer_t = std::ptr::null_mut();
        if libc::timer_create(libc::CLOCK_MONOTONIC, &mut ev, &mut id) != 0 {
            return Err(std::io::Error::last_os_error())
                .context("timer_create (a thread's timer bounding msgrcv and msgsnd)");
        }
        Ok(id)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::os::process::{Child, ExitStatus};
    use std::time::{Duration, Instant};

    /// Sleeps up to 10 s with `timer` armed; whether a tick cut it short (`EINTR`) within 5 s.
    fn woken(timer: SliceTimer) -> bool {
        let start = Instant::now();
        let ten = libc::timespec { tv_sec: 10, tv_nsec: 0 };
        // SAFETY: a valid timespec, no remainder wanted.
        let r = timer.around(|| unsafe { libc::nanosleep(&ten, std::ptr::null_mut()) } as isize);
        let e = std::io::Error::last_os_error().raw_os_error();
        r == -1 && e == Some(libc::EINTR) && start.elapsed() < Duration::from_secs(5)
    }

    /// The timer wakes the thread that armed it, off the main thread; a child forked from that
    /// thread makes a timer of its own (it inherits none) and is woken too.
    #[test]
    fn a_slice_timer_wakes_its_own_thread_and_a_forked_childs() {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mine = woken(SliceTimer::this_thread().unwrap());
            let mut child = Child::fork(|| match SliceTimer::this_thread() {
                Ok(t) if woken(t) => 0,
                Ok(_) => 1,
                Err(_) => 2,
            })
            .unwrap();
            let theirs = child.wait_for(Duration::from_secs(30)).unwrap();
            let _ = tx.send((mine, theirs));
        });
        let (mine, theirs) = rx.recv_timeout(Duration::from_secs(60)).expect("it hangs");
        assert!(mine, "the thread that armed the timer slept on");
        assert_eq!(theirs, Some(ExitStatus::Exited(0)), "the forked child (1: slept on)");
    }
}
