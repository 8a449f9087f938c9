//! The article's claims, each checked on the running kernel and reported as
//! `{claim, article_says, observed, holds}`.

use super::lab::Lab;
use super::programs::*;
use anyhow::{bail, Context as _, Result};
use ipcbench_harness::os::mapping::{MapOptions, Region, PAGE};
use ipcbench_harness::os::process::{no_core_dump, Child, ExitStatus};
use ipcbench_harness::os::watch::default_fault_signals;
use ipcbench_results::Claim;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The records as they should read: (name, age) for i in 0..n.
fn expected(n: usize) -> Vec<(String, i32)> {
    (0..n).map(|i| (((b'a' + i as u8) as char).to_string(), 20 + i as i32)).collect()
}

fn compact(recs: &[(String, i32)]) -> String {
    recs.iter()
        .map(|(n, a)| format!("{}/{a}", if n.is_empty() { "''" } else { n }))
        .collect::<Vec<_>>()
        .join(" ")
}

/// How records 6-10 read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tail {
    AsWritten,
    Zeros,
    Other,
}

/// How records 6-10 read, and a description.
fn tail_seen(recs: &[(String, i32)]) -> (Tail, String) {
    let tail = &recs[FILE_RECORDS..];
    if tail == &expected(RECORDS)[FILE_RECORDS..] {
        (Tail::AsWritten, compact(tail))
    } else if tail.iter().all(|(n, a)| n.is_empty() && *a == 0) {
        (Tail::Zeros, "zeros (name '' age 0)".into())
    } else {
        (Tail::Other, compact(tail))
    }
}

fn claim(claim: &str, article_says: &str, observed: String, holds: bool) -> Claim {
    Claim { claim: claim.into(), article_says: article_says.into(), observed, holds }
}

const SAYS_SIZE: &str =
    "1. 最终被映射文件的内容的长度不会超过文件本身的初始大小，即映射不能改变文件的大小。 \
     (The mapped file's contents never grow past its initial size: a mapping cannot change the \
     file's size.)";
const SAYS_PAST_EOF: &str =
    "2. 可以用于进程通信的有效地址空间大小大体上受限于被映射文件的大小，但不完全受限于文件大小。\
     …在恰当时候调用map_normalfile2会发现map_normalfile2将输出全部10个people结构的值。 (The usable \
     space is broadly, not entirely, limited by the file's size: run while the writer holds its \
     mapping, map_normalfile2 prints all 10 records.)";
const SAYS_AFTER_UNMAP: &str =
    "在map_normalfile1输出umap ok后，运行map_normalfile2则输出如下结果： \
     name: a age 20; … name: e age 24; name:  age 0; ×5 (After the writer printed `umap ok`, the \
     reader prints records 1-5, then 5 zeroed records.)";
const SAYS_WRITEBACK: &str = "3. …只有在调用了munmap后或者msync时，才把内存中的相应内容写回磁盘文件，所写内容仍然不能超过文件的大小。 \
     (Only at munmap or msync is the content written back to the file, and what is written \
     still cannot exceed the file's size.)";
const SAYS_SEGV: &str =
    "当映射关系解除后，对原来映射地址的访问将导致段错误发生。 (Once the mapping is \
     removed, touching its old address causes a segmentation fault.)";
const SAYS_FORK: &str =
    "子进程继承父进程匿名映射后的地址空间…mmap返回的地址，却由父子进程共同维护。 \
     (The child inherits the anonymous mapping; the address mmap returned is maintained by \
     parent and child together.) Listing: child read: the 1 people's age is 20 … parent read: \
     the first people's age is 100";
const SAYS_PRIVATE: &str =
    "一般来说，子进程单独维护从父进程继承下来的一些变量，而mmap返回的地址，却由父子进程共同维护。 \
     (Ordinarily a child keeps its own copy of what it inherits; the MAP_SHARED mapping is the \
     exception.) The article only runs MAP_SHARED | MAP_ANONYMOUS.";
