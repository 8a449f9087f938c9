//! Scenario `stream`: one writer floods records of one size to one reader, over every transport
//! × process × wait × size, and — over mapped transports — both reader modes: `copy` (the reader
//! copies each payload out, then verifies the copy, as `read()` would) and `in-place` (it
//! verifies the payload where it lies in the ring). Reports records/s and payload bytes/s
//! (median, min, max over 5 trials, each a fresh pair, every trial kept), integrity, and the CPU each side spent
//! per record. Byte streams carry the same framing (header + payload), one `write` and one
//! `read_exact` per record.

use crate::reruns::Reruns;
use crate::table::{bytes, bytes_per_s, not_measured, ns, ratio, records_per_s, Table};
use crate::{Case, Context, Options, Scenario, UsageError};
use anyhow::{Context as _, Result};
use ipcbench_harness::os::futex::Wait;
use ipcbench_harness::patterns::probe::ProbeSpec;
use ipcbench_harness::patterns::ring::{frame_len, RingLayout};
use ipcbench_harness::patterns::stream::{
    reader, ReadMode, ReaderReport, StreamSpec, WriterReport,
};
use ipcbench_harness::patterns::worker::{run_trial, Job, Process};
use ipcbench_harness::transport::Transport;
use ipcbench_results::{probe, CaseResult, Cpu, RunFile, Spread, Throughput, Trial};
use std::time::Duration;

pub const DEFAULT_SIZES: [usize; 6] = [8, 64, 512, 4 << 10, 64 << 10, 1 << 20];
/// Trials per case (fewer only when `--iterations` asks for fewer records).
pub const TRIALS: u64 = 5;
/// Measured time per case: full and `--quick` (5 trials each way).
const FULL_TIME: Duration = Duration::from_millis(400);
const QUICK_TIME: Duration = Duration::from_millis(50);

pub struct Stream;

impl Scenario for Stream {
    fn name(&self) -> &'static str {
        "stream"
    }
    fn about(&self) -> &'static str {
        "throughput: one writer floods one reader; records/s and bytes/s by transport, process, \
         wait, size and reader mode (copy, in-place)"
    }
    fn cases(&self, opts: &Options) -> Result<Vec<Case>, UsageError> {
        let sizes = opts.sizes.clone().unwrap_or(DEFAULT_SIZES.to_vec());
        let mut cases = Vec::new();
        for (t, p, w) in ring_combinations(opts, &Transport::ALL)? {
            // --quick keeps to forked peers unless asked: a spawned peer streams the same way,
            // it only starts slower.
            if opts.quick && opts.processes.is_none() && p == Process::Spawn {
                continue;
            }
            for &size in &sizes {
                for &mode in modes(t) {
                    let id = format!("stream/{t}/{p}/{w}/{size}/{mode}");
                    cases.push(
                        Case::new(id.clone(), move |ctx| run_case(ctx, id, t, p, w, size, mode))
                            .expecting(expected_time(opts)),
                    );
                }
            }
        }
        Ok(cases)
    }

    fn summary(&self, cases: &[&CaseResult], run: &RunFile) -> Option<String> {
        throughput_table(cases, run)
    }
}

/// The transport × process × wait combinations a flood can run: the ring's waits
/// ([`Wait::in_flood`]) over flow-controlled transports ([`Transport::flow_controlled`]). Naming
/// only combinations it cannot run leaves it without cases.
pub(crate) fn ring_combinations(
    opts: &Options,
    allowed: &[Transport],
) -> Result<Vec<(Transport, Process, Wait)>, UsageError> {
    let all = opts.combinations(allowed)?;
    // Like any scenario that cannot run a named transport, it then simply has no such cases
    // (so that `scenario all --transport udp` runs ping-pong).
    Ok(all.into_iter().filter(|(t, _, w)| w.in_flood() && t.flow_controlled()).collect())
}

/// Reader modes a transport offers: a byte stream can only be read by copying.
pub fn modes(t: Transport) -> &'static [ReadMode] {
    if t.reads_in_place() {
        &ReadMode::ALL
    } else {
        &[ReadMode::Copy]
    }
}

