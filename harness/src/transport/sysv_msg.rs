//! `sysv-msg`: one System V message queue (`msgget`) carrying both directions, told apart by the
//! message type (1: to the peer, 2: back to the runner); a record is one `msgsnd`, the receiver
//! blocks in `msgrcv`. The runner creates it `IPC_EXCL`, mode 0600, and removes it
//! (`IPC_RMID`) when the setup drops; the peer opens it by id.
//!
//! A queue has no name, so its key says whose it is: [`KEY_MARK`], eight random bits, and the
//! runner's pid in the low 22 bits. A later run can so sweep what a dead runner left.

use super::message::{proc_limit, retrying, MessagePort, SliceTimer};
use super::{CreateOptions, Endpoint, Mechanism, Medium, Setup};
use crate::os::watch::Watch;
use anyhow::{bail, Context, Result};

const MSGMAX: &str = "/proc/sys/kernel/msgmax";
const MSGMNB: &str = "/proc/sys/kernel/msgmnb";
use crate::os::leftovers::{MSG_KEY_MARK as KEY_MARK, MSG_KEY_PID_MASK as KEY_PID_MASK};
/// `msgsnd` wants the type in front of the data.
const TYPE_LEN: usize = std::mem::size_of::<libc::c_long>();
const TO_PEER: libc::c_long = 1;
const TO_RUNNER: libc::c_long = 2;

pub struct SysvMsg;

impl Mechanism for SysvMsg {
    fn is_mapped(&self) -> bool {
        false
    }
    fn how(&self) -> &'static str {
        "one System V message queue, a message type per direction; a record is one msgsnd (after \
         a copy behind its type word), the receiver blocks in msgrcv (a queue has no fd to \
         poll: a repeating timer, armed only around a blocking call, bounds it)"
    }
    fn refuses(&self, record_len: usize) -> Option<String> {
        let (max, mnb) = (proc_limit(MSGMAX)?, proc_limit(MSGMNB)?);
        if record_len > max {
            return Some(format!(
                "a {record_len}-byte message (header and payload) exceeds this host's System V \
                 message size limit ({MSGMAX} = {max})"
            ));
        }
        (record_len > mnb).then(|| {
            format!(
                "a {record_len}-byte message exceeds this host's System V queue size ({MSGMNB} \
                 = {mnb})"
            )
        })
    }
    fn note(&self, record_len: usize) -> Option<String> {
        let limit = |p| proc_limit(p).map_or("?".into(), |v| v.to_string());
        Some(format!(
            "sysv-msg: message size {record_len} B, queue capacity {} B shared by both directions \
             (host limits: {MSGMAX} = {}, {MSGMNB} = {})",
            limit(MSGMNB),
            limit(MSGMAX),
            limit(MSGMNB)
        ))
    }
    fn create(&self, opts: &CreateOptions) -> Result<Box<dyn Setup>> {
        let id = create_queue()?;
        Ok(Box::new(MsgSetup { id, record: opts.record }))
    }
    fn open(&self, endpoint: &Endpoint, len: usize) -> Result<Medium> {
        let id = endpoint.id.context("sysv-msg needs a queue id")?;
        Ok(port(id, TO_RUNNER, TO_PEER, len))
    }
}

fn create_queue() -> Result<i32> {
    let pid = std::process::id() as i32 & KEY_PID_MASK;
    for _ in 0..64 {
        let random = (crate::os::clock::now_ns() as i32 ^ rand_bits()) & 0xff;
        let key = KEY_MARK | (random << 22) | pid;
        // SAFETY: plain syscall.
        let id = unsafe { libc::msgget(key, libc::IPC_CREAT | libc::IPC_EXCL | 0o600) };
        if id >= 0 {
            return Ok(id);
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EEXIST) {
            return Err(e).context("msgget");
        }
    }
    bail!("msgget: no free key among 64 tries")
}

fn rand_bits() -> i32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.finish() as i32
}

/// Room for one record behind the type word; `len` is the largest message the side will see.
fn port(id: i32, tx_type: libc::c_long, rx_type: libc::c_long, record: usize) -> Medium {
    Medium::Message(Box::new(MsgPort {
        id,
        tx_type,
        rx_type,
        tx: vec![0; TYPE_LEN + record.max(1)],
        rx: vec![0; TYPE_LEN + record.max(1)],
    }))
}

struct MsgPort {
    id: i32,
    tx_type: libc::c_long,
    rx_type: libc::c_long,
    tx: Vec<u8>,
    rx: Vec<u8>,
}

