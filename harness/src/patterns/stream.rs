//! The stream pattern: one writer floods records of one size to its reader(s) — through a
//! [`ring`](crate::patterns::ring) over a mapped transport, or as header + payload over a byte stream (one
//! `write` per record, one `read_exact` per record) — and every reader verifies every record.
//!
//! The flood is cut into a warm-up (discarded) and trials. The writer decides where each ends
//! (by count, or by time checked every few records) and flags the last record of each with
//! [`FLAG_TRIAL_END`]; a reader times a trial from the end of the previous one to the moment it
//! has verified that flagged record, so throughput is what was delivered and verified, in steady
//! state. A [`FLAG_STOP`] record (not counted) ends the stream.

use crate::os::clock::{now_ns, process_cpu_ns};
use crate::os::futex::Wait;
use crate::os::futex::WaitStats;
use crate::os::watch::Watch;
use crate::patterns::ring::{Consumer, Producer, RingLayout};
use crate::record::pattern::copy_and_match;
use crate::record::{corrupt, Fault, Header, Payloads, Sequencer, Verifier, FLAG_STOP, HEADER_LEN};
use crate::transport::{ByteStream, Medium};
use anyhow::{bail, Result};
use ipcbench_results::{Integrity, Trial};
use serde::{Deserialize, Serialize};

/// The last record of the warm-up or of a trial.
pub const FLAG_TRIAL_END: u32 = 2;

/// How a ring reader takes a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadMode {
    /// Copies the payload out of the ring into its own buffer — what `read()` does — and
    /// verifies the copy, then frees the slot. Over a ring each 4 KiB block of the copy is
    /// compared with the record's pattern as soon as it has landed, while it is in L1. Byte
    /// streams read this way only (a whole record per `read`, then the check).
    Copy,
    /// Verifies the payload where it lies in the ring, then frees the slot.
    InPlace,
}

impl ReadMode {
    pub const ALL: [ReadMode; 2] = [ReadMode::Copy, ReadMode::InPlace];
    pub fn name(self) -> &'static str {
        match self {
            ReadMode::Copy => "copy",
            ReadMode::InPlace => "in-place",
        }
    }
}

impl std::fmt::Display for ReadMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What both ends of a stream agree on.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StreamSpec {
    /// Payload bytes per record.
    pub size: usize,
    /// The ring (mapped transports); `ring.readers` is the number of readers.
    pub ring: RingLayout,
    pub mode: ReadMode,
    /// The warm-up lasts at least this many records and at least `warmup_ns`.
    pub warmup_records: u64,
    pub warmup_ns: u64,
    pub trials: u32,
    /// Measured records in all, spread evenly over the trials; a trial also ends after
    /// `trial_ns` (0: no time limit).
    pub records: u64,
    pub trial_ns: u64,
    /// Tests only: a fault the writer injects.
    #[serde(default)]
    pub fault: Option<Fault>,
    /// Tests only: the writer pauses this long before each record.
    #[serde(default)]
    pub writer_delay_ns: u64,
    /// Tests only: reader i pauses `reader_delay_ns[i]` after each record (missing: none).
    #[serde(default)]
    pub reader_delay_ns: Vec<u64>,
}

impl StreamSpec {
    /// Measured records in trial `k` (1-based).
    fn trial_records(&self, k: u32) -> u64 {
        let t = u64::from(self.trials.max(1));
        self.records / t + u64::from(u64::from(k - 1) < self.records % t)
    }

    /// The spec of trial `k` (1-based) run by a fresh pair of its own: its own warm-up, one
    /// trial of this spec's share. Trials are then independent draws (a pair keeps the speed
    /// it starts with), and the reports of the pairs are joined with [`WriterReport::join`]
    /// and [`ReaderReport::join`].
    pub fn trial(&self, k: u32) -> StreamSpec {
        StreamSpec { trials: 1, records: self.trial_records(k), ..self.clone() }
    }
}

