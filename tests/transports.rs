//! Every transport × process moves records each way across a real process boundary, intact.

mod common;
use common::*;

#[test]
fn every_transport_and_process_moves_records_intact() {
    let out = tempfile::tempdir().unwrap();
    // 5000 B: not a multiple of a cache line or a page.
    let (o, run) = run_into(
        out.path(),
        &["scenario", "pingpong", "--size", "64,5000", "--iterations", "300", "--no-report"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let run = run.unwrap();
    let cases = cases(&run);
    // 5 mapped transports: anon-mmap fork only, the rest fork and spawn, each spin and futex;
    // 4 stream transports, fork and spawn, block: 26 combinations × 2 sizes.
    assert_eq!(cases.len(), 52);
    for c in &cases {
        let id = c["id"].as_str().unwrap();
        assert!(c.get("error").is_none(), "{id}: {}", c["error"]);
        let i = &c["integrity"];
        // 300 measured round trips plus warm-up, both directions.
        assert!(i["sent"].as_u64().unwrap() >= 600, "{id}: {i}");
        assert_eq!(i["sent"], i["received"], "{id}");
        for k in ["lost", "reordered", "corrupted"] {
            assert_eq!(i[k], 0, "{id}: {k}");
        }
        assert_eq!(c["iterations"], 300, "{id}");
        let ow = &c["latency_ns"]["one_way"];
        assert_eq!(ow["count"], 600, "{id}: both directions recorded");
        assert!(ow["p50"].as_u64().is_some(), "{ow}");
        assert!(c["histograms"]["one_way"].as_str().unwrap().len() > 10);
        assert!(c["cpu"]["ns_per_message"]["responder"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn injected_faults_are_counted_and_fail_the_case() {
    for (fault, field) in [("corrupt:7", "corrupted"), ("drop:7", "lost")] {
        let out = tempfile::tempdir().unwrap();
        let (o, run) = run_into(
            out.path(),
            &[
                "scenario",
                "pingpong",
                "--transport",
                "posix-shm,pipe",
                "--process",
                "fork",
                "--size",
                "64",
                "--iterations",
                "50",
                "--inject",
                fault,
                "--no-report",
            ],
        );
        assert_eq!(o.status.code(), Some(1), "{fault}: {}", stderr(&o));
        let cases = cases(&run.unwrap());
        assert_eq!(cases.len(), 3);
        for c in cases {
            assert_eq!(c["integrity"][field], 1, "{fault} {}", c["id"]);
            assert!(c["error"].as_str().unwrap().contains("integrity"), "{}", c["error"]);
        }
    }
}
