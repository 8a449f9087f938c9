//! Scenario `load`: latency under an offered load (open loop), over transport × process × wait ×
//! size × offered rate. For each case it first finds the saturation throughput — the same
//! open-loop pair with its writer unpaced (one writer, one copying reader) — then drives the
//! transport at a sweep of rates, as fractions of that saturation or as given by `--rate`. At
//! each rate the writer sends record i at t0 + i / rate whatever the reader does (see
//! [`ipcbench_harness::patterns::load`]), and the reader times each record from its due time
//! (corrected) and from its send time (uncorrected). Each rate is a few fresh pairs (trials),
//! their histograms pooled. The knee is the highest rate whose corrected p99 stays within
//! [`KNEE_FACTOR`] × the lowest rate's; [`ipcbench_results::load`] says where it all is stored.

use crate::options::OfferedRate;
use crate::table::{ns, significant, Table};
use crate::{Case, Context, Options, Scenario, UsageError};
use anyhow::{bail, Context as _, Result};
use ipcbench_harness::os::futex::Wait;
use ipcbench_harness::patterns::load::{
    reader, LoadReaderReport, LoadSpec, LoadWriterReport, Pace,
};
use ipcbench_harness::patterns::probe::ProbeSpec;
use ipcbench_harness::patterns::ring::RingLayout;
use ipcbench_harness::patterns::worker::{run_pair, run_trial, Job, Process};
use ipcbench_harness::record::stats::{decode, encode, new_histogram, summarize};
use ipcbench_harness::transport::{mechanism, Transport};
use ipcbench_results::load::{self as keys, Point, KNEE_FACTOR, REFERENCE_FRACTION};
use ipcbench_results::units::records_per_s;
use ipcbench_results::{latency, CaseResult, Cpu, Integrity, RunFile, Spread};
use std::time::Duration;

pub const DEFAULT_SIZES: [usize; 1] = [64];
/// The sweep, as fractions of the measured saturation.
pub const DEFAULT_FRACTIONS: [f64; 7] = [0.10, 0.25, 0.50, 0.75, 0.90, 1.00, 1.10];
const QUICK_FRACTIONS: [f64; 3] = [0.10, 0.50, 0.90];
/// What `--quick` runs unless transports are named: one mapped and one byte-stream case.
const QUICK_CASES: [(Transport, Wait); 2] =
    [(Transport::PosixShm, Wait::Spin), (Transport::Pipe, Wait::Block)];
/// Fresh pairs per rate: full and `--quick`.
const TRIALS: (u32, u32) = (3, 2);
/// Scheduled time per trial, after its warm-up: full and `--quick`.
const TRIAL_TIME: (Duration, Duration) = (Duration::from_millis(300), Duration::from_millis(80));
/// The saturation runs' time (3 trials): full and `--quick`.
const SATURATION_TIME: (Duration, Duration) =
    (Duration::from_millis(150), Duration::from_millis(45));
/// An offered rate no pair reaches: every record is due at t0, so the writer sends back to back.
const UNPACED: f64 = 1e15;
/// The saturation pilot's records (a few ms on a fast pair, a second on a slow one).
const PILOT_RECORDS: u64 = 20_000;
/// A trial times at least this many records, however low the rate (so its p99 means something).
const MIN_RECORDS: u64 = 500;

pub struct Load;

impl Scenario for Load {
    fn name(&self) -> &'static str {
        "load"
    }
    fn about(&self) -> &'static str {
        "latency under load: records sent on a schedule at a sweep of offered rates (fractions \
         of each case's saturation); corrected and uncorrected latency, the knee"
    }
    fn cases(&self, opts: &Options) -> Result<Vec<Case>, UsageError> {
        let sizes = opts.sizes.clone().unwrap_or(DEFAULT_SIZES.to_vec());
        let mut cases = Vec::new();
        // A flood at its core: the waits and transports `stream` can flood (see there).
        for (t, p, w) in crate::stream::ring_combinations(opts, &Transport::ALL)? {
            if opts.quick && opts.transports.is_none() && !QUICK_CASES.contains(&(t, w)) {
                continue;
            }
            if opts.quick && opts.processes.is_none() && p == Process::Spawn {
                continue;
            }
            for &size in &sizes {
                let id = format!("load/{t}/{p}/{w}/{size}");
                cases.push(Case::new(id.clone(), move |ctx| run_case(ctx, id, t, p, w, size)));
            }
        }
        Ok(cases)
    }

    fn summary(&self, cases: &[&CaseResult], _run: &RunFile) -> Option<String> {
        summary_table(cases)
    }
}

