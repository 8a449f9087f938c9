//! The fan-out pattern: one writer (the runner) and N readers (forked children), every reader
//! sees every record. Over a mapped transport the readers share one [`ring`](crate::patterns::ring), each
//! with its own tail, and the writer waits for the slowest; over pipes the writer writes each
//! record to one pipe per reader in turn.

use crate::os::condvar::HangBreaker;
use crate::os::eventfd::Eventfd;
use crate::os::futex::Wait;
use crate::os::process::fork_worker;
use crate::os::watch::{install_signal_handlers, Watch};
use crate::patterns::ring::Producer;
use crate::patterns::stream::{
    self, ReaderReport, RingWriter, StreamSpec, StreamWriter, WriterReport,
};
use crate::patterns::worker::{doorbells, with_doorbells, WorkerReport};
use crate::record::HEADER_LEN;
use crate::transport::{mechanism, CreateOptions, Medium, Setup, Transport};
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// How to run one fan-out. The number of readers is `spec.ring.readers`.
#[derive(Clone, Debug)]
pub struct FanoutOptions {
    /// A mapped transport (one shared ring) or `pipe` (one pipe per reader).
    pub transport: Transport,
    pub wait: Wait,
    /// A private directory for files.
    pub dir: PathBuf,
    /// The CPU of each reader (missing or `None`: unpinned).
    pub reader_cpus: Vec<Option<usize>>,
    /// A wait with no progress for this long means a process hangs.
    pub timeout: Duration,
}

/// What the writer and each reader measured.
#[derive(Debug)]
pub struct FanoutReport {
    pub writer: WriterReport,
    pub readers: Vec<ReaderReport>,
}

/// Whether a transport can carry a fan-out: a shared ring, or one pipe, FIFO or flow-controlled
/// message transport per reader (the connection-oriented sockets are left out: one listener
/// per reader adds nothing the pipe does not show).
pub fn supports(t: Transport) -> bool {
    t.is_mapped()
        || matches!(
            t,
            Transport::Pipe
                | Transport::Fifo
                | Transport::PosixMq
                | Transport::SysvMsg
                | Transport::UnixDgram
        )
}

