//! ipcbench: what it costs processes on one Linux host to hand each other records through memory
//! mappings, against the read/write baselines. This file is the command line and nothing else.

use anyhow::{Context as _, Result};
use clap::{Args, Parser, Subcommand};
use ipcbench_results::compare::{self, CompareOptions, Format};
use ipcbench_results::export::{self, ExportFormat};
use ipcbench_results::{RunFile, Transport};
use ipcbench_scenarios::options::{
    check_iterations, parse_duration, parse_processes, parse_rates, parse_sizes, parse_transports,
    parse_waits, test_knobs,
};
use ipcbench_scenarios::pinning::{parse_pin, PinRequest};
use ipcbench_scenarios::{runner, CaseFilter, Options, UsageError};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What each exit status means; shown under `--help` of the commands that use them.
const EXIT_STATUS: &str = "\
Exit status:
  0    everything ran and nothing regressed
  1    a case failed, `compare` (or --baseline) found a regression, or the run could not go on
  2    bad input (command line, value or file): stderr names it and the valid choices
  130  interrupted (Ctrl-C): the cases measured so far are kept in the result file, marked
       interrupted
  128+N  stopped by signal N likewise (129 SIGHUP, 131 SIGQUIT, 143 SIGTERM)";

/// The exit statuses of `compare` and `ab` (docs/compare.md says more).
const COMPARE_EXIT_STATUS: &str = "\
Exit status:
  0    the new run is whole and nothing regressed
  1    a figure regressed (beyond its threshold and the runs' spread)
  2    bad input (command line, a file missing, unreadable or not a result file)
  3    the new run is unusable: a case failed, it has no cases, it was interrupted or is not
       complete (3 wins over 1)
  128+N  `ab` stopped by signal N (130 Ctrl-C, 143 SIGTERM): it passes the signal on to the
       invocation running, judges the pairs measured so far and removes its temp directory

The method: `ipcbench compare --explain`, or docs/compare.md.";

#[derive(Parser)]
#[command(name = "ipcbench", version, about, long_about = None, arg_required_else_help = true)]
#[command(after_help = format!(
    "Start with `ipcbench scenario all --quick`, then open results/report/index.html.\n\n{EXIT_STATUS}"
))]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the scenarios and the cases each would run
    List(ListArgs),
    /// Run scenarios (or `all`) and write a result file under --out
    #[command(after_help = EXIT_STATUS)]
    Scenario(Box<ScenarioArgs>),
    /// Render SVG charts and an HTML page from result files
    Report(ReportArgs),
    /// Compare two result files; exit 1 if anything regressed, 3 if the new run is unusable
    #[command(after_help = COMPARE_EXIT_STATUS)]
    Compare(CompareArgs),
    /// Run two builds' trials interleaved on this host and judge the paired ratios (for CI)
    #[command(after_help = COMPARE_EXIT_STATUS)]
    Ab(AbArgs),
    /// Export a result file for a CI dashboard
    Export(ExportArgs),
    /// The seed article's two programs: `seed writer PATH` (map_normalfile1), `seed reader PATH`
    /// (map_normalfile2)
    #[command(subcommand)]
    Seed(SeedCommand),
    /// Run the peer side of a case (started by the runner, not by people)
    #[command(hide = true)]
    Worker {
        #[arg(long)]
        spec: String,
    },
}

// The seed article's two programs, run by the `seed` scenario as unrelated processes.
#[derive(Subcommand)]
enum SeedCommand {
    /// map_normalfile1: size PATH for 5 records, map 10, write 10, hold the mapping, unmap
    Writer {
        path: PathBuf,
        /// Seconds to hold the mapping (the article's sleep(10))
        #[arg(long, value_name = "SECS", default_value_t = 10.0, hide = true)]
        hold: f64,
    },
    /// map_normalfile2: map PATH and print its 10 records
    Reader {
        path: PathBuf,
        /// Use read() instead of a mapping (prints the byte count first)
        #[arg(long, hide = true)]
        read: bool,
    },
}

/// `--transport`'s help, from the vocabulary: every transport this build has.
fn transport_help() -> String {
    let names: Vec<&str> = Transport::ALL.iter().map(|t| t.name()).collect();
    format!("Transports, comma-separated: {}", names.join(", "))
}

