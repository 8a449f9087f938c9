//! A record: a `#[repr(C)]` header followed by the payload. Every record carries its sequence
//! number and a checksum, and every receiver verifies every record it is handed.
//!
//! The payload is the record's own pattern ([`pattern`]): every 8-byte word is a function of
//! the sequence number and the word's place, and the first word is the sequence number itself.
//! The receiver compares every byte it is said to receive with what it must be, so a torn,
//! stale, shifted or damaged record fails, at a cost below that of moving the bytes.

pub mod pattern;
pub mod stats;

use ipcbench_results::Integrity;

/// The header every record starts with (32 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub seq: u64,
    /// `CLOCK_MONOTONIC` ns when the sender published the record (its payload written, right
    /// before the release or the `write`); 0 where nobody times it (the stream).
    pub sent_ns: u64,
    /// Payload length in bytes.
    pub len: u32,
    pub flags: u32,
    /// The key of the payload's pattern ([`pattern::key`] of `seq`): a header and a payload of
    /// different records do not pass together.
    pub checksum: u64,
}

pub const HEADER_LEN: usize = std::mem::size_of::<Header>();
/// The last record of an exchange: "no more records", not counted, not answered.
pub const FLAG_STOP: u32 = 1;
/// A ping-pong warm-up record: verified, not measured (the initiator decides, by time).
pub const FLAG_WARMUP: u32 = 4;

impl Header {
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        // SAFETY: Header is repr(C), 32 bytes of plain integers with no padding.
        unsafe { std::mem::transmute_copy(self) }
    }
    pub fn from_bytes(b: &[u8]) -> Header {
        assert!(b.len() >= HEADER_LEN);
        // SAFETY: length checked; any bit pattern is a valid Header; read_unaligned for safety.
        unsafe { std::ptr::read_unaligned(b.as_ptr() as *const Header) }
    }
}

/// Bytes at the start of a payload that carry its sequence number.
pub const STAMP: usize = 8;

/// The payloads of one size: each record's is written on demand from its sequence number
/// ([`pattern::fill`]), as cheap as copying a prepared one.
pub struct Payloads {
    len: usize,
}

impl Payloads {
    pub fn new(len: usize) -> Payloads {
        Payloads { len }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes record `seq`'s payload into `dst` (exactly `len` bytes) and returns the key its
    /// header carries.
    #[inline]
    pub fn write(&self, seq: u64, dst: &mut [u8]) -> u64 {
        pattern::fill(dst, seq);
        pattern::key(seq)
    }

    /// The payload as a fresh buffer (for tests and the stream transports' send buffer).
    pub fn make(&self, seq: u64) -> (Vec<u8>, u64) {
        let mut v = vec![0; self.len];
        let sum = self.write(seq, &mut v);
        (v, sum)
    }
}

/// `len` bytes of a cheap, non-repeating-looking fill (xorshift from `seed`), so that
/// compression or zero pages play no role.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The receiver's ledger: checks each record and counts what was lost, reordered or corrupted.
#[derive(Debug, Default)]
pub struct Verifier {
    next: u64,
    expected_len: usize,
    pub counts: Integrity,
}

impl Verifier {
    pub fn new(expected_len: usize) -> Verifier {
        Verifier { next: 0, expected_len, counts: Integrity::default() }
    }

    /// Checks one record: sequence, length, key, and every payload byte against its pattern.
    /// Returns whether the record is intact.
    #[inline]
    pub fn check(&mut self, h: &Header, payload: &[u8]) -> bool {
        self.check_with(h, payload, || pattern::matches(payload, h.seq))
    }

    /// [`Verifier::check`] with the payload compared by the caller: `matches` says whether
    /// `payload` is record `h.seq`'s pattern (for a reader that checked its copy while copying
    /// it, [`pattern::copy_and_match`]).
    #[inline]
    pub fn check_with(
        &mut self,
        h: &Header,
        payload: &[u8],
        matches: impl FnOnce() -> bool,
    ) -> bool {
        self.counts.received += 1;
        if h.seq == self.next {
            self.next += 1;
        } else if h.seq > self.next {
            self.counts.lost += h.seq - self.next;
            self.next = h.seq + 1;
        } else {
            self.counts.reordered += 1;
        }
        let n = payload.len().min(STAMP);
        let intact = h.len as usize == self.expected_len
            && payload.len() == self.expected_len
            && payload[..n] == h.seq.to_le_bytes()[..n]
            && h.checksum == pattern::key(h.seq)
            && matches();
        if !intact {
            self.counts.corrupted += 1;
        }
        intact
    }
}

/// A fault injected on purpose (tests only): the sender corrupts or skips one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Fault {
    /// Flip a payload byte of record `n` after its checksum was taken.
    Corrupt(u64),
    /// Never send record `n`: the sequence jumps over it.
    Drop(u64),
}