/// One offered rate of a case.
#[derive(Clone, Debug)]
struct Rate {
    fraction: Option<f64>,
    per_s: f64,
    label: String,
}

fn rates(opts: &Options, saturation: f64) -> Vec<Rate> {
    let default: &[f64] = if opts.quick { &QUICK_FRACTIONS } else { &DEFAULT_FRACTIONS };
    let offered: Vec<OfferedRate> = opts
        .rates
        .clone()
        .unwrap_or_else(|| default.iter().map(|f| OfferedRate::Fraction(*f)).collect());
    offered
        .into_iter()
        .map(|r| {
            let (fraction, per_s) = match r {
                OfferedRate::Fraction(f) => (Some(f), f * saturation),
                OfferedRate::PerSecond(v) => (None, v),
            };
            Rate { fraction, per_s, label: keys::label(fraction, per_s) }
        })
        .collect()
}

/// Records per second the open-loop pair itself sustains: the same writer and reader as at every
/// rate point, the writer not paced (every record is due at once), so the figure pays for
/// everything a paced record pays for — the clock reads, the per-record publish, the two
/// histogram entries, the copy and the check. A closed-loop stream is not that shape: it batches
/// and stamps nothing, and on this host it ran ~5× faster than the load pair can, which put
/// "10 %" at half of what the pair sustains. A pilot of [`PILOT_RECORDS`] sizes the three trials
/// to the saturation time; the median of the three is the saturation.
fn saturation(ctx: &Context, t: Transport, p: Process, w: Wait, size: usize) -> Result<f64> {
    let time = if ctx.opts.quick { SATURATION_TIME.1 } else { SATURATION_TIME.0 };
    let ring = RingLayout::for_records(size, 1)?;
    let len = if t.is_mapped() { ring.region_len() } else { ring.capacity };
    let pair = ctx.pair(t, p, w, len);
    let run = |records: u64| -> Result<f64> {
        let spec =
            LoadSpec { size, ring, rate_per_s: UNPACED, warmup_records: records / 10, records };
        let (mine, _) =
            run_pair(&pair, &Job::Load(spec.clone()), |m, watch| reader(m, &spec, w, watch))
                .context("the saturation run")?;
        Ok(mine.verified_per_s)
    };
    let pilot = run(PILOT_RECORDS)?;
    if !(pilot.is_finite() && pilot > 0.0) {
        bail!("the saturation run measured no throughput");
    }
    let records = ((pilot * time.as_secs_f64() / 3.0) as u64).max(PILOT_RECORDS);
    let per_trial = (0..3).map(|_| run(records)).collect::<Result<Vec<f64>>>()?;
    let s = Spread::of(&per_trial).median;
    if !(s.is_finite() && s > 0.0) {
        bail!("the saturation run measured no throughput");
    }
    Ok(s)
}

/// One trial's two sides.
struct TrialReport {
    reader: LoadReaderReport,
    writer: LoadWriterReport,
    /// The pair's floor probe, taken right before the trial.
    probe: Option<ipcbench_results::probe::Probe>,
}

/// What a rate's trials measured together.
struct Measured {
    rate: Rate,
    trials: Vec<TrialReport>,
}