/// Which cases run (or are listed).
#[derive(Args)]
struct CaseArgs {
    #[arg(long, value_name = "LIST", help = transport_help())]
    transport: Option<String>,
    /// How the peer starts: fork, spawn
    #[arg(long, value_name = "LIST")]
    process: Option<String>,
    /// How a receiver waits: spin, futex, eventfd, condvar (mapped transports); block (pipes,
    /// sockets, FIFOs, message queues); spin, iox2-event (iceoryx2)
    #[arg(long, value_name = "LIST")]
    wait: Option<String>,
    /// Record sizes: 64, 4K, 1M … (1 byte to 64M)
    #[arg(long, value_name = "LIST")]
    size: Option<String>,
    /// Only the cases whose id contains TEXT, or matches it whole when it holds a glob
    /// wildcard (*, ?, [...]), e.g. `pingpong/*/64`; see the ids with `ipcbench list`
    #[arg(long, value_name = "TEXT")]
    filter: Option<String>,
    /// Short cases and fewer of them, so `scenario all --quick` stays under a minute (for CI)
    #[arg(long)]
    quick: bool,
}

/// How much each case measures. Whichever limit comes first ends a case; `--iterations` alone
/// lifts the time limit, so exactly that many are measured.
#[derive(Args)]
struct Budget {
    /// Measured messages per case (round trips, records or flushes), after warm-up
    /// [default: the scenario's own, e.g. pingpong 100000, --quick 5000; stream: as many as
    /// fit in --duration]
    #[arg(long, value_name = "N")]
    iterations: Option<u64>,
    /// Time limit for the measured part of each case (e.g. 2s, 500ms)
    /// [default: 1s (stream 400ms); --quick 50ms to 100ms]
    #[arg(long, value_name = "TIME")]
    duration: Option<String>,
}

#[derive(Args)]
struct ListArgs {
    /// Scenarios to list (default: all)
    #[arg(value_name = "SCENARIO")]
    names: Vec<String>,
    #[command(flatten)]
    cases: CaseArgs,
}

#[derive(Args)]
struct ScenarioArgs {
    /// Scenario names (see `ipcbench list`), or `all`
    #[arg(value_name = "NAME", required = true)]
    names: Vec<String>,
    #[command(flatten)]
    cases: CaseArgs,
    #[command(flatten)]
    budget: Budget,
    /// Pin the runner and the peer to these CPUs, e.g. 0,1, or `none` [default: two CPUs of
    /// the allowed set on different cores; recorded in the result file with the reason]
    #[arg(long, value_name = "CPU,CPU")]
    pin: Option<String>,
    /// Results directory: runs land in DIR/runs/, the newest in DIR/latest.json
    #[arg(long, value_name = "DIR", default_value = "results")]
    out: PathBuf,
    /// Where file-backed transports put their files (default: the system temp dir, on disk)
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Do not render the HTML report at the end
    #[arg(long)]
    no_report: bool,
    /// Keep this run as DIR/baselines/NAME.json
    #[arg(long, value_name = "NAME")]
    save_baseline: Option<String>,
    /// Compare this run against DIR/baselines/NAME.json at the end; exit 1 on a regression
    /// that measuring the regressed cases again confirms (see --confirm)
    #[arg(long, value_name = "NAME")]
    baseline: Option<String>,
    /// With --baseline: measure the cases that regressed again, up to N times, and count a
    /// regression only if every round still finds it slower beyond the threshold (a shared
    /// host's passing state does not come back; a slower build does). 0 counts the run's own
    /// comparison alone
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=5))]
    confirm: u32,
    /// pingpong: the writer makes each record durable before notifying (msync(MS_SYNC) for
    /// file-mmap, fdatasync for file-rw); only those two transports run
    #[arg(long)]
    durable: bool,
    /// load: offered rates, as percentages of each case's measured saturation or records/s
    /// (e.g. 10%,50%,90% or 100k,1M) [default: 10,25,50,75,90,100,110 %; --quick 10,50,90 %]
    #[arg(long, value_name = "RATES")]
    rate: Option<String>,
    /// Seconds without progress after which a worker counts as hung
    #[arg(long, value_name = "SECS", default_value_t = 10.0, hide = true)]
    timeout: f64,
    /// Tests only (a build with the `test-knobs` feature): inject a fault (corrupt:N or drop:N)
    #[arg(long, value_name = "FAULT", hide = true)]
    inject: Option<String>,
}

