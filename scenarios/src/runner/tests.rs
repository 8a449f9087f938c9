//! The runner's loop with mock cases and sinks: failures, panics, Ctrl-C and saving, without
//! starting a process. The mechanisms (a killed or hung worker, a real SIGINT, nothing left
//! behind) are tested with real processes in the top-level `tests/`.

use super::*;
use crate::{pingpong, Options};
use anyhow::Context as _;
use std::cell::Cell;
use std::rc::Rc;

fn context() -> Context {
    Context {
        opts: Options::default(),
        exe: PathBuf::from("/nonexistent/ipcbench"),
        work_dir: std::env::temp_dir(),
        warnings: RefCell::new(Vec::new()),
    }
}

fn ok(id: &str) -> Case {
    let scenario = id.split('/').next().unwrap().to_string();
    let id = id.to_string();
    Case::new(id.clone(), move |_| Ok(CaseResult::new(id, scenario)))
}

fn failing(id: &str, why: &'static str) -> Case {
    Case::new(id.to_string(), move |_| Err(anyhow::anyhow!("{why}")).context("the worker's report"))
}

/// A case that records that it ran.
fn tracked(id: &str, ran: &Rc<Cell<bool>>) -> Case {
    let ran = ran.clone();
    let inner = ok(id);
    Case::new(id.to_string(), move |ctx| {
        ran.set(true);
        (inner.run)(ctx)
    })
}

/// Runs `cases` into a memory sink; nothing stops the run.
fn run_mock(cases: Vec<Case>) -> (Outcome, MemorySink) {
    let mut sink = MemorySink::default();
    let outcome = run_cases(
        cases,
        &context(),
        RunFile::new(RunInfo::default()),
        &mut sink,
        &|| false,
        &mut Progress::hidden(0),
    )
    .unwrap();
    (outcome, sink)
}

fn ids(run: &RunFile) -> Vec<&str> {
    run.cases.iter().map(|c| c.id.as_str()).collect()
}

#[test]
fn a_failed_case_is_kept_with_its_error_and_the_run_goes_on() {
    let (outcome, sink) =
        run_mock(vec![ok("floor/a"), failing("pingpong/b", "worker killed by SIGKILL"), ok("x/c")]);
    assert_eq!(ids(&outcome.run), ["floor/a", "pingpong/b", "x/c"]);
    assert_eq!(outcome.failed, 1);
    assert!(!outcome.interrupted);
    let failed = &outcome.run.cases[1];
    // The whole chain of context, on one line, and the scenario taken from the id.
    assert_eq!(failed.error.as_deref(), Some("the worker's report: worker killed by SIGKILL"));
    assert_eq!(failed.scenario, "pingpong");
    assert!(outcome.run.cases[0].error.is_none() && outcome.run.cases[2].error.is_none());
    assert_eq!(sink.last(), Some(&outcome.run));
    assert!(outcome.run.run.interrupted.is_none());
}

#[test]
fn a_panicking_case_is_a_failure_not_the_end_of_the_run() {
    let after = Rc::new(Cell::new(false));
    let (outcome, _) = run_mock(vec![
        Case::new("seed/boom".into(), |_| panic!("index out of bounds")),
        tracked("seed/after", &after),
    ]);
    assert!(after.get(), "the case after the panic ran");
    assert_eq!(outcome.failed, 1);
    assert_eq!(outcome.run.cases[0].error.as_deref(), Some("panicked: index out of bounds"));
    assert!(outcome.run.cases[1].error.is_none());
}

#[test]
fn the_run_is_saved_after_every_case_and_at_the_end() {
    let (outcome, sink) = run_mock(vec![ok("a/1"), failing("a/2", "no"), ok("a/3")]);
    let counts: Vec<usize> = sink.saves.iter().map(|r| r.cases.len()).collect();
    assert_eq!(counts, [1, 2, 3, 3]);
    // Each save holds every case so far, the failed one included.
    assert_eq!(ids(&sink.saves[1]), ["a/1", "a/2"]);
    assert_eq!(outcome.failed, 1);
}

