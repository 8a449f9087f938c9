//! `posix-mq`: two POSIX message queues (`mq_open`), one each way; a record is one message
//! (`mq_send`), the receiver blocks in `mq_receive`. The queues are created `O_EXCL`, mode 0600,
//! with unpredictable names carrying the runner's pid, sized to the record and to the host's
//! depth limit, and unlinked when the setup drops. The peer opens them by name. A queue
//! descriptor is an fd on Linux: a side waits in `poll(2)` (in slices, asking its watch), then
//! receives without blocking, as the pipe does.
//!
//! Before it creates the queues, the runner leaves a marker `<name>.mqueue` in its private
//! dir: a later start sweeps the queues of a runner killed outright by it, also where
//! `/dev/mqueue` (the only listing of queues) is not mounted (see [`crate::os::leftovers`]).

use super::message::{proc_limit, retrying, MessagePort};
use super::{CreateOptions, Endpoint, Mechanism, Medium, Setup};
use crate::os::named::unpredictable_name;
use crate::os::watch::Watch;
use anyhow::{Context, Result};
use std::ffi::CString;

const MSG_MAX: &str = "/proc/sys/fs/mqueue/msg_max";
const MSGSIZE_MAX: &str = "/proc/sys/fs/mqueue/msgsize_max";

pub struct PosixMq;

/// Messages a queue holds: the host's limit, at most 10 (the kernel's default).
fn depth() -> usize {
    proc_limit(MSG_MAX).unwrap_or(10).clamp(1, 10)
}

impl Mechanism for PosixMq {
    fn is_mapped(&self) -> bool {
        false
    }
    fn how(&self) -> &'static str {
        "two POSIX message queues, one each way; a record is one mq_send, the receiver blocks in \
         mq_receive"
    }
    fn refuses(&self, record_len: usize) -> Option<String> {
        let max = proc_limit(MSGSIZE_MAX)?;
        (record_len > max).then(|| {
            format!(
                "a {record_len}-byte message (header and payload) exceeds this host's POSIX \
                 message size limit ({MSGSIZE_MAX} = {max})"
            )
        })
    }
    fn note(&self, record_len: usize) -> Option<String> {
        Some(format!(
            "posix-mq: message size {record_len} B, queue depth {} (host limits: {MSG_MAX} = {}, \
             {MSGSIZE_MAX} = {})",
            depth(),
            proc_limit(MSG_MAX).map_or("?".into(), |v| v.to_string()),
            proc_limit(MSGSIZE_MAX).map_or("?".into(), |v| v.to_string()),
        ))
    }
    fn create(&self, opts: &CreateOptions) -> Result<Box<dyn Setup>> {
        let base = unpredictable_name("/ipcbench");
        let marker = Marker::new(&opts.dir, &base)?;
        let owners = [
            Queue::create(&format!("{base}-a"), opts.record)?,
            Queue::create(&format!("{base}-b"), opts.record)?,
        ];
        Ok(Box::new(MqSetup { base, _owners: owners, _marker: marker }))
    }
    fn open(&self, endpoint: &Endpoint, _: usize) -> Result<Medium> {
        let name = endpoint.name.as_deref().context("posix-mq needs a name")?;
        peer(name)
    }
}

fn peer(base: &str) -> Result<Medium> {
    let rx = Queue::open(&format!("{base}-a"))?;
    let tx = Queue::open(&format!("{base}-b"))?;
    Ok(Medium::Message(Box::new(MqPort::new(tx, rx)?)))
}

/// One queue descriptor; the creator also owns the name and unlinks it on drop.
struct Queue {
    mqd: libc::mqd_t,
    /// Set in the creator only.
    owned: Option<CString>,
}

// SAFETY: a queue descriptor is a file descriptor, usable from any thread.
unsafe impl Send for Queue {}