/// Creates the transport, forks the readers, writes the stream here, and collects every
/// reader's report. Every object and process is gone when this returns.
pub fn run_fanout(opts: &FanoutOptions, spec: &StreamSpec) -> Result<FanoutReport> {
    let t = opts.transport;
    if !supports(t) {
        bail!("fan-out runs over a mapped transport, pipe, fifo, posix-mq, sysv-msg or unix-dgram, not {t}");
    }
    let readers = spec.ring.readers;
    let mapped = t.is_mapped();
    let create = CreateOptions {
        len: spec.ring.region_len(),
        dir: opts.dir.clone(),
        record: HEADER_LEN + spec.size,
        wait: opts.wait,
    };
    let mut setups: Vec<Box<dyn Setup>> = (0..if mapped { 1 } else { readers })
        .map(|_| mechanism(t).create(&create))
        .collect::<Result<_>>()?;
    // Wait eventfd: the writer's doorbell, then one per reader (see `ring`).
    let bells = if mapped { doorbells(opts.wait, 1 + readers)? } else { Vec::new() };
    let mut workers = Vec::with_capacity(readers);
    for i in 0..readers {
        let setups = &mut setups;
        let bells = &bells;
        let cpu = opts.reader_cpus.get(i).copied().flatten();
        workers.push(fork_worker(cpu, |out| {
            install_signal_handlers();
            let mut watch = Watch::over_parent(opts.timeout);
            let r = (|| -> Result<serde_json::Value> {
                let medium = if mapped {
                    let mine = bells.iter().map(Eventfd::try_clone).collect::<Result<_>>()?;
                    with_doorbells(setups[0].forked_peer()?, mine)
                } else {
                    // Close the other readers' pipes here, so that a reader's death reaches
                    // the writer as EPIPE instead of a pipe that someone still holds open.
                    for (j, s) in setups.iter_mut().enumerate() {
                        if j != i {
                            s.release_in_peer();
                        }
                    }
                    setups[i].forked_peer()?
                };
                let report = stream::reader(medium, spec, i, opts.wait, &mut watch)?;
                Ok(serde_json::to_value(report)?)
            })();
            write_report(out, r)
        })?);
    }
    // The writer watches the first reader; another reader's death shows as a stall (ring) or
    // as EPIPE (pipe).
    let mut watch = Watch::over_child(opts.timeout, workers[0].pid());
    let writer = if mapped {
        let Medium::Mapped(region) = with_doorbells(setups[0].local(&mut watch)?, bells) else {
            bail!("{t} gave no mapping");
        };
        let mut producer = Producer::new(region, spec.ring, spec.size, opts.wait)?;
        if opts.wait == Wait::Condvar {
            // Any reader may hold the ring's mutex: the breaker stops them all.
            let pids = workers.iter().map(|w| w.pid()).collect();
            producer.guard(HangBreaker::over(pids, opts.timeout));
        }
        stream::write_records(&mut RingWriter::new(producer, spec.size), spec, &mut watch)?
    } else {
        let mut streams = Vec::with_capacity(readers);
        for s in &mut setups {
            let Some(s) = s.local(&mut watch)?.into_records() else { bail!("{t} gave no stream") };
            streams.push(s);
        }
        stream::write_records(&mut StreamWriter::new(streams, spec.size), spec, &mut watch)?
    };
    let mut reports = Vec::with_capacity(readers);
    for (i, w) in workers.into_iter().enumerate() {
        let mut watch = Watch::over_child(opts.timeout, w.pid());
        let out = w.finish(&mut watch).with_context(|| format!("reader {i}"))?;
        let report: WorkerReport =
            serde_json::from_slice(&out).context("unreadable reader report")?;
        match (report.result, report.error) {
            (_, Some(e)) => bail!("reader {i}: {e}"),
            (Some(v), None) => reports.push(serde_json::from_value(v).context("reader report")?),
            (None, None) => bail!("reader {i} sent an empty report"),
        }
    }
    Ok(FanoutReport { writer, readers: reports })
}

