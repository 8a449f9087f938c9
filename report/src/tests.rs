//! Rendering whole reports from synthetic result files, as `ipcbench report` would.

use crate::fixtures::{self, Fixture};
use crate::{render, Options, ReportError};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const MAPPED_TRANSPORTS: [&str; 5] = ["file-mmap", "anon-mmap", "posix-shm", "sysv-shm", "memfd"];

fn opts_for(results: &Path) -> Options {
    Options { inputs: Vec::new(), results_dir: results.to_path_buf(), out_dir: None }
}

/// Every `<text>` of an SVG, after checking that it parses as XML.
fn svg_texts(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("{} is not well-formed XML: {e}", path.display()));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").trim().to_string())
        .collect()
}

/// The `src` and `href` targets of the page, which must all be files beside it (or anchors).
fn links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(i) = rest.find(attr) {
            rest = &rest[i + attr.len()..];
            let end = rest.find('"').unwrap();
            out.push(rest[..end].to_string());
        }
    }
    out
}

fn svgs_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".svg"))
        .collect()
}

fn check_links(index: &Path) -> String {
    let html = std::fs::read_to_string(index).unwrap();
    let dir = index.parent().unwrap();
    for link in links(&html) {
        if let Some(anchor) = link.strip_prefix('#') {
            assert!(html.contains(&format!("id=\"{anchor}\"")), "dangling anchor #{anchor}");
            continue;
        }
        assert!(!link.contains("://"), "the page reaches for the network: {link}");
        assert!(dir.join(&link).is_file(), "{link} is linked but does not exist");
    }
    html
}

fn rendered_small(count: u64, hosts: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    fixtures::results_dir(tmp.path(), &Fixture::small(), count, hosts);
    let index = render(&opts_for(tmp.path())).unwrap();
    (tmp, index)
}

