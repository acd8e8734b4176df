//! Histogram ⇄ bytes: HdrHistogram V2 with DEFLATE, never precomputed
//! percentiles, so any set of histograms can be merged exactly later.

use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

/// Why histogram bytes could not be produced or read back.
#[derive(Debug, thiserror::Error)]
pub enum HistogramCodecError {
    /// The histogram could not be serialized.
    #[error("cannot encode histogram as HdrHistogram V2+DEFLATE: {0}")]
    Encode(String),
    /// The bytes are not a V2 (optionally DEFLATE-compressed) histogram.
    #[error("cannot decode HdrHistogram bytes: {0}")]
    Decode(String),
}

/// Encodes a histogram as HdrHistogram V2+DEFLATE bytes.
pub fn encode(hist: &Histogram<u64>) -> Result<Vec<u8>, HistogramCodecError> {
    let mut out = Vec::new();
    V2DeflateSerializer::new()
        .serialize(hist, &mut out)
        .map_err(|e| HistogramCodecError::Encode(format!("{e:?}")))?;
    Ok(out)
}

/// Decodes HdrHistogram V2 or V2+DEFLATE bytes.
pub fn decode(bytes: &[u8]) -> Result<Histogram<u64>, HistogramCodecError> {
    let mut reader = bytes;
    Deserializer::new()
        .deserialize(&mut reader)
        .map_err(|e| HistogramCodecError::Decode(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_every_count() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for v in [1u64, 17, 1_000, 1_000_000, 59_000_000] {
            h.record_n(v, v % 7 + 1).unwrap();
        }
        let back = decode(&encode(&h).unwrap()).unwrap();
        assert_eq!(back.len(), h.len());
        assert_eq!(back.max(), h.max());
        assert_eq!(back.value_at_quantile(0.5), h.value_at_quantile(0.5));
    }

    #[test]
    fn garbage_is_a_decode_error() {
        let err = decode(b"not a histogram").unwrap_err();
        assert!(err.to_string().contains("decode"), "{err}");
    }
}
