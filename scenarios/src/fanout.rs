//! Scenario `fanout`: one writer, N readers (1, 2, 4), each reader sees and verifies every
//! record. Over a mapped transport the readers share one ring, each with its own tail, and the
//! writer waits for the slowest; over `pipe` the writer writes each record to one pipe per
//! reader. Reports each reader's bytes/s and the aggregate (records and bytes delivered to all
//! readers per second of the slowest reader), integrity, and CPU per record.

use crate::stream::{result, spec, throughput_table, Reports};
use crate::{Case, Context, Options, Scenario, UsageError};
use anyhow::Result;
use ipcbench_harness::os::futex::Wait;
use ipcbench_harness::patterns::fanout::{run_fanout, supports, FanoutOptions, FanoutReport};
use ipcbench_harness::patterns::stream::ReadMode;
use ipcbench_harness::patterns::worker::Process;
use ipcbench_harness::transport::Transport;
use ipcbench_results::{CaseResult, RunFile};

pub const DEFAULT_READERS: [usize; 3] = [1, 2, 4];
pub const DEFAULT_SIZES: [usize; 3] = [64, 4 << 10, 64 << 10];
/// One shared ring against one pipe per reader, unless `--transport` asks for others.
pub const DEFAULT_TRANSPORTS: [Transport; 2] = [Transport::PosixShm, Transport::Pipe];

pub struct Fanout;

