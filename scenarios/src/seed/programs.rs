//! The article's two programs — `map_normalfile1` (`ipcbench seed writer PATH`) and
//! `map_normalfile2` (`ipcbench seed reader PATH`) — with its record layout and output lines,
//! so either can be swapped for the article's C program.

use anyhow::{Context as _, Result};
use ipcbench_harness::os::mapping::Region;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

/// The article's record: `typedef struct { char name[4]; int age; } people;`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct People {
    pub name: [u8; 4],
    pub age: i32,
}

pub const RECORD_LEN: usize = std::mem::size_of::<People>();
const _: () = assert!(RECORD_LEN == 8, "the article's record is 8 bytes");
/// Records the writer maps and writes.
pub const RECORDS: usize = 10;
/// Records the writer's file is sized for.
pub const FILE_RECORDS: usize = 5;
pub(crate) const MAP_LEN: usize = RECORDS * RECORD_LEN;
pub(crate) const FILE_LEN: u64 = (FILE_RECORDS * RECORD_LEN) as u64;

impl People {
    /// The article's `name` as `%s` prints it: up to the first NUL, at most 4 bytes.
    pub fn name_str(&self) -> String {
        let n = self.name.iter().position(|&b| b == 0).unwrap_or(4);
        String::from_utf8_lossy(&self.name[..n]).into_owned()
    }

    /// `map_normalfile2`'s line: `name: a age 20;`.
    pub fn line(&self) -> String {
        format!("name: {} age {};", self.name_str(), self.age)
    }
}

/// A line of `seed reader` (or `map_normalfile2`) back as (name, age).
pub fn parse_line(line: &str) -> Option<(String, i32)> {
    let rest = line.strip_prefix("name: ")?.strip_suffix(';')?;
    let (name, age) = rest.rsplit_once(" age ")?;
    Some((name.to_string(), age.parse().ok()?))
}

/// The article's first listing (all 10 records) or second (5 records, then 5 zeroed ones).
pub fn article_listing(all_ten: bool) -> Vec<String> {
    (0..RECORDS)
        .map(|i| {
            if all_ten || i < FILE_RECORDS {
                format!("name: {} age {};", (b'a' + i as u8) as char, 20 + i)
            } else {
                "name:  age 0;".to_string()
            }
        })
        .collect()
}

/// `map_normalfile1` up to its `sleep`: creates (truncates) `path`, sizes it for 5 records by
/// writing one byte at the end (`lseek` + `write(" ")`), maps room for 10 `MAP_SHARED`, closes
/// the fd and writes 10 records through the mapping. The mapping is unmapped when dropped.
pub fn write_records(path: &Path) -> Result<Region> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    f.write_all_at(b" ", FILE_LEN - 1).context("write")?;
    let region = Region::map_fd(&f, MAP_LEN)?;
    // As in the article: the mapping keeps the file; the fd is not needed.
    drop(f);
    let p = region.as_ptr() as *mut People;
    for i in 0..RECORDS {
        // SAFETY: record i lies within the 80-byte mapping (all in the first page, which the
        // 40-byte file backs); page-aligned, so People's 4-byte alignment holds.
        // `sprintf(name, "%c", c)` writes the letter and a NUL and leaves the rest of `name`.
        unsafe {
            let r = p.add(i);
            (*r).name[0] = b'a' + i as u8;
            (*r).name[1] = 0;
            (*r).age = 20 + i as i32;
        }
    }
    Ok(region)
}

/// The records a mapping of `MAP_LEN` bytes shows.
pub(crate) fn records_in(region: &Region) -> Vec<People> {
    let p = region.as_ptr() as *const People;
    // SAFETY: within the mapping, aligned.
    (0..RECORDS).map(|i| unsafe { p.add(i).read_volatile() }).collect()
}

/// `ipcbench seed writer PATH`: `map_normalfile1` — prints `initialize over`, holds the mapping
/// for `hold` (the article's `sleep(10)`), unmaps and prints `umap ok`.
pub fn writer_main(path: &Path, hold: Duration, out: &mut dyn Write) -> Result<()> {
    let region = write_records(path)?;
    writeln!(out, "initialize over")?;
    out.flush()?;
    std::thread::sleep(hold);
    drop(region);
    writeln!(out, "umap ok")?;
    out.flush()?;
    Ok(())
}

