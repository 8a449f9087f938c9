//! The open-loop load pattern: one writer sends records on a schedule — record i is due at
//! t0 + i / rate — whatever the reader does, and the reader times each record twice: from the
//! instant it was due (corrected: what a user of the system sees, no coordinated omission) and
//! from the instant it was actually sent (uncorrected: what a closed-loop benchmark reports).
//!
//! It reuses the stream pattern's ends ([`RingWriter`]/[`RingReader`] over a mapped transport's
//! [`ring`](crate::patterns::ring), [`StreamWriter`]/[`StreamReader`] over a byte stream); only
//! the loops differ. The writer publishes each record at once (a ring would otherwise hand
//! records over in batches), and never skips one: when it falls behind, it sends the late
//! records back to back until it is on schedule again.
//!
//! **Start.** The writer sends a hello record and waits until the reader has taken it, so the
//! schedule starts when both ends are there, not when the peer happened to start.
//!
//! **Times on the wire.** The header's `sent_ns` carries each record's actual send time. Its due
//! time is the schedule's: the first record (flag [`FLAG_SCHEDULE`], not counted) carries the
//! origin t0 in its `sent_ns`, and both sides compute record k's due time from t0 and the rate
//! with the same arithmetic ([`due_ns`]). So the 32-byte header and the checksummed payload stay
//! as they are, and the reader checks that no record was sent before it was due.

use crate::os::clock::{now_ns, process_cpu_ns};
use crate::os::futex::{Wait, WaitStats};
use crate::os::watch::Watch;
use crate::patterns::ring::{Consumer, Producer, RingLayout};
use crate::patterns::stream::{
    ReadMode, RecordReader, RecordWriter, RingReader, RingWriter, Stamp, StreamReader, StreamWriter,
};
use crate::record::stats::{encode, new_histogram, record};
use crate::record::{Sequencer, FLAG_STOP};
use crate::transport::Medium;
use anyhow::{bail, Result};
use ipcbench_results::Integrity;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The first record: the reader acknowledges it, so the schedule starts only once both ends
/// are there (a peer may start long before the runner reads). Verified, not counted.
pub const FLAG_HELLO: u32 = 8;
/// The second record: its `sent_ns` is the schedule's origin t0. Verified, not counted.
pub const FLAG_SCHEDULE: u32 = 4;

/// A futex or blocking writer sleeps until this long before a record is due, then spins: a
/// sleep overshoots by the timer slack and the wake-up (the writer sets its slack to 1 µs).
pub const SLEEP_AHEAD: Duration = Duration::from_micros(50);
/// The schedule starts this long after the writer is ready, so record 0 is not born late.
const LEAD: Duration = Duration::from_micros(200);

/// What both ends of an open-loop run agree on.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoadSpec {
    /// Payload bytes per record.
    pub size: usize,
    /// The ring (mapped transports).
    pub ring: RingLayout,
    /// Offered rate, records per second.
    pub rate_per_s: f64,
    /// Records at the start of the schedule that are sent and verified but not timed.
    pub warmup_records: u64,
    /// Timed records after the warm-up.
    pub records: u64,
}

/// How the writer waits for a record's due time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pace {
    /// Polls the clock: no wake-up to miss, a CPU burnt (spin waits).
    Spin,
    /// Sleeps until [`SLEEP_AHEAD`] before the due time, then polls (futex and block waits,
    /// whose readers sleep too).
    SleepThenSpin,
}

impl Pace {
    pub fn of(wait: Wait) -> Pace {
        if wait == Wait::Spin {
            Pace::Spin
        } else {
            Pace::SleepThenSpin
        }
    }

    /// One sentence for case notes.
    pub fn describe(self) -> String {
        match self {
            Pace::Spin => "the writer spins on the clock until each record is due".into(),
            Pace::SleepThenSpin => format!(
                "the writer sleeps until {} µs before each record is due (timer slack 1 µs), \
                 then spins on the clock",
                SLEEP_AHEAD.as_micros()
            ),
        }
    }

