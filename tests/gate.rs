//! The CI gate as a user drives it: `compare`'s exit statuses for runs that measured nothing,
//! and `ab` on two copies of one binary. Only exit statuses and structure are judged, never a
//! figure.

mod common;

use common::{bin, output_within, run_into, stderr, QUICK_LIMIT, RUN_LIMIT};
use serde_json::Value;
use std::path::Path;

/// A small real run: the clock floor, quick (no spinning pair, so it runs on any host).
fn clock_run(out: &Path) -> Value {
    let (o, latest) =
        run_into(out, &["scenario", "floor", "--filter", "floor/clock", "--quick", "--no-report"]);
    assert!(o.status.success(), "{}", stderr(&o));
    latest.expect("a result file")
}

fn write(dir: &Path, name: &str, v: &Value) -> String {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string(v).unwrap()).unwrap();
    p.display().to_string()
}

fn compare(base: &str, new: &str) -> (i32, String) {
    let o = output_within(bin().args(["compare", base, new]), QUICK_LIMIT);
    (o.status.code().unwrap(), String::from_utf8_lossy(&o.stdout).to_string())
}

#[test]
fn compare_exits_3_when_the_new_run_measured_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let good = clock_run(dir.path());
    let base = write(dir.path(), "base.json", &good);
    let (code, out) = compare(&base, &base);
    assert_eq!(code, 0, "the same file compares clean: {out}");

    let mut failed = good.clone();
    failed["cases"][0]["error"] = "worker died".into();
    let mut empty = good.clone();
    empty["cases"] = Value::Array(vec![]);
    let mut interrupted = good.clone();
    interrupted["run"]["interrupted"] = "interrupted by signal".into();
    interrupted["run"]["complete"] = false.into();
    let mut incomplete = good.clone();
    incomplete["run"]["complete"] = false.into();
    for (what, run) in [
        ("failed", failed),
        ("empty", empty),
        ("interrupted", interrupted),
        ("incomplete", incomplete),
    ] {
        let new = write(dir.path(), &format!("{what}.json"), &run);
        let (code, out) = compare(&base, &new);
        assert_eq!(code, 3, "{what}: {out}");
        assert!(out.contains("new run unusable (exit 3)"), "{what}: {out}");
    }
    let help = output_within(bin().args(["compare", "--help"]), QUICK_LIMIT);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("3    the new run is unusable"), "{help}");
    assert!(help.len() < 3000, "compare --help stays short: {} characters", help.len());
    let explain = output_within(bin().args(["compare", "--explain"]), QUICK_LIMIT);
    assert!(explain.status.success());
    assert!(String::from_utf8_lossy(&explain.stdout).contains("Hodges-Lehmann"));
}

