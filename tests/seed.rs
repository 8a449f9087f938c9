//! The seed article's experiments run for real: each claim's check (the unrelated reader is
//! the built binary), `seed writer` and `seed reader` against the article's listings, and the
//! article's own C programs (tests/article/) swapped in for either side.

mod common;

use common::{output_within, try_output_within, wait_within, QUICK_LIMIT, RUN_LIMIT};
use ipcbench_results::Claim;
use ipcbench_scenarios::seed::{self, CacheState, Lab};
use ipcbench_scenarios::sysinfo::filesystem_of;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const EXE: &str = env!("CARGO_BIN_EXE_ipcbench");

/// Runs one check in a fresh private directory, which must be empty afterwards.
fn run_check(check: impl Fn(&Lab) -> anyhow::Result<Claim>) -> (Claim, String) {
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab { dir: dir.path().into(), exe: EXE.into(), timeout: Duration::from_secs(20) };
    let claim = check(&lab).expect("the check runs");
    assert!(
        !claim.claim.is_empty() && !claim.article_says.is_empty() && !claim.observed.is_empty()
    );
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    (claim, filesystem_of(dir.path()))
}

#[test]
fn mapping_does_not_change_the_file_size() {
    let (c, _) = run_check(seed::file_size_unchanged);
    assert!(c.holds, "{}", c.observed);
    assert!(c.observed.contains("40 bytes while mapped, 40 bytes after munmap"), "{}", c.observed);
}

#[test]
fn an_unrelated_reader_sees_all_ten_while_the_mapping_lives() {
    let (c, _) = run_check(seed::unrelated_reader_sees_all);
    assert!(c.holds, "{}", c.observed);
    assert!(c.observed.contains("f/25 g/26 h/27 i/28 j/29"), "{}", c.observed);
}

const WRITTEN: &str = "records 6-10 as f/25 g/26 h/27 i/28 j/29";
const ZEROS: &str = "records 6-10 as zeros";

#[test]
fn after_unmap_the_dirty_cached_page_still_holds_records_6_to_10() {
    // No writeback within milliseconds of munmap: the page keeps what the mapping wrote.
    let (c, _) = run_check(|l| seed::after_unmap(l, CacheState::Cached));
    assert!(!c.holds && c.observed.contains(WRITTEN), "{}", c.observed);
}

#[test]
fn after_unmap_writeback_zeroes_records_6_to_10() {
    let (c, fs) = run_check(|l| seed::after_unmap(l, CacheState::WrittenBack));
    if fs == "tmpfs" {
        // fsync has nothing to write back on tmpfs: the bytes stay.
        assert!(!c.holds && c.observed.contains(WRITTEN), "{}", c.observed);
    } else {
        assert!(c.holds && c.observed.contains(ZEROS), "{fs}: {}", c.observed);
    }
}

#[test]
fn after_unmap_and_eviction_records_6_to_10_are_zeros() {
    let (c, fs) = run_check(|l| seed::after_unmap(l, CacheState::Evicted));
    if fs == "tmpfs" {
        assert!(!c.holds && c.observed.contains(WRITTEN), "{}", c.observed);
    } else {
        assert!(c.holds && c.observed.contains(ZEROS), "{fs}: {}", c.observed);
        assert!(c.observed.contains("left the page cache"), "{}", c.observed);
    }
}

#[test]
fn after_unmap_of_a_rewritten_file() {
    let (c, fs) = run_check(|l| seed::after_unmap(l, CacheState::Rewritten));
    match fs.as_str() {
        // auto_da_alloc: the truncated file is written back when released, at munmap.
        "ext4" => assert!(c.holds && c.observed.contains("auto_da_alloc"), "{}", c.observed),
        "tmpfs" => assert!(!c.holds && c.observed.contains(WRITTEN), "{}", c.observed),
        _ => assert!(c.observed.contains("records 1-5 intact"), "{}", c.observed),
    }
}

#[test]
fn read_never_returns_bytes_past_end_of_file() {
    let (c, _) = run_check(seed::read_stops_at_eof);
    assert!(c.holds, "{}", c.observed);
    assert!(
        c.observed.contains("returned 40 bytes (a/20 b/21 c/22 d/23 e/24) while"),
        "{}",
        c.observed
    );
}

