//! Floor probes: a short measurement of the floor that bounds a case, taken by the trial's own
//! pair right before its job, on the CPUs it runs on — so every trial carries the floor of its
//! moment (the host may switch state between trials; see `ipcbench_results::probe`).
//!
//! - `cache-line` / `futex-wake`: the runner and the peer bounce a sequence word in one cache
//!   line each way, spinning or asleep on a futex — what a `spin` or `futex` record's `notify`
//!   cannot beat. The one-way time is stamped the way a link stamps a record: right before the
//!   publish, and right after the wait returns.
//! - `pipe-wake`: an 8-byte ping (the sender's stamp) through a pipe each way, the reader blocked
//!   in `read` — the wake-up a `block` record's `notify` cannot beat.
//! - `copy`: the peer writes blocks of the case's record size into a shared ring, the runner
//!   copies them out; no header, no checksum — the throughput a stream cannot beat. The same
//!   routine, run longer, is the `floor/copy/<size>` case.
//!
//! A probe is short: [`PROBE_NS`] of measurement after [`WARMUP_NS`] of warm-up. 2 ms is well
//! under a percent of a trial, yet at 0.1–1 µs per handoff it is thousands of samples, enough
//! for a p50 that moves by a few ns between probes on a quiet host; a wake-up probe (~5–50 µs
//! each) still gets a hundred or more. It stops earlier after [`PROBE_MAX_HANDOFFS`], and never
//! before [`PROBE_MIN`] samples (a pair slowed on purpose in tests).

use crate::knobs;
use crate::os::clock::now_ns;
use crate::os::futex::{Signal, Wait, WaitStats};
use crate::os::mapping::{memfd, Region, PAGE};
use crate::os::process::{adopt_fd, fork_worker};
use crate::os::watch::{install_signal_handlers, Watch};
use crate::patterns::ring::RingLayout;
use crate::record::noise;
use crate::record::stats::new_histogram;
use crate::transport::{read_some, write_all_fd};
use anyhow::{bail, ensure, Context, Result};
pub use ipcbench_results::probe::kind;
pub use ipcbench_results::Probe;
use ipcbench_results::Trial;
use serde::{Deserialize, Serialize};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// Measured time of a probe.
pub const PROBE_NS: u64 = 2_000_000;
/// Warm-up before it: caches, page faults, the peer's first wake-up.
pub const WARMUP_NS: u64 = 500_000;
/// A handoff probe stops after this many samples even before [`PROBE_NS`].
pub const PROBE_MAX_HANDOFFS: u64 = 4_000;
/// …and never before this many (handoffs, or blocks of a copy).
pub const PROBE_MIN: u64 = 16;
const WARMUP_MIN: u64 = 8;
const LINE: usize = 64;
const STOP: u32 = u32::MAX;
/// A spinner looks at the watch once every this many polls.
const POLLS_PER_TICK: u32 = 1024;

/// Which probe a pair takes before its job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeSpec {
    CacheLine,
    FutexWake,
    PipeWake,
    /// A cross-core copy of `size`-byte blocks.
    Copy {
        size: usize,
    },
}

impl ProbeSpec {
    /// The probe that bounds a record's `notify` under `wait`.
    pub fn for_wait(wait: Wait) -> ProbeSpec {
        match wait {
            Wait::Spin => ProbeSpec::CacheLine,
            // A wake-up through the kernel, as a futex wake is (eventfd's read, the condvar's
            // futex underneath).
            Wait::Futex | Wait::Eventfd | Wait::Condvar => ProbeSpec::FutexWake,
            // iceoryx2's listener sleeps on a UNIX datagram socket: a kernel fd wake-up.
            Wait::Block | Wait::Iox2Event => ProbeSpec::PipeWake,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            ProbeSpec::CacheLine => kind::CACHE_LINE,
            ProbeSpec::FutexWake => kind::FUTEX_WAKE,
            ProbeSpec::PipeWake => kind::PIPE_WAKE,
            ProbeSpec::Copy { .. } => kind::COPY,
        }
    }

    /// Bytes of shared memory the probe needs (0: pipes only).
    fn mem_len(&self) -> Result<usize> {
        Ok(match self {
            ProbeSpec::CacheLine | ProbeSpec::FutexWake => PAGE,
            ProbeSpec::PipeWake => 0,
            ProbeSpec::Copy { size } => PAGE + CopyRing::slots(*size)? * size,
        })
    }
}