#[test]
fn a_full_run_gets_every_chart_and_every_link_resolves() {
    let (tmp, index) = rendered_small(3, &["bench-a"]);
    assert_eq!(index, tmp.path().join("report").join("index.html"));
    let html = check_links(&index);
    let dir = index.parent().unwrap();
    let expected: BTreeSet<String> = [
        "latency-mapped.svg",
        "latency-streams.svg",
        "percentiles-spin.svg",
        "percentiles-futex.svg",
        "percentiles-block.svg",
        "cpu-mapped.svg",
        "cpu-streams.svg",
        "throughput-mapped.svg",
        "throughput-streams.svg",
        "fanout.svg",
        "flush.svg",
        "mapping.svg",
        "trend-latency.svg",
        "trend-throughput.svg",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(svgs_in(dir), expected);
    for svg in &expected {
        let anchor = format!("id=\"chart-{}\"", svg.trim_end_matches(".svg"));
        assert!(html.contains(&anchor), "{svg} is not inline on the page");
        let texts = svg_texts(&dir.join(svg));
        assert!(texts.len() > 5, "{svg} has almost no text");
    }
}

#[test]
fn each_chart_holds_the_series_its_data_calls_for() {
    let (_tmp, index) = rendered_small(2, &["bench-a"]);
    let dir = index.parent().unwrap();

    // One chart per wait, one line per transport and process at 64 B; every transport of the
    // fixture is named in the chart of its wait.
    for (file, transports) in [
        ("percentiles-spin.svg", &MAPPED_TRANSPORTS[..]),
        ("percentiles-futex.svg", &MAPPED_TRANSPORTS[..]),
        ("percentiles-block.svg", &["pipe", "unix-socket", "tcp", "file-rw"][..]),
    ] {
        let pct = svg_texts(&dir.join(file));
        for t in transports {
            assert!(pct.iter().any(|s| s.starts_with(t)), "{file} lacks {t}: {pct:?}");
        }
        for tick in ["50 %", "90 %", "99 %", "99.9 %", "99.99 %"] {
            assert!(pct.iter().any(|s| s == tick), "percentile tick {tick} missing: {pct:?}");
        }
        assert!(!pct.iter().any(|s| s.contains("(summary)")), "histograms were stored: {pct:?}");
        // The spinning floor only where it is of the same kind.
        let floor = pct.iter().any(|s| s.starts_with("floor: cache-line handoff"));
        assert_eq!(floor, file == "percentiles-spin.svg", "{file}: {pct:?}");
    }

    // Interval marks at every size: one legend entry per record size, one row per case.
    let lat = svg_texts(&dir.join("latency-mapped.svg"));
    for label in ["64 B", "4 KiB", "p50, line to p99", "p50 range over the trials"] {
        assert!(lat.iter().any(|s| s == label), "latency lacks {label}: {lat:?}");
    }
    assert!(lat.iter().any(|s| s == "posix-shm fork spin"), "{lat:?}");
    assert!(lat.iter().any(|s| s.starts_with("floor: cache-line handoff")));
    assert!(!lat.iter().any(|s| s.starts_with("pipe")), "{lat:?}");
    let lat = svg_texts(&dir.join("latency-streams.svg"));
    // Every row waits by blocking: the wait is left out of the labels.
    assert!(lat.iter().any(|s| s == "file-rw fork durable"), "{lat:?}");
    assert!(lat.iter().any(|s| s == "pipe spawn"), "{lat:?}");

    let cpu = svg_texts(&dir.join("cpu-mapped.svg"));
    for label in [
        "64 B",
        "4 KiB",
        "p50 one-way latency",
        "CPU per message, initiator",
        "CPU per message, responder",
    ] {
        assert!(cpu.iter().any(|s| s == label), "cpu lacks {label}: {cpu:?}");
    }

    // Fan-out: an aggregate and a per-reader line per case, ticks at the reader counts.
    let fanout = svg_texts(&dir.join("fanout.svg"));
    for label in ["posix-shm spin aggregate", "posix-shm futex per reader", "pipe block aggregate"]
    {
        assert!(fanout.iter().any(|s| s == label), "fanout lacks {label}: {fanout:?}");
    }
    for tick in ["1", "2", "4"] {
        assert!(fanout.iter().any(|s| s == tick), "fanout lacks the tick {tick}: {fanout:?}");
    }

    // Mapping: a line per way that makes memory usable, ticks at the measured sizes; the bare
    // mmap (nothing touched) and the skipped hugetlb are not drawn.
    let mapping = svg_texts(&dir.join("mapping.svg"));
    for label in
        ["touch", "populate", "thp", "shm-open", "memfd", "shmget", "4 KiB", "1 MiB", "16 MiB"]
    {
        assert!(mapping.iter().any(|s| s == label), "mapping lacks {label}: {mapping:?}");
    }
    assert!(!mapping.iter().any(|s| s == "mmap" || s == "hugetlb"), "{mapping:?}");

    // Mapped transports and read/write baselines apart; too many processes and waits for one
    // chart: one line per transport (and mode); ticks at the measured sizes.
    let mapped = svg_texts(&dir.join("throughput-mapped.svg"));
    let streams = svg_texts(&dir.join("throughput-streams.svg"));
    for tp in [&mapped, &streams] {
        assert!(tp.iter().any(|s| s == "memcpy bandwidth (floor)"), "{tp:?}");
        assert!(!tp.iter().any(|s| s.contains("futex") || s.contains("spawn")), "{tp:?}");
        assert!(tp.iter().any(|s| s == "64 B") && tp.iter().any(|s| s == "1 MiB"), "{tp:?}");
    }
    assert!(mapped.iter().any(|s| s.starts_with("posix-shm")), "{mapped:?}");
    assert!(!mapped.iter().any(|s| s.starts_with("pipe")), "{mapped:?}");
    assert!(streams.iter().any(|s| s.starts_with("pipe")), "{streams:?}");

    let flush = svg_texts(&dir.join("flush.svg"));
    for method in ["msync-sync", "msync-async", "pwrite-fdatasync", "pwrite-fsync"] {
        assert!(flush.iter().any(|s| s == &format!("{method} disk (ext4)")), "{flush:?}");
        assert!(flush.iter().any(|s| s == &format!("{method} tmpfs")), "{flush:?}");
    }

    let trend = svg_texts(&dir.join("trend-latency.svg"));
    assert!(trend.iter().any(|s| s == "floor: cache-line handoff"), "{trend:?}");
    // Both runs are labelled with their short commit.
    let commits: Vec<&String> =
        trend.iter().filter(|s| s.len() == 7 && s.chars().all(|c| c.is_ascii_hexdigit())).collect();
    assert_eq!(commits.len(), 2, "{trend:?}");
}

#[test]
fn series_counts_follow_the_data() {
    // Only two spinning pingpong transports: exactly two lines, labelled by what differs.
    let tmp = tempfile::tempdir().unwrap();
    let mut run = Fixture::small().only(&["floor", "pingpong"]).build();
    run.cases.retain(|c| {
        c.scenario != "pingpong"
            || (matches!(c.transport.as_deref(), Some("posix-shm") | Some("sysv-shm"))
                && c.process.as_deref() == Some("fork")
                && c.wait.as_deref() == Some("spin"))
    });
    let path = fixtures::write(tmp.path(), "run.json", &run);
    let out = tmp.path().join("out");
    render(&Options {
        inputs: vec![path],
        results_dir: tmp.path().into(),
        out_dir: Some(out.clone()),
    })
    .unwrap();
    assert_eq!(
        svgs_in(&out),
        ["cpu-mapped.svg", "latency-mapped.svg", "percentiles-spin.svg"]
            .into_iter()
            .map(String::from)
            .collect(),
        "no chart for the families and waits without cases"
    );
    let pct = svg_texts(&out.join("percentiles-spin.svg"));
    let legend: Vec<&String> =
        pct.iter().filter(|s| *s == "posix-shm" || *s == "sysv-shm").collect();
    assert_eq!(legend.len(), 2, "{pct:?}");
    let text = std::fs::read_to_string(out.join("percentiles-spin.svg")).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    // Solid lines are one <polyline> each, in their transport's colour; the legend sample adds
    // one more.
    for family in ["posix-shm", "sysv-shm"].map(|t| crate::charts::transport_family(Some(t))) {
        let c = crate::charts::plot::Look::color(family);
        let hex = format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2);
        let lines = doc
            .descendants()
            .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(hex.as_str()))
            .count();
        assert_eq!(lines, 2, "one line and one legend sample in {hex}");
    }
    // Two rows in the latency chart, labelled by the transport alone.
    let lat = svg_texts(&out.join("latency-mapped.svg"));
    assert!(lat.iter().any(|s| s == "posix-shm") && lat.iter().any(|s| s == "sysv-shm"), "{lat:?}");
}