fn write_report(out: &mut dyn Write, r: Result<serde_json::Value>) -> i32 {
    let report = match r {
        Ok(v) => WorkerReport { result: Some(v), error: None },
        Err(e) => WorkerReport { result: None, error: Some(format!("{e:#}")) },
    };
    let code = i32::from(report.error.is_some());
    let _ = serde_json::to_writer(&mut *out, &report);
    let _ = out.flush();
    code
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patterns::ring::RingLayout;
    use crate::patterns::stream::ReadMode;

    fn spec(readers: usize, records: u64, delays: Vec<u64>) -> StreamSpec {
        StreamSpec {
            size: 1000,
            ring: RingLayout::new(8192, readers).unwrap(),
            mode: ReadMode::Copy,
            warmup_records: 50,
            warmup_ns: 0,
            trials: 5,
            records,
            trial_ns: 0,
            fault: None,
            writer_delay_ns: 0,
            reader_delay_ns: delays,
        }
    }

    fn run(t: Transport, wait: Wait, spec: &StreamSpec) -> FanoutReport {
        let dir = tempfile::tempdir().unwrap();
        let opts = FanoutOptions {
            transport: t,
            wait,
            dir: dir.path().to_path_buf(),
            reader_cpus: vec![],
            timeout: Duration::from_secs(20),
        };
        run_fanout(&opts, spec).unwrap()
    }

    /// The reader's measured time, ns: its trials back to back, from the end of the warm-up to
    /// the last record.
    fn measured_ns(r: &ReaderReport) -> f64 {
        r.trials.iter().map(|t| t.seconds).sum::<f64>() * 1e9
    }

    /// Records the writer can be ahead of a reader: what the shared ring holds, or the pipe
    /// (this host's default pipe buffer) plus the record being written.
    fn in_flight(t: Transport, spec: &StreamSpec) -> u64 {
        let frame = crate::patterns::ring::frame_len(spec.size) as u64;
        if t.is_mapped() {
            spec.ring.capacity as u64 / frame
        } else {
            let (rx, _tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
            // SAFETY: F_GETPIPE_SZ on a pipe we own; no pointer involved.
            let cap =
                unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&rx), libc::F_GETPIPE_SZ) };
            assert!(cap > 0, "F_GETPIPE_SZ");
            cap as u64 / (HEADER_LEN + spec.size) as u64 + 1
        }
    }

    #[test]
    fn every_reader_receives_every_record_and_a_slow_one_holds_the_writer_back() {
        const PAUSE: u64 = 30_000;
        let n = 3_000;
        for (t, w) in [
            (Transport::AnonMmap, Wait::Spin),
            (Transport::PosixShm, Wait::Futex),
            (Transport::Memfd, Wait::Eventfd),
            (Transport::SysvShm, Wait::Condvar),
            (Transport::Pipe, Wait::Block),
        ] {
            let what = format!("{t}/{w}");
            let r_spec = spec(3, n, vec![0, PAUSE, 0]);
            let r = run(t, w, &r_spec);
            assert_eq!(r.readers.len(), 3);
            for (i, rd) in r.readers.iter().enumerate() {
                let g = rd.integrity;
                assert_eq!(
                    (g.received, g.lost, g.reordered, g.corrupted),
                    (r.writer.sent, 0, 0, 0),
                    "{what} reader {i}"
                );
                assert_eq!(rd.measured, n, "{what} reader {i}");
            }
            // The slow reader pauses 30 µs after each record: its n measured records took at
            // least n pauses (injected, so no host is faster).
            let slow = measured_ns(&r.readers[1]);
            assert!(slow >= (n * PAUSE) as f64 - 1e3, "{what}: slow reader done in {slow} ns");
            // It sets everyone's pace: the writer is never more than `k` records ahead of it, and
            // a fast reader never ahead of the writer. When a fast reader ended its warm-up the
            // slow one had freed at most k records past it; when the fast one took its last
            // record, the writer had written it, so the slow one had freed all but k before it.
            // In between the slow one freed at least n - 2k records, each after a pause.
            let k = in_flight(t, &r_spec);
            let floor = (n - 2 * k - 1) * PAUSE;
            for i in [0, 2] {
                let fast = measured_ns(&r.readers[i]);
                assert!(
                    fast >= floor as f64 - 1e3,
                    "{what}: reader {i} done in {fast} ns, before the slow reader allowed \
                     ({floor} ns: {k} records in flight)"
                );
            }
        }
    }

    /// The shape that once failed `scenario all` ("worker exited with status 0 before the case
    /// ended"): many short fan-outs whose readers finish while the writer still feeds, or reads
    /// the reports of, the others.
    #[test]
    fn many_short_fanouts_end_cleanly() {
        for round in 0..60 {
            let (t, w) = if round % 2 == 0 {
                (Transport::Pipe, Wait::Block)
            } else {
                (Transport::PosixShm, Wait::Futex)
            };
            let r = run(t, w, &spec(4, 20, vec![]));
            for rd in &r.readers {
                assert_eq!(rd.integrity.received, r.writer.sent, "{t} round {round}");
            }
        }
    }

    #[test]
    fn only_shared_rings_and_pipes_fan_out() {
        assert!(supports(Transport::Memfd) && supports(Transport::Pipe));
        assert!(!supports(Transport::Tcp));
        let dir = tempfile::tempdir().unwrap();
        let opts = FanoutOptions {
            transport: Transport::Tcp,
            wait: Wait::Block,
            dir: dir.path().to_path_buf(),
            reader_cpus: vec![],
            timeout: Duration::from_secs(5),
        };
        assert!(run_fanout(&opts, &spec(2, 10, vec![])).is_err());
    }
}