/// The objects a probe runs over: a memfd page (or ring) for the handoffs and the copy, two
/// pipes for the pipe ping. Made by the runner before the peer starts; a forked peer inherits
/// it as is, a spawned one by the fds of [`Channel::fds`].
pub struct Channel {
    spec: ProbeSpec,
    mem: Option<(OwnedFd, Region)>,
    /// Runner → peer (read end, write end), then peer → runner.
    pipes: Option<[OwnedFd; 4]>,
}

impl Channel {
    pub fn new(spec: ProbeSpec) -> Result<Channel> {
        let len = spec.mem_len()?;
        let mem = if len > 0 {
            let fd = memfd(len)?;
            let region = Region::map_fd(&fd, len)?;
            Some((fd, region))
        } else {
            None
        };
        let pipes = if spec == ProbeSpec::PipeWake {
            let flags = nix::fcntl::OFlag::O_CLOEXEC;
            let (a_rx, a_tx) = nix::unistd::pipe2(flags).context("pipe")?;
            let (b_rx, b_tx) = nix::unistd::pipe2(flags).context("pipe")?;
            Some([a_rx, a_tx, b_rx, b_tx])
        } else {
            None
        };
        Ok(Channel { spec, mem, pipes })
    }

    pub fn spec(&self) -> ProbeSpec {
        self.spec
    }

    /// The fds a spawned peer inherits, in the order [`Channel::adopt`] takes them.
    pub fn fds(&self) -> Vec<RawFd> {
        let mut v: Vec<RawFd> = self.mem.iter().map(|(fd, _)| fd.as_raw_fd()).collect();
        v.extend(self.pipes.iter().flatten().map(|fd| fd.as_raw_fd()));
        v
    }

    /// The peer's channel in a spawned worker, from the fds it inherited.
    ///
    /// # Safety
    /// `fds` must be the inherited fds of [`Channel::fds`], owned by nobody else.
    pub unsafe fn adopt(spec: ProbeSpec, fds: &[RawFd]) -> Result<Channel> {
        let len = spec.mem_len()?;
        let mut fds = fds.iter().map(|&fd| adopt_fd(fd));
        let mem = if len > 0 {
            let fd = fds.next().context("probe: no memfd inherited")?;
            let region = Region::map_fd(&fd, len)?;
            Some((fd, region))
        } else {
            None
        };
        let pipes = if spec == ProbeSpec::PipeWake {
            let mut next = || fds.next().context("probe: pipe not inherited");
            Some([next()?, next()?, next()?, next()?])
        } else {
            None
        };
        Ok(Channel { spec, mem, pipes })
    }

    fn base(&self) -> *mut u8 {
        self.mem.as_ref().map(|(_, r)| r.as_ptr()).expect("a memory probe has its region")
    }

    fn pipe(&self, i: usize) -> RawFd {
        self.pipes.as_ref().expect("a pipe probe has its pipes")[i].as_raw_fd()
    }

    /// The runner's side: measures the probe.
    pub fn measure(&self, watch: &mut Watch) -> Result<Probe> {
        match self.spec {
            ProbeSpec::CacheLine => self.handoff(Wait::Spin, watch),
            ProbeSpec::FutexWake => self.handoff(Wait::Futex, watch),
            ProbeSpec::PipeWake => self.pipe_ping(watch),
            ProbeSpec::Copy { size } => {
                let window = self.copy_ring(size)?.read(1, PROBE_NS, watch)?;
                Ok(Probe {
                    kind: kind::COPY.into(),
                    bytes_per_s: window.first().map(|t| t.bytes as f64 / t.seconds),
                    size: Some(size as u64),
                    count: window.first().map(|t| t.records).unwrap_or(0),
                    ..Default::default()
                })
            }
        }
    }

    /// The peer's side: answers until the runner is done.
    pub fn answer(&self, watch: &mut Watch) -> Result<()> {
        match self.spec {
            ProbeSpec::CacheLine => self.answer_handoff(Wait::Spin, watch),
            ProbeSpec::FutexWake => self.answer_handoff(Wait::Futex, watch),
            ProbeSpec::PipeWake => self.answer_pipe(watch),
            ProbeSpec::Copy { size } => self.copy_ring(size)?.write(watch),
        }
    }

    fn lines(&self) -> (Line, Line) {
        let base = self.base();
        // SAFETY: two lines within the first page of the region.
        (Line(base), Line(unsafe { base.add(LINE) }))
    }