fn run_rate(
    ctx: &Context,
    (t, p, w, size): (Transport, Process, Wait, usize),
    rate: &Rate,
) -> Result<Vec<TrialReport>> {
    let opts = &ctx.opts;
    let (trials, time) =
        if opts.quick { (TRIALS.1, TRIAL_TIME.1) } else { (TRIALS.0, TRIAL_TIME.0) };
    let time = opts.duration.map(|d| d / trials).unwrap_or(time);
    let records = match opts.iterations {
        Some(n) => (n / u64::from(trials)).max(1),
        None => ((rate.per_s * time.as_secs_f64()) as u64).max(MIN_RECORDS),
    };
    let spec = LoadSpec {
        size,
        ring: RingLayout::for_records(size, 1)?,
        rate_per_s: rate.per_s,
        warmup_records: (records / 10).max(50),
        records,
    };
    let len = if t.is_mapped() { spec.ring.region_len() } else { spec.ring.capacity };
    let pair = ctx.pair(t, p, w, len);
    let mut out = Vec::new();
    for _ in 0..trials {
        // Each trial's pair first takes its floor probe (the wait's), stored with the case.
        let job = Job::Load(spec.clone());
        let (reader, writer, probe) =
            run_trial(&pair, &job, Some(ProbeSpec::for_wait(w)), |m, watch| {
                reader(m, &spec, w, watch)
            })?;
        let writer: LoadWriterReport =
            serde_json::from_value(writer).context("the writer's report")?;
        if reader.early > 0 {
            bail!("{} records were sent before they were due: the schedule broke", reader.early);
        }
        out.push(TrialReport { reader, writer, probe });
    }
    Ok(out)
}

fn run_case(
    ctx: &Context,
    id: String,
    t: Transport,
    p: Process,
    w: Wait,
    size: usize,
) -> Result<CaseResult> {
    if w == Wait::Spin && crate::sysinfo::logical_cpus() < 2 {
        ctx.warn(
            "Spinning peers need a CPU each; this host has fewer than 2, so spin figures are \
             scheduler figures.",
        );
    }
    let sat = saturation(ctx, t, p, w, size)?;
    let mut measured = Vec::new();
    for rate in rates(&ctx.opts, sat) {
        let trials = run_rate(ctx, (t, p, w, size), &rate)?;
        measured.push(Measured { rate, trials });
    }
    result(ctx, id, (t, p, w, size), sat, &measured)
}

