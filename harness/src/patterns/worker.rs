//! Running the two sides of a case: the runner's side here, the peer in a forked child or a
//! spawned `ipcbench worker` that opens the transport by path, name, id or inherited fd.

use crate::os::cpu_wait;
use crate::os::eventfd::Eventfd;
use crate::os::futex::Wait;
use crate::os::process::{fork_worker, spawn_worker, Worker};
use crate::os::watch::{install_signal_handlers, Watch};
use crate::patterns::link::{pingpong_link_with, Side};
use crate::patterns::pingpong::{self, PingpongSpec};
use crate::patterns::probe::{Channel, Probe, ProbeSpec};
use crate::record::HEADER_LEN;
use crate::transport::{mechanism, CreateOptions, Endpoint, Medium, Setup, Transport};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// How the peer starts (the result contract's name).
pub use ipcbench_results::Process;

/// What the peer runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Job {
    Pingpong(PingpongSpec),
    /// The peer writes the stream; the runner reads it.
    Stream(crate::patterns::stream::StreamSpec),
    /// The peer writes records on a schedule; the runner reads them.
    Load(crate::patterns::load::LoadSpec),
}

impl Job {
    /// Payload bytes of its records.
    pub fn size(&self) -> usize {
        match self {
            Job::Pingpong(s) => s.size,
            Job::Stream(s) => s.size,
            Job::Load(s) => s.size,
        }
    }
}

/// Everything a spawned worker needs, passed as JSON on its command line.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkerSpec {
    pub transport: Transport,
    pub wait: Wait,
    pub endpoint: Endpoint,
    /// Region or ring bytes.
    pub len: usize,
    pub timeout_ms: u64,
    pub job: Job,
    /// Wait `eventfd`: the inherited doorbells (one per side), to go with the region.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub doorbells: Vec<std::os::fd::RawFd>,
    /// The floor probe to answer before the job, over the inherited `probe_fds`.
    #[serde(default)]
    pub probe: Option<ProbeSpec>,
    #[serde(default)]
    pub probe_fds: Vec<std::os::fd::RawFd>,
}

/// What a worker hands back: its side's measurements, or why it failed.
#[derive(Debug, Serialize, Deserialize)]
pub struct WorkerReport {
    #[serde(default)]
    pub result: Option<serde_json::Value>,
    #[serde(default)]
    pub error: Option<String>,
}

/// The doorbells of wait `eventfd`, one per side (`sides`: two for a pair; fan-out's writer and
/// each reader), created before the peers start (inherited across fork, handed to a spawned
/// worker); none for other waits.
pub(crate) fn doorbells(wait: Wait, sides: usize) -> Result<Vec<Eventfd>> {
    if wait == Wait::Eventfd {
        (0..sides).map(|_| Eventfd::new()).collect()
    } else {
        Ok(Vec::new())
    }
}

/// A mapped medium with its doorbells attached.
pub(crate) fn with_doorbells(medium: Medium, bells: Vec<Eventfd>) -> Medium {
    match medium {
        Medium::Mapped(region) if !bells.is_empty() => Medium::Mapped(region.with_doorbells(bells)),
        other => other,
    }
}

/// The peer's side of a job.
fn peer_side(
    job: &Job,
    medium: Medium,
    wait: Wait,
    watch: &mut Watch,
) -> Result<serde_json::Value> {
    match job {
        Job::Pingpong(spec) => {
            let mut link =
                pingpong_link_with(medium, Side::Responder, spec.size, wait, spec.durable)?;
            Ok(serde_json::to_value(pingpong::responder(link.as_mut(), spec, watch)?)?)
        }
        Job::Stream(spec) => {
            Ok(serde_json::to_value(crate::patterns::stream::writer(medium, spec, wait, watch)?)?)
        }
        Job::Load(spec) => {
            Ok(serde_json::to_value(crate::patterns::load::writer(medium, spec, wait, watch)?)?)
        }
    }
}

fn write_report(out: &mut dyn Write, r: Result<serde_json::Value>) -> i32 {
    let report = match r {
        Ok(v) => WorkerReport { result: Some(v), error: None },
        Err(e) => WorkerReport { result: None, error: Some(format!("{e:#}")) },
    };
    let code = if report.error.is_some() { 1 } else { 0 };
    let _ = serde_json::to_writer(&mut *out, &report);
    let _ = out.flush();
    code
}