/// The measured time of a stream or fanout case and its warm-up (a tenth).
pub(crate) fn expected_time(opts: &Options) -> Duration {
    opts.budget((u64::MAX / 4, FULL_TIME), (u64::MAX / 4, QUICK_TIME)).1 * 11 / 10
}

/// The stream both ends agree on, for `readers` readers, under the run's budget.
pub(crate) fn spec(
    opts: &Options,
    size: usize,
    readers: usize,
    mode: ReadMode,
) -> Result<StreamSpec> {
    let (records, time) = opts.budget((u64::MAX / 4, FULL_TIME), (u64::MAX / 4, QUICK_TIME));
    let trials = TRIALS.min(records.max(1));
    let ring = RingLayout::for_records(size, readers)?;
    Ok(StreamSpec {
        size,
        ring,
        mode,
        // Each pair warms up for one turn of the ring (every page touched) and at least the
        // run's warm-up time (frequency and caches settle: see `Options::warmup`).
        warmup_records: (ring.capacity / frame_len(size)) as u64 + 1,
        warmup_ns: opts.warmup().as_nanos() as u64,
        trials: trials as u32,
        records,
        trial_ns: (time / trials as u32).as_nanos() as u64,
        fault: opts.fault,
        writer_delay_ns: 0,
        reader_delay_ns: Vec::new(),
    })
}

fn run_case(
    ctx: &Context,
    id: String,
    t: Transport,
    p: Process,
    w: Wait,
    size: usize,
    mode: ReadMode,
) -> Result<CaseResult> {
    if let Some(mut c) = ctx.refuses(&id, "stream", t, w, size) {
        c.process = Some(p.name().into());
        c.axes.insert("mode".into(), mode.name().into());
        return Ok(c);
    }
    let opts = &ctx.opts;
    if w == Wait::Spin && crate::sysinfo::allowed_cpus().len() < 2 {
        ctx.warn(
            "Spinning peers need a CPU each; this process may use fewer than 2, so spin figures \
             are scheduler figures.",
        );
    }
    let spec = spec(opts, size, 1, mode)?;
    // file-rw: the file ring per direction is as large as the shared ring would be.
    let len = if t.is_mapped() { spec.ring.region_len() } else { spec.ring.capacity };
    let pair = ctx.pair(t, p, w, len);
    // Each trial is a fresh pair (new objects, new processes), as pingpong's are, and each pair
    // first measures a cross-core copy of this record size: the floor of its moment.
    let mut mine = ReaderReport::default();
    let mut theirs = WriterReport::default();
    let mut probes = Vec::new();
    let mut reruns = Reruns::for_trials(spec.trials as usize);
    for k in 1..=spec.trials {
        let mut one = spec.trial(k);
        // An injected fault is injected once, in the first trial.
        if k > 1 {
            one.fault = None;
        }
        let probe = Some(ProbeSpec::Copy { size });
        let (r, wr, probe) = reruns.run(|| {
            run_trial(&pair, &Job::Stream(one.clone()), probe, |medium, watch| {
                reader(medium, &one, 0, w, watch)
            })
        })?;
        let wr: WriterReport = serde_json::from_value(wr).context("the writer's report")?;
        mine.join(&r);
        theirs.join(&wr);
        probes.extend(probe);
    }
    let reports = Reports {
        id,
        scenario: "stream",
        transport: t,
        wait: w,
        size,
        spec: &spec,
        writer: &theirs,
        readers: &[mine],
    };
    let mut c = result(ctx, reports);
    c.probes.extend(probes);
    reruns.record(&mut c);
    if let Some(r) = probe::ratio(&c) {
        c.figures.insert("probe_ratio".into(), r);
    }
    c.process = Some(p.name().into());
    c.axes.insert("mode".into(), mode.name().into());
    c.notes.push(match mode {
        ReadMode::Copy if t.is_mapped() => {
            "reader copies each payload out of the ring into its own buffer and verifies the copy \
             (each 4 KiB block compared with the record's pattern as soon as it has landed), then \
             frees the slot"
        }
        ReadMode::Copy => {
            "writer: one write() of header + payload per record; reader: one read_exact() of a \
             record into its buffer, then verifies it"
        }
        ReadMode::InPlace => {
            "reader verifies each payload where it lies in the ring, then frees the slot"
        }
    }
    .into());
    Ok(c)
}