const SAYS_VISIBLE: &str = "3. 文件一旦被映射后，调用mmap的进程对返回地址的访问是对某一内存区域的访问，暂时脱离了磁盘上文件的影响。\
     所有对mmap返回地址空间的操作只在内存中有意义，只有在调用了munmap后或者msync时，才把内存中的相应内容写回磁盘文件。 \
     (Once mapped, the process works on memory, detached from the file on disk; only at munmap \
     or msync is the content written back to the file.)";

/// Writing 10 records through a mapping of a 5-record file leaves it at 5 records' size.
pub fn file_size_unchanged(lab: &Lab) -> Result<Claim> {
    let path = lab.file()?;
    let region = write_records(&path)?;
    let during = std::fs::metadata(&path)?.len();
    drop(region);
    let after = std::fs::metadata(&path)?.len();
    Ok(claim(
        "Writing through a mapping does not change the file's size: 10 records written through \
         a mapping of a file sized for 5 leave it at 5 records (40 bytes)",
        SAYS_SIZE,
        format!(
            "10 records (80 bytes) written through an 80-byte mapping of a {FILE_LEN}-byte file: \
             the file is {during} bytes while mapped, {after} bytes after munmap"
        ),
        during == FILE_LEN && after == FILE_LEN,
    ))
}

/// An unrelated process sees all 10 records while the writer's mapping lives.
pub fn unrelated_reader_sees_all(lab: &Lab) -> Result<Claim> {
    let path = lab.file()?;
    let region = write_records(&path)?;
    let recs = lab.mapped_by_another(&path)?;
    let size = std::fs::metadata(&path)?.len();
    drop(region);
    Ok(claim(
        "A second, unrelated process mapping the file sees all 10 records while the writer's \
         mapping lives, though the file holds 5: the bytes past end-of-file share its last page",
        SAYS_PAST_EOF,
        format!(
            "while the writer's mapping lived, `ipcbench seed reader` (another process) printed \
             {}; the file was {size} bytes",
            compact(&recs)
        ),
        recs == expected(RECORDS),
    ))
}

/// What the page cache holds when the reader maps the file after the writer unmapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheState {
    /// Right after munmap: the page is cached and dirty, not yet written back.
    Cached,
    /// Right after munmap, the writer having run twice on the path: its `O_TRUNC` truncated the
    /// file it made the first time, as the article's program does when run again.
    Rewritten,
    /// After `fsync`: written back, still cached.
    WrittenBack,
    /// After `fsync` + `posix_fadvise(POSIX_FADV_DONTNEED)`: evicted, read again from the file.
    Evicted,
}

/// Whether the file's first page is in the page cache (mincore on a mapping nobody touches).
fn page_cached(path: &Path) -> Result<bool> {
    let f = File::open(path)?;
    let map = Region::map_fd_with(&f, PAGE, MapOptions { read_only: true, ..Default::default() })?;
    let mut vec = [0u8; 1];
    // SAFETY: one page mapped; vec has one entry per page.
    if unsafe { libc::mincore(map.as_ptr().cast(), PAGE, vec.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error()).context("mincore");
    }
    Ok(vec[0] & 1 == 1)
}

