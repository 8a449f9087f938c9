//! The `stream` and `fanout` scenarios as a user runs them: the built binary, its result file.

mod common;

use common::{output_within, QUICK_LIMIT, RUN_LIMIT};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn ipcbench(args: &[&str], out: &Path) -> (bool, String, Value) {
    let o = output_within(
        Command::new(env!("CARGO_BIN_EXE_ipcbench")).args(args).arg("--out").arg(out),
        RUN_LIMIT,
    );
    let run: Value = serde_json::from_slice(
        &std::fs::read(out.join("latest.json")).expect("a result file was written"),
    )
    .expect("the result file is JSON");
    (o.status.success(), String::from_utf8_lossy(&o.stdout).into_owned(), run)
}

fn cases<'a>(run: &'a Value, scenario: &str) -> Vec<&'a Value> {
    run["cases"].as_array().unwrap().iter().filter(|c| c["scenario"] == scenario).collect()
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[test]
fn spawned_writers_stream_intact_records_over_every_transport_and_mode() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, stdout, run) = ipcbench(
        &["scenario", "stream", "--process", "spawn", "--size", "1000", "--iterations", "2000"],
        dir.path(),
    );
    assert!(ok, "{stdout}");
    let cases = cases(&run, "stream");
    // anon-mmap cannot be spawned: 4 mapped × 4 ring waits (spin, futex, eventfd, condvar) × 2
    // modes, 5 byte streams, the 3 flow-controlled message transports (not udp, not iceoryx2).
    assert_eq!(cases.len(), 4 * 4 * 2 + 5 + 3, "{stdout}");
    for w in ["eventfd", "condvar"] {
        assert!(cases.iter().any(|c| c["wait"] == w), "{w} streams run");
    }
    for c in cases {
        let id = c["id"].as_str().unwrap();
        assert!(c["error"].is_null(), "{id}: {}", c["error"]);
        let i = &c["integrity"];
        assert_eq!(n(&i["sent"]), n(&i["received"]), "{id}");
        assert_eq!((n(&i["lost"]), n(&i["reordered"]), n(&i["corrupted"])), (0, 0, 0), "{id}");
        assert_eq!(n(&c["iterations"]), 2000, "{id}");
        assert_eq!(n(&i["sent"]), 2000 + n(&c["warmup"]), "{id}");
        let tp = &c["throughput"];
        assert_eq!(tp["trials"].as_array().unwrap().len(), 5, "{id}");
        assert!(tp["bytes_per_s"]["median"].as_f64().is_some_and(f64::is_finite), "{id}");
        assert!(c["cpu"]["ns_per_message"]["reader"].as_f64().is_some_and(f64::is_finite), "{id}");
        let mode = c["axes"]["mode"].as_str().unwrap();
        assert!(id.ends_with(&format!("/1000/{mode}")), "{id}");
        assert!(stdout.contains(id), "the summary lists {id}");
    }
}

#[test]
fn a_corrupted_record_fails_the_case() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, run) = ipcbench(
        &[
            "scenario",
            "stream",
            "--transport",
            "memfd,tcp,fifo,posix-mq,sysv-msg,unix-dgram",
            "--process",
            "fork",
            "--wait",
            "spin,block",
            "--size",
            "4K",
            "--iterations",
            "500",
            "--inject",
            // Record 30 goes out in the first pair's warm-up (a turn of the ring) on any host.
            "corrupt:30",
        ],
        dir.path(),
    );
    assert!(!ok, "a run with a failed case exits non-zero");
    let cases = cases(&run, "stream");
    // memfd in both modes, the others by copy.
    assert_eq!(cases.len(), 7);
    for c in cases {
        assert_eq!(n(&c["integrity"]["corrupted"]), 1, "{}", c["id"]);
        assert!(c["error"].as_str().unwrap().contains("integrity"), "{}", c["id"]);
    }
}