#[test]
fn a_page_wholly_past_end_of_file_raises_sigbus() {
    let (c, _) = run_check(seed::sigbus_past_eof);
    assert!(c.holds, "{}", c.observed);
    assert!(c.observed.contains("killed by SIGBUS"), "{}", c.observed);
}

#[test]
fn touching_an_unmapped_address_raises_sigsegv() {
    let (c, _) = run_check(seed::segv_after_munmap);
    assert!(c.holds && c.observed.contains("SIGSEGV"), "{}", c.observed);
}

#[test]
fn anonymous_shared_mapping_is_shared_across_fork() {
    let (c, _) = run_check(seed::anon_shared_across_fork);
    assert!(c.holds, "{}", c.observed);
    assert!(c.observed.contains("parent read: the first people's age is 100"), "{}", c.observed);
}

#[test]
fn anonymous_private_mapping_is_not() {
    let (c, _) = run_check(seed::anon_private_not_shared);
    assert!(c.holds, "{}", c.observed);
    assert!(c.observed.contains("parent read: the first people's age is 20"), "{}", c.observed);
}

#[test]
fn a_mapped_write_is_visible_to_read_before_any_msync() {
    let (c, fs) = run_check(seed::visible_before_msync);
    assert!(c.holds, "{}", c.observed);
    if fs != "tmpfs" {
        assert!(c.observed.contains("still dirty"), "{}", c.observed);
    }
}

#[test]
fn every_check_is_a_case() {
    let slugs: Vec<&str> = seed::checks().iter().map(|c| c.slug).collect();
    assert_eq!(slugs.len(), 12);
    for s in ["sigbus-past-eof", "after-unmap-evicted", "visible-before-msync"] {
        assert!(slugs.contains(&s), "{slugs:?}");
    }
}

// ---- the article's programs, ours and theirs ----

fn lines(out: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(out).lines().map(str::to_string).collect()
}

/// Runs a reader (ours or the article's) on `path` and returns its lines.
fn read_with(reader: &[&str], path: &Path) -> Vec<String> {
    let out = output_within(Command::new(reader[0]).args(&reader[1..]).arg(path), QUICK_LIMIT);
    assert!(out.status.success(), "{reader:?}: {}", String::from_utf8_lossy(&out.stderr));
    lines(&out.stdout)
}

fn fsync(path: &Path) {
    std::fs::File::open(path).unwrap().sync_all().unwrap();
}

/// Waits until a writer has put all 10 records in the file (the C writer's stdout is a pipe,
/// so its `initialize over` only arrives at exit).
fn wait_for_records(path: &Path, writer: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(f) = std::fs::File::open(path) {
            if f.metadata().unwrap().len() == 40 {
                let ours = read_with(&[EXE, "seed", "reader"], path);
                if ours == seed::article_listing(true) {
                    return;
                }
            }
        }
        assert!(writer.try_wait().unwrap().is_none(), "the writer ended before writing");
        assert!(Instant::now() < deadline, "the writer never wrote its 10 records");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The article's procedure: the reader while the writer holds its mapping prints all 10
/// records; once the writer has unmapped and the page is written back, 5 and 5 zeroed ones.
/// Right after the writer exits (page still dirty in the cache) it still prints all 10.
fn article_procedure(writer: &[&str], hold_arg: Option<&str>, reader: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test_shm");
    let mut cmd = Command::new(writer[0]);
    cmd.args(&writer[1..]).arg(&path);
    if let Some(h) = hold_arg {
        cmd.args(["--hold", h]);
    }
    let mut w = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let what = format!("{cmd:?}");
    // The writer's stdout, line by line as it comes, on a thread: so that no read waits unbounded.
    let (tx, lines) = mpsc::channel();
    let mut out = BufReader::new(w.stdout.take().unwrap());
    std::thread::spawn(move || loop {
        let mut line = String::new();
        if !matches!(out.read_line(&mut line), Ok(n) if n > 0) || tx.send(line).is_err() {
            break;
        }
    });
    let mut first = String::new();
    if hold_arg.is_some() {
        // Ours flushes each line: wait for it, as the article's user does.
        match lines.recv_timeout(QUICK_LIMIT) {
            Ok(line) => first = line,
            // Its stdout closed without a line: `first` stays empty, and fails below.
            Err(mpsc::RecvTimeoutError::Disconnected) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = w.kill();
                let _ = w.wait();
                panic!("{what}: no first line within {QUICK_LIMIT:?}: killed it");
            }
        }
        assert_eq!(first, "initialize over\n");
    }
    wait_for_records(&path, &mut w);
    assert_eq!(read_with(reader, &path), seed::article_listing(true), "{reader:?} during");
    let status = wait_within(w, &what, RUN_LIMIT).status;
    // The rest of its stdout: all of it once the pipe closes (at once, now that it has exited).
    let mut rest = String::new();
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(5)) {
        rest += &line;
    }
    assert!(status.success());
    assert_eq!(first + &rest, "initialize over\numap ok\n", "{writer:?} output");
    assert_eq!(read_with(reader, &path), seed::article_listing(true), "{reader:?} after munmap");
    fsync(&path);
    assert_eq!(read_with(reader, &path), seed::article_listing(false), "{reader:?} written back");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 40);
}

