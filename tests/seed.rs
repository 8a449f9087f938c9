//! The seed article's experiments run for real: each claim's check (the unrelated reader is
//! the built binary), `seed writer` and `seed reader` against the article's listings, and the
//! article's own C programs (tests/article/) swapped in for either side.

mod common;

use common::{
    output_within, try_output_within, unless_written_back, wait_within, writes_back,
    zeroes_past_eof, QUICK_LIMIT, RUN_LIMIT,
};
use ipcbench_results::Claim;
use ipcbench_scenarios::seed::{self, CacheState, Lab};
use ipcbench_scenarios::sysinfo::filesystem_of;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const EXE: &str = env!("CARGO_BIN_EXE_ipcbench");

/// What a check saw, and where: the filesystem of its directory and that mount's options.
#[derive(Debug)]
struct Checked {
    claim: Claim,
    fs: String,
    options: String,
}

/// Runs one check in a fresh private directory, which must be empty afterwards.
fn run_check(check: impl Fn(&Lab) -> anyhow::Result<Claim>) -> Checked {
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab { dir: dir.path().into(), exe: EXE.into(), timeout: Duration::from_secs(20) };
    let claim = check(&lab).expect("the check runs");
    assert!(
        !claim.claim.is_empty() && !claim.article_says.is_empty() && !claim.observed.is_empty()
    );
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    Checked { claim, fs: filesystem_of(dir.path()), options: mount_options(dir.path()) }
}

/// The options (per mount and of the superblock) of the mount holding `dir`, from
/// /proc/self/mountinfo; empty where it cannot be read.
fn mount_options(dir: &Path) -> String {
    let path = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut best: Option<(usize, String)> = None;
    for line in mounts.lines() {
        // id parent major:minor root mount-point options ... - fstype source super-options
        let f: Vec<&str> = line.split(' ').collect();
        let (Some(mp), Some(opts), Some(dash)) =
            (f.get(4), f.get(5), f.iter().position(|x| *x == "-"))
        else {
            continue;
        };
        let mp = mp.replace("\\040", " ");
        if path.starts_with(&mp) && best.as_ref().is_none_or(|(n, _)| mp.len() >= *n) {
            let sb = f.get(dash + 3).copied().unwrap_or_default();
            best = Some((mp.len(), format!("{opts},{sb}")));
        }
    }
    best.map(|(_, o)| o).unwrap_or_default()
}

#[test]
fn mapping_does_not_change_the_file_size() {
    let c = run_check(seed::file_size_unchanged).claim;
    assert!(c.holds, "{}", c.observed);
    assert!(c.observed.contains("40 bytes while mapped, 40 bytes after munmap"), "{}", c.observed);
}

#[test]
fn an_unrelated_reader_sees_all_ten_while_the_mapping_lives() {
    // Writeback while the mapping lives would zero records 6-10 in the shared page too.
    let seen = |c: &Checked| c.claim.holds && c.claim.observed.contains("f/25 g/26 h/27 i/28 j/29");
    let what = "unrelated-reader-sees-all";
    let Some(c) = unless_written_back(what, || run_check(seed::unrelated_reader_sees_all), seen)
    else {
        return;
    };
    assert!(seen(&c), "{}", c.claim.observed);
}

const WRITTEN: &str = "records 6-10 as f/25 g/26 h/27 i/28 j/29";
const ZEROS: &str = "records 6-10 as zeros";

#[test]
fn after_unmap_the_dirty_cached_page_still_holds_records_6_to_10() {
    // The page keeps what the mapping wrote until it is written back; the host may do that
    // between munmap and the read (memory pressure, a `sync`): judged only when it did not.
    let kept = |c: &Checked| !c.claim.holds && c.claim.observed.contains(WRITTEN);
    let Some(c) = unless_written_back(
        "after-unmap-cached",
        || run_check(|l| seed::after_unmap(l, CacheState::Cached)),
        kept,
    ) else {
        return;
    };
    assert!(kept(&c), "{}: {}", c.fs, c.claim.observed);
}

#[test]
fn after_unmap_writeback_zeroes_records_6_to_10() {
    let _fsyncs = writes_back();
    let Checked { claim: c, fs, .. } = run_check(|l| seed::after_unmap(l, CacheState::WrittenBack));
    match zeroes_past_eof(&fs) {
        // fsync has nothing to write back on tmpfs: the bytes stay.
        Some(false) => assert!(!c.holds && c.observed.contains(WRITTEN), "{}", c.observed),
        Some(true) => assert!(c.holds && c.observed.contains(ZEROS), "{fs}: {}", c.observed),
        None if c.holds => assert!(c.observed.contains(ZEROS), "{fs}: {}", c.observed),
        None => println!(
            "SKIPPED after-unmap-written-back: writeback on {fs} left records 6-10 in the page \
             cache ({}); the article's zeroing is what ext4, xfs and btrfs do",
            c.observed
        ),
    }
}

