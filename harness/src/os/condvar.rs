//! A process-shared pthread mutex and condition variable placed in a shared region — how
//! ipc-bench's `shm-sync` waits. The publisher stores its word, then locks, broadcasts and
//! unlocks; a waiter locks, and while the word is not what it waits for, sleeps in
//! `pthread_cond_timedwait` (which releases the lock). Broadcasting under the lock after the
//! store means a waiter that looked at the word before the store is already asleep on the
//! condition when the broadcast comes: no wake-up is lost.
//!
//! The mutex is robust (a peer killed while holding it does not lock the other out: the next
//! taker gets `EOWNERDEAD`), and every lock we take ourselves is a `pthread_mutex_timedlock` in
//! slices that ask the [`Watch`], so a dead or hung peer and Ctrl-C are noticed.
//!
//! One lock is not ours to time: `pthread_cond_timedwait` re-takes the mutex before it returns,
//! timeout or not, and waits for it without limit. A peer stopped (SIGSTOP, a debugger) while
//! holding the mutex would hold that wait forever. So the runner, which owns the peer, keeps a
//! [`HangBreaker`] beside its waits: a thread that sees one `pthread_cond_timedwait` last longer
//! than the watch's timeout — which only that endless re-lock can do, every other wait returns
//! within a slice — and kills the peer. Its death releases the robust mutex (`EOWNERDEAD`), the
//! wait returns, and the case fails as a hang.

use crate::os::watch::{WaitError, Watch};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

/// Bytes a [`SharedCondvar`] takes in a region (64-byte aligned).
pub const CONDVAR_LEN: usize = 128;
/// A sleep gives up after this long to look at the watch.
const SLICE_NS: i64 = 100_000_000;

#[repr(C)]
struct Shared {
    /// 0: untouched (a fresh region is zero), 1: being set up, 2: ready.
    state: AtomicU32,
    mutex: libc::pthread_mutex_t,
    cond: libc::pthread_cond_t,
}

const _: () = assert!(std::mem::size_of::<Shared>() <= CONDVAR_LEN);

/// A handle on the mutex and condition variable at a place in a shared region.
#[derive(Clone, Copy, Debug)]
pub struct SharedCondvar(*mut Shared);

// SAFETY: the pointer is into a shared mapping; all access goes through pthread calls and atomics.
unsafe impl Send for SharedCondvar {}