impl WriterReport {
    /// Adds another pair's writer: the counts of both.
    pub fn join(&mut self, o: &WriterReport) {
        self.sent += o.sent;
        self.warmup += o.warmup;
        self.measured += o.measured;
        self.cpu_ns += o.cpu_ns;
        self.waits.add(&o.waits);
    }
}

impl ReaderReport {
    /// Adds another pair's reader: its trials follow this one's.
    pub fn join(&mut self, o: &ReaderReport) {
        self.integrity.add(&o.integrity);
        self.trials.extend(o.trials.iter().cloned());
        self.warmup += o.warmup;
        self.measured += o.measured;
        self.cpu_ns += o.cpu_ns;
        self.waits.add(&o.waits);
    }
}

/// What the writer measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WriterReport {
    /// Records handed out (warm-up and trials; not the stop record).
    pub sent: u64,
    pub warmup: u64,
    pub measured: u64,
    /// CPU ns this process spent in the trials.
    pub cpu_ns: u64,
    #[serde(default)]
    pub waits: WaitStats,
}

/// What a reader measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ReaderReport {
    /// `sent` is left 0: the writer knows it.
    pub integrity: Integrity,
    pub trials: Vec<Trial>,
    pub warmup: u64,
    pub measured: u64,
    /// CPU ns this process spent in the trials.
    pub cpu_ns: u64,
    #[serde(default)]
    pub waits: WaitStats,
}

/// What a writer puts in each header's `sent_ns`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Stamp {
    /// Nothing (0): a throughput stream times trials, not records.
    #[default]
    None,
    /// The instant the record is handed over: after a ring slot was found and the payload
    /// written, right before it is published; before the `write` of a byte stream.
    Now,
    /// A value the caller chose (an open-loop writer's schedule origin).
    At(u64),
}

impl Stamp {
    #[inline]
    fn value(self) -> u64 {
        match self {
            Stamp::None => 0,
            Stamp::Now => now_ns(),
            Stamp::At(ns) => ns,
        }
    }
}

/// The writing end of a stream, whatever carries it.
pub trait RecordWriter {
    /// What the following records carry in `sent_ns` (default [`Stamp::None`]).
    fn set_stamp(&mut self, stamp: Stamp);
    /// Sends record `seq`; `damage` flips a payload byte after the checksum was taken.
    fn send(&mut self, seq: u64, flags: u32, damage: bool, watch: &mut Watch) -> Result<()>;
    /// Makes everything sent so far visible to the readers.
    fn flush(&mut self, watch: &mut Watch) -> Result<()>;
    /// Sends record `seq` once `until` returns (it waits for the record's due time and gives
    /// the clock reading that ended the wait), then flushes; returns that reading. A medium
    /// that can write a record before publishing it does so ahead of the wait (the ring), so
    /// the record is published the moment it is due, as ping-pong stamps its one-way time
    /// after the payload is written; a byte stream writes after the wait.
    fn send_when(
        &mut self,
        seq: u64,
        flags: u32,
        until: &mut dyn FnMut() -> u64,
        watch: &mut Watch,
    ) -> Result<u64> {
        let now = until();
        self.send(seq, flags, false, watch)?;
        self.flush(watch)?;
        Ok(now)
    }
    /// After the stop record: waits until the readers have taken everything, where the
    /// medium needs that before the writer may go away.
    fn finish(&mut self, _watch: &mut Watch) -> Result<()> {
        Ok(())
    }
    fn waits(&self) -> WaitStats {
        WaitStats::default()
    }
    /// Waits until the reader has taken every record sent so far and acknowledged it
    /// ([`RecordReader::acknowledge`]): both ends are there.
    fn await_reader(&mut self, watch: &mut Watch) -> Result<()>;
}