/// What a `stream` or `fanout` case measured: its point and the reports of its writer and
/// readers (one reader for `stream`).
pub(crate) struct Reports<'a> {
    pub id: String,
    pub scenario: &'a str,
    pub transport: Transport,
    pub wait: Wait,
    pub size: usize,
    pub spec: &'a StreamSpec,
    pub writer: &'a WriterReport,
    pub readers: &'a [ReaderReport],
}

/// The case result of `reports`.
pub(crate) fn result(ctx: &Context, reports: Reports<'_>) -> CaseResult {
    let Reports { id, scenario, transport: t, wait: w, size, spec, writer, readers } = reports;
    let mut c = CaseResult::new(id, scenario);
    c.transport = Some(t.name().into());
    c.wait = Some(w.name().into());
    c.size = Some(size as u64);
    c.iterations = writer.measured;
    c.warmup = writer.warmup;
    c.throughput = Some(throughput(readers, scenario == "fanout"));
    let mut integrity = ipcbench_results::Integrity::default();
    for r in readers {
        integrity.add(&r.integrity);
        integrity.sent += writer.sent;
    }
    c.integrity = Some(integrity);
    let per = |cpu: u64, n: u64| cpu as f64 / n.max(1) as f64;
    let mut cpu = Cpu::default();
    cpu.ns_per_message.insert("writer".into(), per(writer.cpu_ns, writer.measured));
    let reader_cpu: f64 =
        readers.iter().map(|r| per(r.cpu_ns, r.measured)).sum::<f64>() / readers.len() as f64;
    cpu.ns_per_message.insert("reader".into(), reader_cpu);
    c.cpu = Some(cpu);
    if t.is_mapped() {
        c.figures.insert("ring_bytes".into(), spec.ring.capacity as f64);
        // Which side sets the pace: the other one waits.
        let n = (writer.warmup + writer.measured).max(1) as f64;
        c.figures.insert("writer_wait_ns_per_record".into(), writer.waits.wait_ns as f64 / n);
        let rw: u64 = readers.iter().map(|r| r.waits.wait_ns).sum();
        c.figures.insert("reader_wait_ns_per_record".into(), rw as f64 / n / readers.len() as f64);
        if w == Wait::Futex {
            let n = (writer.warmup + writer.measured).max(1) as f64;
            c.figures.insert("writer_sleeps_per_record".into(), writer.waits.sleeps as f64 / n);
            let rs: u64 = readers.iter().map(|r| r.waits.sleeps).sum();
            c.figures
                .insert("reader_sleeps_per_record".into(), rs as f64 / n / readers.len() as f64);
        }
        c.notes.push(format!(
            "ring of {} in {}: variable-sized frames (header + payload, 8-byte aligned), head \
             and tails published in batches of 1/16 ring",
            bytes(spec.ring.capacity as u64),
            t.name()
        ));
    } else {
        c.notes.extend(ctx.transport_notes(t, size));
    }
    c.notes.extend(ctx.file_note(t));
    c.error = integrity.failure();
    c
}

