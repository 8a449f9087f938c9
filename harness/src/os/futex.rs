//! How a side learns that the other has moved on: the one wait protocol of every mapped
//! pattern — the ping-pong mailboxes, the stream and fan-out ring, the floor's cache-line
//! handoff.
//!
//! A side publishes by storing a new value into a 32-bit word in shared memory (release) after
//! the bytes the value covers; the other side sees the new value (acquire), then reads them.
//! `spin` polls the word. `futex` sleeps in the kernel on it: before sleeping a side raises the
//! waiters flag beside the word, and the publisher issues `FUTEX_WAKE` only if it sees that flag
//! (Dekker-style: each side stores, fences, then loads the other's word, so at least one of them
//! sees the other). Sleeps time out every [`SLEEP_SLICE_NS`] to look at the [`Watch`]; a sleep
//! that timed out although its condition had become true is counted as a missed wake-up, which
//! tests require to be zero.

use crate::os::watch::{WaitError, Watch};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{fence, AtomicU32, Ordering};
use std::time::Duration;

/// A futex sleep gives up after this long to look at the watch.
pub const SLEEP_SLICE_NS: u64 = 100_000_000;
/// A spinner calls [`Watch::tick`] (one clock read) once every this many polls (a power of two).
const POLLS_PER_TICK: u32 = 1024;

/// How a receiver learns a record is there (the result contract's name).
pub use ipcbench_results::Wait;

/// How often a side waited: for the case's figures, and for tests (missed wake-ups must be 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitStats {
    /// Times the side found nothing to do and began to wait (calls to [`Signal::wait_until`]).
    pub waits: u64,
    /// Futex sleeps (each may be followed by more while the condition stays false).
    pub sleeps: u64,
    /// `FUTEX_WAKE` calls issued.
    pub wakes: u64,
    /// Sleeps that timed out although the condition had become true: a lost wake-up.
    pub missed_wakes: u64,
    /// Nanoseconds spent waiting (spinning or asleep).
    #[serde(default)]
    pub wait_ns: u64,
}

impl WaitStats {
    /// Adds another side's (or pair's) counts.
    pub fn add(&mut self, o: &WaitStats) {
        self.waits += o.waits;
        self.sleeps += o.sleeps;
        self.wakes += o.wakes;
        self.missed_wakes += o.missed_wakes;
        self.wait_ns += o.wait_ns;
    }
}

/// A 32-bit word and its waiters flag, side by side in shared memory (word at +0, flag at +4).
#[derive(Clone, Copy, Debug)]
pub struct Signal {
    word: *const AtomicU32,
    waiters: *const AtomicU32,
    /// While spinning, also prefetch this line (the start of the payload), so that when the word
    /// changes the payload's line is already on its way instead of missing after it. Null: none.
    prefetch: *const u8,
}

// SAFETY: the pointers point into a shared mapping; all access goes through atomics.
unsafe impl Send for Signal {}

impl Signal {
    /// The signal whose word lies at `at` and whose waiters flag follows it.
    ///
    /// # Safety
    /// `at` must be 4-byte aligned, with 8 bytes inside a mapping that outlives every use of the
    /// signal.
    pub unsafe fn at(at: *mut u8) -> Signal {
        Signal {
            word: at as *const AtomicU32,
            waiters: at.add(4) as *const AtomicU32,
            prefetch: std::ptr::null(),
        }
    }

    /// The same signal, prefetching `line` while it spins.
    pub fn prefetching(self, line: *const u8) -> Signal {
        Signal { prefetch: line, ..self }
    }

    #[inline(always)]
    fn word(&self) -> &AtomicU32 {
        // SAFETY: see `at`.
        unsafe { &*self.word }
    }

    #[inline(always)]
    fn waiters(&self) -> &AtomicU32 {
        // SAFETY: see `at`.
        unsafe { &*self.waiters }
    }

    /// The word's value now (acquire).
    #[inline(always)]
    pub fn load(&self) -> u32 {
        self.word().load(Ordering::Acquire)
    }

    /// Publishes `value`: everything written before is visible to whoever sees it. Under
    /// `futex`, wakes the sleepers if the flag says there are any.
    #[inline(always)]
    pub fn publish(&self, value: u32, wait: Wait, stats: &mut WaitStats) {
        self.word().store(value, Ordering::Release);
        if wait == Wait::Futex && self.take_waiters() {
            futex_wake(self.word());
            stats.wakes += 1;
        }
    }

