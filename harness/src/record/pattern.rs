//! The payload pattern every receiver checks, word by word. Word `w` of record `seq`'s payload
//! (bytes `8w .. 8w+8`, little-endian) is `key(seq) + w·STEP` (wrapping); word 0 is replaced by
//! the sequence stamp, and a length that is not a multiple of 8 ends in the first bytes of the
//! next word. `key` is a bijection of `seq`, so every word depends on the record it belongs to:
//! a torn read (part of one record, part of another), a stale slot, a shifted or lost byte all
//! fail the check, whichever records they come from.
//!
//! Why not a checksum: a receiver must touch every byte it is said to receive, but how it checks
//! them should cost less than moving them. XXH3 (hand-vectorised, AVX-512) ran at about 30 GB/s
//! here, half the ~57 GB/s at which one core copies 64 KiB out of another core's cache, so a
//! stream's reader measured its hash, not the transport. Comparing with the expected words is
//! one add and one compare per 8 bytes: ~110 GB/s with AVX-512, ~70 GB/s with AVX2 on a 64 KiB
//! block in cache (same core, this VM), so the transport sets the pace again. A
//! ring writer writes the pattern in place, or for payloads of 4–256 KiB into a buffer of its
//! own that it then copies into the ring (`patterns::stream::STAGED_SIZES` says why).

/// The multiplier of [`key`] (odd, so the map is a bijection) and the step between words.
const KEY_MUL: u64 = 0xD6E8_FEB8_6659_FD93;
const STEP: u64 = 0x9E37_79B9_7F4A_7C15;
/// Bytes of a word.
const WORD: usize = 8;
/// Bytes of a cache line: the vector loops start on one.
const LINE: usize = 64;

/// The first word of record `seq`'s pattern (before the stamp replaces it); also what the
/// record's header carries as its `checksum`, so that a header and a payload of different
/// records do not pass together.
#[inline]
pub fn key(seq: u64) -> u64 {
    (seq ^ 0x5851_F42D_4C95_7F2D).wrapping_mul(KEY_MUL)
}