impl Scenario for Fanout {
    fn name(&self) -> &'static str {
        "fanout"
    }
    fn about(&self) -> &'static str {
        "throughput: one writer, 1/2/4 readers that each see every record; one shared ring with a \
         tail per reader against one pipe per reader"
    }
    fn cases(&self, opts: &Options) -> Result<Vec<Case>, UsageError> {
        let allowed: Vec<Transport> = Transport::ALL.into_iter().filter(|t| supports(*t)).collect();
        let combos = if opts.transports.is_some() {
            crate::stream::ring_combinations(opts, &allowed)?
        } else {
            crate::stream::ring_combinations(opts, &DEFAULT_TRANSPORTS)?
        };
        let sizes = opts.sizes.clone().unwrap_or(DEFAULT_SIZES.to_vec());
        let mut cases = Vec::new();
        // Readers are forked children of the writer.
        for (t, _, w) in combos.into_iter().filter(|(_, p, _)| *p == Process::Fork) {
            for &size in &sizes {
                for readers in DEFAULT_READERS {
                    let id = format!("fanout/{t}/fork/{w}/{size}/{readers}");
                    cases.push(
                        Case::new(id.clone(), move |ctx| run_case(ctx, id, t, w, size, readers))
                            .expecting(crate::stream::expected_time(opts)),
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

/// Where the readers run: with `--pin`, one reader on the peer CPU, several spread over the
/// CPUs other than the writer's when there are enough of them; otherwise unpinned.
fn reader_cpus(pin: Option<[usize; 2]>, readers: usize, allowed: &[usize]) -> Vec<Option<usize>> {
    let Some([writer, peer]) = pin else { return vec![None; readers] };
    if readers == 1 {
        return vec![Some(peer)];
    }
    let others: Vec<usize> = allowed.iter().copied().filter(|c| *c != writer).collect();
    if others.len() >= readers {
        others.into_iter().take(readers).map(Some).collect()
    } else {
        vec![None; readers]
    }
}

fn run_case(
    ctx: &Context,
    id: String,
    t: Transport,
    w: Wait,
    size: usize,
    readers: usize,
) -> Result<CaseResult> {
    if let Some(mut c) = ctx.refuses(&id, "fanout", t, w, size) {
        c.axes.insert("readers".into(), readers.to_string());
        return Ok(c);
    }
    let opts = &ctx.opts;
    let allowed = crate::sysinfo::allowed_cpus();
    let cpus = allowed.len();
    if readers + 1 > cpus {
        ctx.warn(format!(
            "Fan-out to {readers} readers runs {} processes on {cpus} usable CPUs: they take \
             turns on the CPUs, so those figures include scheduling — spin waits most of all \
             (a spinner never yields: it holds its CPU until the scheduler preempts it). Read \
             the futex and pipe figures, or use a host with more CPUs.",
            readers + 1
        ));
    }
    let spec = spec(opts, size, readers, ReadMode::Copy)?;
    let reader_cpus = reader_cpus(opts.pin, readers, &allowed);
    let fo = FanoutOptions {
        transport: t,
        wait: w,
        dir: ctx.work_dir.clone(),
        reader_cpus: reader_cpus.clone(),
        timeout: opts.timeout,
    };
    // Each trial is a fresh group (new ring or pipes, new readers), as pingpong's pairs are.
    let mut report = FanoutReport { writer: Default::default(), readers: Vec::new() };
    for k in 1..=spec.trials {
        let mut trial = spec.trial(k);
        // An injected fault is injected once, in the first trial.
        if k > 1 {
            trial.fault = None;
        }
        let one = run_fanout(&fo, &trial)?;
        report.writer.join(&one.writer);
        report.readers.resize_with(one.readers.len(), Default::default);
        for (all, r) in report.readers.iter_mut().zip(&one.readers) {
            all.join(r);
        }
    }
    let reports = Reports {
        id,
        scenario: "fanout",
        transport: t,
        wait: w,
        size,
        spec: &spec,
        writer: &report.writer,
        readers: &report.readers,
    };
    let mut c = result(ctx, reports);
    c.process = Some(Process::Fork.name().into());
    c.axes.insert("readers".into(), readers.to_string());
    c.notes.push(if t.is_mapped() {
        "one ring shared by every reader, a tail each; the writer waits for the slowest; each \
         reader copies each payload out and verifies its copy"
            .to_string()
    } else {
        "one pipe per reader; the writer write()s each record to every pipe in turn".to_string()
    });
    c.notes.push(
        "throughput is the aggregate: records and bytes delivered to all readers per second of \
         the slowest reader; per_reader_bytes_per_s holds each reader's own"
            .into(),
    );
    let pinned: Vec<String> = reader_cpus.iter().flatten().map(|c| c.to_string()).collect();
    c.notes.push(if pinned.is_empty() {
        "readers not pinned".to_string()
    } else {
        format!("reader CPUs: {}", pinned.join(", "))
    });
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_cases_pit_a_shared_ring_against_pipes() {
        let ids: Vec<String> =
            Fanout.cases(&Options::default()).unwrap().into_iter().map(|c| c.id).collect();
        // posix-shm by its 4 ring waits, pipe by block.
        assert_eq!(ids.len(), 5 * DEFAULT_SIZES.len() * DEFAULT_READERS.len());
        assert!(ids.contains(&"fanout/posix-shm/fork/condvar/64/2".to_string()));
        assert!(ids.contains(&"fanout/posix-shm/fork/futex/4096/4".to_string()));
        assert!(ids.contains(&"fanout/pipe/fork/block/64/2".to_string()));
        // Any mapped transport may be asked for; streams other than pipe have no fan-out.
        let opts = Options {
            transports: Some(vec![Transport::Memfd, Transport::Tcp]),
            ..Default::default()
        };
        let ids: Vec<String> = Fanout.cases(&opts).unwrap().into_iter().map(|c| c.id).collect();
        assert!(ids.iter().all(|i| i.starts_with("fanout/memfd/")), "{ids:?}");
        let spawn_only = Options { processes: Some(vec![Process::Spawn]), ..Default::default() };
        assert!(Fanout.cases(&spawn_only).unwrap().is_empty());
    }

    #[test]
    fn readers_are_spread_over_the_cpus_the_writer_leaves() {
        let eight: Vec<usize> = (0..8).collect();
        assert_eq!(reader_cpus(None, 2, &eight), [None, None]);
        assert_eq!(reader_cpus(Some([0, 1]), 1, &[0, 1]), [Some(1)]);
        assert_eq!(reader_cpus(Some([2, 3]), 3, &eight), [Some(0), Some(1), Some(3)]);
        assert_eq!(reader_cpus(Some([0, 1]), 2, &[0, 1]), [None, None]);
        // Only the allowed CPUs (taskset, a container's cpuset).
        assert_eq!(reader_cpus(Some([4, 5]), 2, &[4, 5, 6, 7]), [Some(5), Some(6)]);
    }
}