#[test]
fn after_unmap_and_eviction_records_6_to_10_are_zeros() {
    let _fsyncs = writes_back();
    let Checked { claim: c, fs, .. } = run_check(|l| seed::after_unmap(l, CacheState::Evicted));
    // The check's own mincore says whether posix_fadvise evicted the page.
    let evicted = c.observed.contains("left the page cache");
    assert!(evicted || c.observed.contains("stayed in the page cache"), "{}", c.observed);
    match (zeroes_past_eof(&fs), evicted) {
        // tmpfs pages are the file: never evicted by fadvise, never zeroed.
        (Some(false), _) => assert!(!c.holds && c.observed.contains(WRITTEN), "{}", c.observed),
        // Written back by the fsync, and read again from the file if evicted: zeros either way.
        (Some(true), _) | (None, true) => {
            assert!(c.holds && c.observed.contains(ZEROS), "{fs}: {}", c.observed)
        }
        (None, false) if c.holds => assert!(c.observed.contains(ZEROS), "{fs}: {}", c.observed),
        (None, false) => println!(
            "SKIPPED after-unmap-evicted: on {fs} the page stayed in the page cache (mincore) \
             and its writeback left records 6-10 there: {}",
            c.observed
        ),
    }
    if !evicted && zeroes_past_eof(&fs) != Some(false) {
        println!(
            "note: after-unmap-evicted: posix_fadvise(POSIX_FADV_DONTNEED) left the page in the \
             page cache here (mincore; a reference held meanwhile): the read saw the written-back \
             page, not one read again from the file"
        );
    }
}

#[test]
fn after_unmap_of_a_rewritten_file() {
    let _fsyncs = writes_back();
    let Checked { claim: c, fs, options } =
        run_check(|l| seed::after_unmap(l, CacheState::Rewritten));
    // auto_da_alloc (on unless mounted noauto_da_alloc; nothing to allocate without delayed
    // allocation): the truncated file is written back when released, at munmap.
    let auto_da_alloc = fs == "ext4"
        && !["noauto_da_alloc", "nodelalloc", "data=journal"]
            .iter()
            .any(|o| options.split(',').any(|x| x == *o));
    if auto_da_alloc {
        assert!(c.holds && c.observed.contains("auto_da_alloc"), "{}", c.observed);
    } else if fs == "tmpfs" {
        assert!(!c.holds && c.observed.contains(WRITTEN), "{}", c.observed);
    } else {
        assert!(c.observed.contains("records 1-5 intact"), "{fs} ({options}): {}", c.observed);
    }
}

#[test]
fn read_never_returns_bytes_past_end_of_file() {
    let c = run_check(seed::read_stops_at_eof).claim;
    assert!(c.holds, "{}", c.observed);
    assert!(
        c.observed.contains("returned 40 bytes (a/20 b/21 c/22 d/23 e/24) while"),
        "{}",
        c.observed
    );
}

#[test]
fn a_page_wholly_past_end_of_file_raises_sigbus() {
    let c = run_check(seed::sigbus_past_eof).claim;
    assert!(c.holds, "{}", c.observed);
    assert!(c.observed.contains("killed by SIGBUS"), "{}", c.observed);
}