/// The hidden `ipcbench worker --spec JSON` subcommand. Returns the exit status.
pub fn run_spawned(spec_json: &str) -> i32 {
    install_signal_handlers();
    // Its report goes to stdout; so does a SIGBUS's.
    crate::os::watch::report_bus_errors_to(libc::STDOUT_FILENO);
    let r = (|| -> Result<serde_json::Value> {
        let spec: WorkerSpec = serde_json::from_str(spec_json).context("bad worker spec")?;
        let mut watch = Watch::over_parent(Duration::from_millis(spec.timeout_ms));
        if let Some(probe) = spec.probe {
            // SAFETY: the runner handed these fds to this process alone (see `start_trial`).
            let channel = unsafe { Channel::adopt(probe, &spec.probe_fds)? };
            channel.answer(&mut watch)?;
        }
        let medium = mechanism(spec.transport).open(&spec.endpoint, spec.len)?;
        // SAFETY: inherited from the runner for this worker alone.
        let bells = spec.doorbells.iter().map(|&fd| unsafe { Eventfd::adopt(fd) }).collect();
        peer_side(&spec.job, with_doorbells(medium, bells), spec.wait, &mut watch)
    })();
    write_report(&mut std::io::stdout().lock(), r)
}

/// How to run one pair.
#[derive(Clone, Debug)]
pub struct PairOptions {
    pub transport: Transport,
    pub process: Process,
    pub wait: Wait,
    /// Region or ring bytes.
    pub len: usize,
    /// A private directory for files and sockets.
    pub dir: PathBuf,
    /// The binary to spawn (`ipcbench`).
    pub exe: PathBuf,
    /// CPU for the peer (the runner pins itself once, at the start of a run).
    pub peer_cpu: Option<usize>,
    /// A wait with no progress for this long means the peer hangs.
    pub timeout: Duration,
}

/// Creates the transport, starts the peer on `job`, runs `local` on the runner's side, and
/// returns both sides' results. Every object and the peer are gone when this returns.
pub fn run_pair<T>(
    opts: &PairOptions,
    job: &Job,
    local: impl FnOnce(Medium, &mut Watch) -> Result<T>,
) -> Result<(T, serde_json::Value)> {
    let (mine, theirs, _) = run_trial(opts, job, None, local)?;
    Ok((mine, theirs))
}

/// [`run_pair`], and first the pair measures the floor probe `probe` (see
/// [`crate::patterns::probe`]), returned with both sides' results. The probe also carries how
/// much of the trial the host kept the pair from its CPUs ([`crate::os::cpu_wait`]).
pub fn run_trial<T>(
    opts: &PairOptions,
    job: &Job,
    probe: Option<ProbeSpec>,
    local: impl FnOnce(Medium, &mut Watch) -> Result<T>,
) -> Result<(T, serde_json::Value, Option<Probe>)> {
    let mut pair = start_trial(opts, job, probe)?;
    let pids = [0, pair.peer_pid()];
    let cpus: Vec<usize> = own_cpu().into_iter().chain(opts.peer_cpu).collect();
    // From the end of the probe: the peer has answered it, so it runs on its own CPU. Before
    // it, a child just forked waits its first turn on the runner's CPU (about 4 ms here while
    // the runner spins), which is the pair's start, not the host.
    let mut probe = pair.probe()?;
    let before = cpu_wait::mark(&pids, &cpus);
    let medium = pair.local()?;
    let mine = local(medium, &mut pair.watch)?;
    // Read before the peer is reaped: its counters go with it.
    let share = cpu_wait::share_since(&before, &cpu_wait::mark(&pids, &cpus));
    if let Some(p) = probe.as_mut() {
        p.cpu_wait = share;
    }
    Ok((mine, pair.finish()?, probe))
}

/// The CPU this process is pinned to, when its affinity allows exactly one.
fn own_cpu() -> Option<usize> {
    let set = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).ok()?;
    let cpus: Vec<usize> =
        (0..nix::sched::CpuSet::count()).filter(|&c| set.is_set(c).unwrap_or(false)).collect();
    (cpus.len() == 1).then(|| cpus[0])
}

