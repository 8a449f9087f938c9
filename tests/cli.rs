//! Bad input gets one line naming the problem and the valid choices, exit status 2, no panic.

mod common;
use common::*;

fn refuses(args: &[&str], needles: &[&str]) {
    let out = tempfile::tempdir().unwrap();
    let o = bin().args(args).current_dir(out.path()).output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: one line expected, got: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: {err:?} lacks {n:?}");
    }
    // Nothing was measured, so nothing was written.
    assert!(!out.path().join("results/latest.json").exists());
}

#[test]
fn unknown_scenario() {
    refuses(&["scenario", "pingpang"], &["pingpang", "pingpong", "floor", "all"]);
}

#[test]
fn unknown_transport() {
    refuses(
        &["scenario", "pingpong", "--transport", "posix-shm,carrier-pigeon"],
        &["carrier-pigeon", "file-mmap", "anon-mmap", "memfd", "tcp", "file-rw"],
    );
}

#[test]
fn unknown_wait_and_process() {
    refuses(&["scenario", "pingpong", "--wait", "nap"], &["nap", "spin", "futex", "block"]);
    refuses(&["scenario", "pingpong", "--process", "clone"], &["clone", "fork", "spawn"]);
}

#[test]
fn sizes_out_of_range() {
    refuses(&["scenario", "pingpong", "--size", "0"], &["size", "at least 1 byte"]);
    refuses(&["scenario", "pingpong", "--size", "65M"], &["size", "64M"]);
    refuses(&["scenario", "pingpong", "--size", "lots"], &["lots", "4K"]);
}

#[test]
fn anon_mmap_cannot_be_spawned() {
    refuses(
        &["scenario", "pingpong", "--transport", "anon-mmap", "--process", "spawn"],
        &["anon-mmap", "spawn", "fork"],
    );
}

#[test]
fn stream_transports_only_block() {
    refuses(&["scenario", "pingpong", "--transport", "pipe", "--wait", "spin"], &["pipe", "block"]);
}

#[test]
fn unwritable_out_dir() {
    let f = tempfile::NamedTempFile::new().unwrap();
    let path = f.path().join("sub");
    refuses(
        &["scenario", "floor", "--quick", "--out", path.to_str().unwrap()],
        &["cannot write results", "--out"],
    );
}

#[test]
fn bad_pin_and_iterations() {
    refuses(&["scenario", "floor", "--pin", "0"], &["--pin", "two CPU numbers"]);
    refuses(&["scenario", "floor", "--iterations", "0"], &["--iterations"]);
    refuses(&["scenario", "floor", "--iterations", "many"], &["many", "--iterations"]);
}

#[test]
fn missing_subcommand_argument_is_one_line_too() {
    refuses(&["scenario"], &["NAME"]);
    refuses(&["frobnicate"], &["frobnicate"]);
}

#[test]
fn foreign_or_corrupt_result_files() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = dir.path().join("foreign.json");
    std::fs::write(&foreign, r#"{"schema": "criterion/1"}"#).unwrap();
    let corrupt = dir.path().join("corrupt.json");
    std::fs::write(&corrupt, "{\"schema\": \"ipcbench/1\", ").unwrap();
    let f = foreign.to_str().unwrap();
    let c = corrupt.to_str().unwrap();
    refuses(&["compare", f, c], &["foreign.json", "not an ipcbench result file"]);
    refuses(&["export", c, "--format", "bencher"], &["corrupt.json", "not valid JSON"]);
    refuses(&["export", "/nonexistent/run.json", "--format", "bencher"], &["cannot read"]);
    refuses(&["report", f], &["foreign.json", "not an ipcbench result file"]);
    refuses(&["report", c], &["corrupt.json"]);
}

#[test]
fn list_names_every_scenario_and_case_ids() {
    let o = bin().args(["list", "--transport", "anon-mmap", "--size", "64"]).output().unwrap();
    assert!(o.status.success());
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("pingpong/anon-mmap/fork/spin/64"), "{s}");
    assert!(!s.contains("anon-mmap/spawn"), "{s}");
    assert!(s.contains("floor/cache-line"));
}