#[test]
fn the_runner_s_own_sigbus_handler_does_not_decide_the_claim() {
    // The runner installs a SIGBUS handler that survives a lost page; the claim's children
    // must not inherit it (they did: a child writing past end-of-file "exited normally", and
    // the article's claim read NO on every host).
    let out_dir = tempfile::tempdir().unwrap();
    let (out, run) = common::run_into(
        out_dir.path(),
        &["scenario", "seed", "--filter", "seed/sigbus-past-eof", "--no-report"],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let run = run.expect("a result file");
    let cases = common::cases(&run);
    assert_eq!(cases.len(), 1, "{cases:?}");
    let claim = &cases[0]["claims"][0];
    let observed = claim["observed"].as_str().unwrap_or_default();
    assert_eq!(claim["holds"], true, "{observed}");
    assert!(observed.contains("killed by SIGBUS"), "{observed}");
}

#[test]
fn touching_an_unmapped_address_raises_sigsegv() {
    let c = run_check(seed::segv_after_munmap).claim;
    assert!(c.holds && c.observed.contains("SIGSEGV"), "{}", c.observed);
}

#[test]
fn anonymous_shared_mapping_is_shared_across_fork() {
    let c = run_check(seed::anon_shared_across_fork).claim;
    assert!(c.holds, "{}", c.observed);
    assert!(c.observed.contains("parent read: the first people's age is 100"), "{}", c.observed);
}

#[test]
fn anonymous_private_mapping_is_not() {
    let c = run_check(seed::anon_private_not_shared).claim;
    assert!(c.holds, "{}", c.observed);
    assert!(c.observed.contains("parent read: the first people's age is 20"), "{}", c.observed);
}

#[test]
fn a_mapped_write_is_visible_to_read_before_any_msync() {
    // The check's own smaps says whether the writer's page was still dirty when it was read:
    // the host may have written it back meanwhile; judged only when it did not.
    let dirty = |c: &Checked| c.claim.observed.contains("still dirty");
    let told = |c: &Checked| dirty(c) || c.claim.observed.contains("written back meanwhile");
    let as_expected = |c: &Checked| c.claim.holds && (c.fs == "tmpfs" || dirty(c) || !told(c));
    let Some(c) = unless_written_back(
        "visible-before-msync",
        || run_check(seed::visible_before_msync),
        as_expected,
    ) else {
        return;
    };
    assert!(c.claim.holds, "{}", c.claim.observed);
    if c.fs != "tmpfs" {
        if told(&c) {
            assert!(dirty(&c), "{}", c.claim.observed);
        } else {
            println!(
                "SKIPPED visible-before-msync's dirty page: /proc/self/smaps cannot be read here, \
                 so whether the page was still dirty is not told: {}",
                c.claim.observed
            );
        }
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
/// so its `initialize over` only arrives at exit): false if the writer ended before they were
/// seen (its hold ran out first, or its page was written back, zeroing records 6-10).
fn wait_for_records(path: &Path, writer: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(f) = std::fs::File::open(path) {
            if f.metadata().unwrap().len() == 40 {
                let ours = read_with(&[EXE, "seed", "reader"], path);
                if ours == seed::article_listing(true) {
                    return true;
                }
            }
        }
        if writer.try_wait().unwrap().is_some() {
            return false;
        }
        assert!(Instant::now() < deadline, "the writer never wrote its 10 records");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What the reader printed while the writer held its mapping (None: the writer had ended before
/// its 10 records were seen) and right after it exited, in `dir`.
#[derive(Debug)]
struct Procedure {
    dir: tempfile::TempDir,
    path: PathBuf,
    during: Option<Vec<String>>,
    after_munmap: Vec<String>,
}

/// The article's procedure up to the writer's exit: the writer (its output checked), the reader
/// while it holds its mapping, the reader right after it exited.
fn until_the_writer_exits(writer: &[&str], hold_arg: Option<&str>, reader: &[&str]) -> Procedure {
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
    let during = wait_for_records(&path, &mut w).then(|| read_with(reader, &path));
    let status = wait_within(w, &what, RUN_LIMIT).status;
    // The rest of its stdout: all of it once the pipe closes (at once, now that it has exited).
    let mut rest = String::new();
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(5)) {
        rest += &line;
    }
    assert!(status.success());
    assert_eq!(first + &rest, "initialize over\numap ok\n", "{writer:?} output");
    let after_munmap = read_with(reader, &path);
    Procedure { dir, path, during, after_munmap }
}

/// The article's procedure: the reader while the writer holds its mapping prints all 10
/// records; once the writer has unmapped and the page is written back, 5 and 5 zeroed ones.
/// Right after the writer exits (page still dirty in the cache) it still prints all 10 — unless
/// the host wrote the page back meanwhile, which is told apart ([`unless_written_back`]).
fn article_procedure(writer: &[&str], hold_arg: Option<&str>, reader: &[&str]) {
    let all = seed::article_listing(true);
    let as_written =
        |p: &Procedure| p.after_munmap == all && p.during.as_ref().is_none_or(|d| *d == all);
    let what = format!("the article's procedure ({writer:?}, {reader:?})");
    let attempt = || until_the_writer_exits(writer, hold_arg, reader);
    let Some(p) = unless_written_back(&what, attempt, as_written) else { return };
    match &p.during {
        Some(during) => assert_eq!(*during, all, "{reader:?} during"),
        None => println!(
            "note: {what}: the writer's hold ended before its 10 records were seen (a slow \
             host): the reader was not run while it held its mapping"
        ),
    }
    assert_eq!(p.after_munmap, all, "{reader:?} after munmap");
    let fs = filesystem_of(p.dir.path());
    let back = {
        let _fsyncs = writes_back();
        fsync(&p.path);
        read_with(reader, &p.path)
    };
    match zeroes_past_eof(&fs) {
        Some(true) => assert_eq!(back, seed::article_listing(false), "{reader:?} written back"),
        // tmpfs: fsync has nothing to write back, the bytes past end-of-file stay.
        Some(false) => assert_eq!(back, all, "{reader:?} after fsync on {fs}"),
        None if back == seed::article_listing(false) => {}
        None => println!(
            "SKIPPED {what}, written back: writeback on {fs} left records 6-10 in the page \
             cache ({back:?}); the article's zeroing is what ext4, xfs and btrfs do"
        ),
    }
    assert_eq!(std::fs::metadata(&p.path).unwrap().len(), 40);
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