#[test]
fn ab_on_two_copies_of_one_binary_prints_paired_ratios() {
    let dir = tempfile::tempdir().unwrap();
    let exe = Path::new(env!("CARGO_BIN_EXE_ipcbench"));
    let (old, new) = (dir.path().join("old"), dir.path().join("new"));
    std::fs::copy(exe, &old).unwrap();
    std::fs::copy(exe, &new).unwrap();
    let o = output_within(
        bin().arg("ab").args([&old, &new]).args([
            "floor",
            "--filter",
            "floor/clock",
            "--quick",
            "--pairs",
            "2",
            "--format",
            "json",
        ]),
        RUN_LIMIT,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let c: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(c["paired"], 2);
    let cases = c["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 1, "{c}");
    assert_eq!(cases[0]["id"], "floor/clock");
    let f = &cases[0]["figures"][0];
    assert_eq!(f["basis"], "paired");
    assert_eq!(f["pair_ratios"].as_array().unwrap().len(), 2, "{f}");
    // Two pairs give no interval: nothing may count.
    assert!(f["ci_pct"].is_null() && f["verdict"] != "regressed", "{f}");
    assert_eq!(stderr(&o).lines().filter(|l| l.starts_with("pair ")).count(), 2, "{}", stderr(&o));

    // A binary that is not there is bad input.
    let o = output_within(
        bin().arg("ab").arg(dir.path().join("none")).arg(&new).arg("floor"),
        RUN_LIMIT,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// Multiplies every latency of a saved run by `f`: each case's pooled quantiles and each of its
/// trials' (what `compare` judges), not the counts.
fn scale_latencies(run: &mut Value, f: f64) {
    let scale = |s: &mut Value| {
        for (k, v) in s.as_object_mut().unwrap() {
            if k == "count" {
                continue;
            }
            if let Some(n) = v.as_u64() {
                *v = ((n as f64 * f).round() as u64).max(1).into();
            } else if let Some(x) = v.as_f64() {
                *v = (x * f).into();
            }
        }
    };
    for case in run["cases"].as_array_mut().unwrap() {
        for (_, s) in case["latency_ns"].as_object_mut().unwrap() {
            scale(s);
        }
        for (_, trials) in case["latency_trials_ns"].as_object_mut().unwrap() {
            trials.as_array_mut().unwrap().iter_mut().for_each(scale);
        }
    }
}

/// Whether the comparison printed first (the run's own, before any confirmation round) counts
/// a regression: its summary line, "N regressed, M improved, …", with N > 0.
fn flagged(stdout: &str) -> bool {
    let first = stdout.split("confirmation round").next().unwrap();
    first.lines().any(|l| {
        l.split_once(" regressed, ").is_some_and(|(n, _)| n.parse::<u32>().is_ok_and(|n| n > 0))
    })
}

/// How much slower than measured the baseline is saved for the run slowed by the test knob.
/// The knob makes the run about 11× slower than the host runs it (1000 % of the warm-up's own
/// p50 spun on every receive), the confirmation round as fast as the host runs it; a pipe's
/// latency waits on wake-ups, so a move counts beyond 80 % with its whole interval. Against a
/// baseline 3× slower the slowed run counts unless the host got 2× faster since the baseline
/// (then there is no round to judge, said so), and an honest round only if the host got 5.4×
/// slower; and whatever it did, the run's verdict is held to what `compare` says of the round's
/// own file against the same baseline, so that drift can make the check skip, never fail.
const SLOWER_BASELINE: f64 = 3.0;

/// `scenario --baseline` measures a regressed case again before it counts. A slow-down that has
/// passed by then (a test knob that slows the run but not its confirmation round) is not
/// confirmed: exit 0. One that is still there (a baseline made 50× faster by hand) is: exit 1.
/// Confirmation rounds are kept in DIR/confirmations/; latest.json keeps the run itself. The
/// runs are measured apart, on a host whose speed may change between them: what is judged is
/// that the run's verdict follows what its confirmation round measured — the round's own file
/// compared with the baseline by `compare` — and the round's structure, never a figure.
#[test]
fn a_regression_is_measured_again_before_it_counts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let args = [
        "scenario",
        "pingpong",
        "--transport",
        "pipe",
        "--size",
        "64",
        "--process",
        "fork",
        "--quick",
        "--no-report",
    ];
    let scenario = |extra: &[&str], envs: &[(&str, &str)]| {
        let mut cmd = bin();
        cmd.args(args).args(extra).arg("--out").arg(out).envs(envs.iter().copied());
        let o = output_within(&mut cmd, RUN_LIMIT);
        (o.status.code().unwrap(), String::from_utf8_lossy(&o.stdout).to_string(), stderr(&o))
    };
    let (code, _, err) = scenario(&["--save-baseline", "main"], &[]);
    assert_eq!(code, 0, "{err}");
    let path = out.join("baselines").join("main.json");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let save_base = |f: f64| {
        let mut base = saved.clone();
        scale_latencies(&mut base, f);
        std::fs::write(&path, serde_json::to_string(&base).unwrap()).unwrap();
    };
    let read =
        |p: &Path| -> Value { serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap() };
    let confirmations = || -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(out.join("confirmations"))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    };
    let new_rounds = |before: &[std::path::PathBuf]| -> Vec<std::path::PathBuf> {
        confirmations().into_iter().filter(|p| !before.contains(p)).collect()
    };
    // What `compare` says of a round's file against the baseline: 1 regressed, 0 not.
    let base_path = path.display().to_string();
    let judged = |round: &Path| compare(&base_path, &round.display().to_string());
    // A run whose trials ran in another state of the host's wake-ups than the baseline's
    // (pipe-wake probes more than 1.5× apart) judges nothing: its rounds decide, exit 1 only if
    // one made in the baseline's state establishes the regression.
    let other_state = |text: &str| text.contains("not judged: the runs' trials ran in different");
    let decided_by_rounds = |code: i32, stdout: &str, what: &str| {
        let confirmed = stdout.contains("confirmed: 1 case(s) the run could not judge");
        assert_eq!(code, i32::from(confirmed), "{what}: {stdout}");
        println!("SKIPPED {what}: the run was made in another state of the host\n{stdout}");
    };

    // Ten times slower in the run, as fast as ever when measured again.
    save_base(SLOWER_BASELINE);
    let knob = [("IPCBENCH_SLOWDOWN", "pipe:1000"), ("IPCBENCH_SLOWDOWN_ONCE", "1")];
    let (code, stdout, err) = scenario(&["--baseline", "main"], &knob);
    let rounds = new_rounds(&[]);
    let latest = read(&out.join("latest.json"));
    assert!(latest["run"]["confirms"].is_null() && latest["run"]["slowdown"].is_string());
    if !flagged(&stdout) {
        assert_eq!(code, 0, "{stdout}\n{err}");
        // A run too busy to judge the case measures it again (a busy comparison cannot clear
        // or count it); otherwise nothing regressed, and there is no round.
        if !stdout.contains("too few undisturbed trials to judge") && !other_state(&stdout) {
            assert!(!stdout.contains("confirmation round") && rounds.is_empty(), "{stdout}");
        }
        println!(
            "SKIPPED the passing slow-down: the run slowed tenfold did not count as regressed \
             against a baseline {SLOWER_BASELINE}× slower than measured (the host ran faster \
             than then, or was too busy for an undisturbed trial):\n{stdout}"
        );
    } else {
        assert!(stdout.contains("confirmation round 1"), "{stdout}");
        assert_eq!(rounds.len(), 1, "{stdout}");
        let round = read(&rounds[0]);
        assert_eq!(round["run"]["confirms"], latest["run"]["id"]);
        assert!(round["run"]["slowdown"].is_null(), "measured again slowed: {}", round["run"]);
        assert_eq!(round["cases"].as_array().unwrap().len(), 1);
        let (again, cmp) = judged(&rounds[0]);
        assert_eq!(
            code, again,
            "the run's verdict is its round's: compare says\n{cmp}\n{stdout}\n{err}"
        );
        if again == 0 {
            assert!(stdout.contains("not confirmed: 1 case(s)"), "{stdout}");
        } else {
            assert!(stdout.contains("confirmed: 1 case(s)"), "{stdout}");
            println!(
                "SKIPPED the passing slow-down: the host ran the confirmation round so much \
                 slower than the baseline that it regressed again against a baseline \
                 {SLOWER_BASELINE}× slower than measured (compare of the round's file agrees):\n\
                 {cmp}"
            );
        }
    }

    // A baseline 50× faster than anything this host does: the regression is there again.
    save_base(1.0 / 50.0);
    let before = confirmations();
    let (code, stdout, err) = scenario(&["--baseline", "main"], &[]);
    // Trials whose pair waited for a CPU (tests beside it on a small host) are left out: with
    // too few left there is nothing to judge, in the run or in its round.
    let busy = |text: &str, what: &str| {
        assert!(text.contains("too few undisturbed trials"), "{what}: a 50× regression: {text}");
        println!("SKIPPED {what}: the host was too busy for an undisturbed trial\n{text}");
    };
    if !flagged(&stdout) && other_state(&stdout) {
        decided_by_rounds(code, &stdout, "the lasting regression");
    } else if !flagged(&stdout) {
        assert_eq!(code, 0, "{stdout}\n{err}");
        busy(&stdout, "the lasting regression");
    } else {
        let mut rounds = new_rounds(&before);
        rounds.sort();
        assert!(!rounds.is_empty(), "{stdout}");
        // A round made in another wake-up state than the baseline's (or too busy) judges
        // nothing, and the case is measured again: the verdict is the last round's.
        for r in &rounds[..rounds.len() - 1] {
            let (_, cmp) = judged(r);
            let unjudged = other_state(&cmp) || cmp.contains("too few undisturbed trials");
            assert!(unjudged, "an earlier round must have judged nothing: {cmp}");
        }
        let (again, cmp) = judged(rounds.last().unwrap());
        assert_eq!(
            code, again,
            "the run's verdict is its round's: compare says\n{cmp}\n{stdout}\n{err}"
        );
        if again == 1 {
            assert!(
                stdout.contains("confirmed: 1 case(s) regressed in the run and were still slower"),
                "{stdout}"
            );
        } else {
            busy(&cmp, "the lasting regression's confirmation round");
        }
    }

    // --confirm 0 counts the run's own comparison.
    let before = confirmations();
    let (code, stdout, err) = scenario(&["--baseline", "main", "--confirm", "0"], &[]);
    assert!(!stdout.contains("confirmation round"), "{stdout}");
    assert!(new_rounds(&before).is_empty());
    if flagged(&stdout) {
        assert_eq!(code, 1, "{stdout}\n{err}");
    } else if other_state(&stdout) {
        assert_eq!(code, 0, "--confirm 0 counts the run alone, which judged nothing: {stdout}");
    } else {
        assert_eq!(code, 0, "{stdout}\n{err}");
        busy(&stdout, "--confirm 0");
    }
}