/// `ipcbench seed reader PATH`: `map_normalfile2` — maps room for 10 records of the file and
/// prints them. Unlike the article's program it does not create a missing file, and refuses an
/// empty one (touching its mapping would raise SIGBUS).
pub fn reader_main(path: &Path, out: &mut dyn Write) -> Result<()> {
    let len = mappable_file(path)?;
    if len == 0 {
        return Err(bad_file(path, "is empty: its mapping has no page to read").into());
    }
    let f =
        OpenOptions::new().read(true).write(true).open(path).map_err(|e| {
            bad_file(path, &format!("cannot be opened for reading and writing: {e}"))
        })?;
    let region = Region::map_fd(&f, MAP_LEN)?;
    for r in records_in(&region) {
        writeln!(out, "{}", r.line())?;
    }
    drop(region);
    out.flush()?;
    Ok(())
}

/// `ipcbench seed reader --read PATH`: the same records through `read()` instead of a mapping —
/// prints `read N bytes`, then a line for each whole record read.
pub fn read_main(path: &Path, out: &mut dyn Write) -> Result<()> {
    mappable_file(path)?;
    let mut f = File::open(path).map_err(|e| bad_file(path, &format!("cannot be opened: {e}")))?;
    // Room for twice what the writer maps: read() decides how much there is.
    let mut buf = [0u8; 2 * MAP_LEN];
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).context("read"),
        }
    }
    writeln!(out, "read {n} bytes")?;
    for chunk in buf[..n].chunks_exact(RECORD_LEN) {
        let r = People {
            name: chunk[..4].try_into().expect("4 bytes"),
            age: i32::from_ne_bytes(chunk[4..].try_into().expect("4 bytes")),
        };
        writeln!(out, "{}", r.line())?;
    }
    out.flush()?;
    Ok(())
}

fn bad_file(path: &Path, why: &str) -> crate::UsageError {
    crate::UsageError(format!("{} {why}", path.display()))
}

/// The size of `path` if it is a regular file with pages to map; else a usage error naming
/// what it is (a FIFO, a device, a directory, a /proc or /sys file, missing).
fn mappable_file(path: &Path) -> Result<u64, crate::UsageError> {
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => bad_file(path, "does not exist"),
        _ => bad_file(path, &format!("cannot be read: {e}")),
    })?;
    let t = meta.file_type();
    let what = if t.is_dir() {
        "is a directory"
    } else if t.is_fifo() {
        "is a FIFO"
    } else if t.is_socket() {
        "is a socket"
    } else if t.is_char_device() {
        "is a character device"
    } else if t.is_block_device() {
        "is a block device"
    } else {
        ""
    };
    if !what.is_empty() {
        return Err(bad_file(path, &format!("{what}, not a regular file: nothing to map")));
    }
    // /proc and /sys files say 0 bytes whatever they hold, and have no pages to map.
    if let Ok(fs) = nix::sys::statfs::statfs(path) {
        let t = fs.filesystem_type();
        if t == nix::sys::statfs::PROC_SUPER_MAGIC || t == nix::sys::statfs::SYSFS_MAGIC {
            return Err(bad_file(
                path,
                "is a /proc or /sys file, not a regular file: nothing to map",
            ));
        }
    }
    Ok(meta.len())
}

/// Record i as the article writes it: name the i-th letter, age 20 + i.
pub(crate) fn article_record(i: usize) -> People {
    People { name: [b'a' + i as u8, 0, 0, 0], age: 20 + i as i32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_layout_is_the_articles() {
        assert_eq!(RECORD_LEN, 8);
        assert_eq!(std::mem::offset_of!(People, age), 4);
        assert_eq!(article_record(0).line(), "name: a age 20;");
        assert_eq!(People::default().line(), "name:  age 0;");
        assert_eq!(parse_line("name:  age 0;"), Some((String::new(), 0)));
        assert_eq!(parse_line("name: j age 29;"), Some(("j".into(), 29)));
        assert_eq!(article_listing(false)[5], "name:  age 0;");
        assert_eq!(article_listing(true)[9], "name: j age 29;");
    }

    #[test]
    fn writer_and_reader_in_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test_shm");
        let mut w = Vec::new();
        writer_main(&path, Duration::ZERO, &mut w).unwrap();
        assert_eq!(String::from_utf8(w).unwrap(), "initialize over\numap ok\n");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), FILE_LEN);
        let mut r = Vec::new();
        read_main(&path, &mut r).unwrap();
        let r = String::from_utf8(r).unwrap();
        assert!(r.starts_with("read 40 bytes\nname: a age 20;\n"), "{r}");
        assert_eq!(r.lines().count(), 1 + FILE_RECORDS);
    }
}
