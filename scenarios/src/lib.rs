//! The experiments of ipcbench: one file per scenario, each a list of cases built on the
//! harness. `runner` runs a plan of cases and writes the result file after every case.

pub mod ab;
pub mod fanout;
mod filter;
pub mod floor;
pub mod load;
pub mod mapping;
pub mod msync;
pub mod options;
pub mod pingpong;
pub mod pinning;
pub mod reruns;
pub mod runner;
pub mod seed;
pub mod stream;
pub mod sysinfo;
mod table;

pub use filter::CaseFilter;
pub use options::{Options, UsageError};

use ipcbench_results::{CaseResult, RunFile};
use std::cell::RefCell;
use std::path::PathBuf;

/// How a case is measured, given the run's context.
pub type Measure = Box<dyn FnOnce(&Context) -> anyhow::Result<CaseResult>>;

/// One point of a scenario: a stable id and how to measure it.
pub struct Case {
    pub id: String,
    pub run: Measure,
    /// About how long the case takes, when its scenario can say (from its time budget): what
    /// the progress's time-left starts from, refined as cases finish.
    pub expected: Option<std::time::Duration>,
}

impl Case {
    pub fn new(
        id: String,
        run: impl FnOnce(&Context) -> anyhow::Result<CaseResult> + 'static,
    ) -> Case {
        Case { id, run: Box::new(run), expected: None }
    }

    /// The case takes about `d` (its measured time; set-up is learnt from finished cases).
    pub fn expecting(mut self, d: std::time::Duration) -> Case {
        self.expected = (!d.is_zero()).then_some(d);
        self
    }
}

/// What every case of a run shares.
pub struct Context {
    pub opts: Options,
    /// The `ipcbench` binary, for spawned workers.
    pub exe: PathBuf,
    /// A private temp dir (under `--dir`, else the system temp dir), removed at the end.
    pub work_dir: PathBuf,
    /// Advice gathered while running; deduplicated, stored in the result file.
    pub warnings: RefCell<Vec<String>>,
}

impl Context {
    pub fn warn(&self, w: impl Into<String>) {
        let w = w.into();
        let mut ws = self.warnings.borrow_mut();
        if !ws.contains(&w) {
            ws.push(w);
        }
    }

    /// Where a file-backed transport's file lived, and on what filesystem; none for the others.
    pub fn file_note(&self, t: ipcbench_harness::transport::Transport) -> Option<String> {
        use ipcbench_harness::transport::Transport;
        matches!(t, Transport::FileMmap | Transport::FileRw).then(|| {
            format!(
                "file in {} ({})",
                self.work_dir.display(),
                crate::sysinfo::filesystem_of(&self.work_dir)
            )
        })
    }

    /// A case that cannot run at this size over `t` (a message or datagram beyond the host's
    /// limit): recorded as skipped, with the reason, not failed.
    pub fn refuses(
        &self,
        id: &str,
        scenario: &str,
        t: ipcbench_harness::transport::Transport,
        w: ipcbench_harness::os::futex::Wait,
        size: usize,
    ) -> Option<CaseResult> {
        let record = ipcbench_harness::record::HEADER_LEN + size;
        let why = ipcbench_harness::transport::mechanism(t).refuses(record)?;
        let mut c = CaseResult::new(id.to_string(), scenario);
        c.transport = Some(t.name().into());
        c.wait = Some(w.name().into());
        c.size = Some(size as u64);
        c.skipped = Some(why);
        Some(c)
    }

    /// What a case over `t` records of its transport: how it works, and for message transports
    /// the message size, queue depth and the host's limits.
    pub fn transport_notes(
        &self,
        t: ipcbench_harness::transport::Transport,
        size: usize,
    ) -> Vec<String> {
        let m = ipcbench_harness::transport::mechanism(t);
        let mut notes = vec![m.how().to_string()];
        notes.extend(m.note(ipcbench_harness::record::HEADER_LEN + size));
        notes
    }

    /// Options for one pair of processes in this run.
    pub fn pair(
        &self,
        transport: ipcbench_harness::transport::Transport,
        process: ipcbench_harness::patterns::worker::Process,
        wait: ipcbench_harness::os::futex::Wait,
        len: usize,
    ) -> ipcbench_harness::patterns::worker::PairOptions {
        ipcbench_harness::patterns::worker::PairOptions {
            transport,
            process,
            wait,
            len,
            dir: self.work_dir.clone(),
            exe: self.exe.clone(),
            peer_cpu: self.opts.pin.map(|p| p[1]),
            timeout: self.opts.timeout,
        }
    }
}

/// An experiment.
pub trait Scenario: Sync {
    fn name(&self) -> &'static str;
    /// One line for `ipcbench list`.
    fn about(&self) -> &'static str;
    /// The cases under these options; an impossible combination is a usage error.
    fn cases(&self, opts: &Options) -> Result<Vec<Case>, UsageError>;
    /// Whether its cases time two processes handing each other work, whose placement on CPUs
    /// (`--pin`) moves their figures. One-process scenarios (msync, mapping, seed) say no.
    fn two_sided(&self) -> bool {
        true
    }
    /// A table for stdout after the run, from this scenario's cases in the result file.
    fn summary(&self, _cases: &[&CaseResult], _run: &RunFile) -> Option<String> {
        None
    }
}

/// Every scenario, in the order `all` runs them (the floor first: others are read against it).
pub fn all() -> Vec<&'static dyn Scenario> {
    vec![
        &floor::Floor,
        &pingpong::Pingpong,
        // Throughput: one reader, then several.
        &stream::Stream,
        &fanout::Fanout,
        // Latency under an offered load: read against pingpong's and stream's figures.
        &load::Load,
        // Durability, then the cost and semantics of mappings.
        &msync::Msync,
        &mapping::Mapping,
        &seed::Seed,
    ]
}

pub fn by_name(name: &str) -> Option<&'static dyn Scenario> {
    all().into_iter().find(|s| s.name() == name)
}

pub fn names() -> Vec<&'static str> {
    all().iter().map(|s| s.name()).collect()
}
