//! `file-rw`: `pwrite`/`pread` on a regular file — the read/write counterpart of `file-mmap`.
//!
//! Each direction owns half of the file as a byte ring. The writer `pwrite`s the bytes, then
//! writes their count (8 bytes) to a notification pipe; the reader blocks in `read()` on that
//! pipe, then `pread`s the bytes. Room comes back through a credit pipe, returned once half the
//! ring has been consumed, so the writer never overwrites unread bytes and rarely waits.

use super::fd_stream::{read_some, set_nonblocking, write_all_fd};
use super::{ByteStream, CreateOptions, Endpoint, Mechanism, Medium, Setup};
use crate::os::process::adopt_fd;
use crate::os::watch::Watch;
use anyhow::{bail, Context, Result};
use nix::fcntl::OFlag;
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::FileExt;

pub struct FileRw;

impl Mechanism for FileRw {
    fn is_mapped(&self) -> bool {
        false
    }
    fn how(&self) -> &'static str {
        "pwrite/pread on a regular file; the reader learns a record is there by a blocking read() \
         on a notification pipe carrying the byte count"
    }
    fn create(&self, opts: &CreateOptions) -> Result<Box<dyn Setup>> {
        let file = tempfile::Builder::new()
            .prefix("ipcbench-")
            .suffix(".rw")
            .tempfile_in(&opts.dir)
            .with_context(|| format!("cannot create a file in {}", opts.dir.display()))?;
        // Reserved like a mapped file's: a full disk is this error, not a failed pwrite later.
        let what = format!("a file in {}", opts.dir.display());
        crate::os::mapping::reserve(file.as_file(), 2 * opts.len, &what)?;
        let p = || nix::unistd::pipe2(OFlag::O_CLOEXEC).context("pipe");
        let (data_ab_r, data_ab_w) = p()?;
        let (credit_ab_r, credit_ab_w) = p()?;
        let (data_ba_r, data_ba_w) = p()?;
        let (credit_ba_r, credit_ba_w) = p()?;
        Ok(Box::new(FileRwSetup {
            cap: opts.len,
            file,
            a: Some([data_ab_w, credit_ab_r, data_ba_r, credit_ba_w]),
            b: Some([data_ab_r, credit_ab_w, data_ba_w, credit_ba_r]),
        }))
    }
    fn open(&self, endpoint: &Endpoint, len: usize) -> Result<Medium> {
        let path = endpoint.path.as_ref().context("file-rw needs a path")?;
        let [a, b, c, d] = endpoint.fds[..] else { bail!("file-rw needs four inherited fds") };
        let file = std::fs::OpenOptions::new().read(true).write(true).open(path)?;
        // SAFETY: inherited from the runner for us alone.
        let fds = unsafe { [adopt_fd(a), adopt_fd(b), adopt_fd(c), adopt_fd(d)] };
        Ok(Medium::Stream(Box::new(FileRing::peer(file, len, fds))))
    }
}

struct FileRwSetup {
    cap: usize,
    file: tempfile::NamedTempFile,
    /// Runner: data_tx, credit_rx, data_rx, credit_tx.
    a: Option<[OwnedFd; 4]>,
    /// Peer: data_rx, credit_tx, data_tx, credit_rx.
    b: Option<[OwnedFd; 4]>,
}

impl Setup for FileRwSetup {
    fn endpoint(&self) -> Endpoint {
        let fds = self.b.as_ref().map(|b| b.iter().map(|f| f.as_raw_fd()).collect());
        Endpoint {
            path: Some(self.file.path().to_path_buf()),
            fds: fds.unwrap_or_default(),
            ..Default::default()
        }
    }
    fn forked_peer(&mut self) -> Result<Medium> {
        self.a = None;
        let fds = self.b.take().context("file-rw already taken")?;
        Ok(Medium::Stream(Box::new(FileRing::peer(self.file.reopen()?, self.cap, fds))))
    }
    fn local(&mut self, _: &mut Watch) -> Result<Medium> {
        self.b = None;
        let [data_tx, credit_rx, data_rx, credit_tx] =
            self.a.take().context("file-rw already taken")?;
        let (file, cap) = (self.file.reopen()?, self.cap);
        let ring =
            FileRing::new(file, cap, 0, cap as u64, [data_tx, credit_rx, data_rx, credit_tx]);
        Ok(Medium::Stream(Box::new(ring)))
    }
}

