//! Runs a plan of cases, one after another, and hands the result file to a sink after every
//! case, so a crash or Ctrl-C keeps what was measured. `run` is the real thing (the scenarios a
//! user named, the result file on disk, Ctrl-C); `run_cases` is its loop, which takes the cases,
//! the sink and the stop signal as arguments so that its logic is tested with mock cases.

pub mod confirm;
mod eta;
mod progress;
mod sink;
#[cfg(test)]
mod tests;

pub use progress::{key_figure, outcome, short, Progress};
pub use sink::{FileSink, MemorySink, Sink};

use crate::{sysinfo, Case, CaseFilter, Context, Options, Scenario, UsageError};
use ipcbench_harness::os::leftovers;
use ipcbench_harness::os::process::pin_to;
use ipcbench_harness::os::watch::{bus_faults, install_signal_handlers, interrupted, BUS_ERROR};
use ipcbench_results::{CaseResult, RunFile, RunInfo};
use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

/// What the user asked to run.
#[derive(Clone)]
pub struct Request {
    pub scenarios: Vec<String>,
    pub opts: Options,
    /// Only the cases whose id matches.
    pub filter: Option<CaseFilter>,
    /// Results directory: runs land in `DIR/runs/`, the newest is copied to `DIR/latest.json`.
    pub out: PathBuf,
    pub command_line: Vec<String>,
    /// The binary spawned workers run.
    pub exe: PathBuf,
    /// This run is confirmation round N (from 1) of the run with this id: it measures that
    /// run's regressed cases again ([`confirm`]); its file goes to `DIR/confirmations/`, and
    /// `DIR/latest.json` stays.
    pub confirms: Option<(String, u32)>,
}

/// How a run went.
#[derive(Debug)]
pub struct Outcome {
    /// The cases measured, in order; the last state handed to the sink.
    pub run: RunFile,
    /// Cases kept with an error.
    pub failed: usize,
    /// The run stopped before its plan was done (Ctrl-C).
    pub interrupted: bool,
}

/// The scenarios a request names (`all` for every one), or one line naming the bad name.
pub fn resolve(names: &[String]) -> Result<Vec<&'static dyn Scenario>, UsageError> {
    if names.is_empty() {
        return Err(UsageError(format!(
            "no scenario named: valid scenarios are {}, all",
            crate::names().join(", ")
        )));
    }
    let mut out: Vec<&'static dyn Scenario> = Vec::new();
    for n in names {
        if n == "all" {
            return Ok(crate::all());
        }
        let s = crate::by_name(n).ok_or_else(|| {
            UsageError(format!(
                "unknown scenario '{n}': valid scenarios are {}, all",
                crate::names().join(", ")
            ))
        })?;
        if !out.iter().any(|o| o.name() == s.name()) {
            out.push(s);
        }
    }
    Ok(out)
}