impl MessagePort for MsgPort {
    fn send(&mut self, msg: &[u8], watch: &mut Watch) -> Result<()> {
        if self.tx.len() < TYPE_LEN + msg.len() {
            self.tx.resize(TYPE_LEN + msg.len(), 0);
        }
        self.tx[..TYPE_LEN].copy_from_slice(&self.tx_type.to_ne_bytes());
        self.tx[TYPE_LEN..TYPE_LEN + msg.len()].copy_from_slice(msg);
        let (id, buf) = (self.id, self.tx.as_ptr());
        let timer = SliceTimer::this_thread()?;
        // SAFETY: a msgbuf (type word, then the data) of TYPE_LEN + msg.len() bytes.
        let r = retrying("msgsnd", None, watch, || unsafe {
            let n = libc::msgsnd(id, buf.cast(), msg.len(), libc::IPC_NOWAIT);
            if n == 0 || *libc::__errno_location() != libc::EAGAIN {
                return n as isize;
            }
            // Full: block, for at most a watch slice (a queue has no fd to poll).
            timer.around(|| libc::msgsnd(id, buf.cast(), msg.len(), 0) as isize)
        });
        r.map(|_| ())
    }
    fn recv(&mut self, buf: &mut [u8], watch: &mut Watch) -> Result<usize> {
        if self.rx.len() < TYPE_LEN + buf.len() {
            self.rx.resize(TYPE_LEN + buf.len(), 0);
        }
        let (id, ty, rx) = (self.id, self.rx_type, self.rx.as_mut_ptr());
        let cap = buf.len();
        let timer = SliceTimer::this_thread()?;
        // SAFETY: room for the type word and `cap` bytes.
        let n = retrying("msgrcv", None, watch, || unsafe {
            let n = libc::msgrcv(id, rx.cast(), cap, ty, libc::IPC_NOWAIT);
            if n >= 0 || *libc::__errno_location() != libc::ENOMSG {
                return n;
            }
            // Nothing yet: block, for at most a watch slice (a queue has no fd to poll).
            timer.around(|| libc::msgrcv(id, rx.cast(), cap, ty, 0))
        })?;
        buf[..n].copy_from_slice(&self.rx[TYPE_LEN..TYPE_LEN + n]);
        Ok(n)
    }
}

/// The runner's queue; dropping it removes the queue (a peer blocked on it gets `EIDRM`).
struct MsgSetup {
    id: i32,
    record: usize,
}

impl Setup for MsgSetup {
    fn endpoint(&self) -> Endpoint {
        Endpoint { id: Some(self.id), ..Default::default() }
    }
    fn forked_peer(&mut self) -> Result<Medium> {
        Ok(port(self.id, TO_RUNNER, TO_PEER, self.record))
    }
    fn local(&mut self, _: &mut Watch) -> Result<Medium> {
        Ok(port(self.id, TO_PEER, TO_RUNNER, self.record))
    }
}

impl Drop for MsgSetup {
    fn drop(&mut self) {
        // SAFETY: our own queue.
        unsafe { libc::msgctl(self.id, libc::IPC_RMID, std::ptr::null_mut()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::os::process::Child;
    use std::time::{Duration, Instant};

    fn options() -> CreateOptions {
        CreateOptions {
            len: 0,
            dir: std::env::temp_dir(),
            record: 64,
            wait: crate::os::futex::Wait::Block,
        }
    }

    /// The runner's side of a queue whose forked peer opens its end, runs `peer` and exits with
    /// its value, on a thread of its own (never the test binary's main thread): `side` gets the
    /// port and the watch over the peer; what it returns comes back with how long it took.
    /// Waits at most 60 s: a side that hangs fails the test instead of stalling the run.
    fn runner_side<T: Send + 'static>(
        peer: fn(&mut dyn MessagePort) -> i32,
        side: fn(&mut dyn MessagePort, &mut Watch) -> T,
    ) -> std::sync::mpsc::Receiver<(T, Duration)> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut setup = SysvMsg.create(&options()).unwrap();
            let child = Child::fork(|| match setup.forked_peer() {
                Ok(Medium::Message(mut port)) => peer(&mut *port),
                _ => 2,
            })
            .unwrap();
            // Dead is dead long before a stall: the watch's own timeout is far off.
            let mut watch = Watch::over_child(Duration::from_secs(30), child.pid());
            let Medium::Message(mut port) = setup.local(&mut watch).unwrap() else { panic!() };
            let start = Instant::now();
            let out = side(&mut *port, &mut watch);
            let _ = tx.send((out, start.elapsed()));
        });
        rx
    }

    fn within_a_minute<T>(rx: &std::sync::mpsc::Receiver<(T, Duration)>, what: &str) -> T {
        let (out, took) = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("{what}: no answer in 60 s ({e}): it hangs"));
        assert!(took < Duration::from_secs(10), "{what}: took {took:?}, as long as a stall");
        out
    }

    /// A receive blocked in `msgrcv` off the main thread (where libtest, or a runner with
    /// helper threads, waits) learns that its writer died mid-stream, and so does a send
    /// blocked in `msgsnd` on a full queue whose reader died, both at once: each thread's
    /// timer wakes that thread, and neither disarms the other's.
    #[test]
    fn a_blocked_receive_and_send_off_the_main_thread_report_their_dead_peers() {
        let reading = runner_side(
            |port| {
                let mut watch = Watch::new(Duration::from_secs(60));
                for i in 0..3u8 {
                    if port.send(&[i; 64], &mut watch).is_err() {
                        return 2;
                    }
                }
                7
            },
            |port, watch| {
                let mut buf = [0u8; 64];
                for i in 0..3u8 {
                    assert_eq!(port.recv(&mut buf, watch).unwrap(), 64);
                    assert_eq!(buf, [i; 64]);
                }
                format!("{:#}", port.recv(&mut buf, watch).unwrap_err())
            },
        );
        let writing = runner_side(
            |_| 9,
            |port, watch| {
                // 64-byte messages fill the queue (msgmnb bytes) long before this many.
                for _ in 0..1 << 20 {
                    if let Err(e) = port.send(&[1; 64], watch) {
                        return format!("{e:#}");
                    }
                }
                "the queue never filled".into()
            },
        );
        let err = within_a_minute(&reading, "a receive whose writer died");
        assert!(err.contains("exited with status 7"), "{err}");
        let err = within_a_minute(&writing, "a send whose reader died");
        assert!(err.contains("exited with status 9"), "{err}");
    }
}