impl SharedCondvar {
    /// Attaches to the condvar at `at`, setting it up if this is the first side there.
    ///
    /// # Safety
    /// `at` must be 8-byte aligned, with [`CONDVAR_LEN`] bytes that were zero when the region
    /// was created, inside a mapping that outlives every use of the handle.
    pub unsafe fn attach(at: *mut u8) -> SharedCondvar {
        let s = at as *mut Shared;
        let state = &(*s).state;
        if state.compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            let mut ma: libc::pthread_mutexattr_t = std::mem::zeroed();
            libc::pthread_mutexattr_init(&mut ma);
            libc::pthread_mutexattr_setpshared(&mut ma, libc::PTHREAD_PROCESS_SHARED);
            libc::pthread_mutexattr_setrobust(&mut ma, libc::PTHREAD_MUTEX_ROBUST);
            libc::pthread_mutex_init(&raw mut (*s).mutex, &ma);
            libc::pthread_mutexattr_destroy(&mut ma);
            let mut ca: libc::pthread_condattr_t = std::mem::zeroed();
            libc::pthread_condattr_init(&mut ca);
            libc::pthread_condattr_setpshared(&mut ca, libc::PTHREAD_PROCESS_SHARED);
            libc::pthread_condattr_setclock(&mut ca, libc::CLOCK_MONOTONIC);
            libc::pthread_cond_init(&raw mut (*s).cond, &ca);
            libc::pthread_condattr_destroy(&mut ca);
            state.store(2, Ordering::Release);
        } else {
            while state.load(Ordering::Acquire) != 2 {
                std::thread::yield_now();
            }
        }
        SharedCondvar(s)
    }

    fn mutex(&self) -> *mut libc::pthread_mutex_t {
        // SAFETY: see `attach`.
        unsafe { &raw mut (*self.0).mutex }
    }

    fn cond(&self) -> *mut libc::pthread_cond_t {
        // SAFETY: see `attach`.
        unsafe { &raw mut (*self.0).cond }
    }

    /// Takes the lock, waiting at most a slice at a time and asking the watch in between.
    fn lock(&self, watch: &mut Watch) -> Result<(), WaitError> {
        loop {
            // timedlock counts on the realtime clock.
            let until = deadline(libc::CLOCK_REALTIME);
            // SAFETY: an initialised process-shared mutex.
            match unsafe { libc::pthread_mutex_timedlock(self.mutex(), &until) } {
                0 => return Ok(()),
                // The peer died holding it; what it guarded is one word, always consistent.
                libc::EOWNERDEAD => {
                    // SAFETY: we hold it now.
                    unsafe { libc::pthread_mutex_consistent(self.mutex()) };
                    return Ok(());
                }
                _ => watch.check()?,
            }
        }
    }

    fn unlock(&self) {
        // SAFETY: held by us.
        unsafe { libc::pthread_mutex_unlock(self.mutex()) };
    }

    /// After publishing: wakes every waiter.
    #[inline]
    pub fn notify(&self, watch: &mut Watch) -> Result<(), WaitError> {
        self.lock(watch)?;
        // SAFETY: an initialised process-shared condition variable.
        unsafe { libc::pthread_cond_broadcast(self.cond()) };
        self.unlock();
        Ok(())
    }

    /// After publishing, where no watch is at hand (the ring's batched publish): wakes every
    /// waiter if the lock comes within a slice, else gives up and returns false. Nothing is
    /// lost then: a waiter's sleep ends after a slice anyway and it looks at the word again;
    /// and a peer that holds the lock that long hangs, which the waits' watches report.
    #[inline]
    pub fn try_notify(&self) -> bool {
        let until = deadline(libc::CLOCK_REALTIME);
        // SAFETY: an initialised process-shared mutex.
        match unsafe { libc::pthread_mutex_timedlock(self.mutex(), &until) } {
            0 => {}
            libc::EOWNERDEAD => unsafe {
                // SAFETY: we hold it now; what it guards is always consistent.
                libc::pthread_mutex_consistent(self.mutex());
            },
            _ => return false,
        }
        // SAFETY: an initialised process-shared condition variable; we hold its mutex.
        unsafe { libc::pthread_cond_broadcast(self.cond()) };
        self.unlock();
        true
    }

    /// Waits until `ready()` holds; returns how many times it slept. In the runner, `breaker`
    /// (see [`HangBreaker`]) bounds the one unbounded step, the re-lock inside the wait.
    #[inline]
    pub fn wait_until(
        &self,
        ready: impl Fn() -> bool,
        watch: &mut Watch,
        breaker: Option<&HangBreaker>,
    ) -> Result<u64, WaitError> {
        if ready() {
            return Ok(0);
        }
        self.lock(watch)?;
        let mut sleeps = 0;
        while !ready() {
            sleeps += 1;
            let until = deadline(libc::CLOCK_MONOTONIC);
            if let Some(b) = breaker {
                b.enter();
            }
            // SAFETY: we hold the mutex the condition variable is used with.
            let r = unsafe { libc::pthread_cond_timedwait(self.cond(), self.mutex(), &until) };
            if let Some(b) = breaker {
                b.leave();
            }
            if r == libc::EOWNERDEAD {
                // SAFETY: we hold it again.
                unsafe { libc::pthread_mutex_consistent(self.mutex()) };
            }
            if let Some(stalled) = breaker.and_then(HangBreaker::broke) {
                self.unlock();
                return Err(stalled);
            }
            if r != 0 && !ready() {
                if let Err(e) = watch.check() {
                    self.unlock();
                    return Err(e);
                }
            }
        }
        self.unlock();
        Ok(sleeps)
    }
}