/// The cases of the named scenarios under the options and the id filter, in run order.
pub fn plan(
    scenarios: &[&'static dyn Scenario],
    opts: &Options,
    filter: Option<&CaseFilter>,
) -> Result<Vec<Case>, UsageError> {
    let mut cases = Vec::new();
    for s in scenarios {
        cases
            .extend(s.cases(opts)?.into_iter().filter(|c| filter.is_none_or(|f| f.matches(&c.id))));
    }
    if cases.is_empty() {
        return Err(UsageError("no case matches the filters: see `ipcbench list`".into()));
    }
    Ok(cases)
}

/// Creates `DIR/runs` (0700 where it makes them) and checks that files can be written there
/// safely: `DIR` and `DIR/runs` must be this user's (or root's) and closed to others, or sticky.
pub fn prepare_out_dir(out: &Path) -> Result<PathBuf, UsageError> {
    let runs = out.join("runs");
    let unsafe_dir = |e: ipcbench_results::fs::DirError| {
        UsageError(format!(
            "cannot write results to {}: {e} (choose another --out DIR)",
            out.display()
        ))
    };
    ipcbench_results::fs::private_dir(out).map_err(unsafe_dir)?;
    ipcbench_results::fs::private_dir(&runs).map_err(unsafe_dir)?;
    let bad = |e: std::io::Error| {
        UsageError(format!(
            "cannot write results to {}: {e} (choose another --out DIR)",
            out.display()
        ))
    };
    tempfile::Builder::new().prefix(".ipcbench-probe").tempfile_in(&runs).map_err(bad)?;
    tempfile::Builder::new().prefix(".ipcbench-probe").tempfile_in(out).map_err(bad)?;
    Ok(runs)
}

fn run_info(req: &Request, work_dir: &Path) -> RunInfo {
    let now = SystemTime::now();
    let unix = now.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let stamp = humantime::format_rfc3339_seconds(now).to_string();
    let id = match &req.confirms {
        Some((of, round)) => format!("{of}-confirm{round}"),
        None => format!("{}-{}", stamp.replace(['-', ':'], ""), std::process::id()),
    };
    let mut filesystems = std::collections::BTreeMap::new();
    filesystems.insert(work_dir.display().to_string(), sysinfo::filesystem_of(work_dir));
    if Path::new("/dev/shm").exists() {
        filesystems.insert("/dev/shm".into(), sysinfo::filesystem_of(Path::new("/dev/shm")));
    }
    filesystems.insert(req.out.display().to_string(), sysinfo::filesystem_of(&req.out));
    RunInfo {
        id,
        started_at: stamp,
        started_unix_s: unix,
        git_commit: sysinfo::git_commit(),
        hostname: sysinfo::hostname(),
        kernel: sysinfo::kernel(),
        cpu_model: sysinfo::cpu_model(),
        logical_cpus: sysinfo::logical_cpus(),
        memory_bytes: sysinfo::memory_bytes(),
        filesystems,
        clock_source: ipcbench_harness::os::clock::clock_source(),
        clock_overhead_ns: ipcbench_harness::os::clock::overhead_ns(),
        pinning: req.opts.pin.map(|p| p.to_vec()),
        pinning_reason: None,
        ipcbench_version: env!("CARGO_PKG_VERSION").to_string(),
        command_line: req.command_line.clone(),
        quick: req.opts.quick,
        interrupted: None,
        complete: false,
        slowdown: req.opts.slowdown.map(|(t, p)| format!("{t}:{p}")),
        confirms: req.confirms.as_ref().map(|(of, _)| of.clone()),
    }
}

/// Runs the request. Usage errors come back before anything is measured; a failed case is
/// recorded with its error and the run goes on. The result file is where `FileSink` says.
pub fn run(req: Request) -> anyhow::Result<(Outcome, FileSink)> {
    let scenarios = resolve(&req.scenarios)?;
    let cases = plan(&scenarios, &req.opts, req.filter.as_ref())?;
    let ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    let pinning = crate::pinning::resolve(req.opts.pin_request, &ids)?;
    let mut req = req;
    req.opts.pin = pinning.cpus;
    let runs_dir = prepare_out_dir(&req.out)?;
    let base = req.opts.dir.clone().unwrap_or_else(std::env::temp_dir);
    // What runners killed outright (kill -9, a crash) left: swept before this one adds its own.
    let swept = leftovers::sweep(&[&std::env::temp_dir(), &base, Path::new("/dev/shm")]);
    if !swept.is_empty() {
        eprintln!("{swept}");
    }
    let work = leftovers::private_temp_dir(&base, "").map_err(|e| {
        UsageError(format!(
            "cannot create a private directory in {}: {e} (choose another --dir)",
            base.display()
        ))
    })?;

    install_signal_handlers();
    if let Some([runner, _]) = req.opts.pin {
        pin_to(runner)?;
    }
    let mut run = RunFile::new(run_info(&req, work.path()));
    run.run.pinning_reason = Some(pinning.reason.clone());
    let mut sink = match &req.confirms {
        None => FileSink {
            run_file: runs_dir.join(format!("{}.json", run.run.id)),
            latest: Some(req.out.join("latest.json")),
        },
        Some(_) => {
            let dir = req.out.join("confirmations");
            ipcbench_results::fs::private_dir(&dir)
                .map_err(|e| UsageError(format!("cannot create {}: {e}", dir.display())))?;
            FileSink { run_file: dir.join(format!("{}.json", run.run.id)), latest: None }
        }
    };
    let ctx = Context {
        opts: req.opts.clone(),
        exe: req.exe.clone(),
        work_dir: work.path().to_path_buf(),
        warnings: RefCell::new(Vec::new()),
    };
    // One-process scenarios (mapping, msync) have no second side to keep apart.
    let two_sided = cases.iter().any(|c| {
        crate::by_name(c.id.split('/').next().unwrap_or_default()).is_none_or(|s| s.two_sided())
    });
    if req.opts.pin.is_none() && two_sided {
        ctx.warn(format!(
            "The two sides were not pinned ({}): the scheduler may move them, which widens spin \
             and futex figures. Pin two CPUs (--pin A,B) for steadier numbers.",
            pinning.reason
        ));
    }

    let plan = cases
        .iter()
        .map(|c| (c.id.split('/').next().unwrap_or_default().to_string(), c.expected))
        .collect();
    let mut progress = Progress::stderr(plan);
    let outcome = run_cases(cases, &ctx, run, &mut sink, &interrupted, &mut progress)?;
    Ok((outcome, sink))
}

/// Measures `cases` in order into `run`, handing the run to `sink` after every case and once at
/// the end. A case that returns an error or panics is kept with its error and the run goes on.
/// Once `stop` says so (Ctrl-C), no further case starts, and the case that was running is
/// dropped: it was cut short, so its figures are not a measurement.
pub fn run_cases(
    cases: Vec<Case>,
    ctx: &Context,
    mut run: RunFile,
    sink: &mut dyn Sink,
    stop: &dyn Fn() -> bool,
    progress: &mut Progress,
) -> anyhow::Result<Outcome> {
    let mut failed = 0;
    for case in cases {
        if stop() {
            break;
        }
        progress.start(&case.id);
        let start = Instant::now();
        let id = case.id.clone();
        let measured = measure(case, ctx);
        if stop() {
            progress.println(&format!(
                "interrupted during {id}: keeping the {} cases measured",
                run.cases.len()
            ));
            break;
        }
        let mut result = measured.unwrap_or_else(|error| {
            let scenario = id.split('/').next().unwrap_or_default();
            let mut r = CaseResult::new(id.clone(), scenario);
            r.error = Some(error);
            r
        });
        result.elapsed_s = start.elapsed().as_secs_f64();
        if result.error.is_some() {
            failed += 1;
        }
        progress.finish(&result);
        run.cases.push(result);
        refresh(&mut run, ctx);
        sink.save(&run)?;
    }
    progress.finish_all();
    let interrupted = stop();
    if interrupted {
        run.run.interrupted = Some(match ipcbench_harness::os::watch::stop_signal() {
            Some(sig) => format!("interrupted by {}", signal_name(sig)),
            None => "interrupted by signal".into(),
        });
    }
    // The plan ran to its end: the one state a reader may take as a whole run.
    run.run.complete = !interrupted;
    refresh(&mut run, ctx);
    sink.save(&run)?;
    Ok(Outcome { run, failed, interrupted })
}

/// `SIGHUP` for 1, …
pub fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig).map(|s| s.to_string()).unwrap_or(sig.to_string())
}

