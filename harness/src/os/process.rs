//! Child processes: a worker is either a forked child of the runner or a fresh exec of this
//! binary's hidden `worker` subcommand. Either way it is owned by a [`Worker`] guard that kills
//! and reaps it on every path out, and it dies with the runner (`PR_SET_PDEATHSIG`).

use crate::os::watch::{WaitError, Watch};
use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::sys::prctl;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitid, waitpid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// `_exit(code)`.
    Exited(i32),
    /// Killed by this signal.
    Signaled(i32),
}

impl ExitStatus {
    pub fn success(self) -> bool {
        self == ExitStatus::Exited(0)
    }

    fn from_wait(w: WaitStatus) -> Option<ExitStatus> {
        match w {
            WaitStatus::Exited(_, code) => Some(ExitStatus::Exited(code)),
            WaitStatus::Signaled(_, sig, _) => Some(ExitStatus::Signaled(sig as i32)),
            _ => None,
        }
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            ExitStatus::Exited(0) => f.write_str("exited normally"),
            ExitStatus::Exited(code) => write!(f, "exited with status {code}"),
            ExitStatus::Signaled(sig) => {
                let name = Signal::try_from(sig).map(|s| s.to_string());
                write!(f, "was killed by {}", name.unwrap_or_else(|_| sig.to_string()))
            }
        }
    }
}

/// A child process, killed and reaped on every path out unless it was waited for.
#[derive(Debug)]
pub struct Child {
    pid: Pid,
    reaped: bool,
}

impl Child {
    /// Forks a child that runs `body` and `_exit`s with its value (101 if it panics) and dies
    /// with its parent (`PR_SET_PDEATHSIG`). The child never returns into the caller's code, so
    /// guards it inherited (temp files, shared-memory names) are dropped only by the parent.
    pub fn fork(body: impl FnOnce() -> i32) -> Result<Child> {
        // SAFETY: the child only runs `body` and `_exit`s. ipcbench forks from a single-threaded
        // runner (the progress bar draws from the main thread), and glibc's malloc is fork-safe.
        match unsafe { fork() }.context("fork")? {
            ForkResult::Child => {
                let _ = prctl::set_pdeathsig(Signal::SIGKILL);
                let code =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(101);
                // SAFETY: leave without running the parent's destructors or atexit handlers.
                unsafe { libc::_exit(code) }
            }
            ForkResult::Parent { child } => Ok(Child { pid: child, reaped: false }),
        }
    }

    pub fn pid(&self) -> libc::pid_t {
        self.pid.as_raw()
    }

    /// Waits for the child to end and reaps it.
    pub fn wait(&mut self) -> Result<ExitStatus> {
        loop {
            match waitpid(self.pid, None) {
                Ok(w) => {
                    if let Some(status) = ExitStatus::from_wait(w) {
                        self.reaped = true;
                        return Ok(status);
                    }
                }
                Err(Errno::EINTR) => {}
                Err(e) => bail!("cannot reap child {}: {e}", self.pid),
            }
        }
    }
}

impl Child {
    /// Waits at most `limit` for the child to end and reaps it if it did; `None` if it still
    /// runs (or is stopped) then, left to its guard: for waits that must not hang (a worker's
    /// reap in [`Worker::finish`], tests).
    pub fn wait_for(&mut self, limit: std::time::Duration) -> Result<Option<ExitStatus>> {
        let until = std::time::Instant::now() + limit;
        let mut pause = std::time::Duration::from_micros(20);
        loop {
            match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => {}
                Ok(w) => {
                    if let Some(status) = ExitStatus::from_wait(w) {
                        self.reaped = true;
                        return Ok(Some(status));
                    }
                }
                Err(Errno::EINTR) => {}
                Err(e) => bail!("cannot reap child {}: {e}", self.pid),
            }
            let now = std::time::Instant::now();
            if now >= until {
                return Ok(None);
            }
            // A child that is ending is seen within microseconds; a stopped one costs little.
            std::thread::sleep(pause.min(until - now));
            pause = (pause * 2).min(std::time::Duration::from_millis(5));
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            // Our own child, not yet reaped, so the pid is still ours.
            let _ = kill(self.pid, Signal::SIGKILL);
            let _ = self.wait();
        }
    }
}

/// How a child ended, if it has, without reaping it (`WNOWAIT`): its guard reaps it later.
pub(crate) fn peek_exit(pid: libc::pid_t) -> Option<ExitStatus> {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    ExitStatus::from_wait(waitid(Id::Pid(Pid::from_raw(pid)), flags).ok()?)
}

/// For a child that provokes SIGSEGV or SIGBUS on purpose: it leaves no core file behind.
pub fn no_core_dump() {
    let _ = prctl::set_dumpable(false);
    let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0);
}

/// Pins the calling process to one CPU.
pub fn pin_to(cpu: usize) -> Result<()> {
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu).with_context(|| format!("CPU {cpu} is out of range"))?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .with_context(|| format!("cannot pin to CPU {cpu}"))
}

/// A worker: a child with a report channel (and, when spawned, its stderr).
#[derive(Debug)]
pub struct Worker {
    child: Child,
    report: Option<std::fs::File>,
    stderr: Option<std::fs::File>,
}

impl Worker {
    pub fn pid(&self) -> libc::pid_t {
        self.child.pid()
    }

