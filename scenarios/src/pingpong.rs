//! Scenario `pingpong`: one record each way, the same size both ways, over every transport ×
//! process × wait × size. Reports one-way latency (receiver's clock minus the sender's stamp,
//! both directions), round trip, integrity, and the CPU each side spent per message.

use crate::table::{not_measured, ns, ratio, Table, FLOOR_MEANINGFUL_BELOW};
use crate::{Case, Context, Options, Scenario, UsageError};
use anyhow::{Context as _, Result};
use ipcbench_harness::os::futex::Wait;
use ipcbench_harness::os::mapping::{round_up, PAGE};
use ipcbench_harness::patterns::link::{pingpong_link_with, pingpong_region_len, Side};
use ipcbench_harness::patterns::pingpong::{initiator, PingpongSpec, SideReport};
use ipcbench_harness::patterns::worker::{run_pair, Job, Process};
use ipcbench_harness::record::stats::{decode, encode, new_histogram, summarize};
use ipcbench_harness::transport::{mechanism, Transport};
use ipcbench_results::{latency, CaseResult, Cpu, Integrity, RunFile};
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

    fn summary(&self, cases: &[&CaseResult], run: &RunFile) -> Option<String> {
        let floor = run.floor_one_way_ns();
        let mut t = Table::new(&["case", "p50 one-way", "p99", "max", "× floor", "round trip p50"]);
        for c in cases {
            let Some(s) = c.latency_ns.get(latency::ONE_WAY).filter(|_| c.error.is_none()) else {
                let why = not_measured(c).unwrap_or_else(|| "no one-way figure".into());
                t.row(vec![c.id.clone(), why, String::new(), String::new(), String::new()]);
                continue;
            };
            let times = floor
                .filter(|_| c.size.is_none_or(|s| s < FLOOR_MEANINGFUL_BELOW))
                .map(|f| ratio(s.p50 as f64 / f.max(1) as f64))
                .unwrap_or_default();
            let rt =
                c.latency_ns.get(latency::ROUND_TRIP).map(|r| ns(r.p50 as f64)).unwrap_or_default();
            t.row(vec![
                c.id.clone(),
                ns(s.p50 as f64),
                ns(s.p99 as f64),
                ns(s.max as f64),
                times,
                rt,
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
    let opts = &ctx.opts;
    let (iterations, max_duration) = budget(opts);
    // A durable round trip costs two disk flushes, milliseconds: its budget buys a few round
    // trips, not enough to share among pairs.
    let trials = if opts.durable { 1 } else { TRIALS }.min(iterations).max(1);
    let per_trial = iterations / trials;
    let warmup = match (opts.durable, opts.quick) {
        // A few durable round trips are enough to warm up.
        (true, true) => 5,
        (true, false) => 20,
        // Warm-up faults the pages in and settles caches; a few round trips do that for large
        // records, whose round trips take milliseconds.
        (false, true) => (50 * 4096 / size as u64).clamp(5, 50),
        (false, false) => (per_trial / 10).clamp(100, 2_000),
    };
    if w == Wait::Spin && crate::sysinfo::logical_cpus() < 2 {
        ctx.warn("Spinning peers need a CPU each; this host has fewer than 2, so spin figures are scheduler figures.");
    }
    let len = if t.is_mapped() { pingpong_region_len(size) } else { file_ring_len(size) };
    let pair = ctx.pair(t, p, w, len);
    let mut reports = Vec::new();
    for trial in 0..trials {
        let spec = PingpongSpec {
            size,
            warmup,
            // The remainder goes to the first trials, so exactly `iterations` are measured.
            iterations: per_trial + u64::from(trial < iterations % trials),
            max_duration_ns: (max_duration / trials as u32).as_nanos() as u64,
            slowdown_pct: opts.slowdown_for(t),
            // An injected fault is injected once, in the first trial.
            fault: if trial == 0 { opts.fault } else { None },
            durable: opts.durable,
        };
        let (mine, theirs) = run_pair(&pair, &Job::Pingpong(spec.clone()), |medium, watch| {
            let mut link = pingpong_link_with(medium, Side::Initiator, size, w, spec.durable)?;
            initiator(link.as_mut(), &spec, watch)
        })?;
        let theirs: SideReport = serde_json::from_value(theirs).context("the worker's report")?;
        reports.push(TrialReport { mine, theirs });
    }

    let mut c = CaseResult::new(id, "pingpong");
    c.transport = Some(t.name().into());
    c.process = Some(p.name().into());
    c.wait = Some(w.name().into());
    c.size = Some(size as u64);
    c.warmup = warmup * trials;
    let mut one_way = new_histogram();
    let mut round_trip = new_histogram();
    let mut integrity = Integrity::default();
    let (mut cpu_mine, mut cpu_theirs, mut measured) = (0, 0, 0);
    for r in &reports {
        let mut ow = decode(&r.mine.one_way)?;
        ow.add(decode(&r.theirs.one_way)?).context("merging histograms")?;
        let rt = decode(r.mine.round_trip.as_deref().unwrap_or_default())?;
        one_way.add(&ow).context("merging histograms")?;
        round_trip.add(&rt).context("merging histograms")?;
        c.latency_trials_ns.entry(latency::ONE_WAY.into()).or_default().push(summarize(&ow));
        c.latency_trials_ns.entry(latency::ROUND_TRIP.into()).or_default().push(summarize(&rt));
        integrity.add(&r.mine.integrity);
        integrity.add(&r.theirs.integrity);
        cpu_mine += r.mine.cpu_ns;
        cpu_theirs += r.theirs.cpu_ns;
        measured += r.mine.measured;
    }
    c.iterations = measured;
    c.latency_ns.insert(latency::ONE_WAY.into(), summarize(&one_way));
    c.latency_ns.insert(latency::ROUND_TRIP.into(), summarize(&round_trip));
    c.histograms.insert(latency::ONE_WAY.into(), encode(&one_way));
    c.histograms.insert(latency::ROUND_TRIP.into(), encode(&round_trip));
    c.integrity = Some(integrity);
    let per_msg = |cpu: u64, n: u64| cpu as f64 / (2 * n.max(1)) as f64;
    let mut cpu = Cpu::default();
    cpu.ns_per_message.insert("initiator".into(), per_msg(cpu_mine, measured));
    cpu.ns_per_message.insert("responder".into(), per_msg(cpu_theirs, measured));
    c.cpu = Some(cpu);
    c.notes.push(mechanism(t).how().to_string());
    if opts.durable {
        c.axes.insert("durable".into(), "true".into());
        c.notes.push(match t {
            Transport::FileMmap => "durable: each side msync(MS_SYNC)s its record's pages before it notifies".into(),
            _ => "durable: each side fdatasyncs after its pwrite, before it writes the count to the notification pipe".into(),
        });
    }
    c.notes.extend(ctx.file_note(t));
    c.error = integrity.failure();
    Ok(c)
}