#[test]
fn missing_scenarios_leave_their_charts_out() {
    let tmp = tempfile::tempdir().unwrap();
    let run = Fixture::small().only(&["floor", "msync"]).build();
    fixtures::write(tmp.path(), "latest.json", &run);
    let index = render(&opts_for(tmp.path())).unwrap();
    let html = check_links(&index);
    assert_eq!(svgs_in(index.parent().unwrap()), BTreeSet::from(["flush.svg".to_string()]));
    assert!(!html.contains("chart-percentiles") && !html.contains("chart-throughput"));
    assert!(html.contains("msync/msync-sync/disk/1"));
}

#[test]
fn a_run_without_any_charted_scenario_still_gets_a_page() {
    let tmp = tempfile::tempdir().unwrap();
    let run = Fixture::small().only(&["floor", "seed"]).build();
    let path = fixtures::write(tmp.path(), "r.json", &run);
    let index =
        render(&Options { inputs: vec![path], results_dir: tmp.path().into(), out_dir: None })
            .unwrap();
    let html = check_links(&index);
    assert!(svgs_in(index.parent().unwrap()).is_empty());
    assert!(!html.contains("<svg"));
    assert!(html.contains("id=\"claims\""));
}

#[test]
fn a_new_report_removes_charts_the_old_one_had() {
    let (tmp, index) = rendered_small(1, &["bench-a"]);
    assert!(index.parent().unwrap().join("throughput-mapped.svg").exists());
    let run = Fixture::small().only(&["floor", "msync"]).build();
    fixtures::write(tmp.path(), "latest.json", &run);
    let index = render(&opts_for(tmp.path())).unwrap();
    assert_eq!(svgs_in(index.parent().unwrap()), BTreeSet::from(["flush.svg".to_string()]));
}