    /// Returns at `due` (at once if it has passed), with the last clock reading (≥ `due`), so
    /// the writer's lag costs no clock read of its own.
    #[inline]
    fn until(self, due: u64) -> u64 {
        if self == Pace::SleepThenSpin {
            let ahead = SLEEP_AHEAD.as_nanos() as u64;
            loop {
                let now = now_ns();
                if now + ahead >= due {
                    break;
                }
                std::thread::sleep(Duration::from_nanos(due - now - ahead));
            }
        }
        loop {
            let now = now_ns();
            if now >= due {
                return now;
            }
            std::hint::spin_loop();
        }
    }
}

/// When record `k` of the schedule (0-based, warm-up included) is due. Both sides compute it
/// this way, so they agree to the nanosecond.
#[inline]
pub fn due_ns(t0: u64, rate_per_s: f64, k: u64) -> u64 {
    t0 + (k as f64 * (1e9 / rate_per_s)) as u64
}

/// What the writer measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LoadWriterReport {
    /// Scheduled records handed out (not the hello, schedule or stop record).
    pub sent: u64,
    /// CPU ns this process spent on the timed records.
    pub cpu_ns: u64,
    /// The latest the writer ever sent a record after it was due, ns: how far behind it fell.
    pub max_lag_ns: u64,
    #[serde(default)]
    pub waits: WaitStats,
}

/// What the reader measured over the timed records.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LoadReaderReport {
    /// `sent` is left 0: the writer knows it.
    pub integrity: Integrity,
    pub warmup: u64,
    pub measured: u64,
    /// verified − due, ns (HDR histogram, encoded).
    pub corrected: String,
    /// verified − sent, ns.
    pub uncorrected: String,
    /// Timed records delivered per second: from the first one's due time (its verification
    /// when that came first, as when every record is due at once) to the last one's
    /// verification. A first record that happened to be verified late does not shorten the span,
    /// so a pair that keeps up reads the offered rate, less the last record's latency.
    pub achieved_per_s: f64,
    /// Timed records verified per second, from the first one's verification to the last's:
    /// the rate a pair that is never idle sustains (the saturation runs).
    #[serde(default)]
    pub verified_per_s: f64,
    /// How far behind the schedule the reader ended: the last record's corrected latency, in
    /// records (its lateness × the rate).
    pub backlog_records: f64,
    /// Records stamped as sent before they were due: the schedule was broken (must be 0).
    pub early: u64,
    pub cpu_ns: u64,
    #[serde(default)]
    pub waits: WaitStats,
}

/// Tests only: the reader stops once, for `ns`, after timed record `after`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stall {
    pub after: u64,
    pub ns: u64,
}

/// The writer's loop: the schedule record, every record on its due time, the stop record.
pub fn write_load<W: RecordWriter + ?Sized>(
    w: &mut W,
    spec: &LoadSpec,
    pace: Pace,
    watch: &mut Watch,
) -> Result<LoadWriterReport> {
    if !(spec.rate_per_s.is_finite() && spec.rate_per_s > 0.0) {
        bail!("offered rate {} records/s is not a positive number", spec.rate_per_s);
    }
    if pace == Pace::SleepThenSpin {
        // A sleep otherwise ends up to 50 µs late (the default slack).
        // SAFETY: prctl with an integer argument; affects this thread only.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong) };
    }
    let mut seq = Sequencer::new(None);
    w.send(seq.next_seq().0, FLAG_HELLO, false, watch)?;
    w.flush(watch)?;
    w.await_reader(watch)?;
    let t0 = now_ns() + LEAD.as_nanos() as u64;
    w.set_stamp(Stamp::At(t0));
    w.send(seq.next_seq().0, FLAG_SCHEDULE, false, watch)?;
    w.flush(watch)?;
    w.set_stamp(Stamp::Now);
    let mut report = LoadWriterReport::default();
    let total = spec.warmup_records + spec.records;
    let mut cpu0 = process_cpu_ns();
    for k in 0..total {
        let due = due_ns(t0, spec.rate_per_s, k);
        if k == spec.warmup_records {
            cpu0 = process_cpu_ns();
        }
        // Each record goes out at its due time, flushed (a ring would otherwise publish in
        // batches); a ring's record is written ahead and published when due.
        let now = w.send_when(seq.next_seq().0, 0, &mut || pace.until(due), watch)?;
        report.max_lag_ns = report.max_lag_ns.max(now - due);
        watch.progress();
    }
    report.cpu_ns = process_cpu_ns() - cpu0;
    report.sent = total;
    w.set_stamp(Stamp::None);
    w.send(seq.next_seq().0, FLAG_STOP, false, watch)?;
    w.flush(watch)?;
    w.finish(watch)?;
    report.waits = w.waits();
    Ok(report)
}