    fn handoff(&self, wait: Wait, watch: &mut Watch) -> Result<Probe> {
        let (ping, pong) = self.lines();
        let mut h = new_histogram();
        let mut stats = WaitStats::default();
        let start = now_ns();
        let mut measuring: Option<u64> = None;
        let mut i: u32 = 0;
        loop {
            i += 1;
            ping.stamp().store(now_ns(), Ordering::Relaxed);
            knobs::publish_pause();
            ping.signal().publish(i, wait, &mut stats);
            pong.signal().wait_for(i, wait, watch, &mut stats)?;
            let t1 = now_ns();
            watch.progress();
            match measuring {
                None if u64::from(i) >= WARMUP_MIN && t1 - start >= WARMUP_NS => {
                    measuring = Some(t1)
                }
                None => {}
                Some(m) => {
                    let seen = pong.stamp().load(Ordering::Relaxed);
                    // A stamp after the receive would be clocks that disagree: counted as 0.
                    crate::record::stats::record(&mut h, t1.saturating_sub(seen));
                    let n = h.len();
                    if (n >= PROBE_MIN && t1 - m >= PROBE_NS) || n >= PROBE_MAX_HANDOFFS {
                        break;
                    }
                }
            }
        }
        ping.signal().publish(STOP, wait, &mut stats);
        Ok(Probe {
            kind: self.spec.kind().into(),
            p50_ns: Some(h.value_at_quantile(0.5)),
            count: h.len(),
            ..Default::default()
        })
    }

    fn answer_handoff(&self, wait: Wait, watch: &mut Watch) -> Result<()> {
        let (ping, pong) = self.lines();
        let mut stats = WaitStats::default();
        for i in 1.. {
            let v = ping.signal().wait_until(|v| v == i || v == STOP, wait, watch, &mut stats)?;
            if v == STOP {
                break;
            }
            pong.stamp().store(now_ns(), Ordering::Relaxed);
            knobs::publish_pause();
            pong.signal().publish(i, wait, &mut stats);
            watch.progress();
        }
        Ok(())
    }

    fn pipe_ping(&self, watch: &mut Watch) -> Result<Probe> {
        let (tx, rx) = (self.pipe(1), self.pipe(2));
        let mut h = new_histogram();
        let start = now_ns();
        let mut measuring: Option<u64> = None;
        for i in 1u64.. {
            let t0 = now_ns();
            knobs::publish_pause();
            write_all_fd(tx, &t0.to_le_bytes(), watch)?;
            let seen = read_stamp(rx, watch)?;
            let t1 = now_ns();
            watch.progress();
            match measuring {
                None if i >= WARMUP_MIN && t1 - start >= WARMUP_NS => measuring = Some(t1),
                None => {}
                Some(m) => {
                    crate::record::stats::record(&mut h, t1.saturating_sub(seen));
                    let n = h.len();
                    if (n >= PROBE_MIN && t1 - m >= PROBE_NS) || n >= PROBE_MAX_HANDOFFS {
                        break;
                    }
                }
            }
        }
        write_all_fd(tx, &u64::MAX.to_le_bytes(), watch)?;
        Ok(Probe {
            kind: kind::PIPE_WAKE.into(),
            p50_ns: Some(h.value_at_quantile(0.5)),
            count: h.len(),
            ..Default::default()
        })
    }

    fn answer_pipe(&self, watch: &mut Watch) -> Result<()> {
        let (rx, tx) = (self.pipe(0), self.pipe(3));
        loop {
            if read_stamp(rx, watch)? == u64::MAX {
                return Ok(());
            }
            let t = now_ns();
            knobs::publish_pause();
            write_all_fd(tx, &t.to_le_bytes(), watch)?;
            watch.progress();
        }
    }

    fn copy_ring(&self, size: usize) -> Result<CopyRing> {
        let slots = CopyRing::slots(size)?;
        Ok(CopyRing { base: self.base(), size, slots })
    }
}

fn read_stamp(fd: RawFd, watch: &mut Watch) -> Result<u64> {
    let mut b = [0u8; 8];
    let mut got = 0;
    while got < 8 {
        got += read_some(fd, &mut b[got..], watch)?;
    }
    Ok(u64::from_le_bytes(b))
}

/// One cache line: the sequence word, its waiters flag, and a timestamp.
struct Line(*mut u8);

impl Line {
    fn signal(&self) -> Signal {
        // SAFETY: aligned words inside the channel's region, which outlives every use.
        unsafe { Signal::at(self.0) }
    }
    fn stamp(&self) -> &AtomicU64 {
        // SAFETY: as above, 8-byte aligned.
        unsafe { &*(self.0.add(8) as *const AtomicU64) }
    }
}