/// The reading end: hands back each record's header once its payload was verified.
pub trait RecordReader {
    fn recv(&mut self, watch: &mut Watch) -> Result<Header>;
    fn verifier(&self) -> &Verifier;
    /// Tells the writer that every record so far was taken (see [`RecordWriter::await_reader`]).
    fn acknowledge(&mut self, watch: &mut Watch) -> Result<()>;
    /// After the stop record: tells the writer it may go.
    fn finish(&mut self, _watch: &mut Watch) -> Result<()> {
        Ok(())
    }
    fn waits(&self) -> WaitStats {
        WaitStats::default()
    }
}

fn header(seq: u64, size: usize, flags: u32, checksum: u64, stamp: Stamp) -> Header {
    Header { seq, sent_ns: stamp.value(), len: size as u32, flags, checksum }
}

/// Writes records straight into the ring.
pub struct RingWriter {
    producer: Producer,
    payloads: Payloads,
    stamp: Stamp,
    /// Where a payload of [`STAGED_SIZES`] is written before it is copied into the ring.
    staging: Option<Vec<u8>>,
}

/// Payload sizes a ring writer writes into a buffer of its own and copies into the ring in one
/// `memcpy`, as a producer with its record ready would. Written in place, word by word, every
/// line of the slot must first be fetched from the reader's cache that last read it; a block
/// copy of a few KiB and more (`rep movsb`) claims whole lines without reading them. Measured
/// on the development VM (spin, posix-shm, same run): in-place readers 30 → 44 GB/s at 64 KiB,
/// 24 → 37 at 16 KiB, 28 → 44–50 at 256 KiB; copying readers 31 → 37.5 at 64 KiB. At 1 MiB
/// the staging buffer no longer sits in the writer's cache and in-place fell from 51 to 30:
/// such payloads are written in place.
pub const STAGED_SIZES: std::ops::RangeInclusive<usize> = 4096..=256 << 10;

impl RingWriter {
    pub fn new(producer: Producer, size: usize) -> RingWriter {
        let staging = STAGED_SIZES.contains(&size).then(|| vec![0; size]);
        RingWriter { producer, payloads: Payloads::new(size), stamp: Stamp::None, staging }
    }

    /// Writes record `seq`'s payload into `dst` (staged or in place) and returns its key.
    #[inline]
    fn write_payload(
        payloads: &Payloads,
        staging: &mut Option<Vec<u8>>,
        seq: u64,
        dst: &mut [u8],
    ) -> u64 {
        match staging {
            Some(buf) => {
                let key = payloads.write(seq, buf);
                dst.copy_from_slice(buf);
                key
            }
            None => payloads.write(seq, dst),
        }
    }
}

impl RecordWriter for RingWriter {
    fn set_stamp(&mut self, stamp: Stamp) {
        self.stamp = stamp;
    }
    #[inline]
    fn send(&mut self, seq: u64, flags: u32, damage: bool, watch: &mut Watch) -> Result<()> {
        let size = self.payloads.len();
        let frame = self.producer.reserve(size, watch)?;
        let checksum = Self::write_payload(&self.payloads, &mut self.staging, seq, frame.payload);
        if damage {
            corrupt(frame.payload);
        }
        frame.header.copy_from_slice(&header(seq, size, flags, checksum, self.stamp).to_bytes());
        self.producer.commit();
        Ok(())
    }
    fn flush(&mut self, _: &mut Watch) -> Result<()> {
        self.producer.flush();
        Ok(())
    }
    #[inline]
    fn send_when(
        &mut self,
        seq: u64,
        flags: u32,
        until: &mut dyn FnMut() -> u64,
        watch: &mut Watch,
    ) -> Result<u64> {
        let size = self.payloads.len();
        let frame = self.producer.reserve(size, watch)?;
        let checksum = Self::write_payload(&self.payloads, &mut self.staging, seq, frame.payload);
        let mut h = header(seq, size, flags, checksum, Stamp::None);
        let now = until();
        h.sent_ns = self.stamp.value();
        frame.header.copy_from_slice(&h.to_bytes());
        self.producer.commit();
        self.producer.flush();
        Ok(now)
    }
    fn waits(&self) -> WaitStats {
        self.producer.stats
    }
    fn await_reader(&mut self, watch: &mut Watch) -> Result<()> {
        self.producer.wait_drained(watch)
    }
}

