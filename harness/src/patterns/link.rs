//! A link: one side of a two-way record exchange (ping-pong) over a [`Medium`].
//!
//! Over a mapped region the layout is two mailboxes, one per direction. A mailbox is a cache
//! line holding the sequence word, the waiters flag and the record header, followed by the
//! payload from the next cache line on. The sender writes header and payload, then publishes the
//! new sequence word (release); the receiver sees it (acquire) and verifies the record where it
//! lies, touching every byte. Ping-pong needs no more than one slot per direction: a side sends
//! again only after the reply to its previous record arrived.
//!
//! Waits: `spin` and `futex` are the [`Signal`] protocol on the sequence word. `eventfd`: the
//! sender publishes the word, then rings the receiver's doorbell (one eventfd per side, carried
//! by the region); the receiver, finding the word unchanged, blocks in `read()` on its own.
//! `condvar`: one process-shared mutex and condition variable after the mailboxes, for both
//! directions (as ipc-bench's shm-sync); the sender broadcasts after publishing.
//!
//! Over a byte stream a record is the header followed by the payload, written with one `write`
//! and read with one `read` where the transport allows.
//!
//! Every record is timed in three stamps: the sender stamps it *published* once its payload is
//! written, right before the release (or the `write`); the receiver stamps it *seen* as soon as
//! the sequence word changed (over a byte stream: its first bytes arrived), before it reads the
//! payload, and *verified* once every byte was checked. `notify` is published → seen (the
//! handoff or wake-up), `deliver` seen → verified (reading and checking the payload).

use crate::os::clock::now_ns;
use crate::os::condvar::{HangBreaker, SharedCondvar, CONDVAR_LEN};
use crate::os::futex::{Signal, Wait, WaitStats};
use crate::os::mapping::{round_up, Region, PAGE};
use crate::os::watch::Watch;
use crate::record::{corrupt, Header, Payloads, Verifier, HEADER_LEN};
use crate::transport::{ByteStream, LoanPort, Medium};
use anyhow::Result;
use std::os::fd::RawFd;

/// A record to send.
#[derive(Clone, Copy, Debug)]
pub struct Outgoing {
    pub seq: u64,
    pub flags: u32,
    /// Tests only: damage the payload after its checksum was taken.
    pub corrupt: bool,
}

impl Outgoing {
    /// Writes this record's payload into `payload` (damaging it if asked to) and returns its
    /// header, not yet stamped.
    #[inline]
    fn fill(&self, payloads: &Payloads, payload: &mut [u8]) -> Header {
        let checksum = payloads.write(self.seq, payload);
        if self.corrupt {
            corrupt(payload);
        }
        Header { seq: self.seq, sent_ns: 0, len: payload.len() as u32, flags: self.flags, checksum }
    }
}

/// A record that arrived and was verified.
#[derive(Clone, Copy, Debug)]
pub struct Incoming {
    /// `header.sent_ns` is when the sender published it.
    pub header: Header,
    /// When the receiver first saw it, before reading the payload.
    pub seen_ns: u64,
    /// When verification finished (every payload byte read).
    pub recv_ns: u64,
}

/// What a sender does between its published stamp and the publish: nothing, but in tests.
#[inline(always)]
fn publish_delay() {
    crate::knobs::publish_pause();
}

pub trait Link {
    fn send(&mut self, out: &Outgoing, watch: &mut Watch) -> Result<()>;
    fn recv(&mut self, watch: &mut Watch) -> Result<Incoming>;
    fn verifier(&self) -> &Verifier;
}

/// Which end of the exchange: the initiator sends on mailbox 0, the responder on mailbox 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Initiator,
    Responder,
}

const LINE: usize = 64;
/// The sequence word and its waiters flag (a [`Signal`]).
const SIGNAL_OFF: usize = 0;
const HEADER_OFF: usize = 8;
const PAYLOAD_OFF: usize = LINE;

