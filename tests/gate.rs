//! The CI gate as a user drives it: `compare`'s exit statuses for runs that measured nothing,
//! and `ab` on two copies of one binary. Only exit statuses and structure are judged, never a
//! figure.

mod common;

use common::{bin, run_into, stderr};
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
    let o = bin().args(["compare", base, new]).output().unwrap();
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
    let help = bin().args(["compare", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("3    the new run is unusable"), "{help}");
    assert!(help.len() < 3000, "compare --help stays short: {} characters", help.len());
    let explain = bin().args(["compare", "--explain"]).output().unwrap();
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
    let o = bin()
        .arg("ab")
        .args([&old, &new])
        .args(["floor", "--filter", "floor/clock", "--quick", "--pairs", "2", "--format", "json"])
        .output()
        .unwrap();
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
    let o = bin().arg("ab").arg(dir.path().join("none")).arg(&new).arg("floor").output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