/// Reads records from the ring, copying them out or verifying them in place.
pub struct RingReader {
    consumer: Consumer,
    mode: ReadMode,
    /// The copy's destination: `size` bytes from `at`, on a cache line as the ring's payloads
    /// of 1 KiB and more are, so the copy neither loads nor stores across two lines.
    buf: Vec<u8>,
    at: usize,
    size: usize,
    verifier: Verifier,
}

impl RingReader {
    pub fn new(consumer: Consumer, size: usize, mode: ReadMode) -> RingReader {
        let buf = vec![0; size + 64];
        let at = buf.as_ptr().align_offset(64);
        RingReader { consumer, mode, buf, at, size, verifier: Verifier::new(size) }
    }
}

impl RecordReader for RingReader {
    #[inline]
    fn recv(&mut self, watch: &mut Watch) -> Result<Header> {
        let (h, payload) = self.consumer.next(watch)?;
        match self.mode {
            ReadMode::Copy => {
                // Copy out, checking the copy block by block as it lands (see `pattern`).
                let buf = &mut self.buf[self.at..self.at + self.size];
                let n = payload.len().min(buf.len());
                let intact = copy_and_match(&mut buf[..n], &payload[..n], h.seq);
                self.consumer.release();
                self.verifier.check_with(&h, &buf[..n], || intact);
            }
            ReadMode::InPlace => {
                self.verifier.check(&h, payload);
                self.consumer.release();
            }
        }
        Ok(h)
    }
    fn verifier(&self) -> &Verifier {
        &self.verifier
    }
    fn waits(&self) -> WaitStats {
        self.consumer.stats
    }
    fn acknowledge(&mut self, _: &mut Watch) -> Result<()> {
        self.consumer.flush();
        Ok(())
    }
}

/// Writes each record (header + payload, one `write_all`) to every stream in turn: one for a
/// stream, one per reader for a fan-out over pipes.
pub struct StreamWriter {
    streams: Vec<Box<dyn ByteStream>>,
    payloads: Payloads,
    buf: Vec<u8>,
    stamp: Stamp,
}

impl StreamWriter {
    pub fn new(streams: Vec<Box<dyn ByteStream>>, size: usize) -> StreamWriter {
        StreamWriter {
            streams,
            payloads: Payloads::new(size),
            buf: vec![0; HEADER_LEN + size],
            stamp: Stamp::None,
        }
    }
}

impl RecordWriter for StreamWriter {
    fn set_stamp(&mut self, stamp: Stamp) {
        self.stamp = stamp;
    }
    #[inline]
    fn send(&mut self, seq: u64, flags: u32, damage: bool, watch: &mut Watch) -> Result<()> {
        let size = self.payloads.len();
        let (head, payload) = self.buf.split_at_mut(HEADER_LEN);
        let checksum = self.payloads.write(seq, payload);
        if damage {
            corrupt(payload);
        }
        head.copy_from_slice(&header(seq, size, flags, checksum, self.stamp).to_bytes());
        for s in &mut self.streams {
            s.write_all(&self.buf, watch)?;
        }
        Ok(())
    }
    fn flush(&mut self, _: &mut Watch) -> Result<()> {
        Ok(())
    }
    /// A writer that left early would close its ends under a reader still reading (file-rw's
    /// reader then fails to return room): wait for each reader's one-byte acknowledgement.
    fn finish(&mut self, watch: &mut Watch) -> Result<()> {
        self.await_reader(watch)
    }
    fn await_reader(&mut self, watch: &mut Watch) -> Result<()> {
        for s in &mut self.streams {
            s.read_exact(&mut [0u8], watch)?;
        }
        Ok(())
    }
}

