//! What this machine cannot beat, measured in the same run: the raw cache-line handoff between
//! two processes, the clock's own cost, an empty system call, single-core memcpy bandwidth.

use crate::os::clock::now_ns;
use crate::os::futex::{Signal, Wait, WaitStats};
use crate::os::mapping::{Region, PAGE};
use crate::os::process::fork_worker;
use crate::os::watch::{install_signal_handlers, Watch};
use crate::record::stats::{decode, encode, new_histogram, record};
use anyhow::{bail, Context, Result};
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const LINE: usize = 64;
const STOP: u32 = u32::MAX;

/// One cache line: the sequence word, a waiters flag (unused: spin only) and a timestamp.
struct Line(*mut u8);

impl Line {
    fn signal(&self) -> Signal {
        // SAFETY: aligned words inside the region, which outlives every use in this module.
        unsafe { Signal::at(self.0) }
    }
    fn stamp(&self) -> &AtomicU64 {
        // SAFETY: as above, 8-byte aligned.
        unsafe { &*(self.0.add(8) as *const AtomicU64) }
    }
}

/// The cache-line handoff: the runner and a forked child bounce a sequence number (and a
/// timestamp in the same line) through shared memory, spinning. No record, no checksum.
pub struct Handoff {
    pub round_trip: Histogram<u64>,
    /// Both directions.
    pub one_way: Histogram<u64>,
}

pub fn cache_line_handoff(
    warmup: u64,
    iterations: u64,
    max_duration: Duration,
    peer_cpu: Option<usize>,
    timeout: Duration,
) -> Result<Handoff> {
    let region = Region::anon_shared(PAGE)?;
    let (ping, pong) = (Line(region.as_ptr()), Line(unsafe { region.as_ptr().add(LINE) }));
    let total = warmup + iterations;
    let worker = fork_worker(peer_cpu, |out| {
        install_signal_handlers();
        let mut watch = Watch::over_parent(timeout);
        let mut h = new_histogram();
        let mut stats = WaitStats::default();
        for i in 1..=total as u32 {
            let seen = ping.signal().wait_until(
                |v| v == i || v == STOP,
                Wait::Spin,
                &mut watch,
                &mut stats,
            );
            match seen {
                Ok(STOP) => break,
                Ok(_) => {}
                Err(_) => return 1,
            }
            let t = now_ns();
            if u64::from(i) > warmup {
                record(&mut h, t.saturating_sub(ping.stamp().load(Ordering::Relaxed)));
            }
            pong.stamp().store(now_ns(), Ordering::Relaxed);
            pong.signal().publish(i, Wait::Spin, &mut stats);
        }
        let _ = out.write_all(encode(&h).as_bytes());
        0
    })?;
    let mut watch = Watch::over_child(timeout, worker.pid());
    let mut round_trip = new_histogram();
    let mut one_way = new_histogram();
    let mut deadline = u64::MAX;
    let mut stats = WaitStats::default();
    for i in 1..=total as u32 {
        if u64::from(i) == warmup + 1 {
            deadline = now_ns().saturating_add(max_duration.as_nanos() as u64);
        }
        let t0 = now_ns();
        ping.stamp().store(t0, Ordering::Relaxed);
        ping.signal().publish(i, Wait::Spin, &mut stats);
        pong.signal().wait_for(i, Wait::Spin, &mut watch, &mut stats)?;
        let t1 = now_ns();
        if u64::from(i) > warmup {
            record(&mut round_trip, t1 - t0);
            record(&mut one_way, t1.saturating_sub(pong.stamp().load(Ordering::Relaxed)));
            if t1 >= deadline && i < total as u32 {
                ping.signal().publish(STOP, Wait::Spin, &mut stats);
                break;
            }
        }
    }
    let theirs = worker.finish(&mut watch)?;
    let theirs = decode(std::str::from_utf8(&theirs)?).context("the peer's histogram")?;
    one_way.add(&theirs).context("merging histograms")?;
    drop(region);
    Ok(Handoff { round_trip, one_way })
}

