//! The one clock: `CLOCK_MONOTONIC` in nanoseconds. It is shared by every process on the host,
//! so a receiver may subtract a sender's timestamp (one-way latency).

use std::time::Duration;

/// Nanoseconds on `CLOCK_MONOTONIC` (vDSO: no system call).
#[inline(always)]
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid pointer to a timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// CPU time (user + system) this process has used, in nanoseconds.
pub fn process_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: as above.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// What one `now_ns()` costs here: the median over batches of back-to-back reads.
pub fn overhead_ns() -> f64 {
    const BATCH: u64 = 1000;
    let mut per_call: Vec<f64> = (0..51)
        .map(|_| {
            let start = now_ns();
            let mut sink = 0u64;
            for _ in 0..BATCH {
                sink = sink.wrapping_add(now_ns());
            }
            std::hint::black_box(sink);
            (now_ns() - start) as f64 / BATCH as f64
        })
        .collect();
    per_call.sort_by(|a, b| a.total_cmp(b));
    per_call[per_call.len() / 2]
}

/// The kernel's current clocksource (`tsc`, `kvm-clock`, …), or `unknown`.
pub fn clock_source() -> String {
    std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}

/// A deadline on the monotonic clock.
#[derive(Clone, Copy, Debug)]
pub struct Deadline(u64);

impl Deadline {
    pub fn after(d: Duration) -> Deadline {
        Deadline(now_ns().saturating_add(d.as_nanos().min(u64::MAX as u128) as u64))
    }
    pub fn passed(&self) -> bool {
        now_ns() >= self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_and_its_overhead_is_a_number() {
        let a = now_ns();
        let b = now_ns();
        assert!(b >= a);
        // A figure of this host's speed: only its form is the code's (a median of per-call
        // means: finite, not negative).
        let o = overhead_ns();
        assert!(o.is_finite() && o >= 0.0, "clock overhead {o} ns");
    }
}
