//! Test-only knobs that slow a pair on purpose, so tests can show that a figure and its probe
//! move together, or that a delay lands in `deliver` and not in `notify`.
//!
//! They exist only in the harness' own tests and with the `test-knobs` feature (which the other
//! crates enable for their tests only, as a dev-dependency); in any other build every knob reads
//! 0 and compiles away. They are thread-local: a forked peer inherits the forking thread's
//! values, and tests running side by side in one process do not see each other's.

#[cfg(any(test, feature = "test-knobs"))]
mod imp {
    use std::cell::Cell;

    thread_local! {
        static PUBLISH_DELAY_NS: Cell<u64> = const { Cell::new(0) };
        static DELIVER_DELAY_NS: Cell<u64> = const { Cell::new(0) };
        static DELIVER_SPIN_NS: Cell<u64> = const { Cell::new(0) };
        static DELIVER_SPIN_ITERS: Cell<u64> = const { Cell::new(0) };
    }

    /// Every publish (a link's record, a probe's handoff or wake-up) waits this long after its
    /// stamp, before the peer is told: both `notify` and the probe grow by it.
    pub fn set_publish_delay_ns(ns: u64) {
        PUBLISH_DELAY_NS.with(|c| c.set(ns));
    }

    /// A link's receiver waits this long between seeing a record and verifying it: `deliver`
    /// grows by it.
    pub fn set_deliver_delay_ns(ns: u64) {
        DELIVER_DELAY_NS.with(|c| c.set(ns));
    }

    /// A link's receiver spins this long after verifying a record ([`super::slowdown_spin`]): a
    /// slower receive path (`IPCBENCH_SLOWDOWN`). Spun, not slept, so the pair stays as it was.
    ///
    /// The spin is a count of empty iterations, calibrated here against the clock, not a loop
    /// that reads the clock: on a VM whose clock read costs 20–30 ns, a clock-read loop asked
    /// for 30 ns spun about 60–90, so "20 %" slowed a 150 ns one-way by +39 to +65 %.
    pub fn set_deliver_spin_ns(ns: u64) {
        DELIVER_SPIN_NS.with(|c| c.set(ns));
        let iters = if ns == 0 { 0 } else { iterations_for(ns) };
        DELIVER_SPIN_ITERS.with(|c| c.set(iters));
    }

    #[inline]
    pub fn deliver_spin_ns() -> u64 {
        DELIVER_SPIN_NS.with(Cell::get)
    }

    #[inline]
    pub fn deliver_spin_iters() -> u64 {
        DELIVER_SPIN_ITERS.with(Cell::get)
    }

    /// How many iterations of [`super::spin_iters`] take `ns`: the median of five timed runs of
    /// a million (about 0.3 ms each), taken while the peer waits as it will while measured. On
    /// the development VM the runs of one trial read 0.27–0.45 ns an iteration; the fastest
    /// made the spin longer than asked whenever the trial then ran at the usual pace.
    fn iterations_for(ns: u64) -> u64 {
        const CALIBRATION: u64 = 1_000_000;
        let mut runs: Vec<u64> = (0..5)
            .map(|_| {
                let start = crate::os::clock::now_ns();
                super::spin_iters(CALIBRATION);
                crate::os::clock::now_ns().saturating_sub(start).max(1)
            })
            .collect();
        runs.sort_unstable();
        (ns as u128 * CALIBRATION as u128 / runs[runs.len() / 2] as u128) as u64
    }

    #[inline]
    pub fn publish_delay_ns() -> u64 {
        PUBLISH_DELAY_NS.with(Cell::get)
    }

    #[inline]
    pub fn deliver_delay_ns() -> u64 {
        DELIVER_DELAY_NS.with(Cell::get)
    }
}

#[cfg(not(any(test, feature = "test-knobs")))]
mod imp {
    #[inline(always)]
    pub fn publish_delay_ns() -> u64 {
        0
    }

    #[inline(always)]
    pub fn deliver_delay_ns() -> u64 {
        0
    }

    #[inline(always)]
    pub fn set_deliver_spin_ns(_ns: u64) {}

    #[inline(always)]
    pub fn deliver_spin_ns() -> u64 {
        0
    }

    #[inline(always)]
    pub fn deliver_spin_iters() -> u64 {
        0
    }
}

pub use imp::*;

/// Sleeps (not spins) for the publish delay, if any: a sleeping side does not accrue CPU time,
/// so on a busy host its own wake-ups stay as fast as without the knob.
#[inline(always)]
pub fn publish_pause() {
    sleep_ns(publish_delay_ns());
}

/// Between a record seen and its verification: sleeps for the deliver delay, if any.
#[inline(always)]
pub fn deliver_pause() {
    sleep_ns(deliver_delay_ns());
}

/// After a record is verified, before the receiver's stamp: spins for the deliver spin, if any
/// (`IPCBENCH_SLOWDOWN`). A fence first, so that the spin starts only once every load of the
/// verification has completed: the core otherwise runs a hundred empty iterations out of order
/// while the payload's lines are still arriving, and a third of the spin hid under them ("20 %"
/// of a 150 ns one-way, 30 ns asked, moved `deliver` by about 20 ns). Spun between seen and
/// verified without a fence, "10 %" moved the 64 B spin one-way by +3 to +12 %.
#[inline(always)]
pub fn slowdown_spin() {
    let iters = deliver_spin_iters();
    if iters > 0 {
        load_fence();
        spin_iters(iters);
    }
}

/// Later instructions wait until every earlier one has completed (`lfence` on x86-64).
#[inline(always)]
fn load_fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: lfence has no operands and no effect beyond ordering; SSE2 is baseline on x86-64.
    unsafe {
        std::arch::x86_64::_mm_lfence()
    };
    #[cfg(not(target_arch = "x86_64"))]
    std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
}

/// `n` iterations that do nothing but cannot be optimised away: the unit of the deliver spin.
#[inline(never)]
fn spin_iters(n: u64) {
    for i in 0..n {
        std::hint::black_box(i);
    }
}

#[inline(always)]
fn sleep_ns(ns: u64) {
    if ns > 0 {
        std::thread::sleep(std::time::Duration::from_nanos(ns));
    }
}