/// Throughput as delivered to the readers. With several readers a trial's records and bytes
/// are summed over them and its time is the slowest reader's: the aggregate. A fan-out also
/// keeps each reader's own rate in `per_reader_bytes_per_s`.
fn throughput(readers: &[ReaderReport], per_reader: bool) -> Throughput {
    let n = readers.iter().map(|r| r.trials.len()).min().unwrap_or(0);
    let trials: Vec<Trial> = (0..n)
        .map(|k| Trial {
            records: readers.iter().map(|r| r.trials[k].records).sum(),
            bytes: readers.iter().map(|r| r.trials[k].bytes).sum(),
            seconds: readers.iter().map(|r| r.trials[k].seconds).fold(0.0, f64::max),
        })
        .collect();
    let rate = |v: u64, s: f64| if s > 0.0 { v as f64 / s } else { 0.0 };
    let per_reader = if per_reader {
        readers
            .iter()
            .map(|r| {
                Spread::of(&r.trials.iter().map(|t| rate(t.bytes, t.seconds)).collect::<Vec<_>>())
            })
            .collect()
    } else {
        Vec::new()
    };
    Throughput {
        records_per_s: Spread::of(
            &trials.iter().map(|t| rate(t.records, t.seconds)).collect::<Vec<_>>(),
        ),
        bytes_per_s: Spread::of(
            &trials.iter().map(|t| rate(t.bytes, t.seconds)).collect::<Vec<_>>(),
        ),
        trials,
        per_reader_bytes_per_s: per_reader,
    }
}

/// The cross-core copy floor for `size` measured by `floor` in this run (`floor/copy/<size>`).
pub(crate) fn copy_floor(run: &RunFile, size: Option<u64>) -> Option<f64> {
    run.case(&format!("floor/copy/{}", size?))
        .filter(|c| c.ok())
        .and_then(|c| c.throughput.as_ref())
        .map(|t| t.bytes_per_s.median)
        .filter(|v| *v > 0.0)
}

/// The single-core memcpy bandwidth for `size` measured by `floor` in this run, if any.
pub(crate) fn memcpy_floor(run: &RunFile, size: Option<u64>) -> Option<f64> {
    run.case(&format!("floor/memcpy/{}", size?))
        .filter(|c| c.ok())
        .and_then(|c| c.figures.get("memcpy_bytes_per_s").copied())
        .filter(|v| *v > 0.0)
}