fn mailbox_len(size: usize) -> usize {
    PAYLOAD_OFF + round_up(size.max(1), LINE)
}

/// Bytes of shared region a ping-pong of `size`-byte records needs: two mailboxes, then room
/// for the condition variable of wait `condvar`.
pub fn pingpong_region_len(size: usize) -> usize {
    round_up(2 * mailbox_len(size) + CONDVAR_LEN, PAGE)
}

/// Builds the link for a side over whatever medium its transport gave.
pub fn pingpong_link(medium: Medium, side: Side, size: usize, wait: Wait) -> Box<dyn Link> {
    match medium {
        Medium::Mapped(region) => Box::new(MailboxLink::new(region, side, size, wait)),
        Medium::Loans(port) => Box::new(LoanLink::new(port, size)),
        other => Box::new(StreamLink::new(other.into_records().expect("a stream"), size)),
    }
}

/// [`pingpong_link`], and with `durable` every record is made durable before the peer is told
/// of it: `msync(MS_SYNC)` of the mailbox over a mapped file, `fdatasync` over a file stream.
/// A medium with no file to flush is refused.
pub fn pingpong_link_with(
    medium: Medium,
    side: Side,
    size: usize,
    wait: Wait,
    durable: bool,
) -> Result<Box<dyn Link>> {
    if !durable {
        return Ok(pingpong_link(medium, side, size, wait));
    }
    Ok(match medium {
        Medium::Mapped(region) => {
            let mut link = MailboxLink::new(region, side, size, wait);
            link.durable = true;
            Box::new(link)
        }
        Medium::Stream(mut stream) => {
            stream.set_durable()?;
            Box::new(StreamLink::new(stream, size))
        }
        Medium::Message(_) | Medium::Loans(_) => {
            anyhow::bail!(
                "a message transport has no file to make durable: --durable takes file-rw"
            )
        }
    })
}

pub struct MailboxLink {
    _region: Region,
    tx: *mut u8,
    rx: *mut u8,
    size: usize,
    wait: Wait,
    payloads: Payloads,
    verifier: Verifier,
    sent: u32,
    received: u32,
    /// `msync(MS_SYNC)` each record before publishing it (`pingpong --durable`).
    durable: bool,
    stats: WaitStats,
    /// Wait `eventfd`: the doorbell this side sleeps on, and the peer's.
    bells: Option<(RawFd, RawFd)>,
    /// Wait `condvar`.
    condvar: Option<SharedCondvar>,
    /// Wait `condvar`, in the runner: made at the first wait, from its watch.
    breaker: Option<HangBreaker>,
}

// SAFETY: the raw pointers point into the owned region.
unsafe impl Send for MailboxLink {}

impl MailboxLink {
    pub fn new(region: Region, side: Side, size: usize, wait: Wait) -> MailboxLink {
        assert!(region.len() >= 2 * mailbox_len(size), "region too small for the mailboxes");
        let base = region.as_ptr();
        // SAFETY: both mailboxes lie within the region (asserted above).
        let (m0, m1) = unsafe { (base, base.add(mailbox_len(size))) };
        let (tx, rx) = if side == Side::Initiator { (m0, m1) } else { (m1, m0) };
        let bells = (wait == Wait::Eventfd).then(|| {
            let b = region.doorbells();
            assert_eq!(b.len(), 2, "wait eventfd needs a doorbell per side with the region");
            let (mine, theirs) = if side == Side::Initiator { (0, 1) } else { (1, 0) };
            (b[mine].raw(), b[theirs].raw())
        });
        // SAFETY: the condvar's bytes follow the mailboxes (see `pingpong_region_len`), zero in
        // a fresh region, 64-byte aligned, inside the region the link owns.
        let condvar = (wait == Wait::Condvar).then(|| {
            assert!(region.len() >= 2 * mailbox_len(size) + CONDVAR_LEN, "no room for a condvar");
            unsafe { SharedCondvar::attach(base.add(2 * mailbox_len(size))) }
        });
        MailboxLink {
            _region: region,
            tx,
            rx,
            size,
            wait,
            payloads: Payloads::new(size),
            verifier: Verifier::new(size),
            sent: 0,
            received: 0,
            durable: false,
            stats: WaitStats::default(),
            bells,
            condvar,
            breaker: None,
        }
    }