#[test]
fn an_interrupt_during_a_case_drops_that_case_and_runs_no_more() {
    let stop = Rc::new(Cell::new(false));
    let later = Rc::new(Cell::new(false));
    let flag = stop.clone();
    let cases = vec![
        ok("pingpong/1"),
        ok("pingpong/2"),
        // Ctrl-C arrives while this case runs; the harness then gives up with an error.
        Case::new("pingpong/3".into(), move |_| {
            flag.set(true);
            Err(anyhow::anyhow!("interrupted"))
        }),
        tracked("pingpong/4", &later),
    ];
    let mut sink = MemorySink::default();
    let outcome = run_cases(
        cases,
        &context(),
        RunFile::new(RunInfo::default()),
        &mut sink,
        &|| stop.get(),
        &mut Progress::hidden(0),
    )
    .unwrap();
    assert!(outcome.interrupted);
    assert!(!later.get(), "no case starts after the interrupt");
    assert_eq!(ids(&outcome.run), ["pingpong/1", "pingpong/2"], "earlier cases kept");
    assert_eq!(outcome.failed, 0, "a case cut short is not a failure");
    let last = sink.last().unwrap();
    assert_eq!(last.run.interrupted.as_deref(), Some("interrupted by signal"));
    assert_eq!(last.cases.len(), 2, "the file on disk says interrupted and keeps the two");
}

#[test]
fn an_interrupt_before_the_first_case_saves_an_empty_interrupted_run() {
    let ran = Rc::new(Cell::new(false));
    let mut sink = MemorySink::default();
    let outcome = run_cases(
        vec![tracked("a/1", &ran)],
        &context(),
        RunFile::new(RunInfo::default()),
        &mut sink,
        &|| true,
        &mut Progress::hidden(0),
    )
    .unwrap();
    assert!(!ran.get());
    assert!(outcome.interrupted && outcome.run.cases.is_empty());
    assert_eq!(sink.saves.len(), 1);
}

#[test]
fn warnings_a_case_gives_are_saved_with_it_once() {
    let warn = |id: &str| {
        Case::new(id.to_string(), |ctx: &Context| {
            ctx.warn("too few CPUs to spin");
            Ok(CaseResult::new("w/x", "w"))
        })
    };
    let (outcome, sink) = run_mock(vec![warn("w/1"), warn("w/2")]);
    assert_eq!(sink.saves[0].warnings, ["too few CPUs to spin"]);
    assert_eq!(outcome.run.warnings, ["too few CPUs to spin"]);
}

/// A sink whose disk is full.
struct FullDisk;

impl Sink for FullDisk {
    fn save(&mut self, _: &RunFile) -> anyhow::Result<()> {
        anyhow::bail!("writing results/latest.json: No space left on device")
    }
}

#[test]
fn a_sink_that_cannot_save_ends_the_run_with_its_error() {
    let later = Rc::new(Cell::new(false));
    let err = run_cases(
        vec![ok("a/1"), tracked("a/2", &later)],
        &context(),
        RunFile::new(RunInfo::default()),
        &mut FullDisk,
        &|| false,
        &mut Progress::hidden(0),
    )
    .unwrap_err();
    assert!(err.to_string().contains("No space left"), "{err}");
    assert!(!later.get(), "no case is measured that could not be kept");
}

/// Cases in the run file and in `latest.json`, if both are there.
type OnDisk = Option<(usize, usize)>;

