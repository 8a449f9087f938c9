//! How workers start and how a waiting side notices trouble.
//!
//! A worker is either a forked child of the runner or a fresh exec of this binary's hidden
//! `worker` subcommand. Either way it is owned by a [`Worker`] guard that kills and reaps it on
//! every path out, and it dies with the runner (`PR_SET_PDEATHSIG`).
//!
//! Waits never block forever: an interval timer (`SIGALRM`, installed without `SA_RESTART`)
//! interrupts blocking calls and raises a flag that spin loops poll, and at each tick the waiter
//! asks its [`Watch`] whether the peer died, the user pressed Ctrl-C, or nothing has moved for
//! too long. The hot path costs one relaxed load.

use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static TICK: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}
extern "C" fn on_tick(_: libc::c_int) {
    TICK.store(true, Ordering::Relaxed);
}

fn set_handler(sig: libc::c_int, handler: extern "C" fn(libc::c_int)) {
    // SAFETY: the handlers only store to atomics (async-signal-safe). No SA_RESTART, on purpose:
    // a blocking read must return EINTR so its caller can look around.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = 0;
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

/// Installs the Ctrl-C (SIGINT, SIGTERM) and tick (SIGALRM) handlers and starts the ticker.
/// Called once by the runner and once by each worker.
pub fn install_signal_handlers() {
    set_handler(libc::SIGINT, on_interrupt);
    set_handler(libc::SIGTERM, on_interrupt);
    set_handler(libc::SIGALRM, on_tick);
    // SIGPIPE would kill us when a peer dies mid-write; EPIPE is reported instead.
    // SAFETY: plain signal disposition change.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let period = libc::timeval { tv_sec: 0, tv_usec: 100_000 };
    let timer = libc::itimerval { it_interval: period, it_value: period };
    // SAFETY: valid itimerval.
    unsafe { libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut()) };
}

/// Restores the default SIGPIPE disposition: a closed stdout (`ipcbench list | head`) then ends
/// the process quietly instead of failing a print.
pub fn default_sigpipe() {
    // SAFETY: plain signal disposition change.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
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
}

impl Watch {
    pub fn new(timeout: Duration) -> Watch {
        Watch {
            peer: Peer::None,
            timeout_ns: timeout.as_nanos() as u64,
            progress: 0,
            seen: u64::MAX,
            stalled_since: None,
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

    /// Called in wait loops: cheap unless the ticker fired.
    #[inline(always)]
    pub fn tick(&mut self) -> Result<(), WaitError> {
        if TICK.load(Ordering::Relaxed) || INTERRUPTED.load(Ordering::Relaxed) {
            TICK.store(false, Ordering::Relaxed);
            self.check()
        } else {
            Ok(())
        }
    }

    /// Called when a blocking call returned EINTR, or at a tick.
    pub fn check(&mut self) -> Result<(), WaitError> {
        if interrupted() {
            return Err(WaitError::Interrupted);
        }
        match self.peer {
            Peer::Child(pid) => match peek_exit(pid) {
                // A worker that exited 0 finished its part (a fan-out reader that has every
                // record while the writer still feeds the others): not a failure. Whatever
                // its work left undone shows as a stall or a missing report.
                Some((true, _)) => self.peer = Peer::None,
                Some((false, how)) => {
                    return Err(WaitError::PeerGone(format!("worker {how} before the case ended")))
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
        let now = crate::clock::now_ns();
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

/// How a child ended, if it has, without reaping it (`WNOWAIT`): the guard reaps it later.
/// `true` with an exit status of 0.
fn peek_exit(pid: libc::pid_t) -> Option<(bool, String)> {
    // SAFETY: zeroed siginfo is valid; waitid with WNOHANG|WNOWAIT does not block or reap.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        if r != 0 || info.si_pid() == 0 {
            return None;
        }
        let clean = info.si_code == libc::CLD_EXITED && info.si_status() == 0;
        Some((clean, describe_siginfo(info.si_code, info.si_status())))
    }
}

fn describe_siginfo(code: i32, status: i32) -> String {
    if code == libc::CLD_EXITED {
        format!("exited with status {status}")
    } else {
        format!("was killed by signal {}", signal_name(status))
    }
}

fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig).map(|s| s.to_string()).unwrap_or(sig.to_string())
}

/// Pins the calling process to one CPU.
pub fn pin_to(cpu: usize) -> Result<()> {
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu).with_context(|| format!("CPU {cpu} is out of range"))?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .with_context(|| format!("cannot pin to CPU {cpu}"))
}

/// A worker process, killed and reaped on every path out unless it finished.
#[derive(Debug)]
pub struct Worker {
    pid: libc::pid_t,
    report: Option<std::fs::File>,
    stderr: Option<std::fs::File>,
    reaped: bool,
}

impl Worker {
    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// Reads the worker's report (everything it wrote to its report channel) and reaps it.
    /// Fails if it died, hung or wrote no report.
    pub fn finish(mut self, watch: &mut Watch) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        if let Some(f) = self.report.take() {
            read_to_end_watched(f.as_raw_fd(), &mut out, watch)?;
        }
        let status = self.reap()?;
        // A report, even from a worker that failed, says more than its exit status.
        if out.is_empty() {
            let mut err = String::new();
            if let Some(mut f) = self.stderr.take() {
                let _ = f.read_to_string(&mut err);
            }
            let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
            bail!("worker {status}{}{}", if last.is_empty() { "" } else { ": " }, last);
        }
        Ok(out)
    }

    fn reap(&mut self) -> Result<ExitStatus> {
        let mut status = 0;
        loop {
            // SAFETY: waiting on our own child.
            let r = unsafe { libc::waitpid(self.pid, &mut status, 0) };
            if r == self.pid {
                break;
            }
            if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                bail!("cannot reap worker {}: {}", self.pid, std::io::Error::last_os_error());
            }
        }
        self.reaped = true;
        Ok(ExitStatus(status))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: our own child, not yet reaped, so the pid is still ours.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
            let _ = self.reap();
        }
    }
}