/// The reader's loop: verifies every record, times the timed ones from their due and their
/// send time, stops at the stop record.
pub(crate) fn read_load<R: RecordReader + ?Sized>(
    r: &mut R,
    spec: &LoadSpec,
    stall: Option<Stall>,
    watch: &mut Watch,
) -> Result<LoadReaderReport> {
    if r.recv(watch)?.flags & FLAG_HELLO == 0 {
        bail!("the writer's first record is not its hello");
    }
    r.acknowledge(watch)?;
    let first = r.recv(watch)?;
    if first.flags & FLAG_SCHEDULE == 0 {
        bail!("the writer's first record does not carry the schedule");
    }
    let t0 = first.sent_ns;
    let (mut corrected, mut uncorrected) = (new_histogram(), new_histogram());
    let mut report = LoadReaderReport::default();
    let (mut v_first, mut v_last, mut first_due, mut last_due) = (0, 0, 0, 0);
    let mut cpu0 = process_cpu_ns();
    loop {
        let h = r.recv(watch)?;
        let verified = now_ns();
        if h.flags & FLAG_STOP != 0 {
            r.finish(watch)?;
            break;
        }
        watch.progress();
        // Record k of the schedule has sequence number k + 2 (after hello and schedule).
        let k = h.seq.saturating_sub(2);
        let due = due_ns(t0, spec.rate_per_s, k);
        if h.sent_ns < due {
            report.early += 1;
        }
        if k < spec.warmup_records {
            report.warmup += 1;
            continue;
        }
        if report.measured == 0 {
            cpu0 = process_cpu_ns();
            (v_first, first_due) = (verified, due);
        }
        report.measured += 1;
        record(&mut corrected, verified.saturating_sub(due));
        record(&mut uncorrected, verified.saturating_sub(h.sent_ns));
        (v_last, last_due) = (verified, due);
        if let Some(s) = stall.filter(|s| s.after + 1 == report.measured) {
            std::thread::sleep(Duration::from_nanos(s.ns));
        }
    }
    report.cpu_ns = process_cpu_ns().saturating_sub(cpu0);
    let per_s = |from: u64| (report.measured - 1) as f64 * 1e9 / (v_last - from) as f64;
    if report.measured > 1 && v_last > v_first {
        report.verified_per_s = per_s(v_first);
        report.achieved_per_s = per_s(first_due.min(v_first));
    }
    report.backlog_records = v_last.saturating_sub(last_due) as f64 * spec.rate_per_s / 1e9;
    report.corrected = encode(&corrected);
    report.uncorrected = encode(&uncorrected);
    report.integrity = r.verifier().counts;
    // The hello, schedule and stop records were verified too; they are not in the ledger.
    report.integrity.received = report.integrity.received.saturating_sub(3);
    report.waits = r.waits();
    Ok(report)
}

/// The writer over whatever the transport gave (the peer's side of
/// [`crate::patterns::worker::Job::Load`]).
pub fn writer(
    medium: Medium,
    spec: &LoadSpec,
    wait: Wait,
    watch: &mut Watch,
) -> Result<LoadWriterReport> {
    let pace = Pace::of(wait);
    match medium {
        Medium::Mapped(region) => {
            let producer = Producer::new(region, spec.ring, spec.size, wait)?;
            write_load(&mut RingWriter::new(producer, spec.size), spec, pace, watch)
        }
        other => {
            let Some(s) = other.into_records() else {
                anyhow::bail!("a load runs over a ring or records, not loaned samples")
            };
            write_load(&mut StreamWriter::new(vec![s], spec.size), spec, pace, watch)
        }
    }
}