/// After the writer unmaps, what a new mapping shows of records 6-10 in one page-cache state.
pub fn after_unmap(lab: &Lab, state: CacheState) -> Result<Claim> {
    let path = lab.file()?;
    drop(write_records(&path)?);
    let fstype = crate::sysinfo::filesystem_of(&lab.dir);
    let mut how = match state {
        CacheState::Cached => {
            "right after the writer's munmap (no fsync: the page still cached and dirty)"
                .to_string()
        }
        CacheState::Rewritten => {
            drop(write_records(&path)?);
            let why = if fstype == "ext4" {
                "; on ext4 truncating a file to 0 arms auto_da_alloc, which starts writeback when \
                 the file is released — here at munmap, the mapping holding the last reference"
            } else {
                ""
            };
            format!(
                "right after munmap, the writer having run a second time on the file: its O_TRUNC \
                 truncated the file it had made, as the article's program does when run again \
                 ({fstype}{why})"
            )
        }
        CacheState::WrittenBack => "after fsync (written back; the page still cached)".to_string(),
        CacheState::Evicted => "after fsync + posix_fadvise(POSIX_FADV_DONTNEED)".to_string(),
    };
    if matches!(state, CacheState::WrittenBack | CacheState::Evicted) {
        let f = File::open(&path)?;
        f.sync_all().context("fsync")?;
        if state == CacheState::Evicted {
            // SAFETY: plain syscall on our fd.
            let r = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
            if r != 0 {
                return Err(std::io::Error::from_raw_os_error(r)).context("posix_fadvise");
            }
            let cached = page_cached(&path)?;
            how.push_str(if cached {
                " — yet the page stayed in the page cache"
            } else {
                " (mincore: the page left the page cache)"
            });
        }
    }
    let recs = lab.mapped_by_another(&path)?;
    let (kind, tail) = tail_seen(&recs);
    let head_ok = recs[..FILE_RECORDS] == expected(FILE_RECORDS)[..];
    Ok(claim(
        "After the writer unmaps, a new mapping no longer sees records 6-10: they read as zeros, \
         as in the article's second listing",
        SAYS_AFTER_UNMAP,
        format!(
            "{how}: a new mapping in another process read records 1-5 {} and records 6-10 as {tail}",
            if head_ok { "intact" } else { "damaged" }
        ),
        head_ok && kind == Tail::Zeros,
    ))
}

/// read() returns the file's 40 bytes and never the records a mapping put past end-of-file.
pub fn read_stops_at_eof(lab: &Lab) -> Result<Claim> {
    let path = lab.file()?;
    let region = write_records(&path)?;
    let (during, recs_during) = lab.read_by_another(&path)?;
    drop(region);
    let (after, recs_after) = lab.read_by_another(&path)?;
    let five = expected(FILE_RECORDS);
    Ok(claim(
        "read() never returns bytes past end-of-file, even while a mapping holds records there",
        SAYS_WRITEBACK,
        format!(
            "another process's read() with room for {} bytes returned {during} bytes ({}) while \
             the writer's mapping held 10 records, and {after} bytes ({}) after munmap",
            2 * MAP_LEN,
            compact(&recs_during),
            compact(&recs_after)
        ),
        during as u64 == FILE_LEN
            && after as u64 == FILE_LEN
            && recs_during == five
            && recs_after == five,
    ))
}

/// Runs `body` in a forked child that leaves no core file, and reports how it ended. The child
/// takes SIGBUS and SIGSEGV as the kernel gives them, not through the runner's handler.
fn in_child(body: impl FnOnce() -> i32) -> Result<ExitStatus> {
    Child::fork(|| {
        no_core_dump();
        default_fault_signals();
        body()
    })?
    .wait()
}

/// Touching the rest of the last page is fine; a page wholly past end-of-file raises SIGBUS.
pub fn sigbus_past_eof(lab: &Lab) -> Result<Claim> {
    let path = lab.file()?;
    drop(write_records(&path)?);
    let f = OpenOptions::new().read(true).write(true).open(&path)?;
    let region = Region::map_fd(&f, 2 * PAGE)?;
    let p = region.as_ptr() as usize;
    // SAFETY (both children): within the two-page mapping.
    let last = in_child(|| unsafe {
        ((p + PAGE - 1) as *mut u8).write_volatile(1);
        0
    })?;
    let next = in_child(|| unsafe {
        ((p + PAGE) as *mut u8).write_volatile(1);
        0
    })?;
    drop(region);
    Ok(claim(
        "The usable part of a mapping ends with the page holding end-of-file: touching a page \
         wholly past end-of-file raises SIGBUS",
        SAYS_PAST_EOF,
        format!(
            "two-page mapping of a {FILE_LEN}-byte file: a child writing byte {} (last byte of \
             the page holding end-of-file) {last}; a child writing byte {} (first byte of the \
             next page) {next}",
            PAGE - 1,
            PAGE
        ),
        last == ExitStatus::Exited(0) && next == ExitStatus::Signaled(libc::SIGBUS),
    ))
}

