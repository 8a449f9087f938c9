//! How a waiting side notices trouble: Ctrl-C, a peer that died, nothing moving for too long.
//!
//! Waits never block forever, and no periodic signal reaches a measured process: poll loops
//! call [`Watch::tick`] every so many polls, which reads the clock and looks around every
//! [`LOOK_EVERY_NS`]; blocking calls wait in `poll(2)` or a futex sleep of at most that long and
//! then ask their [`Watch`]. Ctrl-C (SIGINT, SIGTERM) sets a flag, and its handler, installed
//! without `SA_RESTART`, makes a sleeping call return `EINTR` so that the flag is seen at once.

use crate::os::clock::now_ns;
use crate::os::process::peek_exit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often a poll loop looks around (peer alive, Ctrl-C, stall).
pub const LOOK_EVERY_NS: u64 = 100_000_000;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// The signals that ask a run to stop: each sets the flag every wait looks at.
const STOP_SIGNALS: [libc::c_int; 2] = [libc::SIGINT, libc::SIGTERM];

fn set_handler(sig: libc::c_int, handler: extern "C" fn(libc::c_int)) {
    // SAFETY: the handler only stores to an atomic (async-signal-safe). No SA_RESTART, on
    // purpose: a sleeping poll, read or futex wait returns EINTR and its caller looks around.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = 0;
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

/// Installs the stop handlers ([`STOP_SIGNALS`]) and ignores SIGPIPE. No timer: nothing of the
/// harness interrupts a measured loop. Called once by the runner and once by each worker.
pub fn install_signal_handlers() {
    for sig in STOP_SIGNALS {
        set_handler(sig, on_interrupt);
    }
    // SIGPIPE would kill us when a peer dies mid-write; EPIPE is reported instead.
    // SAFETY: plain signal disposition change.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

/// Restores the default SIGPIPE disposition: a closed stdout (`ipcbench list | head`) then ends
/// the process quietly instead of failing a print.
pub fn default_sigpipe() {
    // SAFETY: plain signal disposition change.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

/// Waits until `fd` is ready for `events` (`POLLIN`, `POLLOUT`), a hang-up or an error, in
/// slices of [`LOOK_EVERY_NS`]; after each slice that ran out (or a signal) the watch looks
/// around.
pub fn wait_ready(
    fd: std::os::fd::RawFd,
    events: libc::c_short,
    watch: &mut Watch,
) -> anyhow::Result<()> {
    let slice_ms = (LOOK_EVERY_NS / 1_000_000) as libc::c_int;
    loop {
        let mut p = libc::pollfd { fd, events, revents: 0 };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, slice_ms) };
        if n > 0 {
            return Ok(());
        }
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINTR) {
                return Err(anyhow::Error::from(e).context("poll"));
            }
        }
        watch.check()?;
    }
}

/// Whether the user asked us to stop (Ctrl-C or SIGTERM).
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Why a wait gave up.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("interrupted")]
    Interrupted,
    #[error("{0}")]
    PeerGone(String),
    #[error("no progress for {0:.1} s: the peer hangs")]
    Stalled(f64),
}

/// Which peer a waiting side keeps an eye on.
#[derive(Clone, Copy, Debug)]
enum Peer {
    /// The runner watches its worker.
    Child(libc::pid_t),
    /// A worker watches its runner.
    Parent(libc::pid_t),
    None,
}

/// What a waiting side checks at each tick: Ctrl-C, a dead peer, a stall.
#[derive(Debug)]
pub struct Watch {
    peer: Peer,
    timeout_ns: u64,
    progress: u64,
    seen: u64,
    stalled_since: Option<u64>,
    /// When [`Watch::tick`] looks around next (clock, ns).
    next_look: u64,
}

impl Watch {
    pub fn new(timeout: Duration) -> Watch {
        Watch {
            peer: Peer::None,
            timeout_ns: timeout.as_nanos() as u64,
            progress: 0,
            seen: u64::MAX,
            stalled_since: None,
            next_look: 0,
        }
    }
    /// The runner's watch over one worker.
    pub fn over_child(timeout: Duration, pid: libc::pid_t) -> Watch {
        Watch { peer: Peer::Child(pid), ..Watch::new(timeout) }
    }
    /// A worker's watch over the runner that started it.
    pub fn over_parent(timeout: Duration) -> Watch {
        // SAFETY: getppid cannot fail.
        Watch { peer: Peer::Parent(unsafe { libc::getppid() }), ..Watch::new(timeout) }
    }

    /// Something moved (a record arrived, bytes were written): resets the stall timer.
    #[inline(always)]
    pub fn progress(&mut self) {
        self.progress = self.progress.wrapping_add(1);
    }

    /// Called every so many polls of a wait loop: one clock read, and a look around (peer,
    /// Ctrl-C, stall) once every [`LOOK_EVERY_NS`].
    #[inline(always)]
    pub fn tick(&mut self) -> Result<(), WaitError> {
        let now = now_ns();
        if now >= self.next_look || INTERRUPTED.load(Ordering::Relaxed) {
            self.next_look = now + LOOK_EVERY_NS;
            self.check()
        } else {
            Ok(())
        }
    }

    /// Looks around now: called when a bounded wait (`poll`, a futex sleep) ran out or returned
    /// EINTR, or by a due tick.
    pub fn check(&mut self) -> Result<(), WaitError> {
        if interrupted() {
            return Err(WaitError::Interrupted);
        }
        match self.peer {
            Peer::Child(pid) => match peek_exit(pid) {
                // A worker that exited 0 finished its part (a fan-out reader that has every
                // record while the writer still feeds the others): not a failure. Whatever
                // its work left undone shows as a stall or a missing report.
                Some(status) if status.success() => self.peer = Peer::None,
                Some(status) => {
                    return Err(WaitError::PeerGone(format!(
                        "worker {status} before the case ended"
                    )))
                }
                None => {}
            },
            Peer::Parent(ppid) => {
                // SAFETY: getppid cannot fail.
                if unsafe { libc::getppid() } != ppid {
                    return Err(WaitError::PeerGone("runner exited".into()));
                }
            }
            Peer::None => {}
        }
        let now = now_ns();
        if self.progress != self.seen {
            self.seen = self.progress;
            self.stalled_since = Some(now);
        } else if let Some(since) = self.stalled_since {
            if now - since > self.timeout_ns {
                return Err(WaitError::Stalled((now - since) as f64 / 1e9));
            }
        }
        Ok(())
    }
}