/// The minimal two-process pipe ping-pong: `size` bytes each way over two pipes between the
/// runner and a forked child, plain `write` and `read`, no header, no checksum. The floor the
/// `block` transports are read against. Returns round trips.
pub fn pipe_pingpong(
    size: usize,
    warmup: u64,
    iterations: u64,
    max_duration: Duration,
    peer_cpu: Option<usize>,
    timeout: Duration,
) -> Result<Histogram<u64>> {
    use crate::transport::{ByteStream, FdStream};
    use nix::fcntl::OFlag;
    use std::os::fd::AsRawFd;
    let (a_rx, b_tx) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let (b_rx, a_tx) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let mut buf = vec![0x5Au8; size];
    let mut peer = Some((b_rx, b_tx));
    let runner_ends = [a_rx.as_raw_fd(), a_tx.as_raw_fd()];
    let worker = fork_worker(peer_cpu, |out| {
        install_signal_handlers();
        // The runner's ends must close here too, or closing them there is no end-of-stream.
        for fd in runner_ends {
            // SAFETY: our copies of the runner's fds; nothing in the child uses them.
            unsafe { libc::close(fd) };
        }
        let mut watch = Watch::over_parent(timeout);
        let (rx, tx) = peer.take().expect("peer ends");
        let mut s = FdStream::new(rx, tx);
        // Answer until the runner says stop (or closes its end). End-of-file alone is not
        // enough: a process forked meanwhile by another thread may hold a copy of its end.
        while s.read_exact(&mut buf, &mut watch).is_ok() && buf.first() != Some(&PIPE_STOP) {
            if s.write_all(&buf, &mut watch).is_err() {
                return 1;
            }
        }
        let _ = out.write_all(b"done");
        0
    })?;
    drop(peer);
    let mut watch = Watch::over_child(timeout, worker.pid());
    let mut s = FdStream::new(a_rx, a_tx);
    let mut h = new_histogram();
    let mut deadline = u64::MAX;
    for i in 0..warmup + iterations {
        if i == warmup {
            deadline = now_ns().saturating_add(max_duration.as_nanos() as u64);
        }
        let t0 = now_ns();
        s.write_all(&buf, &mut watch)?;
        s.read_exact(&mut buf, &mut watch)?;
        let t1 = now_ns();
        if i >= warmup {
            record(&mut h, t1 - t0);
            if t1 >= deadline {
                break;
            }
        }
    }
    if let Some(b) = buf.first_mut() {
        *b = PIPE_STOP;
    }
    s.write_all(&buf, &mut watch)?;
    drop(s);
    worker.finish(&mut watch)?;
    Ok(h)
}

/// The first byte of [`pipe_pingpong`]'s last message: the peer stops instead of answering.
const PIPE_STOP: u8 = 0xA5;

/// Batches of `batch` calls; each batch's mean per call is one sample.
fn per_call(batches: u64, batch: u64, mut f: impl FnMut()) -> Histogram<u64> {
    let mut h = new_histogram();
    for _ in 0..batches {
        let t0 = now_ns();
        for _ in 0..batch {
            f();
        }
        // Kept in picoseconds? No: ns, rounded; sub-ns costs read as 1 ns.
        record(&mut h, (now_ns() - t0) / batch);
    }
    h
}

/// What one `clock_gettime(CLOCK_MONOTONIC)` costs (ns per call, batches of 100).
pub fn clock_cost(batches: u64) -> Histogram<u64> {
    per_call(batches, 100, || {
        std::hint::black_box(now_ns());
    })
}

/// What an empty system call costs (`getppid`, issued as a raw syscall; batches of 100).
pub fn syscall_cost(batches: u64) -> Histogram<u64> {
    per_call(batches, 100, || {
        // SAFETY: getppid has no arguments and cannot fail.
        std::hint::black_box(unsafe { libc::syscall(libc::SYS_getppid) });
    })
}

/// Single-core memcpy bandwidth for blocks of `size` bytes, bytes per second (median of trials).
/// Source and destination are reused, as a ring slot and a reader's buffer would be.
pub fn memcpy_bandwidth(size: usize, trials: usize, trial_time: Duration) -> Result<Vec<f64>> {
    if size == 0 {
        bail!("size must be positive");
    }
    let src = vec![0x5Au8; size];
    let mut dst = vec![0u8; size];
    let mut out = Vec::with_capacity(trials);
    for _ in 0..trials {
        let t0 = now_ns();
        let mut bytes = 0u64;
        let end = t0 + trial_time.as_nanos() as u64;
        loop {
            for _ in 0..16 {
                dst.copy_from_slice(std::hint::black_box(&src));
                std::hint::black_box(&mut dst);
            }
            bytes += 16 * size as u64;
            if now_ns() >= end {
                break;
            }
        }
        out.push(bytes as f64 / ((now_ns() - t0) as f64 / 1e9));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Guards a hang, not speed: two unpinned spinners on a loaded host can wait seconds for a CPU.
    const TEST_TIMEOUT: Duration = Duration::from_secs(60);

    /// No time limit a test could reach: the count decides.
    const NO_LIMIT: Duration = Duration::from_secs(3600);

    #[test]
    fn handoff_measures_both_directions() {
        let h = cache_line_handoff(10, 200, NO_LIMIT, None, TEST_TIMEOUT).unwrap();
        assert_eq!(h.round_trip.len(), 200);
        assert_eq!(h.one_way.len(), 400);
        // A time limit that has passed by the first measured round trip stops right after it,
        // and the peer, told to stop, reports its one direction of that one.
        let h = cache_line_handoff(10, 200, Duration::ZERO, None, TEST_TIMEOUT).unwrap();
        assert_eq!(h.round_trip.len(), 1);
        assert_eq!(h.one_way.len(), 2);
    }

    #[test]
    fn pipe_pingpong_round_trips() {
        let h = pipe_pingpong(64, 10, 100, NO_LIMIT, None, TEST_TIMEOUT).unwrap();
        assert_eq!(h.len(), 100);
        let h = pipe_pingpong(64, 10, 100, Duration::ZERO, None, TEST_TIMEOUT).unwrap();
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn costs_are_measured() {
        assert_eq!(clock_cost(10).len(), 10);
        assert_eq!(syscall_cost(10).len(), 10);
        let bw = memcpy_bandwidth(4096, 2, Duration::from_millis(5)).unwrap();
        assert!(!bw.is_empty() && bw.iter().all(|b| b.is_finite()), "{bw:?}");
    }
}