/// A raw wait status, described for people.
#[derive(Clone, Copy, Debug)]
pub struct ExitStatus(i32);

impl ExitStatus {
    pub fn success(&self) -> bool {
        libc::WIFEXITED(self.0) && libc::WEXITSTATUS(self.0) == 0
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if libc::WIFEXITED(self.0) {
            write!(f, "exited with status {}", libc::WEXITSTATUS(self.0))
        } else if libc::WIFSIGNALED(self.0) {
            write!(f, "was killed by signal {}", signal_name(libc::WTERMSIG(self.0)))
        } else {
            write!(f, "ended with wait status {}", self.0)
        }
    }
}

/// Reads until EOF, checking the watch whenever the read is interrupted.
pub fn read_to_end_watched(fd: RawFd, out: &mut Vec<u8>, watch: &mut Watch) -> Result<()> {
    let mut buf = [0u8; 8192];
    loop {
        // SAFETY: valid buffer and fd.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            out.extend_from_slice(&buf[..n as usize]);
            watch.progress();
        } else if n == 0 {
            return Ok(());
        } else {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINTR) {
                return Err(e).context("reading the worker's report");
            }
            match watch.check() {
                // A worker that has ended closed its end: the read returns what it wrote, then
                // end-of-file. Its exit status is judged once it is reaped.
                Err(WaitError::PeerGone(_)) => {}
                r => r?,
            }
        }
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")
}

/// Forks a worker that runs `body` and exits with its status; `body` writes its report to the
/// given writer. The child never returns into the caller's code, so guards it inherited
/// (temp files, shared-memory names) are dropped only by the parent.
pub fn fork_worker(pin: Option<usize>, body: impl FnOnce(&mut dyn Write) -> i32) -> Result<Worker> {
    let (rx, tx) = pipe()?;
    // SAFETY: the child only runs `body` and `_exit`s. ipcbench forks from a single-threaded
    // runner (the progress bar draws from the main thread), and glibc's malloc is fork-safe.
    match unsafe { libc::fork() } {
        -1 => bail!("fork: {}", std::io::Error::last_os_error()),
        0 => {
            drop(rx);
            // SAFETY: prctl/getppid are plain syscalls.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                if let Some(cpu) = pin {
                    if pin_to(cpu).is_err() {
                        return 3;
                    }
                }
                let mut out = std::fs::File::from(tx);
                let code = body(&mut out);
                let _ = out.flush();
                code
            }))
            .unwrap_or(101);
            // SAFETY: leave without running the parent's destructors or atexit handlers.
            unsafe { libc::_exit(code) }
        }
        pid => {
            drop(tx);
            Ok(Worker { pid, report: Some(std::fs::File::from(rx)), stderr: None, reaped: false })
        }
    }
}