    fn signal(mailbox: *mut u8) -> Signal {
        // SAFETY: the word and its flag are 4-byte aligned (cache-line aligned mailbox) and live
        // as long as the region, which the link owns.
        unsafe { Signal::at(mailbox.add(SIGNAL_OFF)).prefetching(mailbox.add(PAYLOAD_OFF)) }
    }
}

impl Link for MailboxLink {
    #[inline]
    fn send(&mut self, out: &Outgoing, watch: &mut Watch) -> Result<()> {
        // SAFETY: the payload slot lies within the region; the peer reads it only after the
        // sequence word is published, and does not touch it again until we publish anew.
        let payload =
            unsafe { std::slice::from_raw_parts_mut(self.tx.add(PAYLOAD_OFF), self.size) };
        let mut h = out.fill(&self.payloads, payload);
        // Published: the payload is written; what follows is the release (and, durable, the
        // flush that must precede it, which is part of telling the peer).
        h.sent_ns = now_ns();
        // SAFETY: header slot within the first cache line of our mailbox.
        unsafe { std::ptr::write_unaligned(self.tx.add(HEADER_OFF) as *mut Header, h) };
        if self.durable {
            // The record reaches the file before the peer may read it; the sequence word,
            // published next, is flushed with the following record.
            // SAFETY: header and payload lie within our mailbox, inside the owned mapping.
            unsafe {
                crate::patterns::flush::msync_range(
                    self.tx,
                    PAYLOAD_OFF + self.size,
                    libc::MS_SYNC,
                )?
            };
        }
        publish_delay();
        self.sent = self.sent.wrapping_add(1);
        match self.wait {
            Wait::Eventfd | Wait::Condvar => {
                // The word first (release), then the wake-up.
                Self::signal(self.tx).publish(self.sent, Wait::Spin, &mut self.stats);
                self.stats.wakes += 1;
                if let Some((_, theirs)) = self.bells {
                    crate::os::eventfd::ring(theirs);
                }
                if let Some(cv) = self.condvar {
                    cv.notify(watch)?;
                }
            }
            w => Self::signal(self.tx).publish(self.sent, w, &mut self.stats),
        }
        Ok(())
    }

    #[inline]
    fn recv(&mut self, watch: &mut Watch) -> Result<Incoming> {
        let expect = self.received.wrapping_add(1);
        let signal = Self::signal(self.rx);
        match (self.bells, self.condvar) {
            (Some((mine, _)), _) => {
                self.stats.waits += 1;
                while signal.load() != expect {
                    self.stats.sleeps += 1;
                    crate::os::eventfd::wait(mine, watch)?;
                }
            }
            (_, Some(cv)) => {
                self.stats.waits += 1;
                if self.breaker.is_none() {
                    self.breaker = HangBreaker::for_watch(watch);
                }
                let breaker = self.breaker.as_ref();
                self.stats.sleeps += cv.wait_until(|| signal.load() == expect, watch, breaker)?;
            }
            _ => signal.wait_for(expect, self.wait, watch, &mut self.stats)?,
        }
        let seen_ns = now_ns();
        crate::knobs::deliver_pause();
        self.received = expect;
        // SAFETY: published by the peer before the sequence word (acquire in wait_for).
        let header = unsafe { std::ptr::read_unaligned(self.rx.add(HEADER_OFF) as *const Header) };
        let payload = unsafe { std::slice::from_raw_parts(self.rx.add(PAYLOAD_OFF), self.size) };
        self.verifier.check(&header, payload);
        crate::knobs::slowdown_spin();
        let recv_ns = now_ns();
        watch.progress();
        Ok(Incoming { header, seen_ns, recv_ns })
    }

