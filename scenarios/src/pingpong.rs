//! Scenario `pingpong`: one record each way, the same size both ways, over every transport ×
//! process × wait × size. Reports one-way latency split in `notify` (published → seen),
//! `deliver` (seen → verified) and end to end (`one_way`, published → verified), through the
//! shared clock, both directions; round trip, integrity, the CPU each side spent per message,
//! and each trial's floor probe (see `harness::patterns::probe`), taken by the trial's own pair.

use crate::reruns::Reruns;
use crate::table::{not_measured, ns, ratio, Table};
use crate::{Case, Context, Options, Scenario, UsageError};
use anyhow::{Context as _, Result};
use ipcbench_harness::os::futex::Wait;
use ipcbench_harness::os::mapping::{round_up, PAGE};
use ipcbench_harness::patterns::link::{pingpong_link_with, pingpong_region_len, Side};
use ipcbench_harness::patterns::pingpong::{initiator, PingpongSpec, SideReport};
use ipcbench_harness::patterns::probe::ProbeSpec;
use ipcbench_harness::patterns::worker::{run_trial, Job, Process};
use ipcbench_harness::record::stats::{decode, encode, new_histogram, summarize};
use ipcbench_harness::transport::Transport;
use ipcbench_results::{latency, probe, CaseResult, Cpu, Integrity, RunFile};
use std::time::Duration;

pub const DEFAULT_SIZES: [usize; 4] = [64, 4 << 10, 64 << 10, 1 << 20];

/// The transports `--durable` runs: `file-mmap` (msync) and `file-rw` (fdatasync).
pub const DURABLE_TRANSPORTS: [Transport; 2] = [Transport::FileMmap, Transport::FileRw];

/// The transports to consider; with `--durable`, naming another one is a usage error.
fn allowed_transports(opts: &Options) -> Result<&'static [Transport], UsageError> {
    if !opts.durable {
        return Ok(&Transport::ALL);
    }
    if let Some(t) = opts.transports.iter().flatten().find(|t| !DURABLE_TRANSPORTS.contains(t)) {
        return Err(UsageError(format!(
            "{t} cannot run with --durable: only file-mmap (msync) and file-rw (fdatasync) have a \
             file to flush"
        )));
    }
    Ok(&DURABLE_TRANSPORTS)
}

pub struct Pingpong;

impl Scenario for Pingpong {
    fn name(&self) -> &'static str {
        "pingpong"
    }
    fn about(&self) -> &'static str {
        "latency: one record each way; one-way and round trip by transport, process, wait, size"
    }
    fn cases(&self, opts: &Options) -> Result<Vec<Case>, UsageError> {
        let sizes = opts.sizes.clone().unwrap_or(DEFAULT_SIZES.to_vec());
        let budget = budget(opts).1;
        let mut cases = Vec::new();
        for (t, p, w) in opts.combinations(allowed_transports(opts)?)? {
            for &size in &sizes {
                let durable = if opts.durable { "/durable" } else { "" };
                let id = format!("pingpong/{t}/{p}/{w}/{size}{durable}");
                cases.push(
                    Case::new(id.clone(), move |ctx| run_case(ctx, id, t, p, w, size))
                        .expecting(budget),
                );
            }
        }
        Ok(cases)
    }

    fn summary(&self, cases: &[&CaseResult], _run: &RunFile) -> Option<String> {
        let mut t = Table::new(&[
            "case",
            "notify p50",
            "deliver p50",
            "one-way p50",
            "p99",
            "× probe",
            "round trip p50",
        ]);
        for c in cases {
            let Some(s) = c.latency_ns.get(latency::ONE_WAY).filter(|_| c.error.is_none()) else {
                let why = not_measured(c).unwrap_or_else(|| "no one-way figure".into());
                let mut row = vec![c.id.clone(), why];
                row.resize(7, String::new());
                t.row(row);
                continue;
            };
            let p50 = |key: &str| c.p50(key).map(|v| ns(v as f64)).unwrap_or("-".into());
            // Against the trial's own probe, and only where a handoff bounds the figure.
            let small = c.size.is_some_and(|s| s <= probe::RATIO_MAX_SIZE);
            let times = probe::ratio(c).filter(|_| small).map(ratio).unwrap_or("-".into());
            t.row(vec![
                c.id.clone(),
                p50(latency::NOTIFY),
                p50(latency::DELIVER),
                ns(s.p50 as f64),
                ns(s.p99 as f64),
                times,
                p50(latency::ROUND_TRIP),
            ]);
        }
        (!t.is_empty()).then(|| t.to_string())
    }
}

/// Ring bytes per direction for `file-rw`: room for two records, at least 64 KiB.
fn file_ring_len(size: usize) -> usize {
    round_up((2 * (size + 64)).max(64 << 10), PAGE)
}

/// Pairs per case. A pair's figures depend on where its region and its processes landed: the
/// median of one 64-byte spin pair can sit 20 % above the next one's and stays there while the
/// pair lives. One pair is one draw of that, so a case is measured over several fresh pairs
/// (new objects, new processes), their histograms pooled, and each pair's figures kept as a
/// trial (`latency_trials_ns`) so that `compare` sees how far a figure moves between pairs.
pub const TRIALS: u64 = 10;

