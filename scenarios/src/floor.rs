//! Scenario `floor`: this machine's limits, measured in the run, so every other figure can be
//! read as a multiple of them — the raw cache-line handoff between two processes (round trip and
//! one way: no record, no checksum), the clock's own cost, an empty system call, and single-core
//! memcpy bandwidth at each stream size.

use crate::table::{bytes_per_s, ns, Table};
use crate::{Case, Options, Scenario, UsageError};
use ipcbench_harness::patterns::{floor, probe as floor_probe};
use ipcbench_harness::record::stats::{encode, summarize};
use ipcbench_results::{latency, CaseResult, RunFile, Spread, Throughput, FLOOR_CACHE_LINE};

/// Case id of the minimal pipe ping-pong (64 B), the floor of the `block` transports.
pub const FLOOR_PIPE: &str = "floor/pipe/64";
use std::time::Duration;

pub struct Floor;

impl Scenario for Floor {
    fn name(&self) -> &'static str {
        "floor"
    }
    fn about(&self) -> &'static str {
        "this machine's limits: cache-line handoff between two processes, clock cost, empty syscall, \
         cross-core copy and single-core memcpy bandwidth"
    }
    fn cases(&self, opts: &Options) -> Result<Vec<Case>, UsageError> {
        let (n, d) =
            opts.budget((200_000, Duration::from_secs(1)), (20_000, Duration::from_millis(100)));
        let batches = if opts.quick { 2_000 } else { 20_000 };
        let warmup = (n / 10).min(10_000);
        let mut cases = vec![
            Case::new(FLOOR_CACHE_LINE.into(), move |ctx| {
                if crate::sysinfo::allowed_cpus().len() < 2 {
                    ctx.warn(
                        "This process may use fewer than 2 CPUs: two spinning processes share one \
                         CPU, so the cache-line floor and every spin figure measure the scheduler, \
                         not memory.",
                    );
                }
                let h = floor::cache_line_handoff(
                    warmup,
                    n,
                    d,
                    ctx.opts.pin.map(|p| p[1]),
                    ctx.opts.timeout,
                )?;
                let mut c = CaseResult::new(FLOOR_CACHE_LINE, "floor");
                c.process = Some("fork".into());
                c.wait = Some("spin".into());
                c.iterations = h.round_trip.len();
                c.warmup = warmup;
                c.latency_ns.insert(latency::ROUND_TRIP.into(), summarize(&h.round_trip));
                c.latency_ns.insert(latency::ONE_WAY.into(), summarize(&h.one_way));
                c.histograms.insert(latency::ROUND_TRIP.into(), encode(&h.round_trip));
                c.histograms.insert(latency::ONE_WAY.into(), encode(&h.one_way));
                c.notes.push(
                    "two processes bounce a sequence number and a timestamp in one cache line each \
                     way through MAP_SHARED|MAP_ANONYMOUS memory, spinning"
                        .into(),
                );
                Ok(c)
            }),
            Case::new(FLOOR_PIPE.into(), move |ctx| {
                let (n, d) = ctx
                    .opts
                    .budget((50_000, Duration::from_secs(1)), (3_000, Duration::from_millis(60)));
                let warmup = (n / 10).clamp(100, 2_000);
                let pin = ctx.opts.pin.map(|p| p[1]);
                let h = floor::pipe_pingpong(64, warmup, n, d, pin, ctx.opts.timeout)?;
                let mut c = CaseResult::new(FLOOR_PIPE, "floor");
                c.transport = Some("pipe".into());
                c.process = Some("fork".into());
                c.wait = Some("block".into());
                c.size = Some(64);
                c.iterations = h.len();
                c.warmup = warmup;
                c.latency_ns.insert(latency::ROUND_TRIP.into(), summarize(&h));
                c.histograms.insert(latency::ROUND_TRIP.into(), encode(&h));
                c.notes.push(
                    "the minimal two-process pipe ping-pong: 64 B each way with plain write/read, \
                     no header, no checksum"
                        .into(),
                );
                Ok(c)
            }),
            Case::new("floor/clock".into(), move |_| {
                let h = floor::clock_cost(batches);
                let mut c = CaseResult::new("floor/clock", "floor");
                c.iterations = h.len() * 100;
                c.latency_ns.insert(latency::CALL.into(), summarize(&h));
                c.histograms.insert(latency::CALL.into(), encode(&h));
                c.notes.push("clock_gettime(CLOCK_MONOTONIC), mean of batches of 100 calls".into());
                Ok(c)
            }),
            Case::new("floor/syscall".into(), move |_| {
                let h = floor::syscall_cost(batches);
                let mut c = CaseResult::new("floor/syscall", "floor");
                c.iterations = h.len() * 100;
                c.latency_ns.insert(latency::CALL.into(), summarize(&h));
                c.histograms.insert(latency::CALL.into(), encode(&h));
                c.notes.push("syscall(SYS_getppid), mean of batches of 100 calls".into());
                Ok(c)
            }),
        ];
        cases.extend(copy_cases(opts));
        cases.extend(memcpy_cases(opts));
        Ok(cases)
    }

    fn summary(&self, cases: &[&CaseResult], _run: &RunFile) -> Option<String> {
        let mut t = Table::new(&["floor", "figure", "p50", "p99"]);
        for c in cases.iter().filter(|c| c.ok()) {
            for (key, what) in [
                (latency::ONE_WAY, "one way"),
                (latency::ROUND_TRIP, "round trip"),
                (latency::CALL, "per call"),
            ] {
                if let Some(s) = c.latency_ns.get(key) {
                    t.row(vec![c.id.clone(), what.into(), ns(s.p50 as f64), ns(s.p99 as f64)]);
                }
            }
        }
        let memcpy = memcpy_table(cases);
        (!t.is_empty() || memcpy.is_some())
            .then(|| format!("{t}{}", memcpy.map(|m| format!("\n{m}")).unwrap_or_default()))
    }
}

