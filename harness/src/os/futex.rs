//! How a side learns that the other has moved on: the one wait protocol of every mapped
//! pattern — the ping-pong mailboxes, the stream and fan-out ring, the floor's cache-line
//! handoff.
//!
//! A side publishes by storing a new value into a 32-bit word in shared memory (release) after
//! the bytes the value covers; the other side sees the new value (acquire), then reads them.
//! `spin` polls the word. `futex` sleeps in the kernel on it: before its last look at the word a
//! side counts itself in the sleepers count beside the word (and out when its wait is over), and
//! the publisher issues `FUTEX_WAKE` only if it sees a sleeper counted (Dekker-style: each side
//! stores, fences, then loads the other's word, so at least one of them sees the other). The
//! publisher never lowers the count: a flag it lowered could be the one raised for the *next*
//! value, by a waiter that saw this value while the publisher was preempted between its store
//! and its look — its wake then lands before that waiter sleeps, and the next publish wakes no
//! one. Sleeps time out every [`SLEEP_SLICE_NS`] to look at the [`Watch`]; a sleep that timed
//! out although its condition had become true is counted as a missed wake-up, which tests
//! require to be zero.
//!
//! Waits on an eventfd or a condition variable (the ring's) use the word beside as a flag
//! instead ([`Signal::raise_waiters`], [`Signal::take_waiters`]): their wake-up is remembered
//! (an eventfd's count) or given under the sleeper's lock, so lowering it loses nothing.

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

/// A 32-bit word and its sleepers count (futex) or waiters flag (eventfd, condvar), side by side
/// in shared memory (word at +0, count or flag at +4).
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
    /// `futex`, wakes the sleepers if any are counted.
    #[inline(always)]
    pub fn publish(&self, value: u32, wait: Wait, stats: &mut WaitStats) {
        self.store(value);
        if wait == Wait::Futex {
            self.wake_sleepers(stats);
        }
    }

    /// The first half of a publish: the store alone (release).
    #[inline(always)]
    fn store(&self, value: u32) {
        self.word().store(value, Ordering::Release);
    }

    /// The second half of a futex publish: `FUTEX_WAKE` if a sleeper is counted. The count is
    /// left as it is: each sleeper counts itself out.
    #[inline(always)]
    fn wake_sleepers(&self, stats: &mut WaitStats) {
        // Pairs with the sleeper's fence between counting itself in and reading the word.
        fence(Ordering::SeqCst);
        if self.waiters().load(Ordering::Relaxed) != 0 {
            futex_wake(self.word());
            stats.wakes += 1;
        }
    }

    /// A futex waiter counts itself in, before its last look at the word.
    #[inline(always)]
    fn count_in(&self) {
        self.waiters().fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }

    /// A futex waiter counts itself out, its wait over.
    #[inline(always)]
    fn count_out(&self) {
        self.waiters().fetch_sub(1, Ordering::Relaxed);
    }

    /// After a publish: whether a waiter raised the flag (it is lowered then), so that the
    /// publisher must wake it by what the waiter sleeps on (an eventfd, a condition variable).
    /// Futex waits use the sleepers count instead (see the module's doc).
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
        self.count_in();
        let r = self.sleep_counted(ready, watch, stats);
        self.count_out();
        r
    }

    /// [`Signal::sleep_until`] while counted in.
    #[inline(always)]
    fn sleep_counted(
        &self,
        ready: impl Fn(u32) -> bool,
        watch: &mut Watch,
        stats: &mut WaitStats,
    ) -> Result<u32, WaitError> {
        loop {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A signal over a fresh word and count that live as long as the test binary.
    fn fresh() -> Signal {
        let mem: &'static mut [AtomicU32; 2] =
            Box::leak(Box::new([AtomicU32::new(0), AtomicU32::new(0)]));
        // SAFETY: 8 aligned bytes that are never freed.
        unsafe { Signal::at(mem.as_mut_ptr() as *mut u8) }
    }

    /// Whether thread `tid` of this process is asleep in `futex` (its state and its syscall).
    fn asleep_in_futex(tid: i32) -> bool {
        let at = |f: &str| std::fs::read_to_string(format!("/proc/self/task/{tid}/{f}"));
        let state = at("stat").ok().and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next().map(str::to_owned))
        });
        let call = at("syscall").ok().and_then(|s| s.split_whitespace().next().map(str::to_owned));
        state.as_deref() == Some("S") && call == Some(libc::SYS_futex.to_string())
    }

    #[test]
    fn a_wake_that_lands_before_the_sleep_costs_the_next_publish_nothing() {
        // The race, one step at a time: the publisher of 1 is preempted between its store and
        // its look at the sleepers; the waiter sees 1, goes on, counts itself in to wait for 2
        // and looks (still 1); the publisher resumes and wakes — no one is asleep yet; the
        // waiter sleeps; then 2 is published. That publish must wake it (with a flag the
        // publisher lowered, it woke no one and the sleep ran out its slice).
        let sig = fresh();
        let mut stats = WaitStats::default();
        sig.store(1);
        sig.count_in();
        assert_eq!(sig.load(), 1);
        sig.wake_sleepers(&mut stats);
        let (tx, rx) = mpsc::channel();
        let sleeper = std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            tx.send(unsafe { libc::gettid() }).unwrap();
            futex_wait(sig.word(), 1, Duration::from_secs(20))
        });
        let tid = rx.recv().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !asleep_in_futex(tid) {
            assert!(std::time::Instant::now() < deadline, "the sleeper never slept");
            std::thread::sleep(Duration::from_millis(1));
        }
        sig.publish(2, Wait::Futex, &mut stats);
        assert_eq!(sleeper.join().unwrap(), Sleep::Woken, "the publish of 2 woke no one");
        assert_eq!(stats.wakes, 2);
    }

    #[test]
    fn a_wait_counts_itself_out_whether_it_slept_or_not() {
        let sig = fresh();
        let mut stats = WaitStats::default();
        let mut watch = Watch::new(Duration::from_secs(20));
        sig.store(1);
        sig.wait_for(1, Wait::Futex, &mut watch, &mut stats).unwrap();
        assert_eq!(
            sig.waiters().load(Ordering::Relaxed),
            0,
            "counted in after a wait that found its value"
        );
        let waiter = std::thread::spawn(move || {
            let mut stats = WaitStats::default();
            let mut watch = Watch::new(Duration::from_secs(20));
            sig.wait_for(2, Wait::Futex, &mut watch, &mut stats).map(|_| stats)
        });
        while sig.waiters().load(Ordering::Relaxed) == 0 {
            std::thread::yield_now();
        }
        sig.publish(2, Wait::Futex, &mut stats);
        let theirs = waiter.join().unwrap().unwrap();
        assert_eq!(sig.waiters().load(Ordering::Relaxed), 0, "counted in after a wait that slept");
        assert_eq!(theirs.missed_wakes, 0, "{theirs:?}");
    }
}