/// The runner's guard over its condvar waits (see the module doc): a thread that kills the
/// peer if one `pthread_cond_timedwait` outlasts the watch's timeout. It looks every slice and
/// costs the waits two relaxed stores; it is stopped and joined when dropped, before the runner
/// forks the next peer.
pub struct HangBreaker {
    state: Arc<BreakerState>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct BreakerState {
    /// Odd while the waiting thread is inside `pthread_cond_timedwait`; bumped on entry and on
    /// exit, so a value seen twice is the same wait.
    inside: AtomicU64,
    stop: AtomicBool,
    /// How long the wait had lasted when the peer was killed (ns), or 0.
    broke_after_ns: AtomicU64,
}

impl HangBreaker {
    /// A breaker over the runner's peer, if `watch` is the runner's watch over one; `None` in a
    /// worker (its runner is no process it may kill, and cleans up after it anyway).
    pub fn for_watch(watch: &Watch) -> Option<HangBreaker> {
        let (peer, timeout) = watch.child_peer()?;
        HangBreaker::over(vec![peer], timeout)
    }

    /// A breaker over several peers (fan-out's readers): any of them may hold the mutex.
    pub fn over(peers: Vec<libc::pid_t>, timeout: std::time::Duration) -> Option<HangBreaker> {
        let state = Arc::new(BreakerState {
            inside: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            broke_after_ns: AtomicU64::new(0),
        });
        let s = state.clone();
        let thread = std::thread::Builder::new()
            .name("hang-breaker".into())
            .spawn(move || breaker_loop(&s, &peers, timeout.as_nanos() as u64))
            .ok()?;
        Some(HangBreaker { state, thread: Some(thread) })
    }

    #[inline(always)]
    fn enter(&self) {
        self.state.inside.fetch_add(1, Ordering::Relaxed);
    }

    #[inline(always)]
    fn leave(&self) {
        self.state.inside.fetch_add(1, Ordering::Relaxed);
    }

    /// The hang, if the breaker had to kill the peer.
    fn broke(&self) -> Option<WaitError> {
        match self.state.broke_after_ns.load(Ordering::Acquire) {
            0 => None,
            ns => Some(WaitError::Stalled(ns as f64 / 1e9)),
        }
    }
}

impl Drop for HangBreaker {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

fn breaker_loop(s: &BreakerState, peers: &[libc::pid_t], timeout_ns: u64) {
    // Signals are for the waiting thread: Ctrl-C must interrupt its sleep, not this one's.
    // SAFETY: plain signal-mask calls on a valid set.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
    }
    let slice = std::time::Duration::from_nanos(SLICE_NS as u64);
    let (mut seen, mut since) = (0u64, 0u64);
    while !s.stop.load(Ordering::Acquire) {
        std::thread::park_timeout(slice);
        let now = crate::os::clock::now_ns();
        let v = s.inside.load(Ordering::Relaxed);
        if v.is_multiple_of(2) || v != seen {
            (seen, since) = (v, now);
            continue;
        }
        if now - since > timeout_ns {
            s.broke_after_ns.store((now - since).max(1), Ordering::Release);
            for &peer in peers {
                // SAFETY: the runner's own child, not yet reaped (its guard reaps it), so the
                // pid is still that process. Its death hands the robust mutex over with
                // EOWNERDEAD.
                unsafe { libc::kill(peer, libc::SIGKILL) };
            }
            return;
        }
    }
}

/// A slice from now on `clock`.
fn deadline(clock: libc::clockid_t) -> libc::timespec {
    // SAFETY: a valid timespec out-parameter.
    let mut t: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(clock, &mut t) };
    let ns = t.tv_nsec as i64 + SLICE_NS;
    t.tv_sec += (ns / 1_000_000_000) as libc::time_t;
    t.tv_nsec = (ns % 1_000_000_000) as libc::c_long;
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::os::mapping::Region;
    use crate::os::process::{Child, ExitStatus};
    use std::time::Duration;