#[test]
fn the_file_sink_rewrites_both_files_whole_after_every_case() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    std::fs::create_dir(&runs).unwrap();
    let mut sink =
        FileSink { run_file: runs.join("run.json"), latest: Some(dir.path().join("latest.json")) };
    // What each case finds on disk when it starts: the cases before it, in both files.
    let seen: Rc<RefCell<Vec<OnDisk>>> = Rc::default();
    let (run_file, latest) = (sink.run_file.clone(), sink.latest.clone().unwrap());
    let look = move || {
        let count = |p: &Path| RunFile::load(p).ok().map(|r| r.cases.len());
        count(&run_file).zip(count(&latest))
    };
    let cases = (1..=3)
        .map(|k| {
            let (seen, look) = (seen.clone(), look.clone());
            let id = format!("a/{k}");
            let result = CaseResult::new(id.clone(), "a");
            Case::new(id, move |_| {
                seen.borrow_mut().push(look());
                if k == 2 {
                    anyhow::bail!("lost 3 records")
                }
                Ok(result)
            })
        })
        .collect();
    let outcome = run_cases(
        cases,
        &context(),
        RunFile::new(RunInfo::default()),
        &mut sink,
        &|| false,
        &mut Progress::hidden(0),
    )
    .unwrap();
    assert_eq!(*seen.borrow(), [None, Some((1, 1)), Some((2, 2))]);
    let on_disk = RunFile::load(sink.latest.as_deref().unwrap()).unwrap();
    assert_eq!(on_disk, outcome.run);
    assert_eq!(on_disk.cases[1].error.as_deref(), Some("lost 3 records"));
    assert_eq!(RunFile::load(&sink.run_file).unwrap(), on_disk);
    // Atomic writes leave no temp file beside the result.
    let names = |d: &Path| -> Vec<String> {
        let entries = std::fs::read_dir(d).unwrap();
        entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
    };
    assert_eq!(names(&runs), ["run.json"]);
    let mut top = names(dir.path());
    top.sort();
    assert_eq!(top, ["latest.json", "runs"]);
}

#[test]
fn the_filter_keeps_the_cases_whose_id_matches() {
    let opts = Options { sizes: Some(vec![64, 128]), ..Options::default() };
    let scenarios: Vec<&'static dyn Scenario> = vec![&pingpong::Pingpong];
    let all = plan(&scenarios, &opts, None).unwrap();
    let filter: CaseFilter = "pingpong/*-shm/fork/*/64".parse().unwrap();
    let some = plan(&scenarios, &opts, Some(&filter)).unwrap();
    assert!(!some.is_empty() && some.len() < all.len(), "{} of {}", some.len(), all.len());
    let expected: Vec<&str> = all
        .iter()
        .map(|c| c.id.as_str())
        .filter(|id| id.contains("-shm/fork/") && id.ends_with("/64"))
        .collect();
    assert_eq!(some.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), expected);
    let none: CaseFilter = "no-such-case".parse().unwrap();
    let err = plan(&scenarios, &opts, Some(&none)).err().expect("nothing to run is an error");
    assert!(err.to_string().contains("ipcbench list"), "{err}");
}

/// Case ids are unique in every plan: every scenario, with and without --quick, with repeated
/// filter values, under every single transport.
#[test]
fn case_ids_are_unique_in_every_plan() {
    use crate::options::{parse_processes, parse_sizes, parse_transports, parse_waits};
    use std::collections::HashSet;
    let mut variants = vec![Options::default(), Options { quick: true, ..Options::default() }];
    variants.push(Options {
        transports: Some(parse_transports("pipe,pipe,posix-shm,pipe").unwrap()),
        processes: Some(parse_processes("fork,fork,spawn").unwrap()),
        waits: Some(parse_waits("spin,block,spin,futex,block").unwrap()),
        sizes: Some(parse_sizes("64,64,1K,1024").unwrap()),
        ..Options::default()
    });
    for t in ipcbench_harness::transport::Transport::ALL {
        variants.push(Options { transports: Some(vec![t]), ..Options::default() });
    }
    for opts in &variants {
        let cases = plan(&crate::all(), opts, None).unwrap();
        let mut seen = HashSet::new();
        for c in &cases {
            assert!(seen.insert(c.id.clone()), "duplicate id {} under {opts:?}", c.id);
        }
    }
}
