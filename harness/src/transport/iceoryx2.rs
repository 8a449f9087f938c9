//! `iceoryx2`: the iceoryx2 library's zero-copy publish-subscribe over shared memory. One
//! service each way; a side publishes on one and subscribes to the other. The sender loans a
//! sample, writes the record header and payload into it and sends it; the receiver gets the
//! sample where it lies and verifies it in place (or copies it out), then returns it.
//!
//! Waits: `spin` polls `receive()`; `iox2-event` adds iceoryx2's event service beside each
//! publish-subscribe service — the sender notifies after each send, the receiver blocks in its
//! listener's `timed_wait` (which returns every slice so the [`Watch`] is asked).
//!
//! Every file iceoryx2 makes is ipcbench's to remove: its root directory is a private one per
//! case in the system temp dir (not under `--dir`: its event sockets' paths must stay short),
//! and its shared-memory names start with a per-case prefix that carries the runner's pid
//! (`ipcbench-<pid>-<random>_…` in /dev/shm), as does the directory. The runner's setup removes both when
//! it drops, after the peer is gone — also when the peer was killed before iceoryx2 could clean
//! up after itself.

use super::message::LoanPort;
use super::{CreateOptions, Endpoint, Mechanism, Medium, Setup, Transport};
use crate::os::futex::Wait;
use crate::os::named::unpredictable_name;
use crate::os::watch::Watch;
use ::iceoryx2::port::update_connections::UpdateConnections;
use ::iceoryx2::prelude::*;
use anyhow::{anyhow, bail, Context, Result};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path as FsPath, PathBuf};
use std::time::Duration;

pub struct Iceoryx2;

/// A wait with no sample gives up after this long to ask the watch.
const SLICE: Duration = Duration::from_millis(100);
/// A spinner asks the watch once every this many polls.
const POLLS_PER_TICK: u32 = 1024;

type Svc = ::iceoryx2::service::ipc::Service;

impl Mechanism for Iceoryx2 {
    fn is_mapped(&self) -> bool {
        false
    }
    fn how(&self) -> &'static str {
        "iceoryx2 publish-subscribe, one service each way: the sender loans a sample in shared \
         memory, writes the record into it and sends it; the receiver reads it where it lies"
    }
    fn note(&self, record_len: usize) -> Option<String> {
        Some(format!(
            "iceoryx2 {}: samples of {record_len} B, subscriber buffer {} samples, publisher \
             retries until delivered (no loss)",
            env!("CARGO_PKG_VERSION_MAJOR"),
            depth(record_len)
        ))
    }
    fn create(&self, opts: &CreateOptions) -> Result<Box<dyn Setup>> {
        // Short: iceoryx2's events are UNIX datagram sockets under the root, named after the
        // prefix, and a socket's path must fit in 108 bytes.
        let mut base = unpredictable_name("ipcbench");
        base.truncate(base.len() - 8);
        let root = std::env::temp_dir().join(&base);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&root)
            .with_context(|| format!("mkdir {}", root.display()))?;
        if !Transport::Iceoryx2.waits().contains(&opts.wait) {
            bail!("iceoryx2 waits by spin or iox2-event, not {}", opts.wait);
        }
        let event = opts.wait == Wait::Iox2Event;
        Ok(Box::new(IoxSetup { base, root, record: opts.record, event }))
    }
    fn open(&self, endpoint: &Endpoint, _: usize) -> Result<Medium> {
        let base = endpoint.name.as_deref().context("iceoryx2 needs a service name")?;
        let root = endpoint.path.as_ref().context("iceoryx2 needs a root directory")?;
        let record = endpoint.id.context("iceoryx2 needs the record size")? as usize;
        let event = endpoint.port == Some(1);
        let mut watch = peer_watch();
        Ok(Medium::Loans(Box::new(Port::open(base, root, record, event, Role::Peer, &mut watch)?)))
    }
}