    /// Reads the worker's report (everything it wrote to its report channel) and reaps it.
    /// Fails if it died, hung or wrote no report.
    pub fn finish(mut self, watch: &mut Watch) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        if let Some(f) = self.report.take() {
            read_report(f.as_raw_fd(), self.child.pid(), &mut out, watch)?;
        }
        // Bounded too: a worker stopped (SIGSTOP, a debugger) after closing its report would
        // never be reported by a plain waitpid. The watch calls that a hang; the guard kills it.
        let status = loop {
            if let Some(status) = self.child.wait_for(std::time::Duration::from_millis(100))? {
                break status;
            }
            if let Err(e) = watch.check() {
                // A worker that ended just now: its status and report decide, not the watch.
                match self.child.wait_for(std::time::Duration::from_millis(100))? {
                    Some(status) => break status,
                    None => return Err(e.into()),
                }
            }
        };
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
}

/// Reads worker `pid`'s report from `fd` until end-of-file or until the worker has ended and
/// what it wrote is read, waiting in `poll` slices so the watch looks around. Once the worker
/// has ended, end-of-file is not waited for: a process forked meanwhile by another thread (a
/// test binary forks from many) may hold a copy of the write end for as long as it lives.
pub fn read_report(
    fd: RawFd,
    pid: libc::pid_t,
    out: &mut Vec<u8>,
    watch: &mut Watch,
) -> Result<()> {
    // SAFETY: fcntl on a valid fd; a non-blocking read returns EAGAIN instead of waiting.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    let mut buf = [0u8; 8192];
    loop {
        // Looked at before the pipe is drained: whatever an ended worker wrote is in it then.
        let ended = peek_exit(pid).is_some();
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
                match e.raw_os_error() {
                    Some(libc::EINTR) => {}
                    Some(libc::EAGAIN) => break,
                    _ => return Err(e).context("reading the worker's report"),
                }
            }
        }
        if ended {
            return Ok(());
        }
        // One slice of waiting for more, then the watch looks around, and so do we.
        let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut p, 1, SLICE_MS) } <= 0 {
            match watch.check() {
                // A worker that has ended: its exit status is judged once it is reaped.
                Err(WaitError::PeerGone(_)) | Ok(()) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// How long [`read_report`] waits in one `poll` before it looks around.
const SLICE_MS: libc::c_int = (crate::os::watch::LOOK_EVERY_NS / 1_000_000) as libc::c_int;

/// Forks a worker that runs `body` (pinned to `pin`) and exits with its status; `body` writes
/// its report to the given writer.
pub fn fork_worker(pin: Option<usize>, body: impl FnOnce(&mut dyn Write) -> i32) -> Result<Worker> {
    let (rx, tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    let read_end = rx.as_raw_fd();
    let child = Child::fork(move || {
        // The child's copy of the read end: closed, so the parent alone holds it.
        let _ = nix::unistd::close(read_end);
        if let Some(cpu) = pin {
            if pin_to(cpu).is_err() {
                return 3;
            }
        }
        // A SIGBUS in the body (a mapping that lost its backing store) becomes its report.
        crate::os::watch::report_bus_errors_to(tx.as_raw_fd());
        let mut out = std::fs::File::from(tx);
        let code = body(&mut out);
        let _ = out.flush();
        code
    })?;
    // The parent's copy of the write end is gone with the closure: end-of-file comes when the
    // child closes its own.
    Ok(Worker { child, report: Some(std::fs::File::from(rx)), stderr: None })
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
    let child = Child { pid: Pid::from_raw(child.id() as libc::pid_t), reaped: false };
    Ok(Worker { child, report, stderr })
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
    use std::time::Duration;

    #[test]
    fn forked_worker_reports_and_is_reaped() {
        let w = fork_worker(None, |out| {
            out.write_all(b"hello").unwrap();
            0
        })
        .unwrap();
        let mut watch = Watch::over_child(Duration::from_secs(60), w.pid());
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
        let mut watch = Watch::over_child(Duration::from_secs(60), w.pid());
        let err = w.finish(&mut watch).unwrap_err().to_string();
        assert!(err.contains("killed by SIGKILL"), "{err}");
    }

    /// Waits (without reaping) until worker `pid` has ended.
    fn until_ended(pid: libc::pid_t) {
        // A guard against a hang, not a speed limit.
        let until = std::time::Instant::now() + Duration::from_secs(120);
        while peek_exit(pid).is_none() {
            assert!(std::time::Instant::now() < until, "worker {pid} never ended");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// A test binary forks from many threads, so a stranger (another test's child) may hold a
    /// copy of a worker's report pipe: end-of-file then waits for the stranger. The report of a
    /// worker that ended is read all the same, not reported as a hang once the watch runs out.
    /// Here the runner itself keeps the write end open, as the stranger would.
    #[test]
    fn a_report_is_read_while_a_stranger_holds_the_pipe_open() {
        let (rx, tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let mut child = Child::fork(|| {
            let mut out = std::fs::File::from(tx.try_clone().unwrap());
            out.write_all(b"done").unwrap();
            0
        })
        .unwrap();
        // A stall of 30 s is what the watch would report; the report must come before it.
        let mut watch = Watch::over_child(Duration::from_secs(30), child.pid());
        let mut out = Vec::new();
        let r = read_report(rx.as_raw_fd(), child.pid(), &mut out, &mut watch);
        drop(tx);
        r.unwrap();
        assert_eq!(out, b"done");
        assert_eq!(child.wait_for(Duration::from_secs(120)).unwrap(), Some(ExitStatus::Exited(0)));
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
        let mut watch = Watch::over_child(Duration::from_secs(60), w.pid());
        watch.check().expect("a clean exit is not an error");
        assert_eq!(w.finish(&mut watch).unwrap(), b"done");
    }

    #[test]
    fn a_worker_that_failed_is_reported_by_a_tick() {
        let w = fork_worker(None, |_| 1).unwrap();
        until_ended(w.pid());
        let mut watch = Watch::over_child(Duration::from_secs(60), w.pid());
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