fn result(
    ctx: &Context,
    id: String,
    (t, p, w, size): (Transport, Process, Wait, usize),
    sat: f64,
    measured: &[Measured],
) -> Result<CaseResult> {
    let mut c = CaseResult::new(id, "load");
    c.transport = Some(t.name().into());
    c.process = Some(p.name().into());
    c.wait = Some(w.name().into());
    c.size = Some(size as u64);
    c.figures.insert(keys::SATURATION.into(), sat);
    let mut integrity = Integrity::default();
    let mut points = Vec::new();
    for m in measured {
        let (mut corrected, mut uncorrected) = (new_histogram(), new_histogram());
        let label = &m.rate.label;
        for tr in &m.trials {
            let (ch, uh) = (decode(&tr.reader.corrected)?, decode(&tr.reader.uncorrected)?);
            corrected.add(&ch).context("merging histograms")?;
            uncorrected.add(&uh).context("merging histograms")?;
            for (kind, h) in [(latency::CORRECTED, &ch), (latency::UNCORRECTED, &uh)] {
                c.latency_trials_ns.entry(keys::key(kind, label)).or_default().push(summarize(h));
            }
            integrity.add(&Integrity { sent: tr.writer.sent, ..tr.reader.integrity });
            c.iterations += tr.reader.measured;
            c.probes.extend(tr.probe.clone());
            c.warmup += tr.reader.warmup;
        }
        let achieved: Vec<f64> = m.trials.iter().map(|t| t.reader.achieved_per_s).collect();
        let backlog: Vec<f64> = m.trials.iter().map(|t| t.reader.backlog_records).collect();
        let point = Point {
            label: label.clone(),
            offered_per_s: m.rate.per_s,
            achieved_per_s: Some(Spread::of(&achieved).median),
            backlog_records: Some(Spread::of(&backlog).median),
            corrected: summarize(&corrected),
            uncorrected: Some(summarize(&uncorrected)),
        };
        point.store(&mut c);
        c.histograms.insert(keys::key(latency::CORRECTED, label), encode(&corrected));
        c.histograms.insert(keys::key(latency::UNCORRECTED, label), encode(&uncorrected));
        points.push((m, point));
    }
    points.sort_by(|a, b| a.1.offered_per_s.total_cmp(&b.1.offered_per_s));
    let sorted: Vec<Point> = points.iter().map(|(_, p)| p.clone()).collect();
    if let Some(knee) = keys::knee(&sorted, KNEE_FACTOR) {
        c.figures.insert(keys::KNEE.into(), knee);
        c.figures.insert(keys::KNEE_FACTOR_KEY.into(), KNEE_FACTOR);
    }
    // The headline: 90 % of saturation, else the highest rate not above it, else the lowest.
    let reference = points
        .iter()
        .find(|(m, _)| m.rate.fraction.is_some_and(|f| (f - REFERENCE_FRACTION).abs() < 1e-9))
        .or_else(|| points.iter().rev().find(|(_, p)| p.offered_per_s <= sat))
        .or(points.first());
    if let Some((m, point)) = reference {
        c.figures.insert(keys::REFERENCE.into(), point.offered_per_s);
        for kind in [latency::CORRECTED, latency::UNCORRECTED] {
            let k = keys::key(kind, &point.label);
            if let Some(s) = c.latency_ns.get(&k).copied() {
                c.latency_ns.insert(kind.into(), s);
            }
            if let Some(h) = c.histograms.get(&k).cloned() {
                c.histograms.insert(kind.into(), h);
            }
            if let Some(v) = c.latency_trials_ns.get(&k).cloned() {
                c.latency_trials_ns.insert(kind.into(), v);
            }
        }
        if m.rate.fraction.is_some_and(|f| (f - REFERENCE_FRACTION).abs() < 1e-9) {
            c.figures.insert(keys::CORRECTED_P99_AT_90.into(), point.corrected.p99 as f64);
        }
        let n: u64 = m.trials.iter().map(|t| t.reader.measured).sum::<u64>().max(1);
        let mut cpu = Cpu::default();
        let writer: u64 = m.trials.iter().map(|t| t.writer.cpu_ns).sum();
        let reader: u64 = m.trials.iter().map(|t| t.reader.cpu_ns).sum();
        cpu.ns_per_message.insert("writer".into(), writer as f64 / n as f64);
        cpu.ns_per_message.insert("reader".into(), reader as f64 / n as f64);
        c.cpu = Some(cpu);
        c.notes.push(format!(
            "headline latency (corrected, uncorrected) and CPU per record: the {} point ({})",
            point.label,
            records_per_s(point.offered_per_s)
        ));
    }
    let trials = measured.first().map(|m| m.trials.len()).unwrap_or(0);
    c.notes.push(format!(
        "saturation: the same pair with the writer unpaced (every record due at once), median \
         of 3 trials: {}; each rate point: {trials} fresh pairs, their histograms pooled",
        records_per_s(sat)
    ));
    c.notes.push(format!(
        "open loop: record i is due at t0 + i / rate and never skipped; {}; each record is \
         published at once (a ring's is written ahead and published when due); corrected = verified − due, uncorrected = verified − sent",
        Pace::of(w).describe()
    ));
    c.notes.push(format!(
        "knee: the highest offered rate, going up, whose corrected p99 stays within {KNEE_FACTOR} \
         × the lowest rate's"
    ));
    if t.is_mapped() {
        c.notes.push("reader copies each payload out of the ring and verifies the copy".into());
    } else {
        c.notes.push(mechanism(t).how().to_string());
    }
    c.notes.extend(ctx.file_note(t));
    c.integrity = Some(integrity);
    c.error = integrity.failure();
    Ok(c)
}