/// The stdout table of a throughput scenario.
pub(crate) fn throughput_table(cases: &[&CaseResult], run: &RunFile) -> Option<String> {
    let mut t = Table::new(&[
        "case",
        "throughput",
        "records/s",
        "CPU/record writer",
        "reader",
        "× copy",
        "× memcpy (1 core, in cache)",
    ]);
    for c in cases {
        let Some(tp) = c.throughput.as_ref().filter(|_| c.ok()) else {
            let why = not_measured(c).unwrap_or_else(|| "no throughput figure".into());
            t.row(vec![c.id.clone(), why]);
            continue;
        };
        let cpu = |side: &str| {
            c.cpu
                .as_ref()
                .and_then(|cpu| cpu.ns_per_message.get(side))
                .map(|v| ns(*v))
                .unwrap_or_default()
        };
        let versus = |floor: Option<f64>| {
            floor.map(|m| ratio(tp.bytes_per_s.median / m)).unwrap_or("-".into())
        };
        // The cross-core copy bounds a reader that copies: in-place readers copy nothing.
        let copies = c.axes.get("mode").is_none_or(|m| m == "copy");
        let copy = if copies { versus(copy_floor(run, c.size)) } else { "-".into() };
        t.row(vec![
            c.id.clone(),
            bytes_per_s(tp.bytes_per_s.median),
            records_per_s(tp.records_per_s.median),
            cpu("writer"),
            cpu("reader"),
            copy,
            versus(memcpy_floor(run, c.size)),
        ]);
    }
    (!t.is_empty()).then(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(trials: &[(u64, f64)]) -> ReaderReport {
        ReaderReport {
            trials: trials
                .iter()
                .map(|&(records, seconds)| Trial { records, bytes: records * 10, seconds })
                .collect(),
            measured: trials.iter().map(|t| t.0).sum(),
            ..Default::default()
        }
    }

    #[test]
    fn aggregate_throughput_sums_records_over_the_slowest_readers_time() {
        let a = reader(&[(100, 1.0), (100, 1.0), (100, 2.0)]);
        let b = reader(&[(100, 2.0), (100, 1.0), (100, 1.0)]);
        let tp = throughput(&[a, b], true);
        assert_eq!(tp.trials.len(), 3);
        assert_eq!((tp.trials[0].records, tp.trials[0].seconds), (200, 2.0));
        assert_eq!(tp.records_per_s.median, 100.0);
        assert_eq!((tp.records_per_s.min, tp.records_per_s.max), (100.0, 200.0));
        assert_eq!(tp.per_reader_bytes_per_s.len(), 2);
        assert_eq!(tp.per_reader_bytes_per_s[0].median, 1000.0);
        // A stream: no per-reader figures, the reader's own trials.
        let tp = throughput(&[reader(&[(50, 0.5)])], false);
        assert!(tp.per_reader_bytes_per_s.is_empty());
        assert_eq!(tp.bytes_per_s.median, 1000.0);
        assert_eq!(throughput(&[reader(&[(50, 0.5)])], true).per_reader_bytes_per_s.len(), 1);
    }

    #[test]
    fn cases_cover_modes_and_quick_keeps_to_fork() {
        let opts = Options::default();
        let ids: Vec<String> = Stream.cases(&opts).unwrap().into_iter().map(|c| c.id).collect();
        assert!(ids.contains(&"stream/posix-shm/fork/spin/65536/copy".to_string()));
        assert!(ids.contains(&"stream/posix-shm/spawn/futex/8/in-place".to_string()));
        assert!(ids.contains(&"stream/pipe/fork/block/64/copy".to_string()));
        assert!(!ids.iter().any(|i| i.starts_with("stream/pipe/") && i.ends_with("in-place")));
        // 5 mapped × (fork + spawn, less anon-mmap spawn) × 4 ring waits × 2 modes, 5 streams
        // and 3 flow-controlled message transports × 2 processes (not udp, not iceoryx2).
        assert!(!ids.iter().any(|i| i.starts_with("stream/udp/") || i.contains("iceoryx2")));
        assert!(ids.contains(&"stream/memfd/fork/eventfd/64/in-place".to_string()));
        assert!(ids.contains(&"stream/sysv-shm/spawn/condvar/64/copy".to_string()));
        assert_eq!(ids.len(), (9 * 4 * 2 + 8 * 2) * DEFAULT_SIZES.len());
        let quick = Options { quick: true, ..Default::default() };
        let q = Stream.cases(&quick).unwrap();
        assert!(q.iter().all(|c| c.id.contains("/fork/")));
        let spawn = Options { quick: true, processes: Some(vec![Process::Spawn]), ..quick };
        assert!(Stream.cases(&spawn).unwrap().iter().all(|c| c.id.contains("/spawn/")));
    }

    #[test]
    fn budget_splits_records_and_time_over_trials() {
        let opts = Options { iterations: Some(1000), ..Default::default() };
        let s = spec(&opts, 64, 1, ReadMode::Copy).unwrap();
        assert_eq!((s.records, s.trials, s.trial_ns), (1000, 5, 0));
        assert_eq!(s.warmup_ns, crate::options::WARMUP.as_nanos() as u64);
        // Each trial is a pair of its own with its share of the records.
        assert_eq!((s.trial(1).trials, s.trial(1).records, s.trial(5).records), (1, 200, 200));
        let s7 = StreamSpec { records: 7, ..s.clone() };
        let shares: Vec<u64> = (1..=5).map(|k| s7.trial(k).records).collect();
        assert_eq!(shares, [2, 2, 1, 1, 1]);
        let opts = Options { iterations: Some(3), ..Default::default() };
        assert_eq!(spec(&opts, 64, 1, ReadMode::Copy).unwrap().trials, 3);
        let s = spec(&Options { quick: true, ..Default::default() }, 1 << 20, 1, ReadMode::Copy)
            .unwrap();
        assert_eq!(s.trial_ns, 10_000_000);
        assert_eq!(s.warmup_ns, crate::options::WARMUP_QUICK.as_nanos() as u64);
        assert_eq!(s.ring.capacity, 4 << 20);
        assert_eq!(s.warmup_records, 4);
    }
}