/// `open_or_create` of a service the other side is creating at the same moment may find it
/// half made (`DoesNotExist`, `IsBeingCreatedByAnotherInstance`): try again for a while. If the
/// other side died meanwhile, that is the error.
fn settled<T>(mut make: impl FnMut() -> Result<T>, watch: &mut Watch) -> Result<T> {
    let mut tries = 0;
    loop {
        match make() {
            Ok(v) => return Ok(v),
            Err(e) => {
                watch.check()?;
                tries += 1;
                if tries >= 200 {
                    return Err(e);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// The peer's watch while it connects: over the runner (if it died, so do we anyway, by
/// `PR_SET_PDEATHSIG`), patient with a runner that is still starting.
fn peer_watch() -> Watch {
    Watch::over_parent(Duration::from_secs(60))
}

/// Samples a subscriber holds: a stream's worth of slack, ~4 MiB at most, at least 4.
fn depth(record_len: usize) -> usize {
    ((4 << 20) / record_len.max(1)).clamp(4, 64)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Runner,
    Peer,
}

fn config(base: &str, root: &FsPath) -> Result<Config> {
    let mut cfg = Config::default();
    let mut dir = root.to_string_lossy().into_owned();
    dir.push('/');
    cfg.global.set_root_path(
        &Path::new(dir.as_bytes()).map_err(|e| anyhow!("iceoryx2 root path {dir}: {e:?}"))?,
    );
    let prefix = format!("{base}_");
    cfg.global.prefix =
        FileName::new(prefix.as_bytes()).map_err(|e| anyhow!("iceoryx2 prefix {prefix}: {e:?}"))?;
    Ok(cfg)
}

fn iox<T, E: std::fmt::Debug>(what: &str, r: Result<T, E>) -> Result<T> {
    r.map_err(|e| anyhow!("iceoryx2 {what}: {e:?}"))
}

/// One side: a publisher on its outgoing service, a subscriber on the incoming one, and with
/// `iox2-event` a notifier and a listener beside them. Field order is drop order: ports before
/// their services, services before the node.
struct Port {
    publisher: ::iceoryx2::port::publisher::Publisher<Svc, [u8], ()>,
    subscriber: ::iceoryx2::port::subscriber::Subscriber<Svc, [u8], ()>,
    notifier: Option<::iceoryx2::port::notifier::Notifier<Svc>>,
    listener: Option<::iceoryx2::port::listener::Listener<Svc>>,
    _services: Services,
    _node: Node<Svc>,
    /// SIGALRM (sysv-msg's slice timer, should one be armed) stays blocked while the port
    /// lives: iceoryx2 gives up on a call it interrupts (creating a service; a publisher's
    /// wait for room, whose sample is then dropped). This side's waits have timeouts and read
    /// the clock, so they need no signal.
    _held: TicksHeld,
}

struct Services {
    _tx: ::iceoryx2::service::port_factory::publish_subscribe::PortFactory<Svc, [u8], ()>,
    _rx: ::iceoryx2::service::port_factory::publish_subscribe::PortFactory<Svc, [u8], ()>,
    _events: Option<[::iceoryx2::service::port_factory::event::PortFactory<Svc>; 2]>,
}

// SAFETY: a port is used by one thread at a time; it moves to the thread that runs the pattern
// once, before use (ipcbench's sides are single-threaded processes).
unsafe impl Send for Port {}

impl Port {
    fn open(
        base: &str,
        root: &FsPath,
        record: usize,
        event: bool,
        role: Role,
        watch: &mut Watch,
    ) -> Result<Port> {
        set_log_level(LogLevel::Error);
        let held = TicksHeld::new();
        let cfg = config(base, root)?;
        let node = iox(
            "node",
            NodeBuilder::new()
                .config(&cfg)
                // ipcbench handles SIGINT and SIGTERM itself.
                .signal_handling_mode(SignalHandlingMode::Disabled)
                .create::<Svc>(),
        )?;
        let (tx_name, rx_name) = if role == Role::Runner { ("a", "b") } else { ("b", "a") };
        let pubsub = |name: &str| {
            let name: ServiceName = iox("service name", name.try_into())?;
            iox(
                "publish-subscribe service",
                node.service_builder(&name)
                    .publish_subscribe::<[u8]>()
                    // A full subscriber holds the publisher back instead of losing samples.
                    .enable_safe_overflow(false)
                    .subscriber_max_buffer_size(depth(record))
                    .history_size(0)
                    .max_publishers(1)
                    .max_subscribers(1)
                    .open_or_create(),
            )
        };
        let tx = settled(|| pubsub(tx_name), watch)?;
        let rx = settled(|| pubsub(rx_name), watch)?;
        let publisher = iox(
            "publisher",
            tx.publisher_builder()
                .initial_max_slice_len(record)
                .backpressure_strategy(
                    ::iceoryx2::prelude::BackpressureStrategy::RetryUntilDelivered,
                )
                .create(),
        )?;
        let subscriber =
            iox("subscriber", rx.subscriber_builder().buffer_size(depth(record)).create())?;
        let (mut notifier, mut listener, mut events) = (None, None, None);
        if event {
            let ev = |name: &str| {
                let name: ServiceName =
                    iox("service name", format!("{name}-event").as_str().try_into())?;
                iox("event service", node.service_builder(&name).event().open_or_create())
            };
            let (etx, erx) = (settled(|| ev(tx_name), watch)?, settled(|| ev(rx_name), watch)?);
            notifier = Some(iox("notifier", etx.notifier_builder().create())?);
            listener = Some(iox("listener", erx.listener_builder().create())?);
            events = Some([etx, erx]);
        }
        let mut port = Port {
            publisher,
            subscriber,
            notifier,
            listener,
            _services: Services { _tx: tx, _rx: rx, _events: events },
            _node: node,
            _held: held,
        };
        port.connect(watch)?;
        Ok(port)
    }

    /// Waits until the other side subscribes (and listens), so that no sample is sent to
    /// nobody: the services keep no history.
    fn connect(&mut self, watch: &mut Watch) -> Result<()> {
        loop {
            let subs = self._services._tx.dynamic_config().number_of_subscribers();
            let listeners = self
                ._services
                ._events
                .as_ref()
                .map_or(1, |[etx, _]| etx.dynamic_config().number_of_listeners());
            if subs >= 1 && listeners >= 1 {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
            watch.check()?;
        }
        iox("update connections", self.publisher.update_connections())?;
        if let Some(n) = &self.notifier {
            iox("update connections", n.update_connections())?;
        }
        Ok(())
    }
}

impl LoanPort for Port {
    #[inline]
    fn send_with(
        &mut self,
        len: usize,
        fill: &mut dyn FnMut(&mut [u8]),
        watch: &mut Watch,
    ) -> Result<()> {
        let mut polls: u32 = 0;
        loop {
            let mut sample = iox("loan", self.publisher.loan_slice_uninit(len))?;
            let chunk = sample.payload_mut();
            // SAFETY: the loaned chunk is shared memory the kernel initialised (zero pages, or
            // an earlier sample); `fill` writes every byte of the record before it is sent.
            let bytes =
                unsafe { std::slice::from_raw_parts_mut(chunk.as_mut_ptr().cast::<u8>(), len) };
            fill(bytes);
            // SAFETY: every byte written just above.
            let sample = unsafe { sample.assume_init() };
            // Delivered to nobody: the subscriber's returned samples were not reclaimed yet
            // (its used-chunk list is full), and iceoryx2 drops such a sample without an error
            // even under RetryUntilDelivered. Send the record again once room is back.
            if iox("send", sample.send())? > 0 {
                break;
            }
            // …or the connection to the subscriber, seen in the service's registry, was not
            // yet ready when the publisher last looked: look again.
            iox("update connections", self.publisher.update_connections())?;
            std::hint::spin_loop();
            polls = polls.wrapping_add(1);
            if polls.is_multiple_of(POLLS_PER_TICK) {
                watch.tick()?;
            }
        }
        if let Some(n) = &self.notifier {
            iox("notify", n.notify())?;
        }
        Ok(())
    }

    #[inline]
    fn recv_with(&mut self, take: &mut dyn FnMut(&[u8]), watch: &mut Watch) -> Result<()> {
        let mut polls: u32 = 0;
        loop {
            if let Some(sample) = iox("receive", self.subscriber.receive())? {
                take(sample.payload());
                return Ok(());
            }
            match &self.listener {
                Some(l) => {
                    // An error here is a signal's EINTR (Ctrl-C): ask the watch, look again.
                    if l.timed_wait(|_| {}, SLICE).is_err() {
                        watch.check()?;
                    }
                    watch.tick()?;
                }
                None => {
                    std::hint::spin_loop();
                    polls = polls.wrapping_add(1);
                    if polls.is_multiple_of(POLLS_PER_TICK) {
                        watch.tick()?;
                    }
                }
            }
        }
    }
}

/// The runner's ownership of a case's iceoryx2 files: its root directory and every
/// shared-memory name with its prefix. Removed when the setup drops, when every process of
/// the case has let go.
struct IoxSetup {
    base: String,
    root: PathBuf,
    record: usize,
    /// Whether the case waits by iceoryx2 events.
    event: bool,
}

impl Setup for IoxSetup {
    fn endpoint(&self) -> Endpoint {
        Endpoint {
            name: Some(self.base.clone()),
            path: Some(self.root.clone()),
            id: Some(self.record as i32),
            port: Some(u16::from(self.event)),
            ..Default::default()
        }
    }
    fn forked_peer(&mut self) -> Result<Medium> {
        let mut watch = peer_watch();
        let p =
            Port::open(&self.base, &self.root, self.record, self.event, Role::Peer, &mut watch)?;
        Ok(Medium::Loans(Box::new(p)))
    }
    fn local(&mut self, watch: &mut Watch) -> Result<Medium> {
        let p = Port::open(&self.base, &self.root, self.record, self.event, Role::Runner, watch)?;
        Ok(Medium::Loans(Box::new(p)))
    }
}

impl Drop for IoxSetup {
    fn drop(&mut self) {
        remove_named(FsPath::new("/dev/shm"), &format!("{}_", self.base));
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Removes every entry of `dir` whose name starts with `prefix`.
fn remove_named(dir: &FsPath, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(prefix) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Blocks SIGALRM in this thread while it lives (a tick that comes meanwhile is
/// delivered when it drops).
struct TicksHeld(libc::sigset_t);

impl TicksHeld {
    fn new() -> TicksHeld {
        // SAFETY: plain signal-mask calls on valid sets.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGALRM);
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            TicksHeld(old)
        }
    }
}

impl Drop for TicksHeld {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved in `new`.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut()) };
    }
}