/// The stdout table: per case, the saturation, the knee, and the corrected p99 at the lowest
/// rate and at the reference rate, beside the uncorrected p99 there.
fn summary_table(cases: &[&CaseResult]) -> Option<String> {
    let mut t = Table::new(&[
        "case",
        "saturation",
        "knee",
        "lowest rate",
        "corrected p50",
        "p99",
        "reference rate",
        "corrected p99",
        "uncorrected p99",
    ]);
    for c in cases {
        let points = keys::points(c);
        let (Some(low), true) = (points.first(), c.ok()) else {
            let why = if c.error.is_some() { "failed" } else { "skipped" };
            let mut row = vec![c.id.clone(), why.into()];
            row.resize(9, String::new());
            t.row(row);
            continue;
        };
        let fig = |k: &str| c.figures.get(k).copied();
        let sat = fig(keys::SATURATION);
        let rate = |v: f64| match sat {
            Some(s) if s > 0.0 => format!("{} ({}%)", records_per_s(v), significant(100.0 * v / s)),
            _ => records_per_s(v),
        };
        let reference = fig(keys::REFERENCE);
        let summary = |kind: &str| c.latency_ns.get(kind).map(|s| ns(s.p99 as f64));
        t.row(vec![
            c.id.clone(),
            sat.map(records_per_s).unwrap_or_default(),
            fig(keys::KNEE).map(rate).unwrap_or("-".into()),
            rate(low.offered_per_s),
            ns(low.corrected.p50 as f64),
            ns(low.corrected.p99 as f64),
            reference.map(rate).unwrap_or_default(),
            summary(latency::CORRECTED).unwrap_or_default(),
            summary(latency::UNCORRECTED).unwrap_or_default(),
        ]);
    }
    (!t.is_empty()).then(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipcbench_results::Summary;

    #[test]
    fn quick_runs_one_mapped_and_one_stream_case_unless_told() {
        let quick = Options { quick: true, ..Default::default() };
        let ids: Vec<String> = Load.cases(&quick).unwrap().into_iter().map(|c| c.id).collect();
        assert_eq!(ids, ["load/posix-shm/fork/spin/64", "load/pipe/fork/block/64"]);
        let named = Options { transports: Some(vec![Transport::Memfd]), ..quick };
        let ids: Vec<String> = Load.cases(&named).unwrap().into_iter().map(|c| c.id).collect();
        // --quick keeps to the plain waits unless --wait names others.
        assert_eq!(ids, ["load/memfd/fork/spin/64", "load/memfd/fork/futex/64"]);
        let waits = Options { waits: Some(vec![Wait::Eventfd, Wait::Condvar]), ..named };
        let ids: Vec<String> = Load.cases(&waits).unwrap().into_iter().map(|c| c.id).collect();
        assert_eq!(ids, ["load/memfd/fork/eventfd/64", "load/memfd/fork/condvar/64"]);
        let full = Load.cases(&Options::default()).unwrap();
        // 5 mapped × (fork + spawn, less anon-mmap spawn) × 4 ring waits + 5 streams and 3
        // flow-controlled message transports × 2 processes (see `stream::ring_combinations`).
        assert_eq!(full.len(), (4 * 2 + 1) * 4 + 8 * 2);
    }

    #[test]
    fn rates_are_fractions_of_saturation_or_as_given() {
        let opts = Options { quick: true, ..Default::default() };
        let r = rates(&opts, 1e6);
        assert_eq!(r.iter().map(|r| r.label.as_str()).collect::<Vec<_>>(), ["10%", "50%", "90%"]);
        assert_eq!(r[1].per_s, 5e5);
        let opts = Options {
            rates: Some(vec![OfferedRate::PerSecond(2500.0), OfferedRate::Fraction(1.1)]),
            ..Default::default()
        };
        let r = rates(&opts, 1e6);
        assert_eq!((r[0].label.as_str(), r[0].per_s), ("2500/s", 2500.0));
        assert_eq!((r[1].label.as_str(), r[1].per_s.round()), ("110%", 1.1e6));
        assert_eq!(rates(&Options::default(), 1.0).len(), DEFAULT_FRACTIONS.len());
    }

    fn fake_case(p99s: &[(f64, u64)]) -> CaseResult {
        let mut c = CaseResult::new("load/pipe/fork/block/64", "load");
        c.figures.insert(keys::SATURATION.into(), 1e6);
        for &(f, p99) in p99s {
            Point {
                label: keys::label(Some(f), f * 1e6),
                offered_per_s: f * 1e6,
                achieved_per_s: None,
                backlog_records: None,
                corrected: Summary { count: 10, p50: p99 / 2, p99, ..Default::default() },
                uncorrected: None,
            }
            .store(&mut c);
        }
        c
    }

    #[test]
    fn the_table_shows_the_knee_and_marks_failed_cases() {
        let mut c = fake_case(&[(0.1, 1000), (0.9, 5000), (1.1, 90_000)]);
        c.figures.insert(keys::KNEE.into(), 9e5);
        let mut failed = CaseResult::new("load/tcp/fork/block/64", "load");
        failed.error = Some("boom".into());
        let table = summary_table(&[&c, &failed]).unwrap();
        assert!(table.contains("90%"), "{table}");
        assert!(table.contains("failed"), "{table}");
    }
}