/// A pair in progress: the transport's objects, the peer running its job, and the runner's
/// watch over it. Dropped unfinished, it kills the peer, then removes the objects.
pub struct Pair {
    worker: Worker,
    setup: Box<dyn Setup>,
    /// Wait `eventfd`: the runner's copies, attached to its region by [`Pair::local`].
    doorbells: Vec<Eventfd>,
    /// The floor probe the peer answers before its job.
    probe: Option<Channel>,
    /// The runner's watch over the peer, for its side's waits.
    pub watch: Watch,
}

impl Pair {
    /// Measures the pair's floor probe, if it has one; once, before [`Pair::local`].
    pub fn probe(&mut self) -> Result<Option<Probe>> {
        match self.probe.take() {
            Some(c) => Ok(Some(c.measure(&mut self.watch).context("floor probe")?)),
            None => Ok(None),
        }
    }

    /// The runner's side of the transport (accepts a connection, …); once.
    pub fn local(&mut self) -> Result<Medium> {
        let medium = self.setup.local(&mut self.watch)?;
        Ok(with_doorbells(medium, std::mem::take(&mut self.doorbells)))
    }

    /// The peer's pid.
    pub fn peer_pid(&self) -> libc::pid_t {
        self.worker.pid()
    }

    /// Waits for the peer to end its job and returns its result.
    pub fn finish(mut self) -> Result<serde_json::Value> {
        let out = self.worker.finish(&mut self.watch)?;
        let report: WorkerReport =
            serde_json::from_slice(&out).context("unreadable worker report")?;
        match (report.result, report.error) {
            (_, Some(e)) => bail!("worker: {e}"),
            (Some(v), None) => Ok(v),
            (None, None) => bail!("worker sent an empty report"),
        }
    }
}

/// Creates the transport and starts the peer on `job`; the runner's side follows with
/// [`Pair::local`] and ends with [`Pair::finish`].
pub fn start_pair(opts: &PairOptions, job: &Job) -> Result<Pair> {
    start_trial(opts, job, None)
}

/// [`start_pair`] with a floor probe the peer answers before its job; the runner measures it
/// with [`Pair::probe`].
pub fn start_trial(opts: &PairOptions, job: &Job, probe: Option<ProbeSpec>) -> Result<Pair> {
    let channel = probe.map(Channel::new).transpose()?;
    if opts.process == Process::Spawn && !opts.transport.supports_spawn() {
        bail!("{} cannot be opened by an unrelated process: use --process fork", opts.transport);
    }
    let transport = mechanism(opts.transport);
    let record = HEADER_LEN + job.size();
    let mut setup = transport.create(&CreateOptions {
        len: opts.len,
        dir: opts.dir.clone(),
        record,
        wait: opts.wait,
    })?;
    let timeout_ms = opts.timeout.as_millis() as u64;
    let bells = if transport.is_mapped() { doorbells(opts.wait, 2)? } else { Vec::new() };
    let worker = match opts.process {
        Process::Fork => fork_worker(opts.peer_cpu, |out| {
            install_signal_handlers();
            let mut watch = Watch::over_parent(opts.timeout);
            let r = (|| {
                if let Some(c) = channel.as_ref() {
                    c.answer(&mut watch)?;
                }
                let theirs = bells.iter().map(Eventfd::try_clone).collect::<Result<_>>()?;
                let medium = with_doorbells(setup.forked_peer()?, theirs);
                peer_side(job, medium, opts.wait, &mut watch)
            })();
            write_report(out, r)
        })?,
        Process::Spawn => {
            let spec = WorkerSpec {
                transport: opts.transport,
                wait: opts.wait,
                endpoint: setup.endpoint(),
                len: opts.len,
                timeout_ms,
                job: job.clone(),
                doorbells: bells.iter().map(Eventfd::raw).collect(),
                probe,
                probe_fds: channel.as_ref().map(Channel::fds).unwrap_or_default(),
            };
            let json = serde_json::to_string(&spec)?;
            let mut fds = setup.inherit_fds();
            fds.extend(bells.iter().map(Eventfd::raw));
            fds.extend(&spec.probe_fds);
            spawn_worker(&opts.exe, &json, &fds, opts.peer_cpu)?
        }
    };
    let watch = Watch::over_child(opts.timeout, worker.pid());
    Ok(Pair { worker, setup, doorbells: bells, probe: channel, watch })
}