/// After munmap, touching the old address raises SIGSEGV.
pub fn segv_after_munmap(_lab: &Lab) -> Result<Claim> {
    let region = Region::anon_shared(PAGE)?;
    let p = region.as_ptr() as usize;
    // SAFETY: the child unmaps its own copy of the mapping, then touches the old address.
    let ended = in_child(|| unsafe {
        libc::munmap(p as *mut libc::c_void, PAGE);
        (p as *mut u8).write_volatile(1);
        0
    })?;
    drop(region);
    Ok(claim(
        "After munmap, touching the old address is a segmentation fault",
        SAYS_SEGV,
        format!("a child that unmapped a page and then wrote to it {ended}"),
        ended == ExitStatus::Signaled(libc::SIGSEGV),
    ))
}

/// The article's anonymous-mapping example, with pipes in place of its sleeps.
#[derive(Debug)]
pub struct ForkRun {
    /// The ages the child read from records 1-5 after the parent wrote them.
    pub child_ages: Vec<i32>,
    /// The first record's age as the parent reads it after the child set it to 100.
    pub parent_age: i32,
}

impl ForkRun {
    /// The article's output lines for this run.
    pub fn lines(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .child_ages
            .iter()
            .enumerate()
            .map(|(i, a)| format!("child read: the {} people's age is {a}", i + 1))
            .collect();
        v.push(format!("parent read: the first people's age is {}", self.parent_age));
        v
    }
}

/// Maps 10 records anonymously (`MAP_SHARED` or `MAP_PRIVATE`) and forks. The parent then
/// writes records 1-5 (names b-f, ages 20-24, as the article's loop does) and tells the child,
/// which reads the 5 ages, reports them and sets the first age to 100; the parent reads it back
/// once the child has exited.
pub fn anon_fork(shared: bool) -> Result<ForkRun> {
    let map = Region::anon(MAP_LEN, MapOptions { private: !shared, ..Default::default() })?;
    let p = map.as_ptr() as *mut People;
    let pipe = || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe");
    let (go_rx, go_tx) = pipe()?;
    let (report_rx, report_tx) = pipe()?;
    let (go_fd, report_fd) = (go_rx.as_raw_fd(), report_tx.as_raw_fd());
    let p_addr = p as usize;
    let mut child = Child::fork(move || {
        let p = p_addr as *mut People;
        // SAFETY: the child's copy of the mapping and of the fds; async-signal-safe calls only.
        unsafe {
            let mut b = [0u8; 1];
            if libc::read(go_fd, b.as_mut_ptr().cast(), 1) != 1 {
                return 2;
            }
            let mut ages = [0u8; 4 * FILE_RECORDS];
            for i in 0..FILE_RECORDS {
                let age = std::ptr::addr_of!((*p.add(i)).age).read_volatile();
                ages[4 * i..4 * i + 4].copy_from_slice(&age.to_ne_bytes());
            }
            if libc::write(report_fd, ages.as_ptr().cast(), ages.len()) != ages.len() as isize {
                return 3;
            }
            std::ptr::addr_of_mut!((*p).age).write_volatile(100);
            libc::munmap(p.cast(), MAP_LEN);
            0
        }
    })?;
    drop(go_rx);
    drop(report_tx);
    let mut temp = b'a';
    for i in 0..FILE_RECORDS {
        temp += 1;
        // SAFETY: within the mapping. The article memcpy()s 2 bytes from its 1-byte `temp`;
        // the second byte is whatever follows on its stack — a NUL here.
        unsafe {
            let r = p.add(i);
            (*r).name[0] = temp;
            (*r).name[1] = 0;
            std::ptr::addr_of_mut!((*r).age).write_volatile(20 + i as i32);
        }
    }
    let mut go = File::from(go_tx);
    go.write_all(b"g").context("telling the child")?;
    // Exactly the report's length, not to end-of-file: a process forked meanwhile by another
    // thread (a test binary forks from many) may hold a copy of the write end.
    let mut report = vec![0u8; 4 * FILE_RECORDS];
    if let Err(e) = File::from(report_rx).read_exact(&mut report) {
        let ended = child.wait()?;
        bail!("the child {ended} before its report was whole: {e}");
    }
    let ended = child.wait()?;
    if !ended.success() || report.len() != 4 * FILE_RECORDS {
        bail!("the child {ended} after reporting {} bytes", report.len());
    }
    let child_ages =
        report.chunks_exact(4).map(|c| i32::from_ne_bytes(c.try_into().expect("4"))).collect();
    // SAFETY: within the mapping; the child has exited.
    let parent_age = unsafe { std::ptr::addr_of!((*p).age).read_volatile() };
    drop(map);
    Ok(ForkRun { child_ages, parent_age })
}