    /// After a publish: whether a waiter raised the flag (it is lowered then), so that the
    /// publisher must wake it — by futex, or by whatever else the waiter sleeps on (an eventfd,
    /// a condition variable).
    #[inline(always)]
    pub fn take_waiters(&self) -> bool {
        // Pairs with the sleeper's fence between raising the flag and reading the word.
        fence(Ordering::SeqCst);
        if self.waiters().load(Ordering::Relaxed) != 0 {
            self.waiters().store(0, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Before a waiter's last look at the word: raises the flag that [`Signal::take_waiters`]
    /// reads (Dekker-style: the publisher sees the flag, or the waiter sees the new word).
    #[inline(always)]
    pub fn raise_waiters(&self) {
        self.waiters().store(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }

    /// Waits until the word holds `value`.
    #[inline(always)]
    pub fn wait_for(
        &self,
        value: u32,
        wait: Wait,
        watch: &mut Watch,
        stats: &mut WaitStats,
    ) -> Result<(), WaitError> {
        self.wait_until(|v| v == value, wait, watch, stats).map(|_| ())
    }

    /// Waits until `ready(word)` holds; returns the word's value then.
    ///
    /// `spin` is a pure spin: it never yields or sleeps, so what it measures is the handoff
    /// itself (with more spinners than CPUs it progresses only at the scheduler's preemption,
    /// which the runner warns about); every [`POLLS_PER_TICK`] polls it reads the clock to look
    /// around.
    #[inline(always)]
    pub fn wait_until(
        &self,
        ready: impl Fn(u32) -> bool,
        wait: Wait,
        watch: &mut Watch,
        stats: &mut WaitStats,
    ) -> Result<u32, WaitError> {
        stats.waits += 1;
        let v = self.load();
        if ready(v) {
            return Ok(v);
        }
        if wait == Wait::Futex {
            return self.sleep_until(ready, watch, stats);
        }
        let mut polls: u32 = 0;
        loop {
            std::hint::spin_loop();
            let v = self.load();
            prefetch(self.prefetch);
            if ready(v) {
                return Ok(v);
            }
            polls = polls.wrapping_add(1);
            if polls & (POLLS_PER_TICK - 1) == 0 {
                self.excuse(&ready, watch.tick())?;
            }
        }
    }

    #[inline(always)]
    fn sleep_until(
        &self,
        ready: impl Fn(u32) -> bool,
        watch: &mut Watch,
        stats: &mut WaitStats,
    ) -> Result<u32, WaitError> {
        loop {
            self.raise_waiters();
            let v = self.load();
            if ready(v) {
                return Ok(v);
            }
            stats.sleeps += 1;
            // The kernel sleeps only if the word still holds `v`.
            let slept = futex_wait(self.word(), v, Duration::from_nanos(SLEEP_SLICE_NS));
            let v = self.load();
            if ready(v) {
                if slept == Sleep::TimedOut {
                    stats.missed_wakes += 1;
                }
                return Ok(v);
            }
            self.excuse(&ready, watch.tick())?;
        }
    }

    /// What the watch said, with one excuse: a peer that has just ended is not an error if it
    /// published what we wait for before it went (a writer that handed over its last record).
    #[cold]
    pub fn excuse(
        &self,
        ready: &impl Fn(u32) -> bool,
        verdict: Result<(), WaitError>,
    ) -> Result<(), WaitError> {
        match verdict {
            Err(WaitError::PeerGone(_)) if ready(self.load()) => Ok(()),
            r => r,
        }
    }
}

#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    if !p.is_null() {
        // SAFETY: a prefetch is a hint; it never faults.
        unsafe { std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// How a futex sleep ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sleep {
    /// Woken, interrupted, or the word no longer held the expected value.
    Woken,
    TimedOut,
}

/// `FUTEX_WAIT` on `word` while it holds `expected`, for at most `timeout`. Shared (not
/// `FUTEX_PRIVATE`): the word lives in memory of several processes.
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) -> Sleep {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: the word is a valid, aligned u32 for the duration of the call.
    let r = unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAIT, expected, &ts as *const _)
    };
    if r == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ETIMEDOUT) {
        Sleep::TimedOut
    } else {
        Sleep::Woken
    }
}

/// `FUTEX_WAKE` of every sleeper on `word` (several consumers may sleep on a ring's head).
pub fn futex_wake(word: &AtomicU32) {
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX) };
}