#[test]
fn stream_is_read_against_the_memcpy_floor_of_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, stdout, run) = ipcbench(
        &[
            "scenario",
            "floor",
            "stream",
            "--transport",
            "posix-shm",
            "--process",
            "fork",
            "--wait",
            "futex",
            "--size",
            "64K",
            "--quick",
        ],
        dir.path(),
    );
    assert!(ok, "{stdout}");
    let floor = cases(&run, "floor");
    let memcpy = floor.iter().find(|c| c["id"] == "floor/memcpy/65536").expect("memcpy floor");
    let floor = memcpy["figures"]["memcpy_bytes_per_s"].as_f64().expect("memcpy figure");
    assert!(floor.is_finite(), "{floor}");
    let id = "stream/posix-shm/fork/futex/65536/copy";
    let case = run["cases"].as_array().unwrap().iter().find(|c| c["id"] == id).expect("case");
    let rate = case["throughput"]["bytes_per_s"]["median"].as_f64().expect("stream rate");
    // The printed figure is this case's rate over that floor, whatever either is on this host.
    let line = stdout.lines().find(|l| l.starts_with(id)).expect("summary row");
    let printed = line.split_whitespace().last().unwrap().trim_end_matches('×');
    let exact = rate / floor;
    if let Some(below) = printed.strip_prefix('<') {
        assert!(exact < below.parse::<f64>().unwrap(), "{line}: expected {exact}");
        return;
    }
    let printed: f64 = printed.parse().expect("× memcpy figure");
    assert!((printed - exact).abs() <= 0.005 + 0.005 * exact, "{line}: expected {exact}");
}

#[test]
fn fanout_readers_each_receive_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, stdout, run) =
        ipcbench(&["scenario", "fanout", "--size", "512", "--iterations", "1000"], dir.path());
    assert!(ok, "{stdout}");
    let cases = cases(&run, "fanout");
    // posix-shm (spin, futex, eventfd, condvar) and pipe × readers 1, 2, 4.
    assert_eq!(cases.len(), 5 * 3, "{stdout}");
    for c in cases {
        let id = c["id"].as_str().unwrap();
        let readers: u64 = c["axes"]["readers"].as_str().unwrap().parse().unwrap();
        assert!(c["error"].is_null(), "{id}: {}", c["error"]);
        let i = &c["integrity"];
        assert_eq!(n(&i["received"]), readers * (1000 + n(&c["warmup"])), "{id}");
        assert_eq!(n(&i["sent"]), n(&i["received"]), "{id}");
        let per_reader = c["throughput"]["per_reader_bytes_per_s"].as_array();
        assert_eq!(per_reader.map_or(0, |v| v.len()) as u64, readers, "{id}");
    }
}

#[test]
fn fanout_over_fifos_and_message_queues_reaches_every_reader() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, stdout, run) = ipcbench(
        &[
            "scenario",
            "fanout",
            "--transport",
            "fifo,posix-mq,sysv-msg,unix-dgram",
            "--size",
            "512",
            "--iterations",
            "500",
        ],
        dir.path(),
    );
    assert!(ok, "{stdout}");
    let cases = cases(&run, "fanout");
    assert_eq!(cases.len(), 4 * 3, "{stdout}");
    for c in cases {
        let id = c["id"].as_str().unwrap();
        let readers: u64 = c["axes"]["readers"].as_str().unwrap().parse().unwrap();
        assert!(c["error"].is_null(), "{id}: {}", c["error"]);
        let i = &c["integrity"];
        assert_eq!(n(&i["received"]), readers * (500 + n(&c["warmup"])), "{id}");
        assert_eq!((n(&i["lost"]), n(&i["corrupted"])), (0, 0), "{id}");
    }
}

#[test]
fn a_flood_refuses_iceoryx2_and_udp() {
    let dir = tempfile::tempdir().unwrap();
    for args in [["--wait", "iox2-event"], ["--transport", "udp"], ["--transport", "iceoryx2"]] {
        let o = output_within(
            Command::new(env!("CARGO_BIN_EXE_ipcbench"))
                .args(["scenario", "stream"])
                .args(args)
                .arg("--out")
                .arg(dir.path()),
            QUICK_LIMIT,
        );
        // No stream case runs them: the filters match nothing.
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains("no case matches"), "{e}");
    }
}