/// A single-producer, single-consumer ring of `slots` blocks of `size` bytes after a page of
/// indices: the head (blocks written) on the first line, the tail (blocks taken) on the second,
/// a stop flag on the third. Both sides publish their index in batches of 1/16 ring, as the
/// stream ring does, and whenever they must wait.
struct CopyRing {
    base: *mut u8,
    size: usize,
    slots: usize,
}

impl CopyRing {
    /// As many blocks as the stream's ring for `size`-byte records holds bytes (at least 2),
    /// so the floor and the stream it bounds use the same footprint.
    fn slots(size: usize) -> Result<usize> {
        ensure!(size > 0, "a copy block must hold at least 1 byte");
        Ok((RingLayout::for_records(size, 1)?.capacity / size).max(2))
    }
    fn head(&self) -> &AtomicU64 {
        // SAFETY: aligned words in the first page of the region, which outlives the ring.
        unsafe { &*(self.base as *const AtomicU64) }
    }
    fn tail(&self) -> &AtomicU64 {
        // SAFETY: as above.
        unsafe { &*(self.base.add(LINE) as *const AtomicU64) }
    }
    fn stop(&self) -> &AtomicU32 {
        // SAFETY: as above.
        unsafe { &*(self.base.add(2 * LINE) as *const AtomicU32) }
    }
    fn slot(&self, n: u64) -> *mut u8 {
        // SAFETY: slot n % slots lies within the data area after the first page.
        unsafe { self.base.add(PAGE + (n as usize % self.slots) * self.size) }
    }
    fn batch(&self) -> u64 {
        (self.slots as u64 / 16).max(1)
    }

    /// The writer: fills blocks from its own buffer until the reader sets the stop flag.
    fn write(&self, watch: &mut Watch) -> Result<()> {
        let src = noise(0x5EED, self.size);
        let (slots, batch) = (self.slots as u64, self.batch());
        let (mut head, mut tail) = (0u64, 0u64);
        loop {
            if head - tail == slots {
                self.head().store(head, Ordering::Release);
                let mut polls: u32 = 0;
                loop {
                    tail = self.tail().load(Ordering::Acquire);
                    if head - tail < slots {
                        break;
                    }
                    if self.stop().load(Ordering::Relaxed) != 0 {
                        return Ok(());
                    }
                    std::hint::spin_loop();
                    polls = polls.wrapping_add(1);
                    if polls.is_multiple_of(POLLS_PER_TICK) {
                        watch.tick()?;
                    }
                }
                watch.progress();
            }
            // SAFETY: the slot is ours until the reader's tail passes it (checked above).
            unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.slot(head), self.size) };
            head += 1;
            if head.is_multiple_of(batch) {
                self.head().store(head, Ordering::Release);
                if self.stop().load(Ordering::Relaxed) != 0 {
                    return Ok(());
                }
            }
        }
    }

    /// The reader: after a warm-up of one ring turn and [`WARMUP_NS`], copies blocks out into
    /// its own buffer for `windows` windows of at least `window_ns` and [`PROBE_MIN`] blocks
    /// each; returns each window as a trial. Sets the stop flag when done.
    fn read(&self, windows: usize, window_ns: u64, watch: &mut Watch) -> Result<Vec<Trial>> {
        let r = self.read_windows(windows, window_ns, watch);
        self.stop().store(1, Ordering::Relaxed);
        r
    }

    fn read_windows(
        &self,
        windows: usize,
        window_ns: u64,
        watch: &mut Watch,
    ) -> Result<Vec<Trial>> {
        let mut dst = vec![0u8; self.size];
        let batch = self.batch();
        // Look at the clock about every 64 KiB copied.
        let every = (65_536 / self.size as u64).max(1);
        let (mut tail, mut head) = (0u64, 0u64);
        let mut take = |watch: &mut Watch| -> Result<()> {
            if tail == head {
                self.tail().store(tail, Ordering::Release);
                let mut polls: u32 = 0;
                loop {
                    head = self.head().load(Ordering::Acquire);
                    if head > tail {
                        break;
                    }
                    std::hint::spin_loop();
                    polls = polls.wrapping_add(1);
                    if polls.is_multiple_of(POLLS_PER_TICK) {
                        watch.tick()?;
                    }
                }
                watch.progress();
            }
            // SAFETY: published by the writer (acquire above); it does not reuse the slot
            // until our tail passes it.
            unsafe { std::ptr::copy_nonoverlapping(self.slot(tail), dst.as_mut_ptr(), self.size) };
            std::hint::black_box(&mut dst);
            tail += 1;
            if tail.is_multiple_of(batch) {
                self.tail().store(tail, Ordering::Release);
            }
            Ok(())
        };
        let start = now_ns();
        let mut n = 0u64;
        loop {
            take(watch)?;
            n += 1;
            if n >= self.slots as u64 && n.is_multiple_of(every) && now_ns() - start >= WARMUP_NS {
                break;
            }
        }
        let mut out = Vec::with_capacity(windows);
        for _ in 0..windows {
            let t0 = now_ns();
            let mut n = 0u64;
            let t1 = loop {
                take(watch)?;
                n += 1;
                if n >= PROBE_MIN && n.is_multiple_of(every) {
                    let t = now_ns();
                    if t - t0 >= window_ns {
                        break t;
                    }
                }
            };
            let seconds = (t1 - t0) as f64 / 1e9;
            out.push(Trial { records: n, bytes: n * self.size as u64, seconds });
        }
        Ok(out)
    }
}