/// One side of a file-rw link.
struct FileRing {
    file: File,
    cap: usize,
    tx_base: u64,
    rx_base: u64,
    data_tx: OwnedFd,
    credit_rx: OwnedFd,
    data_rx: OwnedFd,
    credit_tx: OwnedFd,
    /// Bytes this side has written / the reader has given back room for.
    written: u64,
    credited: u64,
    /// Bytes this side has read / been told of / consumed but not yet credited.
    read: u64,
    announced: u64,
    unreturned: u64,
    /// `fdatasync` after each `pwrite`, before the count goes out (`pingpong --durable`).
    durable: bool,
}

impl FileRing {
    /// `fds`: data out, credit in, data in, credit out.
    fn new(file: File, cap: usize, tx_base: u64, rx_base: u64, fds: [OwnedFd; 4]) -> FileRing {
        let [data_tx, credit_rx, data_rx, credit_tx] = fds;
        // The sending ends never block where the watch cannot see (see `fd_stream`).
        let _ = set_nonblocking(data_tx.as_raw_fd());
        let _ = set_nonblocking(credit_tx.as_raw_fd());
        FileRing {
            file,
            cap,
            tx_base,
            rx_base,
            data_tx,
            credit_rx,
            data_rx,
            credit_tx,
            written: 0,
            credited: 0,
            read: 0,
            announced: 0,
            unreturned: 0,
            durable: false,
        }
    }

    /// The peer's side: its fds come in the endpoint's order (data in, credit out, data out,
    /// credit in), and it writes into the second half of the file.
    fn peer(file: File, cap: usize, fds: [OwnedFd; 4]) -> FileRing {
        let [data_rx, credit_tx, data_tx, credit_rx] = fds;
        FileRing::new(file, cap, cap as u64, 0, [data_tx, credit_rx, data_rx, credit_tx])
    }

    /// Reads whatever counts are waiting on `fd` (at least one) and returns their sum.
    fn take_counts(fd: &OwnedFd, watch: &mut Watch) -> Result<u64> {
        // 8-byte writes to a pipe are atomic, so reads return whole counts.
        let mut buf = [0u8; 512];
        let n = read_some(fd.as_raw_fd(), &mut buf, watch)?;
        if n % 8 != 0 {
            bail!("file-rw: torn count on the notification pipe");
        }
        Ok(buf[..n].chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).sum())
    }
}

impl ByteStream for FileRing {
    fn write_all(&mut self, mut buf: &[u8], watch: &mut Watch) -> Result<()> {
        let cap = self.cap as u64;
        while !buf.is_empty() {
            while self.written - self.credited == cap {
                self.credited += Self::take_counts(&self.credit_rx, watch)?;
            }
            let at = self.written % cap;
            let free = cap - (self.written - self.credited);
            let n = (buf.len() as u64).min(free).min(cap - at) as usize;
            self.file.write_all_at(&buf[..n], self.tx_base + at).context("pwrite")?;
            if self.durable {
                self.file.sync_data().context("fdatasync")?;
            }
            self.written += n as u64;
            write_all_fd(self.data_tx.as_raw_fd(), &(n as u64).to_le_bytes(), watch)?;
            buf = &buf[n..];
        }
        Ok(())
    }

    fn set_durable(&mut self) -> Result<()> {
        self.durable = true;
        Ok(())
    }

    fn read_exact(&mut self, buf: &mut [u8], watch: &mut Watch) -> Result<()> {
        self.read_exact_seen(buf, watch).map(|_| ())
    }

    /// Seen: when the first count announcing bytes of the record was taken (before its pread).
    fn read_exact_seen(&mut self, mut buf: &mut [u8], watch: &mut Watch) -> Result<u64> {
        let cap = self.cap as u64;
        let mut seen = None;
        while !buf.is_empty() {
            while self.announced == self.read {
                self.announced += Self::take_counts(&self.data_rx, watch)?;
            }
            seen.get_or_insert_with(crate::os::clock::now_ns);
            let at = self.read % cap;
            let n = (buf.len() as u64).min(self.announced - self.read).min(cap - at) as usize;
            self.file.read_exact_at(&mut buf[..n], self.rx_base + at).context("pread")?;
            self.read += n as u64;
            self.unreturned += n as u64;
            buf = &mut buf[n..];
            if self.unreturned >= cap / 2 {
                // A failed credit return is not this reader's failure: the writer may be done
                // and gone (it closes its ends after its last record). A writer still waiting
                // for room would stall, and its own watch reports that.
                let _ =
                    write_all_fd(self.credit_tx.as_raw_fd(), &self.unreturned.to_le_bytes(), watch);
                self.unreturned = 0;
            }
        }
        Ok(seen.unwrap_or_else(crate::os::clock::now_ns))
    }
}