#[derive(Args)]
struct ReportArgs {
    /// Result files; the last is the main run, all feed the trend
    /// (default: DIR/latest.json and every DIR/runs/*.json)
    #[arg(value_name = "RESULT.json")]
    files: Vec<PathBuf>,
    /// Results directory; the report goes to DIR/report/
    #[arg(long, value_name = "DIR", default_value = "results")]
    out: PathBuf,
}

#[derive(Args)]
struct CompareArgs {
    /// The earlier run
    #[arg(required_unless_present = "explain")]
    base: Option<PathBuf>,
    /// The run to judge
    #[arg(required_unless_present = "explain")]
    new: Option<PathBuf>,
    /// Smallest change in percent that may count (2× for throughput, 8× for latency that
    /// waits on a wake-up or moves 1 MiB or more; p99 twice its figure's)
    #[arg(long, value_name = "PCT", default_value_t = compare::DEFAULT_THRESHOLD_PCT)]
    threshold: f64,
    /// Let p99 count too (by default it is reported, not counted)
    #[arg(long)]
    gate_p99: bool,
    /// Let figures bound by memory bandwidth count too: a spinning pair's stream or ping-pong
    /// of 4 KiB records or more (on a shared VM they moved 4-5× between runs of one build;
    /// `ab` counts them)
    #[arg(long)]
    gate_bandwidth: bool,
    /// Let figures that wait on a disk's flush count too (msync on a block device: the
    /// device's latency moved +94 to +135 % between runs of one build on a shared VM; `ab`
    /// counts them)
    #[arg(long)]
    gate_device: bool,
    #[command(flatten)]
    output: CompareOutput,
    /// Print how a verdict is reached and exit
    #[arg(long)]
    explain: bool,
}

/// How a comparison is printed.
#[derive(Args)]
struct CompareOutput {
    /// Output: table, markdown (for a pull-request comment, under 65,536 characters) or json
    #[arg(long, value_name = "FORMAT", default_value = "table")]
    format: String,
    /// Show only the figures that regressed or improved (and cases failed or on one side)
    #[arg(long)]
    only_changed: bool,
}

#[derive(Args)]
struct AbArgs {
    /// The base build's ipcbench binary
    old: PathBuf,
    /// The build to judge
    new: PathBuf,
    /// Scenario names (see `ipcbench list`), or `all`
    #[arg(value_name = "NAME", required = true)]
    names: Vec<String>,
    #[command(flatten)]
    cases: CaseArgs,
    #[command(flatten)]
    budget: Budget,
    /// Pin each invocation's two sides to these CPUs, e.g. 0,1
    #[arg(long, value_name = "CPU,CPU")]
    pin: Option<String>,
    /// Pairs of invocations per case (6 at least for an interval)
    #[arg(long, value_name = "N", default_value_t = compare::AB_DEFAULT_PAIRS)]
    pairs: usize,
    /// Smallest change of the median pair, in percent, that may count
    #[arg(long, value_name = "PCT", default_value_t = compare::AB_DEFAULT_THRESHOLD_PCT)]
    threshold: f64,
    #[command(flatten)]
    output: CompareOutput,
}

#[derive(Args)]
struct ExportArgs {
    /// A result file
    file: PathBuf,
    /// github-action-benchmark or bencher
    #[arg(long, value_name = "FORMAT")]
    format: String,
}

