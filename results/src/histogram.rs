//! The histogram codec: how a latency histogram is stored in a result file (HDR V2 + DEFLATE,
//! base64 STANDARD), and the [`Summary`] read from one. The harness encodes with it, and
//! `compare`, the report and the harness's own merging decode with it, so a file written by one
//! is read the same way by all.

use crate::Summary;
use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2DeflateSerializer};
use hdrhistogram::Histogram;

/// Why a stored histogram could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not base64: {0}")]
    NotBase64(#[from] base64::DecodeError),
    #[error("not an HDR histogram: {0:?}")]
    NotHdr(hdrhistogram::serialization::DeserializeError),
}

/// V2 + DEFLATE, base64 STANDARD: the form stored in result files.
pub fn encode(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    V2DeflateSerializer::new().serialize(h, &mut buf).expect("serializing to a Vec cannot fail");
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// Reads a stored histogram. Surrounding whitespace and missing `=` padding (a file edited by
/// hand or by another tool) are forgiven. The result grows as needed, so a histogram of wider
/// range can be merged into it.
pub fn decode(text: &str) -> Result<Histogram<u64>, DecodeError> {
    let text = text.trim();
    let bytes = base64::engine::general_purpose::STANDARD.decode(text).or_else(|e| {
        base64::engine::general_purpose::STANDARD_NO_PAD.decode(text).map_err(|_| e)
    })?;
    let mut h: Histogram<u64> =
        Deserializer::new().deserialize(&mut bytes.as_slice()).map_err(DecodeError::NotHdr)?;
    h.auto(true);
    Ok(h)
}

impl Summary {
    /// Count, min, mean, stdev, the stored percentiles and max of a histogram; all zero when
    /// it is empty.
    pub fn of(h: &Histogram<u64>) -> Summary {
        if h.is_empty() {
            return Summary::default();
        }
        Summary {
            count: h.len(),
            min: h.min(),
            mean: h.mean(),
            stdev: h.stdev(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            p9999: h.value_at_quantile(0.9999),
            max: h.max(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Histogram<u64> {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        for v in 1..=1000u64 {
            h.record(v * 37).unwrap();
        }
        h
    }

    #[test]
    fn round_trips_and_grows() {
        let h = sample();
        let mut back = decode(&encode(&h)).unwrap();
        assert_eq!(back, h);
        assert_eq!(Summary::of(&back), Summary::of(&h));
        let mut wide = Histogram::<u64>::new(3).unwrap();
        wide.auto(true);
        wide.record(u64::MAX / 4).unwrap();
        back.add(&wide).unwrap();
        assert_eq!(back.len(), 1001);
    }

    #[test]
    fn forgives_whitespace_and_missing_padding() {
        let text = encode(&sample());
        let unpadded = text.trim_end_matches('=');
        assert_eq!(decode(&format!("  {unpadded}\n")).unwrap(), sample());
    }

    #[test]
    fn errors_name_the_layer_that_failed() {
        assert!(decode("not base64!").unwrap_err().to_string().contains("base64"));
        assert!(decode("aGVsbG8=").unwrap_err().to_string().contains("HDR"));
        assert_eq!(Summary::of(&Histogram::<u64>::new(3).unwrap()), Summary::default());
    }
}
