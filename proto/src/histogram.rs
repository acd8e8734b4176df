//! Histogram ⇄ bytes: HdrHistogram V2 with DEFLATE, never precomputed
//! percentiles, so any set of histograms can be merged exactly later.
//!
//! [`merge_encoded`] adds encoded counts straight into an existing histogram
//! without materialising a second one: a coordinator merging hundreds of
//! agents' deltas a second would otherwise allocate and zero a full-size
//! counts array per message.

use std::io::Read;

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

const V2_COOKIE: u32 = 0x1c84_9303 | 0x10;
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9304 | 0x10;

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

/// Adds the counts encoded in `bytes` (V2 or V2+DEFLATE) to `target`;
/// returns how many values were added. Histograms of another shape than
/// `target` (lowest value, significant digits) are decoded and added.
pub fn merge_encoded(
    target: &mut Histogram<u64>,
    bytes: &[u8],
) -> Result<u64, HistogramCodecError> {
    let err = |m: &str| HistogramCodecError::Decode(m.to_string());
    let payload = match be_u32(bytes, 0).ok_or_else(|| err("too short"))? {
        V2_COMPRESSED_COOKIE => {
            let len = be_u32(bytes, 4).ok_or_else(|| err("too short"))? as usize;
            let compressed = bytes.get(8..8 + len).ok_or_else(|| err("truncated"))?;
            let mut out = Vec::with_capacity(len * 4);
            flate2::read::ZlibDecoder::new(compressed)
                .read_to_end(&mut out)
                .map_err(|e| HistogramCodecError::Decode(format!("inflate: {e}")))?;
            out
        }
        V2_COOKIE => bytes.to_vec(),
        _ => return Err(err("not an HdrHistogram V2 encoding (bad cookie)")),
    };
    if be_u32(&payload, 0) != Some(V2_COOKIE) {
        return Err(err("bad inner cookie"));
    }
    let counts_len = be_u32(&payload, 4).ok_or_else(|| err("truncated header"))? as usize;
    let digits = be_u32(&payload, 12).ok_or_else(|| err("truncated header"))?;
    let low = be_u64(&payload, 16).ok_or_else(|| err("truncated header"))?;
    if low != target.low() || digits != u32::from(target.sigfig()) || be_u32(&payload, 8) != Some(0)
    {
        let other = decode(bytes)?;
        target
            .add(&other)
            .map_err(|e| HistogramCodecError::Decode(format!("{e:?}")))?;
        return Ok(other.len());
    }
    let counts = payload
        .get(40..40 + counts_len)
        .ok_or_else(|| err("truncated counts"))?;
    let shape = Shape::of(target);
    let (mut index, mut pos, mut added) = (0usize, 0usize, 0u64);
    while pos < counts.len() {
        let (zz, used) = varint(&counts[pos..]).ok_or_else(|| err("bad varint"))?;
        pos += used;
        let n = (zz >> 1) as i64 ^ -((zz & 1) as i64);
        if n < 0 {
            index += n.unsigned_abs() as usize;
        } else {
            if n > 0 {
                target
                    .record_n(shape.value_at(index), n as u64)
                    .map_err(|e| {
                        HistogramCodecError::Decode(format!("value out of range: {e:?}"))
                    })?;
                added += n as u64;
            }
            index += 1;
        }
    }
    Ok(added)
}

/// The index → value mapping of HdrHistogram's bucket layout.
struct Shape {
    unit_magnitude: u32,
    half_count_magnitude: u32,
    half_count: usize,
}

impl Shape {
    fn of(h: &Histogram<u64>) -> Shape {
        let largest_single_unit = 2 * 10u64.pow(u32::from(h.sigfig()));
        let sub_bucket_count_magnitude = (largest_single_unit as f64).log2().ceil() as u32;
        let half_count_magnitude = sub_bucket_count_magnitude.max(1) - 1;
        Shape {
            unit_magnitude: 63 - h.low().leading_zeros(),
            half_count_magnitude,
            half_count: 1usize << half_count_magnitude,
        }
    }

    /// Lowest value counted at `index`.
    fn value_at(&self, index: usize) -> u64 {
        let mut bucket = (index >> self.half_count_magnitude) as i64 - 1;
        let mut sub = (index & (self.half_count - 1)) + self.half_count;
        if bucket < 0 {
            sub -= self.half_count;
            bucket = 0;
        }
        (sub as u64) << (bucket as u32 + self.unit_magnitude)
    }
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes(s.try_into().expect("4 bytes")))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at + 8)
        .map(|s| u64::from_be_bytes(s.try_into().expect("8 bytes")))
}

/// LEB128-64b9B, HdrHistogram's varint: at most 9 bytes, the 9th whole.
fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for i in 0..9 {
        let byte = *b.get(i)?;
        if i == 8 {
            return Some((v | (u64::from(byte) << 56), 9));
        }
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(seed: u64) -> Histogram<u64> {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        let mut x = seed;
        for _ in 0..5000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            h.record(1 + (x >> 20) % 3_000_000_000).unwrap();
        }
        for v in [1u64, 2, 1023, 1024, 2047, 2048, 4096, 3_600_000_000] {
            h.record_n(v, 3).unwrap();
        }
        h
    }

    #[test]
    fn round_trip_keeps_every_count() {
        let h = sample(1);
        let back = decode(&encode(&h).unwrap()).unwrap();
        assert_eq!(back, h);
    }

    #[test]
    fn merge_encoded_equals_decode_then_add() {
        let (a, b) = (sample(1), sample(2));
        let mut via_add = a.clone();
        via_add.add(&b).unwrap();
        let mut via_merge = a.clone();
        let added = merge_encoded(&mut via_merge, &encode(&b).unwrap()).unwrap();
        assert_eq!(added, b.len());
        assert_eq!(via_merge, via_add);
    }

    #[test]
    fn another_shape_is_added_the_slow_way() {
        let mut other = Histogram::<u64>::new_with_bounds(1, 10_000, 2).unwrap();
        other.record_n(500, 7).unwrap();
        let mut target = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        assert_eq!(
            merge_encoded(&mut target, &encode(&other).unwrap()).unwrap(),
            7
        );
        assert_eq!(target.len(), 7);
    }

    #[test]
    fn garbage_is_a_decode_error() {
        assert!(decode(b"not a histogram")
            .unwrap_err()
            .to_string()
            .contains("decode"));
        assert!(merge_encoded(&mut sample(3), b"nope").is_err());
        let mut bytes = encode(&sample(4)).unwrap();
        bytes.truncate(bytes.len() / 2);
        assert!(merge_encoded(&mut sample(3), &bytes).is_err());
    }
}