/// `floor/copy/<size>`: the cross-core copy for each stream size — the runner and a forked
/// peer on the pinned CPUs, the peer writing `size`-byte blocks into a shared ring as large as
/// the stream's, the runner copying them out; no header, no checksum. What a stream's copying
/// reader is read against (`× copy`). 5 trials, back to back, of one pair.
fn copy_cases(opts: &Options) -> Vec<Case> {
    let sizes = opts.sizes.clone().unwrap_or(crate::stream::DEFAULT_SIZES.to_vec());
    let trial = if opts.quick { Duration::from_millis(10) } else { Duration::from_millis(40) };
    sizes
        .into_iter()
        .map(|size| {
            let id = format!("floor/copy/{size}");
            Case::new(id.clone(), move |ctx| {
                let pin = ctx.opts.pin.map(|p| p[1]);
                let trials = floor_probe::copy_floor(size, 5, trial, pin, ctx.opts.timeout)?;
                let rate = |v: u64, s: f64| if s > 0.0 { v as f64 / s } else { 0.0 };
                let mut c = CaseResult::new(id, "floor");
                c.process = Some("fork".into());
                c.wait = Some("spin".into());
                c.size = Some(size as u64);
                c.iterations = trials.iter().map(|t| t.records).sum();
                c.throughput = Some(Throughput {
                    records_per_s: Spread::of(
                        &trials.iter().map(|t| rate(t.records, t.seconds)).collect::<Vec<_>>(),
                    ),
                    bytes_per_s: Spread::of(
                        &trials.iter().map(|t| rate(t.bytes, t.seconds)).collect::<Vec<_>>(),
                    ),
                    trials,
                    per_reader_bytes_per_s: Vec::new(),
                });
                c.notes.push(format!(
                    "one process writes {size}-byte blocks into a shared ring (MAP_SHARED memfd, \
                     as large as the stream's), the other copies each out into its own buffer; \
                     no header, no checksum; spin; 5 trials of {} ms",
                    trial.as_millis()
                ));
                Ok(c)
            })
        })
        .collect()
}

/// `floor/memcpy/<size>`: single-core memcpy bandwidth for each stream size (the `--size`
/// list, else the stream defaults), median of 5 trials; what a copying reader is read against.
fn memcpy_cases(opts: &Options) -> Vec<Case> {
    let sizes = opts.sizes.clone().unwrap_or(crate::stream::DEFAULT_SIZES.to_vec());
    let trial = if opts.quick { Duration::from_millis(10) } else { Duration::from_millis(40) };
    sizes
        .into_iter()
        .map(|size| {
            let id = format!("floor/memcpy/{size}");
            Case::new(id.clone(), move |_| {
                let rates = floor::memcpy_bandwidth(size, 5, trial)?;
                let spread = ipcbench_results::Spread::of(&rates);
                let mut c = CaseResult::new(id, "floor");
                c.size = Some(size as u64);
                c.figures.insert("memcpy_bytes_per_s".into(), spread.median);
                c.figures.insert("memcpy_bytes_per_s_min".into(), spread.min);
                c.figures.insert("memcpy_bytes_per_s_max".into(), spread.max);
                c.notes.push(format!(
                    "one core copies a {size}-byte block to another again and again (both reused, \
                     so cache-resident when they fit): median of 5 trials of {} ms",
                    trial.as_millis()
                ));
                Ok(c)
            })
        })
        .collect()
}

fn memcpy_table(cases: &[&CaseResult]) -> Option<String> {
    let mut t = Table::new(&["copy floor", "bandwidth"]);
    for c in cases.iter().filter(|c| c.ok()) {
        if let Some(tp) = c.throughput.as_ref().filter(|_| c.id.starts_with("floor/copy/")) {
            t.row(vec![format!("{} (cross-core)", c.id), bytes_per_s(tp.bytes_per_s.median)]);
        }
        if let Some(v) = c.figures.get("memcpy_bytes_per_s") {
            t.row(vec![format!("{} (1 core, in cache)", c.id), bytes_per_s(*v)]);
        }
    }
    (!t.is_empty()).then(|| t.to_string())
}
