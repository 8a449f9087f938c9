//! Bad input gets one line naming the problem and the valid choices, exit status 2, no panic;
//! a command line clap cannot parse gets clap's own message with its usage, also status 2.

mod common;
use common::*;

fn refuses(args: &[&str], needles: &[&str]) {
    let out = tempfile::tempdir().unwrap();
    let o = output_within(bin().args(args).current_dir(out.path()), QUICK_LIMIT);
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
    refuses(
        &["scenario", "floor", "--pin", "0"],
        &["--pin", "two CPUs this process may use", "allowed"],
    );
    refuses(&["scenario", "floor", "--iterations", "0"], &["--iterations"]);
}

/// clap's message as clap writes it: several lines, the usage, status 2, nothing measured.
fn clap_refuses(args: &[&str], needles: &[&str]) -> String {
    let out = tempfile::tempdir().unwrap();
    let o = output_within(bin().args(args).current_dir(out.path()), QUICK_LIMIT);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.lines().count() > 2, "{args:?}: clap's lines kept, got: {err}");
    assert!(err.contains("--help"), "{args:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: {err:?} lacks {n:?}");
    }
    assert!(!out.path().join("results").exists());
    err
}

#[test]
fn clap_errors_keep_their_lines_and_usage() {
    clap_refuses(&["scenario"], &["<NAME>", "Usage: ipcbench scenario"]);
    clap_refuses(&["frobnicate"], &["frobnicate", "Usage: ipcbench"]);
    clap_refuses(&["scenario", "floor", "--iterations", "many"], &["many", "--iterations"]);
    // `list` shows cases; how long they would run is not its business.
    clap_refuses(&["list", "--iterations", "5"], &["--iterations", "Usage: ipcbench list"]);
}

#[test]
fn a_bare_ipcbench_prints_the_help() {
    let err = clap_refuses(&[], &["Usage: ipcbench", "Commands:", "scenario", "Exit status:"]);
    assert!(err.lines().count() > 10, "{err}");
}

#[test]
fn help_lists_exit_statuses_and_defaults() {
    let help = |args: &[&str]| {
        let o = output_within(bin().args(args), QUICK_LIMIT);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    for args in [&["--help"][..], &["scenario", "--help"]] {
        let h = help(args);
        for status in ["Exit status:", "  1 ", "  2 ", "  130 "] {
            assert!(h.contains(status), "{args:?} lacks {status:?}: {h}");
        }
    }
    for args in [&["compare", "--help"][..], &["ab", "--help"]] {
        let h = help(args);
        for status in ["Exit status:", "  0 ", "  1 ", "  2 ", "  3 "] {
            assert!(h.contains(status), "{args:?} lacks {status:?}: {h}");
        }
    }
    let h = help(&["scenario", "--help"]);
    let line = |flag: &str| {
        let at = h.find(flag).unwrap_or_else(|| panic!("{flag} in {h}"));
        // Up to the next option, whether it has a short form or not.
        let rest = &h[at + 1..];
        let next = ["\n  -", "\n      --"].iter().filter_map(|o| rest.find(o)).min();
        let next = next.map_or(h.len(), |n| at + 1 + n);
        h[at..next].to_string()
    };
    assert!(line("--iterations <N>").contains("[default:"), "{h}");
    assert!(line("--duration <TIME>").contains("[default:"), "{h}");
    assert!(line("--filter <TEXT>").contains("glob"), "{h}");
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
fn list_takes_scenario_names_and_a_filter() {
    let list = |args: &[&str]| {
        let o = output_within(bin().arg("list").args(args), QUICK_LIMIT);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let s = list(&["pingpong", "msync", "--size", "64"]);
    let headers: Vec<&str> =
        s.lines().filter(|l| !l.starts_with(' ')).map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(headers, ["pingpong", "msync"], "{s}");

    let s = list(&["--filter", "pingpong/*/64", "--size", "64,128"]);
    let ids: Vec<&str> = s.lines().filter_map(|l| l.strip_prefix("  ")).collect();
    assert!(!ids.is_empty(), "{s}");
    assert!(ids.iter().all(|id| id.starts_with("pingpong/") && id.ends_with("/64")), "{s}");
    assert!(s.lines().filter(|l| !l.starts_with(' ')).all(|l| l.starts_with("pingpong")), "{s}");

    refuses(&["list", "pingpang"], &["pingpang", "pingpong"]);
    refuses(&["list", "--filter", "pingpong/["], &["--filter", "glob"]);
}

#[test]
fn scenario_runs_only_the_cases_its_filter_matches() {
    let out = tempfile::tempdir().unwrap();
    let (o, run) = run_into(
        out.path(),
        &["scenario", "floor", "--quick", "--filter", "floor/memcpy/*", "--no-report"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let ids: Vec<String> =
        cases(&run.unwrap()).iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
    assert!(!ids.is_empty());
    assert!(ids.iter().all(|id| id.starts_with("floor/memcpy/")), "{ids:?}");
    refuses(&["scenario", "floor", "--filter", "no-such-case"], &["no case matches"]);
}

#[test]
fn list_names_every_scenario_and_case_ids() {
    let o = output_within(
        bin().args(["list", "--transport", "anon-mmap", "--size", "64"]),
        QUICK_LIMIT,
    );
    assert!(o.status.success());
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("pingpong/anon-mmap/fork/spin/64"), "{s}");
    assert!(!s.contains("anon-mmap/spawn"), "{s}");
    assert!(s.contains("floor/cache-line"));
}
