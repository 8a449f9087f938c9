//! The record checksum: XXH3-64 (no seed, default secret), as `xxhash-rust` computes it — but
//! fast on large records. Every receiver hashes every payload byte it is said to receive, so for
//! large records the hash, not the transport, would set the pace: `xxhash-rust` picks its SIMD
//! width when it is compiled (SSE2 for a portable x86-64 build, ~15 GB/s here), while this module
//! picks AVX-512 or AVX2 at run time when the CPU has them (~2–3× faster). Inputs up to 240
//! bytes, and every CPU without those, go to `xxhash-rust`. The digests are the same (tests
//! compare them byte length by byte length); only the speed differs.
//!
//! [`copy_and_hash`] is for a reader that copies a record out, then verifies its copy: it
//! verifies each 1 KiB block of the copy as soon as it has landed, while the next block's loads
//! are on their way, instead of reading the whole copy a second time after the copy.

/// XXH3-64 of `input`.
#[inline]
pub fn xxh3_64(input: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if input.len() > MID_SIZE_MAX {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked above).
            return unsafe { x86::long_avx512(input) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked above).
            return unsafe { x86::long_avx2(input) };
        }
    }
    xxhash_rust::xxh3::xxh3_64(input)
}

/// Copies `src` into `dst` (same length) and returns XXH3-64 of `dst[from..]`: the copy is
/// verified as it lands, each 1 KiB block hashed from `dst` while the next one is being copied,
/// so that the hash overlaps with the copy's loads instead of following the whole copy.
#[inline]
pub fn copy_and_hash(dst: &mut [u8], src: &[u8], from: usize) -> u64 {
    assert_eq!(dst.len(), src.len(), "copy_and_hash: lengths differ");
    let from = from.min(dst.len());
    #[cfg(target_arch = "x86_64")]
    if dst.len() - from > MID_SIZE_MAX {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F; lengths checked above.
            return unsafe { x86::copy_hash_avx512(dst, src, from) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2; lengths checked above.
            return unsafe { x86::copy_hash_avx2(dst, src, from) };
        }
    }
    dst.copy_from_slice(src);
    xxhash_rust::xxh3::xxh3_64(&dst[from..])
}

/// How far ahead of its reads a long hash or a copy asks for lines (measured: 4 KiB, into L2,
/// lifts a copy out of another CPU's cache from ~16 to ~18 GB/s here; 1–2 KiB helps less).
const PREFETCH_AHEAD: usize = 4096;
/// Longer inputs take XXH3's long path (stripes of 64 bytes, blocks of 16 stripes).
const MID_SIZE_MAX: usize = 240;
const STRIPE: usize = 64;
const SECRET_LEN: usize = 192;
const STRIPES_PER_BLOCK: usize = (SECRET_LEN - STRIPE) / 8;
const BLOCK: usize = STRIPE * STRIPES_PER_BLOCK;
const SECRET_LASTACC_START: usize = 7;
const SECRET_MERGEACCS_START: usize = 11;

const PRIME32_1: u64 = 0x9E37_79B1;
const PRIME32_2: u64 = 0x85EB_CA77;
const PRIME32_3: u64 = 0xC2B2_AE3D;
const PRIME64_1: u64 = 0x9E37_79B1_85EB_CA87;
const PRIME64_2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const PRIME64_3: u64 = 0x1656_67B1_9E37_79F9;
const PRIME64_4: u64 = 0x85EB_CA77_C2B2_AE63;
const PRIME64_5: u64 = 0x27D4_EB2F_1656_67C5;

const INITIAL_ACC: [u64; 8] =
    [PRIME32_3, PRIME64_1, PRIME64_2, PRIME64_3, PRIME64_4, PRIME32_2, PRIME64_5, PRIME32_1];

/// XXH3's default secret (the specification's `kSecret`).
const SECRET: [u8; SECRET_LEN] = [
    0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
    0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
    0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
    0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
    0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
    0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
    0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
    0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
    0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
    0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
    0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
    0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
];

