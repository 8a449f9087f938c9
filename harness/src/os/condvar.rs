//! A process-shared pthread mutex and condition variable placed in a shared region — how
//! ipc-bench's `shm-sync` waits. The publisher stores its word, then locks, broadcasts and
//! unlocks; a waiter locks, and while the word is not what it waits for, sleeps in
//! `pthread_cond_timedwait` (which releases the lock). Broadcasting under the lock after the
//! store means a waiter that looked at the word before the store is already asleep on the
//! condition when the broadcast comes: no wake-up is lost.
//!
//! The mutex is robust (a peer killed while holding it does not lock the other out) and every
//! wait has a timeout, so a dead or hung peer and Ctrl-C are noticed through the [`Watch`].

use crate::os::watch::{WaitError, Watch};
use std::sync::atomic::{AtomicU32, Ordering};

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

    /// Waits until `ready()` holds; returns how many times it slept.
    #[inline]
    pub fn wait_until(
        &self,
        ready: impl Fn() -> bool,
        watch: &mut Watch,
    ) -> Result<u64, WaitError> {
        if ready() {
            return Ok(0);
        }
        self.lock(watch)?;
        let mut sleeps = 0;
        while !ready() {
            sleeps += 1;
            let until = deadline(libc::CLOCK_MONOTONIC);
            // SAFETY: we hold the mutex the condition variable is used with.
            let r = unsafe { libc::pthread_cond_timedwait(self.cond(), self.mutex(), &until) };
            if r == libc::EOWNERDEAD {
                // SAFETY: we hold it again.
                unsafe { libc::pthread_mutex_consistent(self.mutex()) };
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
