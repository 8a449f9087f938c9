//! Summaries: HDR histograms in, `Summary` (count, min, mean, stdev, percentiles, max) out.
//! Histograms, not sample vectors, so memory does not grow with iterations.

use hdrhistogram::Histogram;
use ipcbench_results::{histogram, Summary};

/// A latency histogram in nanoseconds: 3 significant figures, grows as needed.
pub fn new_histogram() -> Histogram<u64> {
    let mut h = Histogram::<u64>::new(3).expect("3 significant figures is valid");
    h.auto(true);
    h
}

/// Records a value, clamping 0 to 1 ns (a histogram cannot hold 0 with auto-resize from 1).
#[inline]
pub fn record(h: &mut Histogram<u64>, ns: u64) {
    // Auto-resizing histograms only fail on values they cannot hold, which `auto` prevents.
    let _ = h.record(ns.max(1));
}

pub fn summarize(h: &Histogram<u64>) -> Summary {
    Summary::of(h)
}

/// V2 + DEFLATE, base64: the form stored in result files (the codec is the result contract's).
pub fn encode(h: &Histogram<u64>) -> String {
    histogram::encode(h)
}

/// Decoded histograms grow as needed, so merging a wider one into them works.
pub fn decode(s: &str) -> anyhow::Result<Histogram<u64>> {
    Ok(histogram::decode(s)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_and_round_trip() {
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            record(&mut h, v * 10);
        }
        let s = summarize(&h);
        assert_eq!(s.count, 1000);
        assert_eq!(s.min, 10);
        assert!((4990..=5010).contains(&s.p50), "p50 {}", s.p50);
        assert!((9890..=9910).contains(&s.p99), "p99 {}", s.p99);
        let mut back = decode(&encode(&h)).unwrap();
        assert_eq!(summarize(&back), s);
        // A decoded histogram still takes values far beyond its range.
        let mut wide = new_histogram();
        record(&mut wide, 10_000_000_000);
        back.add(&wide).unwrap();
        assert_eq!(back.len(), 1001);
    }
}