fn read64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn mul128_fold64(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// Folds the eight accumulators into the digest.
fn merge(acc: &[u64; 8], len: usize) -> u64 {
    let mut r = (len as u64).wrapping_mul(PRIME64_1);
    for i in 0..4 {
        let s = SECRET_MERGEACCS_START + 16 * i;
        r = r.wrapping_add(mul128_fold64(
            acc[2 * i] ^ read64(&SECRET, s),
            acc[2 * i + 1] ^ read64(&SECRET, s + 8),
        ));
    }
    r ^= r >> 37;
    r = r.wrapping_mul(0x1656_6791_9E37_79F9);
    r ^ (r >> 32)
}

/// The long path's walk over the input at `p` (`len` bytes), for any accumulator width: whole
/// blocks, each followed by a scramble, then the stripes of the last partial block, then the
/// input's last 64 bytes. `$before` runs before block `$b` is read (to copy it in).
macro_rules! long_hash {
    (
        $p:expr, $len:expr, $acc:ident, $accumulate:ident, $scramble:ident,
        $b:ident => $before:block
    ) => {{
        let (p, len, s): (*const u8, usize, *const u8) = ($p, $len, SECRET.as_ptr());
        let blocks = (len - 1) / BLOCK;
        for $b in 0..blocks {
            $before
            for st in 0..STRIPES_PER_BLOCK {
                $accumulate(&mut $acc, p.add($b * BLOCK + st * STRIPE), s.add(st * 8));
            }
            $scramble(&mut $acc, s.add(SECRET_LEN - STRIPE));
        }
        let $b = blocks;
        $before
        let stripes = ((len - 1) - BLOCK * blocks) / STRIPE;
        for st in 0..stripes {
            $accumulate(&mut $acc, p.add(blocks * BLOCK + st * STRIPE), s.add(st * 8));
        }
        $accumulate(
            &mut $acc,
            p.add(len - STRIPE),
            s.add(SECRET_LEN - STRIPE - SECRET_LASTACC_START),
        );
    }};
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use std::arch::x86_64::*;

    /// `_MM_SHUFFLE(1, 0, 3, 2)`: swap the two 64-bit halves of each 128-bit lane.
    const SWAP64: i32 = 0b01_00_11_10;
    /// `_MM_SHUFFLE(0, 3, 0, 1)`: the high 32 bits of each 64-bit lane into its low half.
    const HI32: i32 = 0b00_11_00_01;

    /// Asks for the line `PREFETCH_AHEAD` bytes past `i` (into L2), if it is still inside the
    /// `n` bytes at `p`: when `p` lies in another CPU's cache (a ring just written), more lines
    /// are then on their way than the hardware prefetcher alone keeps in flight.
    #[inline(always)]
    unsafe fn prefetch_ahead(p: *const u8, i: usize, n: usize) {
        if i + PREFETCH_AHEAD < n {
            _mm_prefetch::<_MM_HINT_T1>(p.add(i + PREFETCH_AHEAD) as *const i8);
        }
    }

    /// Copies `src[*done..end]` to `dst` (64 bytes at a time) and moves `*done` to `end`;
    /// `src` is `n` bytes long.
    #[inline(always)]
    unsafe fn fill(dst: *mut u8, src: *const u8, done: &mut usize, end: usize, n: usize) {
        if end <= *done {
            return;
        }
        let mut i = *done;
        while i + 64 <= end {
            prefetch_ahead(src, i, n);
            let v = std::ptr::read_unaligned(src.add(i) as *const [u64; 8]);
            std::ptr::write_unaligned(dst.add(i) as *mut [u64; 8], v);
            i += 64;
        }
        std::ptr::copy_nonoverlapping(src.add(i), dst.add(i), end - i);
        *done = end;
    }

    /// # Safety
    /// The CPU must have AVX-512F; `dst` as long as `src`, longer than `from + 240`.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn copy_hash_avx512(dst: &mut [u8], src: &[u8], from: usize) -> u64 {
        let (n, d, sp) = (dst.len(), dst.as_mut_ptr(), src.as_ptr());
        let mut done = 0;
        let mut acc = _mm512_loadu_si512(INITIAL_ACC.as_ptr() as *const __m512i);
        // Block b is hashed from `dst` once copied; block b + 1 is copied first, so that its
        // loads are on their way while block b is hashed.
        long_hash!(d.add(from), n - from, acc, accumulate512, scramble512, b => {
            fill(d, sp, &mut done, (from + (b + 2) * BLOCK).min(n), n)
        });
        fill(d, sp, &mut done, n, n);
        let mut out = [0u64; 8];
        _mm512_storeu_si512(out.as_mut_ptr() as *mut __m512i, acc);
        merge(&out, n - from)
    }

    /// # Safety
    /// The CPU must have AVX2; `dst` as long as `src`, longer than `from + 240`.
    #[target_feature(enable = "avx2")]
    pub unsafe fn copy_hash_avx2(dst: &mut [u8], src: &[u8], from: usize) -> u64 {
        let (n, d, sp) = (dst.len(), dst.as_mut_ptr(), src.as_ptr());
        let mut done = 0;
        let init = INITIAL_ACC.as_ptr() as *const __m256i;
        let mut acc = [_mm256_loadu_si256(init), _mm256_loadu_si256(init.add(1))];
        long_hash!(d.add(from), n - from, acc, accumulate2, scramble2, b => {
            fill(d, sp, &mut done, (from + (b + 2) * BLOCK).min(n), n)
        });
        fill(d, sp, &mut done, n, n);
        let mut out = [0u64; 8];
        _mm256_storeu_si256(out.as_mut_ptr() as *mut __m256i, acc[0]);
        _mm256_storeu_si256(out.as_mut_ptr().add(4) as *mut __m256i, acc[1]);
        merge(&out, n - from)
    }

    #[target_feature(enable = "avx2")]
    unsafe fn accumulate2(acc: &mut [__m256i; 2], input: *const u8, secret: *const u8) {
        for (i, a) in acc.iter_mut().enumerate() {
            let data = _mm256_loadu_si256(input.add(32 * i) as *const __m256i);
            let key = _mm256_loadu_si256(secret.add(32 * i) as *const __m256i);
            let data_key = _mm256_xor_si256(data, key);
            let product = _mm256_mul_epu32(data_key, _mm256_srli_epi64::<32>(data_key));
            let swapped = _mm256_shuffle_epi32::<SWAP64>(data);
            *a = _mm256_add_epi64(*a, _mm256_add_epi64(product, swapped));
        }
    }

    #[target_feature(enable = "avx2")]
    unsafe fn scramble2(acc: &mut [__m256i; 2], secret: *const u8) {
        let prime = _mm256_set1_epi32(PRIME32_1 as i32);
        for (i, a) in acc.iter_mut().enumerate() {
            let v = _mm256_xor_si256(*a, _mm256_srli_epi64::<47>(*a));
            let key = _mm256_loadu_si256(secret.add(32 * i) as *const __m256i);
            let dk = _mm256_xor_si256(v, key);
            let lo = _mm256_mul_epu32(dk, prime);
            let hi = _mm256_mul_epu32(_mm256_shuffle_epi32::<HI32>(dk), prime);
            *a = _mm256_add_epi64(lo, _mm256_slli_epi64::<32>(hi));
        }
    }

    /// # Safety
    /// The CPU must have AVX2; `input` longer than 240 bytes.
    #[target_feature(enable = "avx2")]
    pub unsafe fn long_avx2(input: &[u8]) -> u64 {
        debug_assert!(input.len() > MID_SIZE_MAX);
        let init = INITIAL_ACC.as_ptr() as *const __m256i;
        let mut acc = [_mm256_loadu_si256(init), _mm256_loadu_si256(init.add(1))];
        let (p, n) = (input.as_ptr(), input.len());
        long_hash!(p, n, acc, accumulate2, scramble2, b => {
            for st in 0..STRIPES_PER_BLOCK {
                prefetch_ahead(p, b * BLOCK + st * STRIPE, n);
            }
        });
        let mut out = [0u64; 8];
        _mm256_storeu_si256(out.as_mut_ptr() as *mut __m256i, acc[0]);
        _mm256_storeu_si256(out.as_mut_ptr().add(4) as *mut __m256i, acc[1]);
        merge(&out, input.len())
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn accumulate512(acc: &mut __m512i, input: *const u8, secret: *const u8) {
        let data = _mm512_loadu_si512(input as *const __m512i);
        let key = _mm512_loadu_si512(secret as *const __m512i);
        let data_key = _mm512_xor_si512(data, key);
        let product = _mm512_mul_epu32(data_key, _mm512_srli_epi64::<32>(data_key));
        let swapped = _mm512_shuffle_epi32::<SWAP64>(data);
        // One add on the accumulator's chain per stripe (addition mod 2⁶⁴ reassociates).
        *acc = _mm512_add_epi64(*acc, _mm512_add_epi64(product, swapped));
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn scramble512(acc: &mut __m512i, secret: *const u8) {
        let prime = _mm512_set1_epi32(PRIME32_1 as i32);
        let v = _mm512_xor_si512(*acc, _mm512_srli_epi64::<47>(*acc));
        let key = _mm512_loadu_si512(secret as *const __m512i);
        let dk = _mm512_xor_si512(v, key);
        let lo = _mm512_mul_epu32(dk, prime);
        let hi = _mm512_mul_epu32(_mm512_shuffle_epi32::<HI32>(dk), prime);
        *acc = _mm512_add_epi64(lo, _mm512_slli_epi64::<32>(hi));
    }

    /// # Safety
    /// The CPU must have AVX-512F; `input` longer than 240 bytes.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn long_avx512(input: &[u8]) -> u64 {
        debug_assert!(input.len() > MID_SIZE_MAX);
        let mut acc = _mm512_loadu_si512(INITIAL_ACC.as_ptr() as *const __m512i);
        let (p, n) = (input.as_ptr(), input.len());
        long_hash!(p, n, acc, accumulate512, scramble512, b => {
            for st in 0..STRIPES_PER_BLOCK {
                prefetch_ahead(p, b * BLOCK + st * STRIPE, n);
            }
        });
        let mut out = [0u64; 8];
        _mm512_storeu_si512(out.as_mut_ptr() as *mut __m512i, acc);
        merge(&out, input.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(len: usize) -> Vec<u8> {
        crate::record::noise(0x0123_4567_89AB_CDEF, len)
    }

    #[test]
    fn digests_match_xxhash_rust_at_every_length_and_width() {
        let buf = data((1 << 20) + 4096);
        let lens = (0..4200).chain([16 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 1 << 20, buf.len()]);
        for len in lens {
            let input = &buf[buf.len() - len..];
            let want = xxhash_rust::xxh3::xxh3_64(input);
            assert_eq!(xxh3_64(input), want, "dispatched, {len} bytes");
            #[cfg(target_arch = "x86_64")]
            if len > MID_SIZE_MAX {
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: AVX2 present.
                    assert_eq!(unsafe { x86::long_avx2(input) }, want, "avx2, {len} bytes");
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: AVX-512F present.
                    assert_eq!(unsafe { x86::long_avx512(input) }, want, "avx512, {len} bytes");
                }
            }
        }
    }

    #[test]
    fn copy_and_hash_copies_exactly_and_hashes_the_copy() {
        let buf = data(70_000);
        for len in (0..3000).chain([4096, 65_536, 65_537, 70_000]) {
            for from in [0, 8] {
                let src = &buf[buf.len() - len..];
                let mut dst = vec![0u8; len];
                let got = copy_and_hash(&mut dst, src, from);
                assert_eq!(dst, src, "{len} bytes from {from}");
                let want = xxhash_rust::xxh3::xxh3_64(&src[from.min(len)..]);
                assert_eq!(got, want, "{len} bytes from {from}");
                #[cfg(target_arch = "x86_64")]
                if len > from + MID_SIZE_MAX {
                    let mut dst = vec![0u8; len];
                    if std::arch::is_x86_feature_detected!("avx2") {
                        // SAFETY: AVX2 present; lengths as required.
                        let got = unsafe { x86::copy_hash_avx2(&mut dst, src, from) };
                        assert_eq!((got, &dst[..]), (want, src), "avx2, {len} from {from}");
                    }
                    if std::arch::is_x86_feature_detected!("avx512f") {
                        // SAFETY: AVX-512F present; lengths as required.
                        let got = unsafe { x86::copy_hash_avx512(&mut dst, src, from) };
                        assert_eq!((got, &dst[..]), (want, src), "avx512, {len} from {from}");
                    }
                }
            }
        }
    }

    #[test]
    fn one_flipped_bit_changes_the_digest() {
        let mut buf = data(70_000);
        let before = xxh3_64(&buf);
        buf[65_537] ^= 4;
        assert_ne!(xxh3_64(&buf), before);
    }
}
