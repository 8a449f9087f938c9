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

    /// A link's receiver spins this long between seeing a record and verifying it: a slower
    /// receive path (`IPCBENCH_SLOWDOWN`). Spun, not slept, so the pair stays as it was.
    pub fn set_deliver_spin_ns(ns: u64) {
        DELIVER_SPIN_NS.with(|c| c.set(ns));
    }

    #[inline]
    pub fn deliver_spin_ns() -> u64 {
        DELIVER_SPIN_NS.with(Cell::get)
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
}

pub use imp::*;

/// Sleeps (not spins) for the publish delay, if any: a sleeping side does not accrue CPU time,
/// so on a busy host its own wake-ups stay as fast as without the knob.
#[inline(always)]
pub fn publish_pause() {
    sleep_ns(publish_delay_ns());
}

/// Between a record seen at `seen_ns` and its verification: sleeps for the deliver delay and
/// spins for the deliver spin, if any.
#[inline(always)]
pub fn deliver_pause(seen_ns: u64) {
    sleep_ns(deliver_delay_ns());
    let spin = deliver_spin_ns();
    if spin > 0 {
        while crate::os::clock::now_ns() < seen_ns.saturating_add(spin) {
            std::hint::spin_loop();
        }
    }
}

#[inline(always)]
fn sleep_ns(ns: u64) {
    if ns > 0 {
        std::thread::sleep(std::time::Duration::from_nanos(ns));
    }
}