/// Reads each record (header + payload) with one `read_exact` into its buffer, then verifies.
pub struct StreamReader {
    stream: Box<dyn ByteStream>,
    buf: Vec<u8>,
    verifier: Verifier,
}

impl StreamReader {
    pub fn new(stream: Box<dyn ByteStream>, size: usize) -> StreamReader {
        StreamReader { stream, buf: vec![0; HEADER_LEN + size], verifier: Verifier::new(size) }
    }
}

impl RecordReader for StreamReader {
    #[inline]
    fn recv(&mut self, watch: &mut Watch) -> Result<Header> {
        self.stream.read_exact(&mut self.buf, watch)?;
        let h = Header::from_bytes(&self.buf);
        self.verifier.check(&h, &self.buf[HEADER_LEN..]);
        Ok(h)
    }
    fn verifier(&self) -> &Verifier {
        &self.verifier
    }
    fn finish(&mut self, watch: &mut Watch) -> Result<()> {
        self.acknowledge(watch)
    }
    fn acknowledge(&mut self, watch: &mut Watch) -> Result<()> {
        self.stream.write_all(&[0xAC], watch)
    }
}

fn pause(ns: u64) {
    if ns > 0 {
        let end = now_ns() + ns;
        while now_ns() < end {
            std::hint::spin_loop();
        }
    }
}

/// The writer's loop: warm-up, trials, stop record.
pub fn write_records<W: RecordWriter + ?Sized>(
    w: &mut W,
    spec: &StreamSpec,
    watch: &mut Watch,
) -> Result<WriterReport> {
    let mut seq = Sequencer::new(spec.fault);
    // Look at the clock about every 64 KiB written, and at least every 64 records.
    let every = (65_536 / crate::patterns::ring::frame_len(spec.size) as u64).clamp(1, 64);
    let mut report = WriterReport::default();
    let mut cpu0 = 0;
    for trial in 0..=spec.trials {
        let (n, ns) = if trial == 0 {
            (spec.warmup_records.max(1), spec.warmup_ns)
        } else {
            (spec.trial_records(trial), spec.trial_ns)
        };
        let deadline = if ns > 0 { now_ns().saturating_add(ns) } else { u64::MAX };
        let mut i: u64 = 0;
        loop {
            i += 1;
            let look = i.is_multiple_of(every) && deadline != u64::MAX;
            let last = if trial == 0 {
                // The warm-up lasts at least n records and at least its time.
                i >= n && (deadline == u64::MAX || (look && now_ns() >= deadline))
            } else {
                // A trial lasts at most n records and at most its time.
                i >= n || (look && now_ns() >= deadline)
            };
            pause(spec.writer_delay_ns);
            let (s, damage) = seq.next_seq();
            w.send(s, if last { FLAG_TRIAL_END } else { 0 }, damage, watch)?;
            if last {
                break;
            }
        }
        // The reader times the trial by this record: let it see it now, not a batch later.
        w.flush(watch)?;
        watch.progress();
        if trial == 0 {
            report.warmup = i;
            cpu0 = process_cpu_ns();
        } else {
            report.measured += i;
        }
    }
    report.cpu_ns = process_cpu_ns() - cpu0;
    report.sent = seq.sent();
    let (s, _) = seq.next_seq();
    w.send(s, FLAG_STOP, false, watch)?;
    w.flush(watch)?;
    w.finish(watch)?;
    report.waits = w.waits();
    Ok(report)
}