#[test]
fn ipcbench_writer_and_reader_reproduce_the_listings() {
    article_procedure(&[EXE, "seed", "writer"], Some("2"), &[EXE, "seed", "reader"]);
}

/// The article's C programs compiled with `cc` into `dir`, or None (with a note) without cc.
fn compile_article(dir: &Path) -> Option<(PathBuf, PathBuf, PathBuf)> {
    let have_cc = try_output_within(Command::new("cc").arg("--version"), QUICK_LIMIT)
        .is_ok_and(|o| o.status.success());
    if !have_cc {
        eprintln!(
            "note: no `cc` on this host: the article's C programs were not compiled or swapped in"
        );
        return None;
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/article");
    // The writer's sleep(10) becomes sleep(2): the same program, a shorter wait.
    let writer_src = dir.join("map_normalfile1.c");
    let text = std::fs::read_to_string(src.join("map_normalfile1.c")).unwrap();
    assert!(text.contains("sleep ( 10 );"));
    std::fs::write(&writer_src, text.replace("sleep ( 10 );", "sleep ( 2 );")).unwrap();
    let build = |src: &Path, name: &str| {
        let out = dir.join(name);
        let o = output_within(Command::new("cc").arg("-w").arg("-o").arg(&out).arg(src), RUN_LIMIT);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "cc {}: {err}", src.display());
        out
    };
    Some((
        build(&writer_src, "map_normalfile1"),
        build(&src.join("map_normalfile2.c"), "map_normalfile2"),
        build(&src.join("anon_fork.c"), "anon_fork"),
    ))
}

#[test]
fn the_articles_c_writer_with_our_reader() {
    let bin = tempfile::tempdir().unwrap();
    let Some((writer, _, _)) = compile_article(bin.path()) else { return };
    article_procedure(&[writer.to_str().unwrap()], None, &[EXE, "seed", "reader"]);
}

#[test]
fn our_writer_with_the_articles_c_reader() {
    let bin = tempfile::tempdir().unwrap();
    let Some((_, reader, _)) = compile_article(bin.path()) else { return };
    article_procedure(&[EXE, "seed", "writer"], Some("2"), &[reader.to_str().unwrap()]);
}

#[test]
fn the_articles_fork_example_prints_what_our_check_reports() {
    let bin = tempfile::tempdir().unwrap();
    let Some((_, _, anon)) = compile_article(bin.path()) else { return };
    // The C program sleeps 2 s and 5 s where ours uses pipes.
    let out = output_within(&mut Command::new(&anon), RUN_LIMIT);
    assert!(out.status.success());
    let theirs = lines(&out.stdout);
    let ours = seed::anon_fork(true).unwrap().lines();
    assert_eq!(theirs[..6], ours[..], "C printed {theirs:?}");
    assert_eq!(theirs[6..], ["umap", "umap ok"]);
}