fn main() -> ExitCode {
    ipcbench_harness::os::watch::default_sigpipe();
    // clap's own help and errors, with their usage lines; exit status 2 for a bad command line.
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(code) => code,
        // A closed pipe ends quietly, as any Unix tool does; a full disk gets its one line.
        Err(e) if e.downcast_ref::<StdoutError>().is_some() => {
            let StdoutError(io) = e.downcast_ref::<StdoutError>().expect("checked");
            if io.kind() != std::io::ErrorKind::BrokenPipe {
                eprintln!("error: cannot write to stdout: {io}");
            }
            ExitCode::FAILURE
        }
        Err(e) if e.downcast_ref::<UsageError>().is_some() => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// stdout could not be written (closed, full): the command ends with status 1, no panic.
#[derive(Debug, thiserror::Error)]
#[error("cannot write to stdout: {0}")]
struct StdoutError(std::io::Error);

/// Writes to stdout and flushes; an error (`> /dev/full`, a closed pipe) is a [`StdoutError`].
fn write_out(args: std::fmt::Arguments) -> Result<(), StdoutError> {
    use std::io::Write as _;
    let mut o = std::io::stdout().lock();
    o.write_fmt(args).and_then(|()| o.flush()).map_err(StdoutError)
}

/// `print!` whose failure ends the command through `?` (see [`StdoutError`]).
macro_rules! out {
    ($($t:tt)*) => { write_out(format_args!($($t)*))? };
}

/// Best-effort stdout for what follows a run that is already on disk: the first failure is
/// kept in `failed`, later writes are skipped.
fn say(failed: &mut Option<StdoutError>, args: std::fmt::Arguments) {
    if failed.is_none() {
        *failed = write_out(args).err();
    }
}

fn usage(e: impl std::fmt::Display) -> anyhow::Error {
    UsageError(e.to_string()).into()
}

fn load(path: &Path) -> Result<RunFile> {
    RunFile::load(path).map_err(usage)
}

/// The options that pick cases; the budget is left at the scenarios' defaults.
fn options(f: &CaseArgs) -> Result<Options, UsageError> {
    Ok(Options {
        transports: f.transport.as_deref().map(parse_transports).transpose()?,
        processes: f.process.as_deref().map(parse_processes).transpose()?,
        waits: f.wait.as_deref().map(parse_waits).transpose()?,
        sizes: f.size.as_deref().map(parse_sizes).transpose()?,
        quick: f.quick,
        ..Options::default()
    })
}

fn filter(f: &CaseArgs) -> Result<Option<CaseFilter>, UsageError> {
    f.filter.as_deref().map(str::parse).transpose()
}

/// `list [SCENARIO]...`: each scenario with the ids of the cases it would run.
fn list(a: ListArgs) -> Result<ExitCode> {
    let opts = options(&a.cases)?;
    let filter = filter(&a.cases)?;
    let scenarios =
        if a.names.is_empty() { ipcbench_scenarios::all() } else { runner::resolve(&a.names)? };
    for s in scenarios {
        let cases: Vec<_> = s
            .cases(&opts)?
            .into_iter()
            .filter(|c| filter.as_ref().is_none_or(|f| f.matches(&c.id)))
            .collect();
        if cases.is_empty() && filter.is_some() {
            continue;
        }
        out!("{} — {} ({} cases)\n", s.name(), s.about(), cases.len());
        for c in cases {
            out!("  {}\n", c.id);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn dispatch(command: Command) -> Result<ExitCode> {
    match command {
        Command::Worker { spec } => {
            Ok(ExitCode::from(ipcbench_harness::patterns::worker::run_spawned(&spec) as u8))
        }
        Command::Seed(cmd) => seed(cmd),
        Command::List(a) => list(a),
        Command::Scenario(a) => scenario(*a),
        Command::Report(a) => {
            let index = render_report(a.files, &a.out)?;
            out!("report: {}\n", index.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Compare(a) => {
            if a.explain {
                out!("{}\n", compare::METHOD);
                return Ok(ExitCode::SUCCESS);
            }
            let mut opts = CompareOptions::new(a.threshold).map_err(usage)?;
            opts.gate_p99 = a.gate_p99;
            opts.gate_bandwidth = a.gate_bandwidth;
            opts.gate_device = a.gate_device;
            let format: Format = a.output.format.parse().map_err(usage)?;
            let (Some(base), Some(new)) = (&a.base, &a.new) else {
                return Err(usage("compare needs BASE.json and NEW.json"));
            };
            let cmp = compare::compare(&load(base)?, &load(new)?, &opts);
            print_comparison(&cmp, format, a.output.only_changed)
        }
        Command::Ab(a) => ab(a),
        Command::Export(a) => {
            let format: ExportFormat = a.format.parse().map_err(usage)?;
            let run = load(&a.file)?;
            out!("{}", export::render(&run, format));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints a comparison and gives the exit status its gate says (0, 1 or 3).
fn print_comparison(
    cmp: &compare::Comparison,
    format: Format,
    only_changed: bool,
) -> Result<ExitCode> {
    let shown = if only_changed { cmp.only_changed() } else { cmp.clone() };
    out!("{}", shown.render(format));
    Ok(ExitCode::from(cmp.gate().exit_code()))
}

/// `ab OLD NEW NAME...`: the cases of the named scenarios, each run by both builds in turn.
fn ab(a: AbArgs) -> Result<ExitCode> {
    let format: Format = a.output.format.parse().map_err(usage)?;
    CompareOptions::new(a.threshold).map_err(usage)?;
    if a.pairs == 0 {
        return Err(usage("--pairs must be at least 1 (6 or more for an interval)"));
    }
    let mut pass_through = Vec::new();
    if a.cases.quick {
        pass_through.push("--quick".to_string());
    }
    if let Some(pin) = &a.pin {
        parse_pin(pin)?;
        pass_through.extend(["--pin".to_string(), pin.clone()]);
    }
    if let Some(n) = a.budget.iterations {
        check_iterations(n)?;
        pass_through.extend(["--iterations".to_string(), n.to_string()]);
    }
    if let Some(d) = &a.budget.duration {
        parse_duration(d)?;
        pass_through.extend(["--duration".to_string(), d.clone()]);
    }
    let req = ipcbench_scenarios::ab::Request {
        old: a.old.clone(),
        new: a.new.clone(),
        scenarios: a.names.clone(),
        opts: options(&a.cases)?,
        filter: filter(&a.cases)?,
        pairs: a.pairs,
        threshold_pct: a.threshold,
        pass_through,
    };
    let cmp = ipcbench_scenarios::ab::run(&req, &mut |line| eprintln!("{line}"))?;
    let judged = print_comparison(&cmp, format, a.output.only_changed)?;
    // Interrupted: the pairs measured so far are judged above; the status says it stopped.
    match ipcbench_harness::os::watch::stop_signal() {
        Some(sig) => {
            eprintln!("interrupted: the comparison above judges the pairs measured before it");
            Ok(ExitCode::from(128 + sig as u8))
        }
        None => Ok(judged),
    }
}

fn render_report(inputs: Vec<PathBuf>, results_dir: &Path) -> Result<PathBuf> {
    let opts =
        ipcbench_report::Options { inputs, results_dir: results_dir.to_path_buf(), out_dir: None };
    ipcbench_report::render(&opts).map_err(usage)
}

fn seed(cmd: SeedCommand) -> Result<ExitCode> {
    use ipcbench_scenarios::seed;
    let mut out = std::io::stdout().lock();
    match cmd {
        SeedCommand::Writer { path, hold } => {
            if !(hold >= 0.0 && hold.is_finite()) {
                return Err(usage("--hold must be a number of seconds, 0 or more"));
            }
            seed::writer_main(&path, std::time::Duration::from_secs_f64(hold), &mut out)?
        }
        SeedCommand::Reader { path, read: false } => seed::reader_main(&path, &mut out)?,
        SeedCommand::Reader { path, read: true } => seed::read_main(&path, &mut out)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn baseline_path(out: &Path, name: &str) -> Result<PathBuf> {
    if name.is_empty()
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        || name.starts_with('.')
    {
        return Err(usage(format!(
            "invalid baseline name '{name}': use letters, digits, '-', '_' and '.'"
        )));
    }
    Ok(out.join("baselines").join(format!("{name}.json")))
}

fn scenario(a: ScenarioArgs) -> Result<ExitCode> {
    let mut opts = options(&a.cases)?;
    opts.iterations = a.budget.iterations.map(check_iterations).transpose()?;
    opts.duration = a.budget.duration.as_deref().map(parse_duration).transpose()?;
    opts.pin_request = match a.pin.as_deref() {
        Some(s) => parse_pin(s)?,
        None => PinRequest::Auto,
    };
    opts.dir = a.dir.clone();
    opts.durable = a.durable;
    opts.rates = a.rate.as_deref().map(parse_rates).transpose()?;
    if !(a.timeout > 0.0 && a.timeout.is_finite()) {
        return Err(usage("--timeout must be a positive number of seconds"));
    }
    opts.timeout = std::time::Duration::from_secs_f64(a.timeout);
    let slowdown = std::env::var("IPCBENCH_SLOWDOWN").ok();
    (opts.fault, opts.slowdown) = test_knobs(a.inject.as_deref(), slowdown.as_deref())?;
    if let Some(dir) = &opts.dir {
        if !dir.exists() {
            return Err(usage(format!("--dir {}: does not exist", dir.display())));
        }
        if !dir.is_dir() {
            return Err(usage(format!("--dir {}: not a directory", dir.display())));
        }
    }
    let baseline = match &a.baseline {
        Some(name) => {
            let path = baseline_path(&a.out, name)?;
            if !path.exists() {
                return Err(usage(format!(
                    "no baseline '{name}' ({} does not exist): save one with --save-baseline {name}",
                    path.display()
                )));
            }
            Some(load(&path)?)
        }
        None => None,
    };
    let save_baseline = a.save_baseline.as_deref().map(|n| baseline_path(&a.out, n)).transpose()?;
    let request = runner::Request {
        scenarios: a.names.clone(),
        filter: filter(&a.cases)?,
        opts,
        out: a.out.clone(),
        command_line: std::env::args().collect(),
        // The running binary itself, even if a rebuild has replaced the file since it started.
        exe: if Path::new("/proc/self/exe").exists() {
            PathBuf::from("/proc/self/exe")
        } else {
            std::env::current_exe().context("cannot find the ipcbench binary")?
        },
        confirms: None,
    };
    let (outcome, files) = runner::run(request.clone())?;
    // Runs ignore SIGPIPE (a dying peer must not kill us); printing to a closed stdout must.
    ipcbench_harness::os::watch::default_sigpipe();
    // The run is on disk whatever happens to stdout now: a closed or full stdout (a hung-up
    // terminal, `| head`) loses the summary, not the exit status the run earned.
    let mut stdout_err = None;
    say(&mut stdout_err, format_args!("{}", runner::summary(&outcome.run)));
    say(
        &mut stdout_err,
        format_args!(
            "results: {} (also {})\n",
            files.run_file.display(),
            files.latest.as_deref().unwrap_or(&files.run_file).display()
        ),
    );
    if !a.no_report {
        match render_report(Vec::new(), &a.out) {
            Ok(index) => say(&mut stdout_err, format_args!("report: {}\n", index.display())),
            Err(e) => eprintln!("warning: no report: {e}"),
        }
    }
    if let Some(path) = save_baseline {
        std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
        outcome.run.write_atomic(&path).with_context(|| format!("writing {}", path.display()))?;
        say(&mut stdout_err, format_args!("baseline saved: {}\n", path.display()));
    }
    let mut regressed = false;
    if let Some(base) = baseline {
        let opts = CompareOptions::default();
        let cmp = compare::compare(&base, &outcome.run, &opts);
        say(&mut stdout_err, format_args!("{}", cmp.render(Format::Table)));
        // A failed or interrupted run exits 1 or 128+N below; a regression exits 1 once
        // measuring the regressed cases again confirmed it.
        regressed = cmp.gate() != compare::Gate::Clean;
        // Cases the run could not settle (another state of the host, or a change in doubt) are
        // measured again too.
        let unjudged = !runner::confirm::unsettled_ids(&cmp).is_empty();
        let gate = cmp.gate();
        let again_due =
            gate == compare::Gate::Regressed || (gate == compare::Gate::Clean && unjudged);
        if again_due && a.confirm > 0 && !outcome.interrupted {
            let mut again = request;
            // Tests only: a slow-down of the run that has passed when it is measured again.
            if std::env::var_os("IPCBENCH_SLOWDOWN_ONCE").is_some() {
                again.opts.slowdown = None;
            }
            let c = runner::confirm::confirm(&again, &base, &outcome.run, &cmp, a.confirm, &opts)?;
            say(&mut stdout_err, format_args!("{}", c.render()));
            if c.interrupted {
                let sig = ipcbench_harness::os::watch::stop_signal().unwrap_or(2);
                return Ok(ExitCode::from(128 + sig as u8));
            }
            regressed = !c.confirmed.is_empty();
        }
    }
    if outcome.interrupted {
        eprintln!(
            "interrupted: {} cases kept in {}",
            outcome.run.cases.len(),
            files.run_file.display()
        );
        let sig = ipcbench_harness::os::watch::stop_signal().unwrap_or(2);
        return Ok(ExitCode::from(128 + sig as u8));
    }
    if outcome.failed > 0 {
        eprintln!(
            "{} case(s) failed; their errors are in {}",
            outcome.failed,
            files.run_file.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    if let Some(e) = &stdout_err {
        if e.0.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: {e}");
        }
    }
    Ok(if regressed || stdout_err.is_some() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