/// One of a side's encoded latency histograms.
type SideHistogram = fn(&SideReport) -> &str;

/// What one trial's two sides measured.
struct TrialReport {
    mine: SideReport,
    theirs: SideReport,
}

/// Round trips and time limit per case.
fn budget(opts: &Options) -> (u64, Duration) {
    opts.budget((100_000, Duration::from_secs(1)), (5_000, Duration::from_millis(60)))
}

fn run_case(
    ctx: &Context,
    id: String,
    t: Transport,
    p: Process,
    w: Wait,
    size: usize,
) -> Result<CaseResult> {
    if let Some(mut c) = ctx.refuses(&id, "pingpong", t, w, size) {
        c.process = Some(p.name().into());
        return Ok(c);
    }
    let opts = &ctx.opts;
    let (iterations, max_duration) = budget(opts);
    // A durable round trip costs two disk flushes, milliseconds: its budget buys a few round
    // trips, not enough to share among pairs.
    let trials = if opts.durable { 1 } else { TRIALS }.min(iterations).max(1);
    let per_trial = iterations / trials;
    // Warm-up is by time (see `Options::warmup`), at least a few round trips: a 1 MiB or a
    // durable one takes milliseconds.
    let warmup = 5;
    let warmup_ns = opts.warmup().as_nanos() as u64;
    if w == Wait::Spin && crate::sysinfo::allowed_cpus().len() < 2 {
        ctx.warn(
            "Spinning peers need a CPU each; this process may use fewer than 2, so spin figures \
             are scheduler figures.",
        );
    }
    let len = if t.is_mapped() { pingpong_region_len(size) } else { file_ring_len(size) };
    let pair = ctx.pair(t, p, w, len);
    let mut reports = Vec::new();
    let mut probes = Vec::new();
    let mut reruns = Reruns::for_trials(trials as usize);
    for trial in 0..trials {
        let spec = PingpongSpec {
            size,
            warmup,
            warmup_ns,
            // The remainder goes to the first trials, so exactly `iterations` are measured.
            iterations: per_trial + u64::from(trial < iterations % trials),
            max_duration_ns: (max_duration / trials as u32).as_nanos() as u64,
            slowdown_pct: opts.slowdown_for(t),
            // An injected fault is injected once, in the first trial.
            fault: if trial == 0 { opts.fault } else { None },
            durable: opts.durable,
        };
        let job = Job::Pingpong(spec.clone());
        let (mine, theirs, probe) = reruns.run(|| {
            run_trial(&pair, &job, Some(ProbeSpec::for_wait(w)), |medium, watch| {
                let mut link = pingpong_link_with(medium, Side::Initiator, size, w, spec.durable)?;
                initiator(link.as_mut(), &spec, watch)
            })
        })?;
        let theirs: SideReport = serde_json::from_value(theirs).context("the worker's report")?;
        reports.push(TrialReport { mine, theirs });
        probes.extend(probe);
    }

    let mut c = CaseResult::new(id, "pingpong");
    c.transport = Some(t.name().into());
    c.process = Some(p.name().into());
    c.wait = Some(w.name().into());
    c.size = Some(size as u64);
    let split: [(&str, SideHistogram); 3] = [
        (latency::ONE_WAY, |r| &r.one_way),
        (latency::NOTIFY, |r| &r.notify),
        (latency::DELIVER, |r| &r.deliver),
    ];
    let mut pooled = [new_histogram(), new_histogram(), new_histogram()];
    let mut round_trip = new_histogram();
    let mut integrity = Integrity::default();
    let (mut cpu_mine, mut cpu_theirs, mut measured, mut negative) = (0, 0, 0, 0);
    for r in &reports {
        for ((key, side), all) in split.iter().zip(&mut pooled) {
            let mut h = decode(side(&r.mine))?;
            h.add(decode(side(&r.theirs))?).context("merging histograms")?;
            all.add(&h).context("merging histograms")?;
            c.latency_trials_ns.entry((*key).into()).or_default().push(summarize(&h));
        }
        let rt = decode(r.mine.round_trip.as_deref().unwrap_or_default())?;
        round_trip.add(&rt).context("merging histograms")?;
        c.latency_trials_ns.entry(latency::ROUND_TRIP.into()).or_default().push(summarize(&rt));
        negative += r.mine.negative + r.theirs.negative;
        integrity.add(&r.mine.integrity);
        integrity.add(&r.theirs.integrity);
        cpu_mine += r.mine.cpu_ns;
        cpu_theirs += r.theirs.cpu_ns;
        measured += r.mine.measured;
        c.warmup += r.mine.warmup;
    }
    c.iterations = measured;
    for ((key, _), h) in split.iter().zip(&pooled) {
        c.latency_ns.insert((*key).into(), summarize(h));
        c.histograms.insert((*key).into(), encode(h));
    }
    c.latency_ns.insert(latency::ROUND_TRIP.into(), summarize(&round_trip));
    c.histograms.insert(latency::ROUND_TRIP.into(), encode(&round_trip));
    c.probes = probes;
    reruns.record(&mut c);
    if let Some(r) = probe::ratio(&c) {
        c.figures.insert("probe_ratio".into(), r);
    }
    c.figures.insert("negative_intervals".into(), negative as f64);
    c.integrity = Some(integrity);
    let per_msg = |cpu: u64, n: u64| cpu as f64 / (2 * n.max(1)) as f64;
    let mut cpu = Cpu::default();
    cpu.ns_per_message.insert("initiator".into(), per_msg(cpu_mine, measured));
    cpu.ns_per_message.insert("responder".into(), per_msg(cpu_theirs, measured));
    c.cpu = Some(cpu);
    c.notes.extend(ctx.transport_notes(t, size));
    if opts.durable {
        c.axes.insert("durable".into(), "true".into());
        c.notes.push(match t {
            Transport::FileMmap => "durable: each side msync(MS_SYNC)s its record's pages before it notifies".into(),
            _ => "durable: each side fdatasyncs after its pwrite, before it writes the count to the notification pipe".into(),
        });
    }
    c.notes.extend(ctx.file_note(t));
    c.error = integrity.failure().or_else(|| {
        (negative > 0).then(|| {
            format!(
                "{negative} records were seen before they were published: the two processes' \
                 clocks disagree (CLOCK_MONOTONIC should be one clock on one host)"
            )
        })
    });
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{run_cases, MemorySink};
    use ipcbench_harness::knobs;
    use ipcbench_results::{probe::kind, RunInfo};
    use std::cell::RefCell;

    fn probe_p50(c: &CaseResult) -> u64 {
        let v: Vec<f64> = c.probes.iter().filter_map(|p| p.value()).collect();
        ipcbench_results::Spread::of(&v).median as u64
    }

    /// A pair slowed on purpose (every publish, of the probe and of the records, sleeps 2 ms
    /// after its stamp): its probe and its figure move together, and the run warns that the
    /// probe moved.
    #[test]
    fn a_slowed_pair_moves_its_probe_and_its_figure_and_the_run_warns() {
        let opts = Options {
            transports: Some(vec![Transport::AnonMmap]),
            processes: Some(vec![Process::Fork]),
            waits: Some(vec![Wait::Futex]),
            // Large records: a short warm-up under --quick.
            sizes: Some(vec![64 << 10]),
            iterations: Some(4),
            quick: true,
            ..Options::default()
        };
        let case = || Pingpong.cases(&opts).unwrap().pop().unwrap();
        let (plain, slowed) = (case(), case());
        let slowed = Case::new(format!("{}/slowed", slowed.id), move |ctx| {
            // 2 ms: far above a futex wake-up's noise, so the direction is plain on any host.
            knobs::set_publish_delay_ns(2_000_000);
            let r = (slowed.run)(ctx);
            knobs::set_publish_delay_ns(0);
            r
        });
        let dir = tempfile::tempdir().unwrap();
        let ctx = Context {
            opts: opts.clone(),
            exe: "/nonexistent/ipcbench".into(),
            work_dir: dir.path().to_path_buf(),
            warnings: RefCell::new(Vec::new()),
        };
        let mut sink = MemorySink::default();
        let mut bar = crate::runner::Progress::hidden(2);
        let run = RunFile::new(RunInfo::default());
        let out =
            run_cases(vec![plain, slowed], &ctx, run, &mut sink, &|| false, &mut bar).unwrap();
        let run = out.run;
        assert_eq!(out.failed, 0, "{:?}", run.cases.iter().map(|c| &c.error).collect::<Vec<_>>());
        let (a, b) = (&run.cases[0], &run.cases[1]);
        for c in [a, b] {
            assert_eq!(c.probes.len(), 4, "{}: one probe per trial", c.id);
            assert!(c.probes.iter().all(|p| p.kind == kind::FUTEX_WAKE), "{:?}", c.probes);
            assert!(c.figures.contains_key("probe_ratio"), "{}", c.id);
        }
        // The injected 2 ms is in every slowed probe and every slowed record's notify, on any
        // host (no host is faster than a sleep); how fast the plain pair is, is the host's.
        let delay = 2_000_000;
        assert!(probe_p50(b) >= delay, "slowed probe {} ns", probe_p50(b));
        let notify = |c: &CaseResult| c.p50(latency::NOTIFY).unwrap();
        assert!(notify(b) >= delay, "slowed notify {} ns", notify(b));
        // The run warns exactly when its probes moved beyond the factor: the plain probe is
        // a futex wake-up, so on a host whose wake-ups take under 1 ms (any but a stalled one)
        // the warning is there.
        let drift = &run.probe_drift[kind::FUTEX_WAKE];
        let moved = drift.max / drift.min > probe::DRIFT_FACTOR;
        let warned = run
            .warnings
            .iter()
            .any(|w| w.contains("futex-wake probe moved") && w.contains("--pin"));
        assert_eq!(warned, moved, "drift {drift:?}, warnings {:?}", run.warnings);
    }
}