/// A reader's loop: verifies every record, times each trial, stops at the stop record.
pub fn read_records<R: RecordReader + ?Sized>(
    r: &mut R,
    spec: &StreamSpec,
    reader: usize,
    watch: &mut Watch,
) -> Result<ReaderReport> {
    let delay = spec.reader_delay_ns.get(reader).copied().unwrap_or(0);
    let mut report = ReaderReport::default();
    let mut since: Option<u64> = None;
    let mut cpu0 = 0;
    let mut count: u64 = 0;
    loop {
        let h = r.recv(watch)?;
        if h.flags & FLAG_STOP != 0 {
            r.finish(watch)?;
            break;
        }
        watch.progress();
        pause(delay);
        count += 1;
        if h.flags & FLAG_TRIAL_END != 0 {
            let t = now_ns();
            match since {
                None => {
                    report.warmup = count;
                    cpu0 = process_cpu_ns();
                }
                Some(t0) => {
                    report.trials.push(Trial {
                        records: count,
                        bytes: count * spec.size as u64,
                        seconds: (t - t0) as f64 / 1e9,
                    });
                    report.measured += count;
                }
            }
            since = Some(t);
            count = 0;
        }
    }
    report.cpu_ns = process_cpu_ns().saturating_sub(cpu0);
    if since.is_none() {
        bail!("the writer stopped during warm-up");
    }
    if count > 0 {
        bail!("{count} records arrived after the last trial");
    }
    report.integrity = r.verifier().counts;
    // The stop record was verified too; it is not part of the ledger.
    report.integrity.received -= 1;
    report.waits = r.waits();
    Ok(report)
}

/// Why loaned samples (iceoryx2) do not flood: see [`Transport::flow_controlled`].
///
/// [`Transport::flow_controlled`]: crate::transport::Transport::flow_controlled
const LOANS_NOT_IN_FLOODS: &str =
    "iceoryx2 runs in ping-pong only: under a sustained flood its publisher loses samples";

/// The writer over whatever the transport gave (the peer's side of [`crate::patterns::worker::Job::Stream`]).
pub fn writer(
    medium: Medium,
    spec: &StreamSpec,
    wait: Wait,
    watch: &mut Watch,
) -> Result<WriterReport> {
    match medium {
        Medium::Mapped(region) => {
            let producer = Producer::new(region, spec.ring, spec.size, wait)?;
            write_records(&mut RingWriter::new(producer, spec.size), spec, watch)
        }
        Medium::Loans(_) => bail!("{}", LOANS_NOT_IN_FLOODS),
        other => {
            let s = other.into_records().expect("a stream");
            write_records(&mut StreamWriter::new(vec![s], spec.size), spec, watch)
        }
    }
}