    /// The peer stops (SIGSTOP) while it holds the mutex and the runner sleeps in
    /// `pthread_cond_timedwait`: the runner's wait must end as a hang, not re-lock forever.
    #[test]
    fn a_peer_stopped_holding_the_mutex_fails_the_wait_as_a_hang() {
        // The peer must take the mutex before the runner's watch gives up on it: a peer not
        // scheduled for that long (a loaded host) made the wait end as a plain stall before it
        // locked, and it then stopped holding the mutex with nobody to kill it. Such a try
        // proves nothing either way: it is told apart by the breaker, which did not fire, and
        // made again with a longer watch. The first try takes 1 s (the breaker fires after
        // the watch's timeout); a host that never runs the peer within 64 s fails.
        for timeout_ms in [1_000, 4_000, 16_000, 64_000] {
            if let Some(done) = stopped_peer_holding_the_mutex(Duration::from_millis(timeout_ms)) {
                let (err, status) = done;
                assert!(err.contains("hangs"), "{err}");
                // The breaker killed the peer.
                assert_eq!(
                    status,
                    Some(ExitStatus::Signaled(libc::SIGKILL)),
                    "the stopped peer lives on"
                );
                return;
            }
        }
        panic!("the peer never took the mutex while the runner waited");
    }

    /// One try: the runner's error and the peer's end, or `None` if the runner's watch gave up
    /// before the peer held the mutex (the breaker never fired; the peer is killed).
    fn stopped_peer_holding_the_mutex(timeout: Duration) -> Option<(String, Option<ExitStatus>)> {
        let region = Region::anon_shared(4096).unwrap();
        let base = region.as_ptr();
        // SAFETY: a fresh zeroed shared page; the condvar at 0, a flag word at 2048.
        let cv = unsafe { SharedCondvar::attach(base) };
        let asleep = unsafe { &*(base.add(2048) as *const AtomicU32) };
        let mut child = Child::fork(|| {
            // Take the mutex once the runner is inside its condvar wait (it raised the flag
            // under the lock, and the lock is ours only once that wait released it), then stop.
            while asleep.load(Ordering::Acquire) == 0 {
                std::hint::spin_loop();
            }
            // SAFETY: the initialised process-shared mutex of the region.
            unsafe {
                libc::pthread_mutex_lock(cv.mutex());
                libc::raise(libc::SIGSTOP);
            }
            0
        })
        .unwrap();
        let pid = child.pid();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let mut watch = Watch::over_child(timeout, pid);
            let breaker = HangBreaker::for_watch(&watch).expect("a runner's watch");
            // `wait_until` asks `ready` once before it takes the lock and then only while it
            // holds it. Raising the flag on the first call would let the peer take the mutex
            // and stop before the runner locks: the runner's own lock would then time out on
            // the watch, the breaker would never fire, and the stopped peer would never die.
            let calls = std::cell::Cell::new(0u32);
            let ready = || {
                calls.set(calls.get() + 1);
                if calls.get() > 1 {
                    asleep.store(1, Ordering::Release);
                }
                false
            };
            let r = cv.wait_until(ready, &mut watch, Some(&breaker));
            let _ = tx.send((r.map_err(|e| e.to_string()), breaker.broke().is_some()));
        });
        // A guard against a hang, not a speed limit: without the breaker the wait never ends.
        let r = rx.recv_timeout(timeout + Duration::from_secs(120));
        let Ok((r, broke)) = r else {
            drop(child); // kills the peer: the robust mutex frees the waiter.
            panic!("the condvar wait hung on a stopped peer holding the mutex");
        };
        waiter.join().unwrap();
        let err = r.expect_err("nothing was ever published");
        if !broke {
            // The watch ended the wait before the peer held the mutex; the guard kills it.
            return None;
        }
        // A peer still stopped is a failure, not a wait forever (the guard kills it on drop).
        Some((err, child.wait_for(Duration::from_secs(120)).unwrap()))
    }

    #[test]
    fn a_worker_has_no_breaker() {
        let watch = Watch::over_parent(Duration::from_secs(1));
        assert!(HangBreaker::for_watch(&watch).is_none());
    }
}