/// The reader over whatever the transport gave: a ring reader copies each payload out and
/// verifies the copy (what `read()` does), as a byte stream's reader must.
pub fn reader(
    medium: Medium,
    spec: &LoadSpec,
    wait: Wait,
    watch: &mut Watch,
) -> Result<LoadReaderReport> {
    read_with(medium, spec, wait, None, watch)
}

fn read_with(
    medium: Medium,
    spec: &LoadSpec,
    wait: Wait,
    stall: Option<Stall>,
    watch: &mut Watch,
) -> Result<LoadReaderReport> {
    match medium {
        Medium::Mapped(region) => {
            let consumer = Consumer::new(region, spec.ring, 0, spec.size, wait)?;
            let mut r = RingReader::new(consumer, spec.size, ReadMode::Copy);
            read_load(&mut r, spec, stall, watch)
        }
        other => {
            let Some(s) = other.into_records() else {
                anyhow::bail!("a load runs over a ring or records, not loaned samples")
            };
            read_load(&mut StreamReader::new(s, spec.size), spec, stall, watch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patterns::worker::{run_pair, Job, PairOptions, Process};
    use crate::record::stats::decode;
    use crate::transport::Transport;
    use hdrhistogram::Histogram;

    fn pair(t: Transport, w: Wait, ring: RingLayout, dir: &std::path::Path) -> PairOptions {
        PairOptions {
            transport: t,
            process: Process::Fork,
            wait: w,
            len: if t.is_mapped() { ring.region_len() } else { ring.capacity },
            dir: dir.to_path_buf(),
            exe: Default::default(),
            peer_cpu: None,
            timeout: Duration::from_secs(20),
        }
    }

    /// An open-loop run between this process (reader) and a forked writer.
    fn run(
        t: Transport,
        w: Wait,
        spec: &LoadSpec,
        stall: Option<Stall>,
    ) -> (LoadReaderReport, LoadWriterReport) {
        let dir = tempfile::tempdir().unwrap();
        let (mine, theirs) =
            run_pair(&pair(t, w, spec.ring, dir.path()), &Job::Load(spec.clone()), |m, watch| {
                read_with(m, spec, w, stall, watch)
            })
            .unwrap();
        (mine, serde_json::from_value(theirs).unwrap())
    }

    fn spec(size: usize, ring: usize, rate_per_s: f64, seconds: f64) -> LoadSpec {
        let records = (rate_per_s * seconds) as u64;
        LoadSpec {
            size,
            ring: RingLayout::new(ring, 1).unwrap(),
            rate_per_s,
            warmup_records: records / 20,
            records,
        }
    }

    fn intact(r: &LoadReaderReport, w: &LoadWriterReport, what: &str) {
        let i = r.integrity;
        assert_eq!((i.received, i.lost, i.reordered, i.corrupted), (w.sent, 0, 0, 0), "{what}");
        assert_eq!(r.warmup + r.measured, w.sent, "{what}");
        assert_eq!(r.early, 0, "{what}: a record left before it was due");
    }

    fn above(h: &Histogram<u64>, ns: u64) -> u64 {
        h.len() - h.count_between(0, ns)
    }

    /// A reader that stops once for 20 ms at 100 k records/s: every record due during the stall
    /// waits, which the corrected histogram counts (records due in the first half of the stall
    /// wait more than 10 ms: about 1000, on any host: the stall is injected). The uncorrected
    /// one counts from the send, and no record is sent before it is due, so at every threshold
    /// it counts no more records than the corrected one. (On a quiet host it counts about 15
    /// above 10 ms, the records a 64 KiB ring holds; a host that deschedules the reader adds
    /// more, so how far below it stays is the host's, and no test asserts it.)
    #[test]
    fn a_stalled_reader_shows_in_the_corrected_histogram_only() {
        let ms = 1_000_000;
        for (t, w) in [(Transport::PosixShm, Wait::Futex), (Transport::Pipe, Wait::Block)] {
            let s = spec(4096, 64 << 10, 100_000.0, 0.06);
            let stall = Stall { after: 1000, ns: 20 * ms };
            let (r, wr) = run(t, w, &s, Some(stall));
            intact(&r, &wr, t.name());
            let (c, u) = (decode(&r.corrected).unwrap(), decode(&r.uncorrected).unwrap());
            let (c10, u10) = (above(&c, 10 * ms), above(&u, 10 * ms));
            assert!(c10 >= 500, "{t}: corrected counts {c10} records above 10 ms");
            for x in [ms / 10, ms, 10 * ms, 20 * ms] {
                let (cx, ux) = (above(&c, x), above(&u, x));
                assert!(ux <= cx, "{t}: above {x} ns uncorrected counts {ux}, corrected {cx}");
            }
            assert!(u.max() <= c.max(), "{t}: uncorrected maximum above the corrected");
            assert!(u10 >= 1, "{t}: the record sent into the stall waited 20 ms");
            // Not a speed: the injected 20 ms stall fills the 64 KiB ring within 16 records,
            // so the writer is held back for most of the stall on any host (a slower one only
            // adds lag).
            assert!(wr.max_lag_ns >= 10 * ms, "{t}: the writer never fell behind");
        }
    }

    /// Far below saturation the writer keeps the schedule and the reader measures against it:
    /// no record leaves before it is due (`intact` checks `early`), so the span from the first
    /// timed record's due time to the last one's verification is at least the schedule's, and
    /// the achieved rate can never exceed the offered one. A writer that ran ahead of its
    /// schedule, or a reader that timed from the wrong record, breaks that on any host. (How
    /// close a pair comes to the offered rate depends on the host, so no test asserts it: the
    /// load scenario's runs show it.)
    #[test]
    fn the_achieved_rate_never_exceeds_the_offered_one() {
        for (t, w) in [(Transport::Memfd, Wait::Futex), (Transport::UnixSocket, Wait::Block)] {
            let s = spec(64, 256 << 10, 5_000.0, 0.3);
            let (r, wr) = run(t, w, &s, None);
            intact(&r, &wr, t.name());
            assert!(r.measured > 1, "{t}: {} timed records", r.measured);
            // The due times are whole nanoseconds: 1 ns of rounding a record at most.
            let schedule_ns = (r.measured - 1) as f64 * 1e9 / s.rate_per_s - r.measured as f64;
            let span_ns = (r.measured - 1) as f64 * 1e9 / r.achieved_per_s;
            assert!(
                span_ns >= schedule_ns,
                "{t}: {} records delivered in {span_ns} ns, scheduled over {schedule_ns} ns",
                r.measured
            );
        }
    }

    /// Offered far beyond what any host delivers (1 G records/s), every timed record is due
    /// within 60 µs of the first: a record's corrected latency is the time the pair took to
    /// deliver it and all before it, so the backlog grows with the run. The last record's
    /// latency, the histogram's maximum, is then the whole span from the first timed record's
    /// due time to the last one's verification, less at most the schedule's own 60 µs — an
    /// identity of the correction that holds at any speed (the two are taken from the same
    /// stamps, not from two runs). Measured from the send instead (no correction), the maximum
    /// would be one record's wait in a 64 KiB ring, a small part of the span. And since no
    /// record leaves before it is due, no uncorrected latency exceeds its corrected one.
    #[test]
    fn overloaded_the_corrected_latency_is_the_time_since_the_schedule_began() {
        let (t, w, size) = (Transport::AnonMmap, Wait::Futex, 256);
        let records = 60_000.0;
        let mut s = spec(size, 64 << 10, 1e9, records / 1e9);
        s.ring = RingLayout::new(64 << 10, 1).unwrap();
        let (r, wr) = run(t, w, &s, None);
        intact(&r, &wr, "load");
        let (c, u) = (decode(&r.corrected).unwrap(), decode(&r.uncorrected).unwrap());
        assert_eq!(c.len(), r.measured);
        let span_ns = (r.measured - 1) as f64 * 1e9 / r.achieved_per_s;
        let schedule_ns = records;
        // 3 significant figures: a histogram's maximum is within 0.1 % of the value recorded.
        let max = c.max() as f64;
        assert!(
            max <= span_ns * 1.002 + 1.0 && max >= (span_ns - schedule_ns) * 0.998 - 1.0,
            "corrected maximum {max} ns, span {span_ns} ns: the correction is not from the due time"
        );
        assert!(u.max() <= c.max(), "uncorrected maximum {} above corrected {}", u.max(), c.max());
    }
}
