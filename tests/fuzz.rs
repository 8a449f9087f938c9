//! Mutated and truncated result files fed to `compare`, `report` and `export`: thousands in
//! process (no panic, whatever the bytes), a sample through the binary (no panic; a file that
//! does not load is exit 2 with one line). A seeded mutator: a failure names its seed.

mod common;
use common::*;
use ipcbench_results::compare::{self, CompareOptions, Format};
use ipcbench_results::export::{self, ExportFormat};
use ipcbench_results::RunFile;
use std::path::Path;

const SEED: u64 = 0x1bc0_2026;
const IN_PROCESS: usize = 3000;
const THROUGH_THE_BINARY: usize = 40;

/// Numbers that break naive arithmetic, as JSON.
const EXTREMES: [&str; 9] =
    ["-1", "0", "1e308", "-1e308", "1e999", "18446744073709551615", "4294967296", "0.0", "\"x\""];

/// One mutation of `good`: truncated, a byte changed, a number replaced, a span dropped or
/// doubled.
fn mutate(rng: &mut fastrand::Rng, good: &[u8]) -> Vec<u8> {
    let mut b = good.to_vec();
    for _ in 0..rng.usize(1..4) {
        if b.is_empty() {
            break;
        }
        let at = rng.usize(..b.len());
        match rng.u8(..5) {
            0 => b.truncate(at),
            1 => b[at] = rng.u8(..),
            2 => {
                // Replace the number starting at or after `at`.
                let Some(start) = b[at..].iter().position(|c| c.is_ascii_digit()) else { continue };
                let start = at + start;
                let end = start
                    + b[start..].iter().take_while(|c| c.is_ascii_digit() || **c == b'.').count();
                let v = EXTREMES[rng.usize(..EXTREMES.len())].as_bytes();
                b.splice(start..end, v.iter().copied());
            }
            3 => {
                let end = (at + rng.usize(..64)).min(b.len());
                b.drain(at..end);
            }
            _ => {
                let end = (at + rng.usize(..64)).min(b.len());
                let span = b[at..end].to_vec();
                b.splice(at..at, span);
            }
        }
    }
    b
}

/// A real result file to mutate: a short pingpong and msync run.
fn good_run(out: &Path) -> Vec<u8> {
    let (o, _) = run_into(
        out,
        &["scenario", "pingpong", "--transport", "pipe", "--size", "64", "--iterations", "200"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::read(out.join("latest.json")).unwrap()
}

/// Everything the three commands do with a file, in process.
fn exercise(base: &RunFile, path: &Path, report_dir: Option<&Path>) {
    let Ok(new) = RunFile::load(path) else { return };
    let cmp = compare::compare(base, &new, &CompareOptions::default());
    for f in [Format::Table, Format::Markdown, Format::Json] {
        let _ = cmp.render(f);
    }
    let _ = compare::compare(&new, base, &CompareOptions::default()).render(Format::Table);
    for f in [ExportFormat::GithubActionBenchmark, ExportFormat::Bencher] {
        let _ = serde_json::to_string(&export::export(&new, f));
    }
    if let Some(dir) = report_dir {
        let opts = ipcbench_report::Options {
            inputs: vec![path.to_path_buf()],
            results_dir: dir.to_path_buf(),
            out_dir: Some(dir.join("report")),
        };
        let _ = ipcbench_report::render(&opts);
    }
}

#[test]
fn mutated_result_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let good = good_run(dir.path());
    let base = RunFile::load(&dir.path().join("latest.json")).unwrap();
    let path = dir.path().join("mutated.json");
    let mut rng = fastrand::Rng::with_seed(SEED);
    let mut loaded = 0;
    for i in 0..IN_PROCESS {
        let bytes = mutate(&mut rng, &good);
        std::fs::write(&path, &bytes).unwrap();
        loaded += usize::from(RunFile::load(&path).is_ok());
        // Rendering a report is the slow part: every 25th file.
        let report = (i % 25 == 0).then_some(dir.path());
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            exercise(&base, &path, report)
        }));
        assert!(r.is_ok(), "mutation {i} of seed {SEED:#x} panicked; file: {}", {
            let keep = dir.path().join(format!("panic-{i}.json"));
            std::fs::copy(&path, &keep).unwrap();
            String::from_utf8_lossy(&bytes).chars().take(400).collect::<String>()
        });
    }
    // Both kinds were tried: files that still load and files that do not.
    assert!(loaded > 0 && loaded < IN_PROCESS, "{loaded} of {IN_PROCESS} loaded");
}

#[test]
fn the_binary_refuses_a_broken_file_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = good_run(dir.path());
    let base = dir.path().join("latest.json");
    let path = dir.path().join("mutated.json");
    let mut rng = fastrand::Rng::with_seed(SEED ^ 1);
    for i in 0..THROUGH_THE_BINARY {
        std::fs::write(&path, mutate(&mut rng, &good)).unwrap();
        let loads = RunFile::load(&path).is_ok();
        let (b, p) = (base.to_str().unwrap(), path.to_str().unwrap());
        let report_dir = dir.path().join("r");
        for args in [
            vec!["compare", b, p],
            vec!["export", p, "--format", "bencher"],
            vec!["report", p, "--out", report_dir.to_str().unwrap()],
        ] {
            let o = output_within(bin().args(&args), QUICK_LIMIT);
            let err = stderr(&o);
            assert!(!err.contains("panicked"), "mutation {i}: {args:?}: {err}");
            if loads {
                assert!(matches!(o.status.code(), Some(0 | 1)), "mutation {i}: {args:?}: {err}");
            } else {
                assert_eq!(o.status.code(), Some(2), "mutation {i}: {args:?}: {err}");
                assert_eq!(err.trim_end().lines().count(), 1, "mutation {i}: {args:?}: {err}");
            }
        }
    }
}