/// Reader `index` over whatever the transport gave.
pub fn reader(
    medium: Medium,
    spec: &StreamSpec,
    index: usize,
    wait: Wait,
    watch: &mut Watch,
) -> Result<ReaderReport> {
    match medium {
        Medium::Mapped(region) => {
            let consumer = Consumer::new(region, spec.ring, index, spec.size, wait)?;
            read_records(&mut RingReader::new(consumer, spec.size, spec.mode), spec, index, watch)
        }
        Medium::Loans(_) => bail!("{}", LOANS_NOT_IN_FLOODS),
        other => {
            if spec.mode != ReadMode::Copy {
                bail!("a byte stream is read by copying: mode in-place needs a mapped transport");
            }
            let s = other.into_records().expect("a stream");
            read_records(&mut StreamReader::new(s, spec.size), spec, index, watch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patterns::worker::{run_pair, Job, PairOptions, Process};
    use crate::transport::Transport;
    use std::time::Duration;

    /// A stream of `records` measured records in 5 trials by count, through a small ring.
    fn spec(size: usize, ring: usize, records: u64, mode: ReadMode) -> StreamSpec {
        StreamSpec {
            size,
            ring: RingLayout::new(ring, 1).unwrap(),
            mode,
            warmup_records: 100,
            warmup_ns: 0,
            trials: 5,
            records,
            trial_ns: 0,
            fault: None,
            writer_delay_ns: 0,
            reader_delay_ns: vec![],
        }
    }

    /// Runs the stream between this process (reader) and a forked writer.
    fn run(t: Transport, w: Wait, spec: &StreamSpec) -> Result<(ReaderReport, WriterReport)> {
        let dir = tempfile::tempdir()?;
        let len = if t.is_mapped() { spec.ring.region_len() } else { spec.ring.capacity };
        let pair = PairOptions {
            transport: t,
            process: Process::Fork,
            wait: w,
            len,
            dir: dir.path().to_path_buf(),
            exe: Default::default(),
            peer_cpu: None,
            timeout: Duration::from_secs(20),
        };
        let (mine, theirs) =
            run_pair(&pair, &Job::Stream(spec.clone()), |m, watch| reader(m, spec, 0, w, watch))?;
        Ok((mine, serde_json::from_value(theirs)?))
    }

    fn assert_intact(r: &ReaderReport, w: &WriterReport, records: u64, what: &str) {
        let i = r.integrity;
        assert_eq!(
            (i.received, i.lost, i.reordered, i.corrupted),
            (w.sent, 0, 0, 0),
            "{what}: {i:?}"
        );
        assert_eq!(w.sent, w.warmup + records, "{what}");
        assert_eq!((r.measured, r.warmup), (records, w.warmup), "{what}");
        assert_eq!(r.trials.len(), 5, "{what}");
        // Trials by count: the writer spreads the records evenly, the remainder first.
        for (k, t) in r.trials.iter().enumerate() {
            let share = records / 5 + u64::from((k as u64) < records % 5);
            assert_eq!(t.records, share, "{what}: trial {}: {:?}", k + 1, r.trials);
        }
    }

    /// Runs of a stream that may count missed wake-ups before one must count none.
    const TRIES: usize = 3;

    /// [`run`] and [`assert_intact`] on every run, and some run counts no missed futex wake-up;
    /// that run is returned. One count is no proof of a lost wake-up: a miss is a sleep that
    /// timed out (100 ms) and then found its condition true, and a peer held off the CPU that
    /// long by a loaded host publishes just after the timer fired, or between its store and its
    /// wake, and is counted too. A wake-up the protocol loses is lost again in the next run, on
    /// any host: so a run that counted misses is made again, and only misses in every run fail.
    fn run_intact(
        t: Transport,
        w: Wait,
        spec: &StreamSpec,
        records: u64,
        what: &str,
    ) -> (ReaderReport, WriterReport) {
        let mut missed = Vec::new();
        for _ in 0..TRIES {
            let (r, wr) = run(t, w, spec).expect(what);
            assert_intact(&r, &wr, records, what);
            if r.waits.missed_wakes + wr.waits.missed_wakes == 0 {
                return (r, wr);
            }
            missed.push((r.waits, wr.waits));
        }
        panic!("{what}: lost wake-ups in each of {TRIES} runs: {missed:?}");
    }

    #[test]
    fn every_transport_and_mode_streams_intact_records_through_many_wraps() {
        // 1000-byte records do not divide the 8 KiB ring: each turn ends with a pad frame, and
        // 5100 records wrap it more than 600 times; 8-byte records, 40-byte frames, wrap it 25
        // times and end each turn with 32 bytes, just room for a pad header.
        let n = 5_000;
        for t in Transport::ALL.into_iter().filter(|t| t.flow_controlled()) {
            let modes: &[ReadMode] = if t.is_mapped() { &ReadMode::ALL } else { &[ReadMode::Copy] };
            for &w in t.waits().iter().filter(|w| w.in_flood()) {
                for &mode in modes {
                    for size in [1000, 8] {
                        let what = format!("{t}/{w}/{mode}/{size}");
                        run_intact(t, w, &spec(size, 8192, n, mode), n, &what);
                    }
                }
            }
        }
    }

    #[test]
    fn megabyte_records_stream_through_the_default_ring() {
        let mut s = spec(1 << 20, 0x1000, 30, ReadMode::Copy);
        s.ring = RingLayout::for_records(1 << 20, 1).unwrap();
        s.warmup_records = 5;
        for t in [Transport::PosixShm, Transport::Pipe] {
            run_intact(t, t.waits()[0], &s, 30, t.name());
        }
    }

    #[test]
    fn full_and_empty_races_lose_nothing_in_either_wait() {
        // The injected pause (200 µs a record) dwarfs the other side's work on a record (a few
        // µs of a 500-byte write or check, debug build), even with that side slowed several
        // times by a loaded host: the paused side sets the pace, the other keeps waiting.
        let n = 1_000;
        const PAUSE: u64 = 200_000;
        for w in [Wait::Spin, Wait::Futex] {
            for mode in ReadMode::ALL {
                // A writer much faster than its reader keeps the ring full…
                let mut s = spec(500, 4096, n, mode);
                s.reader_delay_ns = vec![PAUSE];
                let (_, wr) =
                    run_intact(Transport::AnonMmap, w, &s, n, &format!("slow reader {w} {mode}"));
                assert!(wr.waits.waits > 100, "{w}: the writer never found the ring full");
                // …and a much slower one keeps it empty.
                let mut s = spec(500, 4096, n, mode);
                s.writer_delay_ns = PAUSE;
                let (r, wr) =
                    run_intact(Transport::AnonMmap, w, &s, n, &format!("slow writer {w} {mode}"));
                assert!(r.waits.waits > 100, "{w}: the reader never found the ring empty");
                if w == Wait::Futex {
                    assert!(
                        r.waits.sleeps > 0 && wr.waits.wakes > 0,
                        "{:?} {:?}",
                        r.waits,
                        wr.waits
                    );
                }
            }
        }
    }

    #[test]
    fn damage_and_gaps_are_caught() {
        for t in [
            Transport::Memfd,
            Transport::UnixSocket,
            Transport::Fifo,
            Transport::PosixMq,
            Transport::SysvMsg,
            Transport::UnixDgram,
        ] {
            let mut s = spec(256, 8192, 1_000, ReadMode::Copy);
            s.fault = Some(Fault::Corrupt(500));
            let (r, _) = run(t, t.waits()[0], &s).unwrap();
            assert_eq!((r.integrity.corrupted, r.integrity.lost), (1, 0), "{t}");
            s.fault = Some(Fault::Drop(500));
            let (r, _) = run(t, t.waits()[0], &s).unwrap();
            assert_eq!((r.integrity.corrupted, r.integrity.lost), (0, 1), "{t}");
        }
    }

    #[test]
    fn trials_end_by_time() {
        // Each trial may hold 1000 records, but the writer pauses 20 µs before each one and a
        // trial lasts 2 ms: by time it ends at the writer's first look at the clock after
        // 2 ms / 20 µs = 100 records, and it looks at least every 64 records. So a trial ended
        // by time holds at most 100 + 1 + 64 records, on any host (the pauses only lengthen);
        // one ended by count would hold 1000.
        let mut s = spec(64, 1 << 16, 5 * 1000, ReadMode::InPlace);
        s.writer_delay_ns = 20_000;
        s.trial_ns = 2_000_000;
        s.warmup_ns = 2_000_000;
        let (r, w) = run(Transport::PosixShm, Wait::Spin, &s).unwrap();
        assert_eq!(r.trials.len(), 5);
        let most = s.trial_ns / s.writer_delay_ns + 1 + 64;
        for (k, t) in r.trials.iter().enumerate() {
            assert!(t.records > 0 && t.records <= most, "trial {}: {:?}", k + 1, r.trials);
            assert!(t.records < s.trial_records(k as u32 + 1), "{:?}", r.trials);
        }
        assert_eq!(r.measured, r.trials.iter().map(|t| t.records).sum::<u64>());
        assert_eq!((r.measured, r.warmup), (w.measured, w.warmup));
        assert_eq!(r.integrity.received, w.sent);
    }
}
