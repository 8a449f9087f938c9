//! Every transport × process moves records each way across a real process boundary, intact.

mod common;
use common::*;

#[test]
fn every_transport_and_process_moves_records_intact() {
    let out = tempfile::tempdir().unwrap();
    // 5000 B: not a multiple of a cache line or a page. The whole matrix, 116 cases: about 7
    // minutes on a loaded 2-CPU host, so a limit (against a hang) of twice the usual.
    let (o, run) = run_into_within(
        out.path(),
        &["scenario", "pingpong", "--size", "64,5000", "--iterations", "300", "--no-report"],
        2 * RUN_LIMIT,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let run = run.unwrap();
    let cases = cases(&run);
    // 5 mapped transports: anon-mmap fork only, the rest fork and spawn, each spin, futex,
    // eventfd and condvar; 4 message and 5 stream transports, fork and spawn, block; iceoryx2
    // fork and spawn, spin and iox2-event: 58 combinations × 2 sizes.
    assert_eq!(cases.len(), 116);
    for w in ["eventfd", "condvar", "iox2-event"] {
        assert!(cases.iter().any(|c| c["wait"] == w), "{w} cases run");
    }
    for t in ["fifo", "posix-mq", "sysv-msg", "udp", "unix-dgram"] {
        let n = cases.iter().filter(|c| c["transport"] == t).count();
        assert_eq!(n, 4, "{t}: fork and spawn × 2 sizes");
    }
    assert_eq!(cases.iter().filter(|c| c["transport"] == "iceoryx2").count(), 8);
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
        // Measured, not judged: a count of CPU time, which a coarse clock may show as 0.
        let cpu = c["cpu"]["ns_per_message"]["responder"].as_f64();
        assert!(cpu.is_some_and(|n| n.is_finite() && n >= 0.0), "{id}: responder CPU {cpu:?}");
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
                "posix-shm,pipe,fifo,posix-mq,sysv-msg,udp,unix-dgram,iceoryx2",
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
        // posix-shm by each of its 4 waits, 6 transports that block, iceoryx2 by its 2 waits.
        assert_eq!(cases.len(), 12);
        for c in cases {
            assert_eq!(c["integrity"][field], 1, "{fault} {}", c["id"]);
            assert!(c["error"].as_str().unwrap().contains("integrity"), "{}", c["error"]);
        }
    }
}

#[test]
fn sizes_beyond_the_hosts_message_limits_are_skipped_with_the_reason() {
    let out = tempfile::tempdir().unwrap();
    // 1 MiB exceeds every limit: POSIX and System V message sizes (8 KiB by default), UDP's
    // 64 KiB, a UNIX datagram's send buffer.
    let (o, run) = run_into(
        out.path(),
        &[
            "scenario",
            "pingpong",
            "stream",
            "--transport",
            "posix-mq,sysv-msg,udp,unix-dgram",
            "--process",
            "fork",
            "--size",
            "1M",
            "--iterations",
            "50",
            "--no-report",
        ],
    );
    assert!(o.status.success(), "a skipped case is not a failure: {}", stderr(&o));
    let cases = cases(&run.unwrap());
    // Ping-pong over all four; stream over the flow-controlled three (not udp).
    assert_eq!(cases.len(), 4 + 3);
    for c in &cases {
        let id = c["id"].as_str().unwrap();
        assert!(c.get("error").is_none(), "{id}: {}", c["error"]);
        let why = c["skipped"].as_str().unwrap_or_else(|| panic!("{id} was not skipped"));
        assert!(why.contains("exceeds"), "{id}: {why}");
        let limit = match c["transport"].as_str().unwrap() {
            "posix-mq" => "/proc/sys/fs/mqueue/msgsize_max",
            "sysv-msg" => "/proc/sys/kernel/msgmax",
            "udp" => "65507",
            _ => "/proc/sys/net/core/wmem_default",
        };
        assert!(why.contains(limit), "{id}: {why}");
    }
}

#[test]
fn message_transports_record_their_message_size_and_the_hosts_limits() {
    let out = tempfile::tempdir().unwrap();
    let (o, run) = run_into(
        out.path(),
        &[
            "scenario",
            "pingpong",
            "--transport",
            "posix-mq,sysv-msg",
            "--process",
            "fork",
            "--size",
            "64",
            "--iterations",
            "50",
            "--no-report",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    for c in cases(&run.unwrap()) {
        let notes = c["notes"].to_string();
        assert!(notes.contains("message size") && notes.contains("host limits"), "{notes}");
    }
}