/// `floor/copy/<size>`: the runner and a forked peer (on `peer_cpu`) copy `size`-byte blocks
/// through a shared ring, the peer writing, the runner copying out; `trials` back-to-back
/// windows of `trial_time`, after one ring turn and [`WARMUP_NS`] of warm-up.
pub fn copy_floor(
    size: usize,
    trials: usize,
    trial_time: Duration,
    peer_cpu: Option<usize>,
    timeout: Duration,
) -> Result<Vec<Trial>> {
    if size == 0 {
        bail!("size must be positive");
    }
    let channel = Channel::new(ProbeSpec::Copy { size })?;
    let worker = fork_worker(peer_cpu, |out| {
        install_signal_handlers();
        let mut watch = Watch::over_parent(timeout);
        let code = i32::from(channel.answer(&mut watch).is_err());
        let _ = out.write_all(b"done");
        code
    })?;
    let mut watch = Watch::over_child(timeout, worker.pid());
    let rates = channel.copy_ring(size)?.read(trials, trial_time.as_nanos() as u64, &mut watch);
    worker.finish(&mut watch)?;
    rates
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs one probe between the runner and a forked peer.
    fn probe(spec: ProbeSpec) -> Probe {
        let channel = Channel::new(spec).unwrap();
        let timeout = Duration::from_secs(10);
        let worker = fork_worker(None, |out| {
            let mut watch = Watch::over_parent(timeout);
            let code = i32::from(channel.answer(&mut watch).is_err());
            let _ = out.write_all(b"done");
            code
        })
        .unwrap();
        let mut watch = Watch::over_child(timeout, worker.pid());
        let p = channel.measure(&mut watch).unwrap();
        worker.finish(&mut watch).unwrap();
        p
    }

    #[test]
    fn every_probe_measures_its_kind() {
        for spec in [
            ProbeSpec::CacheLine,
            ProbeSpec::FutexWake,
            ProbeSpec::PipeWake,
            ProbeSpec::Copy { size: 4096 },
            ProbeSpec::Copy { size: 1 << 20 },
        ] {
            let p = probe(spec);
            assert_eq!(p.kind, spec.kind());
            assert!(p.count >= PROBE_MIN, "{spec:?}: {p:?}");
            assert!(p.value().is_some_and(f64::is_finite), "{spec:?}: {p:?}");
            assert_eq!(p.is_rate(), matches!(spec, ProbeSpec::Copy { .. }), "{spec:?}");
        }
    }

    #[test]
    fn a_publish_delay_lands_in_the_probe() {
        // Slept between the peer's stamp and its wake-up (the forked peer inherits the knob):
        // every sample holds all of it, on any host, so the median does too.
        const DELAY: u64 = 2_000_000;
        for spec in [ProbeSpec::FutexWake, ProbeSpec::CacheLine, ProbeSpec::PipeWake] {
            knobs::set_publish_delay_ns(DELAY);
            let slowed = probe(spec);
            knobs::set_publish_delay_ns(0);
            assert!(slowed.count >= PROBE_MIN, "{slowed:?}");
            assert!(slowed.p50_ns.is_some_and(|p| p >= DELAY), "{spec:?}: {slowed:?}");
        }
    }

    #[test]
    fn copy_floor_gives_a_rate_per_trial() {
        let r =
            copy_floor(65536, 3, Duration::from_millis(2), None, Duration::from_secs(10)).unwrap();
        assert_eq!(r.len(), 3);
        // A window ends at its first look at the clock once its time is up.
        assert!(r.iter().all(|t| t.records >= PROBE_MIN && t.seconds >= 0.002), "{r:?}");
        assert!(r.iter().all(|t| t.bytes == t.records * 65536), "{r:?}");
    }
}