impl std::str::FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, n) = s.split_once(':').ok_or("expected corrupt:N or drop:N")?;
        let n: u64 = n.parse().map_err(|_| format!("{n:?} is not a record number"))?;
        match kind {
            "corrupt" => Ok(Fault::Corrupt(n)),
            "drop" => Ok(Fault::Drop(n)),
            _ => Err(format!("unknown fault {kind:?}: expected corrupt:N or drop:N")),
        }
    }
}

/// Numbers outgoing records, applying an injected fault if any.
#[derive(Debug, Default)]
pub struct Sequencer {
    next: u64,
    count: u64,
    fault: Option<Fault>,
}

impl Sequencer {
    pub fn new(fault: Option<Fault>) -> Sequencer {
        Sequencer { next: 0, count: 0, fault }
    }

    /// The next sequence number to send, and whether its payload must be corrupted.
    #[inline]
    pub fn next_seq(&mut self) -> (u64, bool) {
        let i = self.count;
        self.count += 1;
        if self.fault == Some(Fault::Drop(i)) {
            self.next += 1;
        }
        let seq = self.next;
        self.next += 1;
        (seq, self.fault == Some(Fault::Corrupt(i)))
    }

    /// Records handed out so far (what the integrity ledger calls `sent`).
    pub fn sent(&self) -> u64 {
        self.count
    }
}

/// Flips one byte of a payload that was written with a valid key.
pub fn corrupt(payload: &mut [u8]) {
    if let Some(b) = payload.last_mut() {
        *b ^= 0x5A;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intact_records_pass_and_damage_is_counted() {
        for len in [1usize, 8, 9, 64, 4096] {
            let p = Payloads::new(len);
            let mut v = Verifier::new(len);
            for seq in 0..8 {
                let (buf, sum) = p.make(seq);
                let h = Header { seq, len: len as u32, checksum: sum, ..Default::default() };
                assert!(v.check(&h, &buf), "len {len} seq {seq}");
            }
            assert_eq!(v.counts.corrupted, 0);
            let (mut buf, sum) = p.make(8);
            corrupt(&mut buf);
            let h = Header { seq: 8, len: len as u32, checksum: sum, ..Default::default() };
            assert!(!v.check(&h, &buf));
            assert_eq!(v.counts.corrupted, 1);
        }
    }

    #[test]
    fn a_torn_record_fails_its_check() {
        let p = Payloads::new(256);
        let (a, sum) = p.make(1);
        let (b, _) = p.make(2);
        let mut torn = a.clone();
        torn[128..].copy_from_slice(&b[128..]);
        let mut v = Verifier::new(256);
        v.next = 1;
        let h = Header { seq: 1, len: 256, checksum: sum, ..Default::default() };
        assert!(!v.check(&h, &torn));
    }

    #[test]
    fn gaps_and_reorders_are_counted() {
        let p = Payloads::new(16);
        let mut v = Verifier::new(16);
        for seq in [0u64, 1, 3, 2, 4] {
            let (buf, sum) = p.make(seq);
            v.check(&Header { seq, len: 16, checksum: sum, ..Default::default() }, &buf);
        }
        assert_eq!((v.counts.lost, v.counts.reordered, v.counts.received), (1, 1, 5));
    }

    #[test]
    fn sequencer_injects_faults() {
        let mut s = Sequencer::new(Some(Fault::Drop(2)));
        let seqs: Vec<u64> = (0..4).map(|_| s.next_seq().0).collect();
        assert_eq!(seqs, [0, 1, 3, 4]);
        let mut s = Sequencer::new(Some(Fault::Corrupt(1)));
        assert_eq!((0..3).map(|_| s.next_seq().1).collect::<Vec<_>>(), [false, true, false]);
        assert_eq!("corrupt:5".parse::<Fault>(), Ok(Fault::Corrupt(5)));
        assert!("melt:5".parse::<Fault>().is_err());
    }

    #[test]
    fn header_round_trips_bytes() {
        let h = Header { seq: 7, sent_ns: 99, len: 64, flags: FLAG_STOP, checksum: 0xABCD };
        assert_eq!(Header::from_bytes(&h.to_bytes()), h);
        assert_eq!(HEADER_LEN, 32);
    }
}