#[test]
fn missing_histograms_fall_back_to_summaries() {
    let tmp = tempfile::tempdir().unwrap();
    let mut run = Fixture::small().only(&["pingpong"]).build();
    for c in &mut run.cases {
        if c.transport.as_deref() == Some("tcp") {
            c.histograms.clear();
        }
        if c.transport.as_deref() == Some("pipe") {
            c.histograms.insert("one_way".into(), "not a histogram".into());
        }
    }
    let path = fixtures::write(tmp.path(), "r.json", &run);
    let index =
        render(&Options { inputs: vec![path], results_dir: tmp.path().into(), out_dir: None })
            .unwrap();
    let dir = index.parent().unwrap();
    let pct = svg_texts(&dir.join("percentiles-block.svg"));
    assert!(pct.iter().any(|s| s.starts_with("tcp") && s.ends_with("(summary)")), "{pct:?}");
    assert!(pct.iter().any(|s| s.starts_with("pipe") && s.ends_with("(summary)")), "{pct:?}");
    let pct = svg_texts(&dir.join("percentiles-spin.svg"));
    assert!(pct.iter().any(|s| s.starts_with("posix-shm") && !s.ends_with("(summary)")));
}

#[test]
fn the_page_shows_failures_warnings_claims_and_escapes_them() {
    let (_tmp, index) = rendered_small(1, &["bench-a"]);
    let html = std::fs::read_to_string(&index).unwrap();
    assert!(html.contains("<section class=\"alert\" id=\"failures\">"));
    assert!(html.contains("1 failed case<"));
    assert!(html.contains("kernel.shmmni is 32 &lt;here&gt;"));
    assert!(!html.contains("<here>"));
    assert!(html.contains("the call &lt;alone&gt;"), "warnings are shown, escaped");
    assert!(html.contains("after &lt; 1 µs &amp; without"), "claims are shown, escaped");
    assert!(html.contains("<td class=\"bad\">no</td>"));
    assert!(html.contains("skipped: no huge pages reserved"));
    for env in ["bench-a", "6.1.0-25-amd64", "AMD EPYC 7B13", "kvm-clock", "/dev/shm", "CPUs 0, 1"]
    {
        assert!(html.contains(env), "environment lacks {env}");
    }
    // The failure list comes before the charts: it is the first thing to read.
    assert!(html.find("id=\"failures\"").unwrap() < html.find("id=\"findings\"").unwrap());
    // Floor-relative latency is given for pingpong cases.
    assert!(html.contains("×</td>"));
}

#[test]
fn the_case_table_is_in_reading_order() {
    let (_tmp, index) = rendered_small(1, &["bench-a"]);
    let page = std::fs::read_to_string(&index).unwrap();
    let html = &page[page.find("id=\"cases\"").unwrap()..];
    let pos = |id: &str| {
        html.find(&format!("<code>{id}</code></td>")).unwrap_or_else(|| panic!("{id} not in table"))
    };
    assert!(pos("floor/cache-line") < pos("pingpong/file-mmap/fork/spin/64"));
    assert!(pos("pingpong/file-mmap/fork/spin/64") < pos("pingpong/file-mmap/fork/spin/4096"));
    assert!(pos("pingpong/posix-shm/fork/spin/4096") < pos("pingpong/pipe/fork/block/64"));
    assert!(
        pos("stream/posix-shm/fork/spin/4096/copy") < pos("stream/posix-shm/fork/spin/65536/copy")
    );
    assert!(pos("stream/tcp/fork/block/1048576/copy") < pos("msync/msync-sync/disk/1"));
    assert!(pos("msync/msync-sync/disk/16") < pos("msync/msync-sync/disk/256"));
}

