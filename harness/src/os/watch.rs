//! How a waiting side notices trouble: Ctrl-C, a peer that died, nothing moving for too long.
//!
//! Waits never block forever, and no periodic signal reaches a measured process: poll loops
//! call [`Watch::tick`] every so many polls, which reads the clock and looks around every
//! [`LOOK_EVERY_NS`]; blocking calls wait in `poll(2)` or a futex sleep of at most that long and
//! then ask their [`Watch`]. Ctrl-C (and SIGTERM, SIGHUP, SIGQUIT) sets a flag, and its handler, installed
//! without `SA_RESTART`, makes a sleeping call return `EINTR` so that the flag is seen at once.

use crate::os::clock::now_ns;
use crate::os::process::peek_exit;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::Duration;

/// How often a poll loop looks around (peer alive, Ctrl-C, stall).
pub const LOOK_EVERY_NS: u64 = 100_000_000;

/// The signal that asked us to stop (SIGINT, SIGTERM, SIGHUP, SIGQUIT), or 0.
static INTERRUPTED: AtomicI32 = AtomicI32::new(0);

/// The signals that ask a run to stop, handled as Ctrl-C is: each sets the flag every wait looks
/// at; the run keeps its cases, cleans up and exits 128 + the signal.
pub const STOP_SIGNALS: [libc::c_int; 4] =
    [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

extern "C" fn on_interrupt(sig: libc::c_int) {
    INTERRUPTED.store(sig, Ordering::SeqCst);
}

/// Where a worker's report goes (its report pipe or stdout), or -1 in the runner.
static REPORT_FD: AtomicI32 = AtomicI32::new(-1);

/// SIGBUS faults the runner survived (see [`on_bus_error`]); the runner compares it before and
/// after a case.
static BUS_FAULTS: AtomicU64 = AtomicU64::new(0);

/// A shared mapping whose backing store is gone (truncated by someone else, or a reservation the
/// filesystem did not honour) faults with SIGBUS. A worker says why and ends: a report the
/// runner records as the case's error (exit 1). The runner must live on to record it and clean
/// up, so it puts a private zero page where the lost one was (the access then completes, reads
/// zeros — which no record verifies against — and the case fails on its own), and counts the
/// fault for [`bus_faults`]. Only async-signal-safe calls: write, mmap, _exit, signal, raise.
extern "C" fn on_bus_error(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    const REPORT: &[u8] = b"{\"error\":\"SIGBUS: the shared mapping lost its backing store (the \
file was truncated, or its filesystem is full)\"}";
    const LINE: &[u8] = b"error: SIGBUS outside a shared mapping; what this run left is removed \
at the next start\n";
    let fd = REPORT_FD.load(Ordering::SeqCst);
    // SAFETY: async-signal-safe calls only; the page replaced is one the kernel just said has
    // no backing store, inside a mapping of ours.
    unsafe {
        if fd >= 0 {
            libc::write(fd, REPORT.as_ptr().cast(), REPORT.len());
            libc::_exit(1);
        }
        let addr = (*info).si_addr() as usize & !(crate::os::mapping::PAGE - 1);
        let page = libc::mmap(
            addr as *mut libc::c_void,
            crate::os::mapping::PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if addr != 0 && page != libc::MAP_FAILED {
            BUS_FAULTS.fetch_add(1, Ordering::SeqCst);
            return;
        }
        libc::write(2, LINE.as_ptr().cast(), LINE.len());
        libc::signal(libc::SIGBUS, libc::SIG_DFL);
        libc::raise(libc::SIGBUS);
    }
}

/// How many lost pages the runner has papered over since it started (see [`on_bus_error`]).
pub fn bus_faults() -> u64 {
    BUS_FAULTS.load(Ordering::SeqCst)
}

/// What a case that took a SIGBUS failed with.
pub const BUS_ERROR: &str = "SIGBUS: the shared mapping lost its backing store (the file was \
truncated, or its filesystem is full)";

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

/// Installs the stop handlers ([`STOP_SIGNALS`]) and the SIGBUS handler, and ignores SIGPIPE.
/// No timer: nothing of the harness interrupts a measured loop. Called once by the runner and
/// once by each worker.
pub fn install_signal_handlers() {
    for sig in STOP_SIGNALS {
        set_handler(sig, on_interrupt);
    }
    // SAFETY: see on_bus_error; SA_SIGINFO for the faulting address, SA_NODEFER so a second
    // lost page faults again instead of being blocked.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_bus_error
            as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)
            as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER;
        libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
    }
    // SIGPIPE would kill us when a peer dies mid-write; EPIPE is reported instead.
    // SAFETY: plain signal disposition change.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

/// In a worker: a SIGBUS becomes a report on `fd` (its report channel) saying why, so the
/// runner records it as the case's error.
pub fn report_bus_errors_to(fd: libc::c_int) {
    REPORT_FD.store(fd, Ordering::SeqCst);
}

/// Restores the default SIGBUS and SIGSEGV dispositions, for a child whose fault is what is
/// being observed (the seed claims): [`install_signal_handlers`]' SIGBUS handler would paper
/// over it, and the child would exit normally.
pub fn default_fault_signals() {
    // SAFETY: plain signal disposition changes.
    unsafe {
        libc::signal(libc::SIGBUS, libc::SIG_DFL);
        libc::signal(libc::SIGSEGV, libc::SIG_DFL);
    }
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

/// Whether the user asked us to stop (one of [`STOP_SIGNALS`]: Ctrl-C, SIGTERM, SIGHUP, SIGQUIT).
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst) != 0
}

/// The signal that asked us to stop, if one did: the exit status is 128 + it.
pub fn stop_signal() -> Option<i32> {
    Some(INTERRUPTED.load(Ordering::SeqCst)).filter(|&s| s != 0)
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

    /// The runner's worker and the time without progress that means it hangs; `None` for a
    /// worker's watch over its runner, or a watch over nobody.
    pub fn child_peer(&self) -> Option<(libc::pid_t, Duration)> {
        match self.peer {
            Peer::Child(pid) => Some((pid, Duration::from_nanos(self.timeout_ns))),
            _ => None,
        }
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
        if now >= self.next_look || INTERRUPTED.load(Ordering::Relaxed) != 0 {
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