/// Starts `exe worker --spec JSON` as an unrelated program would be started; it opens the
/// shared object by path, name, id or one of the `inherit` fds. Its stdout is its report.
pub fn spawn_worker(
    exe: &Path,
    spec_json: &str,
    inherit: &[RawFd],
    pin: Option<usize>,
) -> Result<Worker> {
    use std::os::unix::process::CommandExt;
    let inherit = inherit.to_vec();
    let mut cmd = std::process::Command::new(exe);
    // `ps` shows `ipcbench worker …` even when `exe` is /proc/self/exe.
    cmd.arg0("ipcbench")
        .arg("worker")
        .arg("--spec")
        .arg(spec_json)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            for &fd in &inherit {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            }
            if let Some(cpu) = pin {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(cpu, &mut set);
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
            }
            Ok(())
        });
    }
    let mut child =
        cmd.spawn().with_context(|| format!("cannot start worker {}", exe.display()))?;
    let report = child.stdout.take().map(|s| std::fs::File::from(OwnedFd::from(s)));
    let stderr = child.stderr.take().map(|s| std::fs::File::from(OwnedFd::from(s)));
    // The std Child is dropped without waiting; the guard reaps by pid.
    Ok(Worker { pid: child.id() as libc::pid_t, report, stderr, reaped: false })
}

/// Turns an inherited fd number back into an owned fd (in a spawned worker).
///
/// # Safety
/// `fd` must be open in this process and owned by nobody else.
pub unsafe fn adopt_fd(fd: RawFd) -> OwnedFd {
    OwnedFd::from_raw_fd(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forked_worker_reports_and_is_reaped() {
        let w = fork_worker(None, |out| {
            out.write_all(b"hello").unwrap();
            0
        })
        .unwrap();
        let mut watch = Watch::over_child(Duration::from_secs(5), w.pid());
        assert_eq!(w.finish(&mut watch).unwrap(), b"hello");
    }

    #[test]
    fn a_dying_worker_is_an_error_not_a_hang() {
        let w = fork_worker(None, |_| {
            // SAFETY: the child kills itself.
            unsafe { libc::raise(libc::SIGKILL) };
            0
        })
        .unwrap();
        let mut watch = Watch::over_child(Duration::from_secs(5), w.pid());
        let err = w.finish(&mut watch).unwrap_err().to_string();
        assert!(err.contains("killed by signal SIGKILL"), "{err}");
    }

    /// Waits (without reaping) until worker `pid` has ended.
    fn until_ended(pid: libc::pid_t) {
        while peek_exit(pid).is_none() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The fan-out race: a worker that wrote its report and exited 0 before a tick reached the
    /// runner reading that report is not "gone before the case ended".
    #[test]
    fn a_worker_that_finished_is_not_a_failure_when_a_tick_checks_it() {
        let w = fork_worker(None, |out| {
            out.write_all(b"done").unwrap();
            0
        })
        .unwrap();
        until_ended(w.pid());
        let mut watch = Watch::over_child(Duration::from_secs(5), w.pid());
        watch.check().expect("a clean exit is not an error");
        assert_eq!(w.finish(&mut watch).unwrap(), b"done");
    }

    #[test]
    fn a_worker_that_failed_is_reported_by_a_tick() {
        let w = fork_worker(None, |_| 1).unwrap();
        until_ended(w.pid());
        let mut watch = Watch::over_child(Duration::from_secs(5), w.pid());
        let err = watch.check().unwrap_err().to_string();
        assert!(err.contains("exited with status 1"), "{err}");
    }

    #[test]
    fn dropping_a_worker_kills_it() {
        let w = fork_worker(None, |_| {
            std::thread::sleep(Duration::from_secs(60));
            0
        })
        .unwrap();
        let pid = w.pid();
        drop(w);
        // SAFETY: probing a pid; it must be gone (reaped), so kill fails with ESRCH.
        assert_eq!(unsafe { libc::kill(pid, 0) }, -1);
    }
}