impl Queue {
    fn create(name: &str, msgsize: usize) -> Result<Queue> {
        let c = CString::new(name)?;
        // SAFETY: a zeroed mq_attr is valid; the fields set are the ones mq_open reads.
        let mut attr: libc::mq_attr = unsafe { std::mem::zeroed() };
        attr.mq_maxmsg = depth() as _;
        attr.mq_msgsize = msgsize as _;
        // SAFETY: valid name and attr for the call.
        let mqd = unsafe {
            libc::mq_open(
                c.as_ptr(),
                libc::O_CREAT | libc::O_EXCL | libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK,
                0o600 as libc::mode_t,
                &attr as *const libc::mq_attr,
            )
        };
        if mqd < 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("mq_open {name} ({msgsize}-byte messages)"));
        }
        Ok(Queue { mqd, owned: Some(c) })
    }

    fn open(name: &str) -> Result<Queue> {
        let c = CString::new(name)?;
        // SAFETY: valid name.
        let mqd =
            unsafe { libc::mq_open(c.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK) };
        if mqd < 0 {
            return Err(std::io::Error::last_os_error()).with_context(|| format!("mq_open {name}"));
        }
        Ok(Queue { mqd, owned: None })
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        // SAFETY: our own descriptor and name.
        unsafe {
            libc::mq_close(self.mqd);
            if let Some(name) = &self.owned {
                libc::mq_unlink(name.as_ptr());
            }
        }
    }
}

struct MqPort {
    tx: Queue,
    rx: Queue,
    /// `mq_receive` wants room for the queue's largest message: a shorter receive (the stream's
    /// one-byte acknowledgement) lands here first.
    scratch: Vec<u8>,
}

impl MqPort {
    fn new(tx: Queue, rx: Queue) -> Result<MqPort> {
        // SAFETY: a valid descriptor and out-parameter.
        let mut attr: libc::mq_attr = unsafe { std::mem::zeroed() };
        if unsafe { libc::mq_getattr(rx.mqd, &mut attr) } != 0 {
            return Err(std::io::Error::last_os_error()).context("mq_getattr");
        }
        Ok(MqPort { tx, rx, scratch: vec![0; attr.mq_msgsize as usize] })
    }
}

impl MessagePort for MqPort {
    fn send(&mut self, msg: &[u8], watch: &mut Watch) -> Result<()> {
        let q = self.tx.mqd;
        // SAFETY: valid descriptor and buffer.
        retrying("mq_send", Some((q, libc::POLLOUT)), watch, || unsafe {
            libc::mq_send(q, msg.as_ptr().cast(), msg.len(), 0) as isize
        })?;
        Ok(())
    }
    fn recv(&mut self, buf: &mut [u8], watch: &mut Watch) -> Result<usize> {
        let q = self.rx.mqd;
        if buf.len() >= self.scratch.len() {
            // SAFETY: valid descriptor and buffer (at least the queue's message size).
            return retrying("mq_receive", Some((q, libc::POLLIN)), watch, || unsafe {
                libc::mq_receive(q, buf.as_mut_ptr().cast(), buf.len(), std::ptr::null_mut())
            });
        }
        let s = &mut self.scratch;
        // SAFETY: as above, into the scratch buffer.
        let n = retrying("mq_receive", Some((q, libc::POLLIN)), watch, || unsafe {
            libc::mq_receive(q, s.as_mut_ptr().cast(), s.len(), std::ptr::null_mut())
        })?;
        let k = n.min(buf.len());
        buf[..k].copy_from_slice(&s[..k]);
        Ok(n)
    }
}

/// The runner's queues (`-a` to the peer, `-b` back); dropping it unlinks both names, then
/// their markers.
struct MqSetup {
    base: String,
    _owners: [Queue; 2],
    _marker: Marker,
}

/// The markers of the queues `{base}-a` and `{base}-b` in the runner's private dir, removed on
/// drop.
struct Marker(Vec<std::path::PathBuf>);

impl Marker {
    fn new(dir: &std::path::Path, base: &str) -> Result<Marker> {
        let mut m = Marker(Vec::new());
        for end in ["a", "b"] {
            let name = format!("{}-{end}", base.trim_start_matches('/'));
            let path = dir.join(format!("{name}.{}", crate::os::leftovers::MQUEUE_MARKER_EXT));
            std::fs::write(&path, b"")
                .with_context(|| format!("marker {} of a message queue", path.display()))?;
            m.0.push(path);
        }
        Ok(m)
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Setup for MqSetup {
    fn endpoint(&self) -> Endpoint {
        Endpoint { name: Some(self.base.clone()), ..Default::default() }
    }
    fn forked_peer(&mut self) -> Result<Medium> {
        peer(&self.base)
    }
    fn local(&mut self, _: &mut Watch) -> Result<Medium> {
        let tx = Queue::open(&format!("{}-a", self.base))?;
        let rx = Queue::open(&format!("{}-b", self.base))?;
        Ok(Medium::Message(Box::new(MqPort::new(tx, rx)?)))
    }
}