#[test]
fn foreign_corrupt_and_missing_files_are_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = |path: PathBuf| {
        let err = render(&Options {
            inputs: vec![path.clone()],
            results_dir: tmp.path().into(),
            out_dir: None,
        })
        .unwrap_err();
        assert!(matches!(err, ReportError::BadInput(_)), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(!msg.contains('\n'), "one line: {msg}");
        msg
    };
    let foreign = tmp.path().join("foreign.json");
    std::fs::write(&foreign, r#"{"schema": "criterion/1", "benchmarks": []}"#).unwrap();
    assert!(bad(foreign).contains("not an ipcbench result file"));
    let corrupt = tmp.path().join("corrupt.json");
    std::fs::write(&corrupt, "{\"schema\": \"ipcbench/1\", \"run\": {").unwrap();
    bad(corrupt);
    let damaged = tmp.path().join("damaged.json");
    std::fs::write(&damaged, r#"{"schema": "ipcbench/1", "run": 3}"#).unwrap();
    assert!(bad(damaged).contains("damaged"));
    bad(tmp.path().join("missing.json"));
    let empty = fixtures::write(tmp.path(), "empty.json", &Fixture::small().only(&[]).build());
    assert!(bad(empty).contains("no cases"));

    // No inputs and no latest.json: nothing to report.
    let err = render(&opts_for(&tmp.path().join("nothing"))).unwrap_err();
    assert!(matches!(err, ReportError::BadInput(ref m) if m.contains("latest.json")), "{err}");

    // A damaged run in runs/ is named, not skipped silently.
    let dir = tmp.path().join("results");
    fixtures::results_dir(&dir, &Fixture::small().only(&["floor"]), 2, &["h"]);
    std::fs::write(dir.join("runs").join("zz-broken.json"), "garbage").unwrap();
    let err = render(&opts_for(&dir)).unwrap_err();
    assert!(err.to_string().contains("zz-broken.json"), "{err}");
}

#[test]
fn an_unwritable_report_directory_is_an_io_error() {
    let tmp = tempfile::tempdir().unwrap();
    let run = Fixture::small().only(&["floor"]).build();
    let path = fixtures::write(tmp.path(), "r.json", &run);
    // A file where the directory should be.
    let blocker = tmp.path().join("report");
    std::fs::write(&blocker, "").unwrap();
    let err = render(&Options {
        inputs: vec![path],
        results_dir: tmp.path().into(),
        out_dir: Some(blocker.join("x")),
    })
    .unwrap_err();
    assert!(matches!(err, ReportError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("report"), "{err}");
}

#[test]
fn named_inputs_make_the_last_the_main_run_and_all_the_trend() {
    let tmp = tempfile::tempdir().unwrap();
    let a = fixtures::write(tmp.path(), "a.json", &Fixture::small().nth(0).build());
    let b = fixtures::write(tmp.path(), "b.json", &Fixture::small().nth(5).build());
    let index = render(&Options {
        inputs: vec![b, a.clone()],
        results_dir: tmp.path().into(),
        out_dir: None,
    })
    .unwrap();
    let html = std::fs::read_to_string(&index).unwrap();
    let main = Fixture::small().nth(0).build();
    assert!(html.contains(&main.run.id), "the last input is the main run");
    assert!(html.contains("(2 runs in the trend)"));
    assert!(index.parent().unwrap().join("trend-latency.svg").exists());
    // One run alone has no trend.
    let index = render(&Options {
        inputs: vec![a],
        results_dir: tmp.path().into(),
        out_dir: Some(tmp.path().join("one")),
    })
    .unwrap();
    assert!(!index.parent().unwrap().join("trend-latency.svg").exists());
}

#[test]
fn quick_and_full_runs_have_trends_apart_by_run_number() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = Fixture::small().only(&["floor", "pingpong", "stream"]);
    fixtures::results_dir(tmp.path(), &fixture, 3, &["bench-a"]);
    fixtures::add_quick_runs(tmp.path(), &fixture, 3, 2);
    let index = render(&opts_for(tmp.path())).unwrap();
    let dir = index.parent().unwrap();
    let commits = |texts: &[String]| -> Vec<String> {
        texts
            .iter()
            .filter(|s| s.len() == 7 && s.chars().all(|c| c.is_ascii_hexdigit()))
            .cloned()
            .collect()
    };
    let commit_of =
        |i: u64| fixture.clone().nth(i).build().run.git_commit.unwrap()[..7].to_string();
    for (file, runs) in [("trend-latency.svg", 0..3), ("trend-latency-quick.svg", 3..5)] {
        let texts = svg_texts(&dir.join(file));
        assert_eq!(commits(&texts), runs.clone().map(commit_of).collect::<Vec<_>>(), "{file}");
        // x is the run number within its kind: 1..=n, evenly spaced whatever the start times.
        let n = runs.count();
        for k in 1..=n {
            assert!(texts.contains(&k.to_string()), "{file}: no tick at run {k}: {texts:?}");
        }
        assert!(!texts.contains(&(n + 1).to_string()), "{file}: {texts:?}");
    }
    assert!(dir.join("trend-throughput-quick.svg").exists());
    // The runs table numbers the runs as the charts do.
    let html = std::fs::read_to_string(&index).unwrap();
    assert!(html.contains("<td class=\"num\">quick 2</td>"), "the runs table numbers quick runs");

    // Reruns of one commit: its label is written once, where the commit changes.
    let mut run = fixture.clone().nth(5).build();
    run.run.git_commit = fixture.clone().nth(2).build().run.git_commit;
    fixtures::write(&tmp.path().join("runs"), "rerun.json", &run);
    let index = render(&opts_for(tmp.path())).unwrap();
    let texts = svg_texts(&index.parent().unwrap().join("trend-latency.svg"));
    assert_eq!(commits(&texts), (0..3).map(commit_of).collect::<Vec<_>>(), "{texts:?}");
    assert!(texts.contains(&"4".to_string()), "the rerun is run 4: {texts:?}");
}

#[test]
fn several_hosts_get_a_trend_line_each() {
    let (_tmp, index) = rendered_small(4, &["bench-a", "bench-b"]);
    let trend = svg_texts(&index.parent().unwrap().join("trend-latency.svg"));
    assert!(trend.iter().any(|s| s == "floor: cache-line handoff · bench-a"), "{trend:?}");
    assert!(trend.iter().any(|s| s == "floor: cache-line handoff · bench-b"), "{trend:?}");
}

#[test]
fn a_big_history_renders() {
    let tmp = tempfile::tempdir().unwrap();
    let built = std::time::Instant::now();
    fixtures::results_dir(tmp.path(), &Fixture::big(), 10, &["bench-a", "bench-a", "bench-b"]);
    let latest = ipcbench_results::RunFile::load(&tmp.path().join("latest.json")).unwrap();
    assert!(latest.cases.len() >= 380, "{} cases", latest.cases.len());
    let fixture_time = built.elapsed();
    let started = std::time::Instant::now();
    let index = render(&opts_for(tmp.path())).unwrap();
    let elapsed = started.elapsed();
    println!(
        "rendered {} cases × 10 runs in {:.2?} (fixtures built in {:.2?})",
        latest.cases.len(),
        elapsed,
        fixture_time
    );
    let html = check_links(&index);
    assert_eq!(html.matches("<tr class=").count(), latest.cases.len());
    for svg in svgs_in(index.parent().unwrap()) {
        svg_texts(&index.parent().unwrap().join(svg));
    }
}

#[test]
fn odd_names_and_values_neither_break_the_svg_nor_the_page() {
    let tmp = tempfile::tempdir().unwrap();
    let mut run = Fixture::small().only(&["pingpong", "stream", "msync"]).build();
    run.run.hostname = "h<o>st & \"co\"".into();
    for c in &mut run.cases {
        if c.transport.as_deref() == Some("tcp") {
            c.transport =
                Some("tcp<script>alert(1)</script> & a name far too long to be a label".into());
        }
        if c.transport.as_deref() == Some("pipe") && c.scenario == "pingpong" {
            // Zero cannot sit on a log axis; the case stays in the table, off the chart.
            for s in c.latency_ns.values_mut() {
                s.p50 = 0;
                s.p99 = 0;
            }
        }
        if c.scenario == "stream" && c.transport.as_deref() == Some("memfd") {
            c.throughput.as_mut().unwrap().bytes_per_s.median = -1.0;
        }
    }
    let path = fixtures::write(tmp.path(), "r.json", &run);
    let index =
        render(&Options { inputs: vec![path], results_dir: tmp.path().into(), out_dir: None })
            .unwrap();
    let html = check_links(&index);
    assert!(!html.contains("<script>alert"), "names are escaped in the page");
    assert!(html.contains("h&lt;o&gt;st &amp; &quot;co&quot;"));
    let dir = index.parent().unwrap();
    for svg in svgs_in(dir) {
        let texts = svg_texts(&dir.join(&svg));
        // An overlong name is cut, not allowed to squeeze the plot.
        assert!(texts.iter().all(|t| t.chars().count() <= 80), "{svg}: {texts:?}");
    }
    let lat = svg_texts(&dir.join("latency-streams.svg"));
    // Cut part by part, so the fork and spawn cases still tell apart.
    assert!(lat.iter().any(|t| t.starts_with("tcp<script>") && t.ends_with("… fork")), "{lat:?}");
    assert!(lat.iter().any(|t| t.starts_with("tcp<script>") && t.ends_with("… spawn")), "{lat:?}");
    let tp = svg_texts(&dir.join("throughput-mapped.svg"));
    assert!(!tp.iter().any(|t| t.starts_with("memfd")), "a negative rate is not drawn: {tp:?}");
}

#[test]
fn a_run_with_only_zero_latencies_reports_instead_of_failing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut run = Fixture::small().only(&["pingpong"]).build();
    for c in &mut run.cases {
        for s in c.latency_ns.values_mut() {
            *s = Default::default();
        }
        c.latency_trials_ns.clear();
        c.histograms.clear();
        c.cpu = None;
    }
    let path = fixtures::write(tmp.path(), "r.json", &run);
    let index =
        render(&Options { inputs: vec![path], results_dir: tmp.path().into(), out_dir: None })
            .unwrap();
    let html = check_links(&index);
    // Nothing can be drawn on a log axis; the page says so rather than showing empty frames.
    assert!(html.contains("could not be drawn"), "the page names the charts it could not draw");
    assert!(!index.parent().unwrap().join("latency-mapped.svg").exists());
}

/// Whether `timeout` ended its command: 124 once the time is up, 137 (128 + SIGKILL) where the
/// command outlived `-k`'s grace too.
fn timed_out(status: &std::process::ExitStatus) -> bool {
    matches!(status.code(), Some(124 | 137))
}

/// The page in a real browser: `.ci/browser-check.sh` (headless chromium) on a rendered fixture,
/// then the page measured by a script run in it (`probe.js`): its height with the full table
/// collapsed, every chart's x ticks at the values it shows (sizes, pages, readers, run numbers)
/// or, for the interval charts, a legend entry per size, no two text boxes of a chart
/// overlapping, and no drawn line crossing a text. Ignored by default as it needs chromium;
/// `.ci/run` runs it (`cargo test -p ipcbench-report -- --ignored browser`).
#[test]
#[ignore = "needs chromium (apt-get install -y chromium)"]
fn the_page_renders_in_a_real_browser() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = Fixture::big();
    fixtures::results_dir(tmp.path(), &fixture, 3, &["bench-a"]);
    fixtures::add_quick_runs(tmp.path(), &fixture, 3, 2);
    let index = render(&opts_for(tmp.path())).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/browser-check.sh");
    let png = tmp.path().join("report.png");
    // Bounded, as a hung browser would otherwise hang the test run: the script bounds each of
    // its chromium runs to 120 s itself; `timeout` (which kills its whole process group) bounds
    // it all, generously.
    let out = std::process::Command::new("timeout")
        .args(["-k", "10", "600", "bash"])
        .arg(&script)
        .arg(&index)
        .arg(&png)
        .output()
        .unwrap();
    println!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!timed_out(&out.status), "the browser check did not finish within 600 s");
    assert!(out.status.success(), "browser check failed");

    // The page with the probe appended, loaded at a desktop and at a phone's width.
    let page = std::fs::read_to_string(&index).unwrap();
    let probed = index.with_file_name("probed.html");
    std::fs::write(&probed, format!("{page}<script>{}</script>", include_str!("probe.js")))
        .unwrap();
    let probe_at = |width: u32| -> serde_json::Value {
        let profile = tempfile::tempdir().unwrap();
        // Bounded as .ci/browser-check.sh bounds its runs: a hung chromium fails the test.
        let dom = std::process::Command::new("timeout")
            .args(["-k", "10", "120", "chromium"])
            .args(["--headless", "--no-sandbox", "--disable-gpu"])
            .arg(format!("--window-size={width},900"))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(["--virtual-time-budget=5000", "--dump-dom"])
            .arg(format!("file://{}", probed.display()))
            .output()
            .unwrap();
        assert!(
            !timed_out(&dom.status),
            "chromium --dump-dom at {width} px did not finish within 120 s: {}",
            String::from_utf8_lossy(&dom.stderr)
        );
        let dom = String::from_utf8_lossy(&dom.stdout);
        let json = dom
            .rsplit_once("<pre id=\"probe\">")
            .and_then(|(_, r)| r.split_once("</pre>"))
            .map(|(j, _)| {
                j.replace("&quot;", "\"")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&")
            })
            .expect("the probe ran");
        serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("{e}: {}", &json[..json.len().min(300)]))
    };
    let built = fixture.build();
    let sizes = |scenario: &str| -> Vec<String> {
        let set: BTreeSet<u64> = built
            .cases
            .iter()
            .filter(|c| c.scenario == scenario && c.ok())
            .filter(|c| scenario != "mapping" || c.latency_ns.contains_key("ready"))
            .filter_map(|c| c.size)
            .collect();
        set.into_iter().map(|s| ipcbench_results::units::bytes(s as f64)).collect()
    };
    let pages: Vec<String> =
        fixture.pages.iter().map(|p| ipcbench_results::units::count(*p as f64)).collect();
    // What each chart must show as texts: its x ticks, or the sizes in its legend.
    let expected = |id: &str| -> Vec<String> {
        let chart = id.trim_start_matches("chart-");
        match chart {
            c if c.starts_with("throughput") => sizes("stream"),
            c if c.starts_with("latency") || c.starts_with("cpu") => sizes("pingpong"),
            "mapping" => sizes("mapping"),
            "flush" => pages.clone(),
            "fanout" => ["1", "2", "4"].map(String::from).to_vec(),
            c if c.starts_with("trend") && c.ends_with("quick") => vec!["1".into(), "2".into()],
            c if c.starts_with("trend") => vec!["1".into(), "2".into(), "3".into()],
            c if c.starts_with("percentiles") => {
                ["50 %", "90 %", "99 %", "99.9 %"].map(String::from).to_vec()
            }
            other => {
                panic!("the browser test does not know the chart {other}: add what it must show")
            }
        }
    };

    for width in [1400, 400] {
        let probe = probe_at(width);
        // Read at a glance: the big fixture (~450 cases, 16 charts) fits in a few screens once
        // the full table is collapsed (it was ~19,000 px with the table open).
        let height = probe["height"].as_f64().unwrap();
        println!("page height at {width} px: {height} px");
        assert!(height < 15_000.0, "the page is {height} px tall at {width} px");

        let charts = probe["charts"].as_array().unwrap();
        let ids: Vec<&str> = charts.iter().filter_map(|c| c["id"].as_str()).collect();
        for id in [
            "chart-latency-mapped",
            "chart-cpu-streams",
            "chart-percentiles-spin",
            "chart-fanout",
            "chart-mapping",
            "chart-trend-latency",
            "chart-trend-latency-quick",
        ] {
            assert!(ids.contains(&id), "{id} is not on the page: {ids:?}");
        }
        for c in charts {
            let id = c["id"].as_str().unwrap();
            let overlaps = c["overlaps"].as_array().unwrap();
            assert!(overlaps.is_empty(), "{id} at {width} px: text boxes overlap: {overlaps:?}");
            let crossed = c["crossed"].as_array().unwrap();
            assert!(crossed.is_empty(), "{id} at {width} px: lines cross texts: {crossed:?}");
            let texts: Vec<&str> =
                c["texts"].as_array().unwrap().iter().filter_map(|t| t.as_str()).collect();
            for label in expected(id) {
                assert!(texts.contains(&label.as_str()), "{id}: no {label}: {texts:?}");
            }
        }
    }
}