/// An anonymous `MAP_SHARED` mapping is shared across fork, both ways.
pub fn anon_shared_across_fork(_lab: &Lab) -> Result<Claim> {
    let run = anon_fork(true)?;
    let holds = run.child_ages == [20, 21, 22, 23, 24] && run.parent_age == 100;
    Ok(claim(
        "An anonymous MAP_SHARED mapping made before fork is shared by parent and child: the \
         child reads what the parent wrote after the fork, and the parent sees the child's age = 100",
        SAYS_FORK,
        format!("{} (pipes replace the article's sleeps)", run.lines().join(" / ")),
        holds,
    ))
}

/// An anonymous `MAP_PRIVATE` mapping is not: each side writes its own copy.
pub fn anon_private_not_shared(_lab: &Lab) -> Result<Claim> {
    let run = anon_fork(false)?;
    let holds = run.child_ages == [0; FILE_RECORDS] && run.parent_age == 20;
    Ok(claim(
        "An anonymous MAP_PRIVATE mapping is not shared across fork: the child does not see the \
         parent's later writes, nor the parent the child's age = 100",
        SAYS_PRIVATE,
        format!("same program with MAP_PRIVATE: {}", run.lines().join(" / ")),
        holds,
    ))
}

/// Bytes of `[ptr, ptr+len)` dirty in this process's page tables, from /proc/self/smaps.
fn dirty_bytes(ptr: *const u8, len: usize) -> Option<u64> {
    crate::sysinfo::smaps_bytes(ptr, len, &["Shared_Dirty:", "Private_Dirty:"])
}

/// A write through a mapping is visible to another process's read() before any msync.
pub fn visible_before_msync(lab: &Lab) -> Result<Claim> {
    let path = lab.file()?;
    let f = OpenOptions::new().read(true).write(true).create_new(true).mode(0o600).open(&path)?;
    f.set_len(MAP_LEN as u64)?;
    f.sync_all().context("fsync of the empty file")?;
    let region = Region::map_fd(&f, MAP_LEN)?;
    let p = region.as_ptr() as *mut People;
    for i in 0..RECORDS {
        // SAFETY: within the mapping, aligned.
        unsafe { p.add(i).write_volatile(article_record(i)) };
    }
    let (n, recs) = lab.read_by_another(&path)?;
    // Writeback would have cleaned the page (and write-protected it): dirty means no flush ran.
    let dirty = dirty_bytes(region.as_ptr(), MAP_LEN);
    drop(region);
    let still = match dirty {
        Some(0) => "; the page had been written back meanwhile".to_string(),
        Some(b) => format!(
            "; the writer's page was still dirty ({b} bytes in smaps): nothing had been flushed"
        ),
        None => String::new(),
    };
    Ok(claim(
        "A write through a MAP_SHARED mapping is visible to another process's read() at once, \
         before any msync: both go through one page cache, so msync is about durability, not \
         visibility",
        SAYS_VISIBLE,
        format!(
            "no msync, no fsync: another process's read() returned {n} bytes: {}{still}",
            compact(&recs)
        ),
        recs == expected(RECORDS),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_mappings_across_fork() {
        let shared = anon_fork(true).unwrap();
        assert_eq!(shared.child_ages, [20, 21, 22, 23, 24]);
        assert_eq!(shared.parent_age, 100);
        assert_eq!(shared.lines()[5], "parent read: the first people's age is 100");
        let private = anon_fork(false).unwrap();
        assert_eq!(private.child_ages, [0; 5]);
        assert_eq!(private.parent_age, 20);
    }
}