    fn verifier(&self) -> &Verifier {
        &self.verifier
    }
}

pub struct StreamLink {
    stream: Box<dyn ByteStream>,
    payloads: Payloads,
    verifier: Verifier,
    tx_buf: Vec<u8>,
    rx_buf: Vec<u8>,
}

impl StreamLink {
    pub fn new(stream: Box<dyn ByteStream>, size: usize) -> StreamLink {
        StreamLink {
            stream,
            payloads: Payloads::new(size),
            verifier: Verifier::new(size),
            tx_buf: vec![0; HEADER_LEN + size],
            rx_buf: vec![0; HEADER_LEN + size],
        }
    }
}

impl Link for StreamLink {
    #[inline]
    fn send(&mut self, out: &Outgoing, watch: &mut Watch) -> Result<()> {
        let (head, payload) = self.tx_buf.split_at_mut(HEADER_LEN);
        let mut h = out.fill(&self.payloads, payload);
        h.sent_ns = now_ns();
        head.copy_from_slice(&h.to_bytes());
        publish_delay();
        self.stream.write_all(&self.tx_buf, watch)
    }

    #[inline]
    fn recv(&mut self, watch: &mut Watch) -> Result<Incoming> {
        // Both directions carry records of one size, so header and payload arrive in one read
        // where the transport allows; seen is when the first bytes came.
        let seen_ns = self.stream.read_exact_seen(&mut self.rx_buf, watch)?;
        crate::knobs::deliver_pause();
        let header = Header::from_bytes(&self.rx_buf);
        self.verifier.check(&header, &self.rx_buf[HEADER_LEN..]);
        crate::knobs::slowdown_spin();
        let recv_ns = now_ns();
        watch.progress();
        Ok(Incoming { header, seen_ns, recv_ns })
    }

    fn verifier(&self) -> &Verifier {
        &self.verifier
    }
}

/// Over loaned messages: the sender writes header and payload into the loaned sample, the
/// receiver verifies the record where it lies in shared memory.
pub struct LoanLink {
    port: Box<dyn LoanPort>,
    size: usize,
    payloads: Payloads,
    verifier: Verifier,
}

impl LoanLink {
    pub fn new(port: Box<dyn LoanPort>, size: usize) -> LoanLink {
        LoanLink { port, size, payloads: Payloads::new(size), verifier: Verifier::new(size) }
    }
}

impl Link for LoanLink {
    #[inline]
    fn send(&mut self, out: &Outgoing, watch: &mut Watch) -> Result<()> {
        let payloads = &self.payloads;
        self.port.send_with(
            HEADER_LEN + self.size,
            &mut |msg| {
                let (head, payload) = msg.split_at_mut(HEADER_LEN);
                let mut h = out.fill(payloads, payload);
                // Published: the payload is written; the send follows.
                h.sent_ns = now_ns();
                head.copy_from_slice(&h.to_bytes());
                publish_delay();
            },
            watch,
        )
    }

    #[inline]
    fn recv(&mut self, watch: &mut Watch) -> Result<Incoming> {
        let verifier = &mut self.verifier;
        let (mut header, mut seen_ns) = (None, 0);
        self.port.recv_with(
            &mut |msg| {
                seen_ns = now_ns();
                crate::knobs::deliver_pause();
                let h = Header::from_bytes(msg);
                verifier.check(&h, &msg[HEADER_LEN..]);
                crate::knobs::slowdown_spin();
                header = Some(h);
            },
            watch,
        )?;
        let header = header.expect("recv_with hands over one message");
        let recv_ns = now_ns();
        watch.progress();
        Ok(Incoming { header, seen_ns, recv_ns })
    }

    fn verifier(&self) -> &Verifier {
        &self.verifier
    }
}