/// What the run says beyond its cases: the advice gathered while running, then what the floor
/// probes say (a probe that moved within the run, a case that beats its own probe), and how the
/// probes moved.
fn refresh(run: &mut RunFile, ctx: &Context) {
    run.warnings = ctx.warnings.borrow().clone();
    run.warnings.extend(ipcbench_results::probe::warnings(run));
    run.probe_drift = ipcbench_results::probe::drift(&run.cases);
}

/// Runs one case; its error, or its panic's message, as one string.
fn measure(case: Case, ctx: &Context) -> Result<CaseResult, String> {
    let runner = std::process::id();
    let faults = bus_faults();
    let caught = std::panic::catch_unwind(AssertUnwindSafe(|| (case.run)(ctx)));
    // A page of the runner's mapping lost its backing store: whatever the case concluded, its
    // figures were read through a stand-in page.
    if bus_faults() != faults && std::process::id() == runner {
        return Err(BUS_ERROR.to_string());
    }
    if std::process::id() != runner {
        // A forked child unwound out of its body into the runner's loop: it must not go on
        // running the rest of the plan. The panic hook has printed why.
        // SAFETY: leaves the child without running the parent's destructors.
        unsafe { libc::_exit(101) }
    }
    match caught {
        Ok(Ok(result)) => Ok(result),
        Ok(Err(e)) => Err(format!("{e:#}")),
        Err(panic) => {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            Err(format!("panicked: {why}"))
        }
    }
}

/// What was run, how long it took, what failed, the floor and how many warnings: the first
/// lines of the summary, so the outcome is read before the tables.
pub fn headline(run: &RunFile) -> String {
    let mut scenarios: Vec<&str> = Vec::new();
    for c in &run.cases {
        if !scenarios.contains(&c.scenario.as_str()) {
            scenarios.push(&c.scenario);
        }
    }
    let failed = run.cases.iter().filter(|c| c.error.is_some()).count();
    let skipped = run.cases.iter().filter(|c| c.error.is_none() && c.skipped.is_some()).count();
    let spent: f64 = run.cases.iter().map(|c| c.elapsed_s).sum();
    let mut out = format!(
        "ipcbench: {} cases of {} in {}{}: {} measured, {} skipped, {} failed\n",
        run.cases.len(),
        scenarios.join(", "),
        eta::clock(spent),
        if run.run.quick { " (--quick)" } else { "" },
        run.cases.len() - failed - skipped,
        skipped,
        failed,
    );
    for c in run.cases.iter().filter(|c| c.error.is_some()) {
        out.push_str(&format!(
            "  failed: {}: {}\n",
            c.id,
            short(c.error.as_deref().unwrap_or(""), 60)
        ));
    }
    match run.floor_one_way_ns() {
        Some(f) => out.push_str(&format!(
            "floor: a cache line hands over one way in {} (p50) on this machine\n",
            ipcbench_results::units::ns(f as f64)
        )),
        None => out.push_str("floor: not measured in this run (scenario floor)\n"),
    }
    if !run.warnings.is_empty() {
        out.push_str(&format!("{} warning(s), listed at the end\n", run.warnings.len()));
    }
    out
}

/// The summary tables of every scenario present in the run, for stdout.
pub fn summary(run: &RunFile) -> String {
    let mut out = headline(run);
    out.push('\n');
    for s in crate::all() {
        let cases: Vec<&CaseResult> = run.cases.iter().filter(|c| c.scenario == s.name()).collect();
        if cases.is_empty() {
            continue;
        }
        if let Some(t) = s.summary(&cases, run) {
            out.push_str(&t);
            out.push('\n');
        }
    }
    for w in &run.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out
}