/// Writes record `seq`'s pattern into `dst`, words from `first_word` on (`dst` starts at that
/// word's first byte), with the widest vector unit the CPU has.
#[inline]
fn fill_from(dst: &mut [u8], seq: u64, first_word: usize) {
    #[cfg(target_arch = "x86_64")]
    if dst.len() >= 256 {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked above).
            return unsafe { fill_avx512(dst, seq, first_word) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked above).
            return unsafe { fill_avx2(dst, seq, first_word) };
        }
    }
    fill_body(dst, seq, first_word)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fill_avx512(dst: &mut [u8], seq: u64, first_word: usize) {
    fill_body(dst, seq, first_word)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fill_avx2(dst: &mut [u8], seq: u64, first_word: usize) {
    fill_body(dst, seq, first_word)
}

#[inline(always)]
fn fill_body(dst: &mut [u8], seq: u64, first_word: usize) {
    let mut v = key(seq).wrapping_add((first_word as u64).wrapping_mul(STEP));
    let mut words = dst.chunks_exact_mut(WORD);
    for w in &mut words {
        w.copy_from_slice(&v.to_le_bytes());
        v = v.wrapping_add(STEP);
    }
    let rest = words.into_remainder();
    let n = rest.len();
    rest.copy_from_slice(&v.to_le_bytes()[..n]);
}

/// Record `seq`'s payload: the pattern, then the stamp in its first 8 bytes.
#[inline]
pub fn fill(dst: &mut [u8], seq: u64) {
    fill_from(dst, seq, 0);
    let n = dst.len().min(WORD);
    dst[..n].copy_from_slice(&seq.to_le_bytes()[..n]);
}

/// Whether `payload` is record `seq`'s, stamp included.
#[inline]
pub fn matches(payload: &[u8], seq: u64) -> bool {
    // The stamp and the rest of the first line word by word, then whole lines from a line's
    // start: the vector loop then never loads across two cache lines (a payload of 1 KiB or
    // more starts on a line in the ring).
    let (n, head) = (payload.len().min(WORD), payload.len().min(LINE));
    (payload[..n] == seq.to_le_bytes()[..n])
        & matches_body(&payload[n..head], seq, 1)
        & matches_from(&payload[head..], seq, LINE / WORD)
}

/// Copies `src` into `dst` (same length) and returns whether the copy is record `seq`'s
/// payload: one pass, each word checked as it is stored, so the words checked are the words
/// copied (and the ring is read once, as a plain copy reads it).
#[inline]
pub fn copy_and_match(dst: &mut [u8], src: &[u8], seq: u64) -> bool {
    assert_eq!(dst.len(), src.len(), "copy_and_match: lengths differ");
    // The stamp and the rest of the first line word by word, then whole lines (as `matches`).
    let (n, head) = (dst.len().min(WORD), dst.len().min(LINE));
    dst[..n].copy_from_slice(&src[..n]);
    let stamp = dst[..n] == seq.to_le_bytes()[..n];
    let first = copy_match_body(&mut dst[n..head], &src[n..head], seq, 1);
    let (dst, src) = (&mut dst[head..], &src[head..]);
    let words = LINE / WORD;
    #[cfg(target_arch = "x86_64")]
    if dst.len() >= 256 {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked above).
            return stamp & first & unsafe { copy_match_avx512(dst, src, seq, words) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked above).
            return stamp & first & unsafe { copy_match_avx2(dst, src, seq, words) };
        }
    }
    stamp & first & copy_match_body(dst, src, seq, words)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn copy_match_avx512(dst: &mut [u8], src: &[u8], seq: u64, first_word: usize) -> bool {
    copy_match_body(dst, src, seq, first_word)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn copy_match_avx2(dst: &mut [u8], src: &[u8], seq: u64, first_word: usize) -> bool {
    copy_match_body(dst, src, seq, first_word)
}

/// The copy and its check, line by line, asking for the line [`PREFETCH_AHEAD`] bytes on
/// before each: a stream's copying reader reads lines the writer's core holds, and the
/// hardware's prefetcher stops at every 4 KiB page.
#[inline(always)]
fn copy_match_body(dst: &mut [u8], src: &[u8], seq: u64, first_word: usize) -> bool {
    let mut v = key(seq).wrapping_add((first_word as u64).wrapping_mul(STEP));
    let mut diff = 0u64;
    let mut d = dst.chunks_exact_mut(LINE);
    let mut s = src.chunks_exact(LINE);
    for (at, (d, s)) in (0..).step_by(LINE).zip((&mut d).zip(&mut s)) {
        prefetch(src, at + PREFETCH_AHEAD);
        for w in 0..LINE / WORD {
            let x = u64::from_le_bytes(s[w * WORD..][..WORD].try_into().expect("8 bytes"));
            d[w * WORD..][..WORD].copy_from_slice(&x.to_le_bytes());
            diff |= x ^ v.wrapping_add((w as u64).wrapping_mul(STEP));
        }
        v = v.wrapping_add(((LINE / WORD) as u64).wrapping_mul(STEP));
    }
    diff == 0 && copy_match_words(d.into_remainder(), s.remainder(), v)
}

/// The copy and check of what is left after whole lines, word by word from `v`.
#[inline(always)]
fn copy_match_words(dst: &mut [u8], src: &[u8], mut v: u64) -> bool {
    let mut diff = 0u64;
    let mut d = dst.chunks_exact_mut(WORD);
    let mut s = src.chunks_exact(WORD);
    for (d, s) in (&mut d).zip(&mut s) {
        let w = u64::from_le_bytes(s.try_into().expect("8 bytes"));
        d.copy_from_slice(&w.to_le_bytes());
        diff |= w ^ v;
        v = v.wrapping_add(STEP);
    }
    let (d, s) = (d.into_remainder(), s.remainder());
    d.copy_from_slice(s);
    diff == 0 && *s == v.to_le_bytes()[..s.len()]
}

/// How far ahead of its reads a copying reader asks for lines: one page. At 64 KiB records,
/// alternating builds in one sitting (spin, posix-shm, floor/copy 56–62 GB/s): none 38–39 GB/s,
/// 1 KiB 40–43, 2 KiB 41–43, 4 KiB 44–45.
const PREFETCH_AHEAD: usize = 4096;

/// Asks for the line at `p[at]` to be brought into the cache, if `at` lies within `p`. A hint:
/// it never faults and changes no value.
#[inline(always)]
fn prefetch(p: &[u8], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if at < p.len() {
        // SAFETY: a prefetch only reads, and `at` is within `p`.
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            _mm_prefetch::<_MM_HINT_T0>(p.as_ptr().add(at) as *const i8);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, at);
}

/// Whether `p` holds record `seq`'s pattern from word `first_word` on (`p` starts at that
/// word's first byte). The widest vector unit the CPU has is chosen at run time.
#[inline]
fn matches_from(p: &[u8], seq: u64, first_word: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    if p.len() >= 256 {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked above).
            return unsafe { matches_avx512(p, seq, first_word) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked above).
            return unsafe { matches_avx2(p, seq, first_word) };
        }
    }
    matches_body(p, seq, first_word)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn matches_avx512(p: &[u8], seq: u64, first_word: usize) -> bool {
    matches_body(p, seq, first_word)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn matches_avx2(p: &[u8], seq: u64, first_word: usize) -> bool {
    matches_body(p, seq, first_word)
}

/// The check, written so the compiler vectorises it for the features of its caller: the
/// differences of all words are OR-ed together, without an early exit.
#[inline(always)]
fn matches_body(p: &[u8], seq: u64, first_word: usize) -> bool {
    let mut v = key(seq).wrapping_add((first_word as u64).wrapping_mul(STEP));
    let mut diff = 0u64;
    let mut words = p.chunks_exact(WORD);
    for w in &mut words {
        diff |= u64::from_le_bytes(w.try_into().expect("8 bytes")) ^ v;
        v = v.wrapping_add(STEP);
    }
    let rest = words.remainder();
    diff == 0 && *rest == v.to_le_bytes()[..rest.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(len: usize, seq: u64) -> Vec<u8> {
        let mut v = vec![0; len];
        fill(&mut v, seq);
        v
    }

    #[test]
    fn every_length_matches_its_own_record_only() {
        for len in (0..300).chain([4095, 4096, 4097, 8191, 65536, 65537]) {
            let p = payload(len, 7);
            assert!(matches(&p, 7), "len {len}");
            if len > 0 {
                assert!(!matches(&p, 8), "len {len}: another record's number");
            }
            if len > WORD {
                assert!(!matches(&payload(len, 11)[..], 7) && !matches(&p, 11), "len {len}");
            }
        }
    }

    #[test]
    fn any_flipped_byte_fails_at_every_width() {
        for len in [9usize, 64, 300, 4096, 70_000] {
            let p = payload(len, 3);
            for at in [0, 7, 8, len / 2, len - 1] {
                let mut bad = p.clone();
                bad[at] ^= 0x10;
                assert!(!matches(&bad, 3), "len {len}, byte {at}");
                assert!(!matches_body(&bad[8..], 3, 1) || at < 8, "portable, len {len} byte {at}");
            }
            // The portable fill writes what the dispatched one does.
            let mut portable = vec![0; len];
            fill_body(&mut portable[8..], 3, 1);
            assert_eq!(portable[8..], p[8..], "len {len}");
        }
    }

    #[test]
    fn a_torn_or_shifted_record_fails() {
        let (a, b) = (payload(4096, 1), payload(4096, 5));
        let mut torn = a.clone();
        torn[2048..].copy_from_slice(&b[2048..]);
        assert!(!matches(&torn, 1));
        let mut shifted = a.clone();
        shifted.copy_within(9.., 8);
        assert!(!matches(&shifted, 1));
    }

    #[test]
    fn a_copy_is_exact_and_checked_word_by_word() {
        for len in [0usize, 5, 8, 9, 300, 4096, 4104, 3 * 4096 + 17, 65536] {
            let src = payload(len, 42);
            let mut dst = vec![0; len];
            assert!(copy_and_match(&mut dst, &src, 42), "len {len}");
            assert_eq!(dst, src);
            if len > 0 {
                let mut bad = src.clone();
                bad[len - 1] ^= 1;
                assert!(!copy_and_match(&mut dst, &bad, 42), "len {len}");
                assert!(!copy_and_match(&mut dst, &src, 43), "len {len}");
            }
        }
    }

    #[test]
    fn keys_differ_for_different_records() {
        let keys: std::collections::HashSet<u64> = (0..100_000).map(key).collect();
        assert_eq!(keys.len(), 100_000);
    }
}
