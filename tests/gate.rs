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

/// `scenario --baseline` measures a regressed case again before it counts. A slow-down that has
/// passed by then (a test knob that slows the run but not its confirmation round) is not
/// confirmed: exit 0. One that is still there (a baseline made 50× faster by hand) is: exit 1.
/// Confirmation rounds are kept in DIR/confirmations/; latest.json keeps the run itself.
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
    let confirmations = || -> Vec<Value> {
        std::fs::read_dir(out.join("confirmations"))
            .map(|d| d.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap()))
            .into_iter()
            .flatten()
            .map(|s| serde_json::from_str(&s).unwrap())
            .collect()
    };

    // Ten times slower in the run, as fast as ever when measured again.
    let knob = [("IPCBENCH_SLOWDOWN", "pipe:1000"), ("IPCBENCH_SLOWDOWN_ONCE", "1")];
    let (code, stdout, err) = scenario(&["--baseline", "main"], &knob);
    let first = stdout.split("confirmation round").next().unwrap();
    // The comparison's summary line: "N regressed, M improved, …".
    let flagged = first.lines().any(|l| {
        l.split_once(" regressed, ").is_some_and(|(n, _)| n.parse::<u32>().is_ok_and(|n| n > 0))
    });
    assert_eq!(code, 0, "a slow-down that passed is not a regression: {stdout}\n{err}");
    assert_eq!(stdout.contains("confirmation round 1"), flagged, "{stdout}");
    if flagged {
        assert!(stdout.contains("not confirmed: 1 case(s)"), "{stdout}");
        let rounds = confirmations();
        assert_eq!(rounds.len(), 1);
        let latest: Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("latest.json")).unwrap())
                .unwrap();
        assert_eq!(rounds[0]["run"]["confirms"], latest["run"]["id"]);
        assert!(latest["run"]["confirms"].is_null() && latest["run"]["slowdown"].is_string());
        assert_eq!(rounds[0]["cases"].as_array().unwrap().len(), 1);
    }

    // A baseline 50× faster than anything this host does: the regression is there again.
    let path = out.join("baselines").join("main.json");
    let mut base: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for case in base["cases"].as_array_mut().unwrap() {
        for (_, s) in case["latency_ns"].as_object_mut().unwrap() {
            s["p50"] = (s["p50"].as_u64().unwrap() / 50).max(1).into();
        }
        for (_, trials) in case["latency_trials_ns"].as_object_mut().unwrap() {
            for s in trials.as_array_mut().unwrap() {
                s["p50"] = (s["p50"].as_u64().unwrap() / 50).max(1).into();
            }
        }
    }
    std::fs::write(&path, serde_json::to_string(&base).unwrap()).unwrap();
    let before = confirmations().len();
    let (code, stdout, err) = scenario(&["--baseline", "main"], &[]);
    if stdout.contains("too few undisturbed trials") {
        // Every trial of the run waited for a CPU (tests beside it on a small host): compare
        // leaves such trials out, so there is nothing to judge, and nothing to confirm.
        eprintln!("skipped: the host was too busy for an undisturbed trial\n{stdout}");
        return;
    }
    assert_eq!(code, 1, "{stdout}\n{err}");
    assert!(stdout.contains("confirmed: 1 case(s) regressed in the run and again"), "{stdout}");
    assert_eq!(confirmations().len(), before + 1);
    // --confirm 0 counts the run's own comparison.
    let (code, stdout, _) = scenario(&["--baseline", "main", "--confirm", "0"], &[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(!stdout.contains("confirmation round"), "{stdout}");
}
