//! The `load` scenario as a user runs it: the built binary, its result file, what it leaves.

mod common;

use common::{assert_nothing_left, cases};
use serde_json::Value;

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// A mapped and a byte-stream transport, forked, at a fraction of their measured saturation and
/// at an absolute rate: every record crosses the process boundary intact, each rate point is
/// stored with its corrected and uncorrected histograms, and the knee and the saturation are
/// figures of the case. Counts and names only: no figure is compared with anything.
#[test]
fn load_sweeps_rates_over_a_mapped_and_a_stream_transport_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "scenario",
        "load",
        "--transport",
        "posix-shm,pipe",
        "--process",
        "fork",
        "--wait",
        "spin,block",
        "--rate",
        "10%,2000",
        "--iterations",
        "600",
    ];
    let mut cmd = common::bin();
    cmd.args(args)
        .arg("--out")
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("ipcbench runs");
    let pid = child.id();
    let o = common::wait_within(child, &format!("{cmd:?}"), common::RUN_LIMIT);
    let run: Option<Value> = std::fs::read_to_string(dir.path().join("latest.json"))
        .ok()
        .map(|s| serde_json::from_str(&s).expect("latest.json is JSON"));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{out}\n{}", common::stderr(&o));
    let run = run.expect("a result file");
    let cases = cases(&run);
    let ids: Vec<&str> = cases.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["load/posix-shm/fork/spin/64", "load/pipe/fork/block/64"], "{out}");
    for c in &cases {
        let id = c["id"].as_str().unwrap();
        assert!(c["error"].is_null(), "{id}: {}", c["error"]);
        let i = &c["integrity"];
        assert_eq!(n(&i["sent"]), n(&i["received"]), "{id}");
        assert_eq!((n(&i["lost"]), n(&i["reordered"]), n(&i["corrupted"])), (0, 0, 0), "{id}");
        // Two rate points; --iterations is split over each point's trials.
        assert_eq!(n(&c["iterations"]) % 2, 0, "{id}");
        for label in ["10%", "2000/s"] {
            for kind in ["corrected", "uncorrected"] {
                let key = format!("{kind}@{label}");
                assert!(c["histograms"][&key].is_string(), "{id}: no histogram {key}");
                assert!(c["latency_ns"][&key]["count"].as_u64().is_some(), "{id}: {key}");
            }
            let offered = format!("offered_records_per_s@{label}");
            assert!(c["figures"][&offered].is_number(), "{id}: {offered}");
        }
        assert_eq!(c["figures"]["offered_records_per_s@2000/s"].as_f64(), Some(2000.0), "{id}");
        for key in ["saturation_records_per_s", "knee_records_per_s"] {
            assert!(c["figures"][key].as_f64().is_some_and(f64::is_finite), "{id}: {key}");
        }
        assert!(out.contains(id), "the summary lists {id}");
    }
    assert_nothing_left(pid);
}
