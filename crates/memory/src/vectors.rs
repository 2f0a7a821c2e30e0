//! Vector helpers: f32 vectors as little-endian blobs (the form sqlite-vec and our rescoring
//! table store), and cosine similarity for exact rescoring.

/// Encodes a vector as a little-endian f32 blob.
pub fn to_blob(vector: &[f32]) -> Vec<u8> {
    vector
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect()
}

/// Decodes a little-endian f32 blob.
pub fn from_blob(blob: &[u8]) -> Vec<f32> {
    blob.chunks_exact(4)
        .map(|bytes| f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
        .collect()
}

/// Bits in the binary-quantised copy of a vector of `dimension` floats: sqlite-vec packs bits in
/// bytes, so the size is rounded up to a multiple of 8.
pub fn binary_bits(dimension: usize) -> usize {
    dimension.div_ceil(8) * 8
}

/// The blob to quantise for the `vec0` table: the vector padded with zeros to [`binary_bits`].
pub fn to_binary_source_blob(vector: &[f32]) -> Vec<u8> {
    let mut padded = vector.to_vec();
    padded.resize(binary_bits(vector.len()), 0.0);
    to_blob(&padded)
}

/// Cosine similarity; 0 when either vector is all zeros.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut norm_a, mut norm_b) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        norm_a += x * x;
        norm_b += y * y;
    }
    if norm_a == 0.0 || norm_b == 0.0 {
        0.0
    } else {
        dot / (norm_a.sqrt() * norm_b.sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_round_trip_and_cosine_is_scale_free() {
        let v = vec![0.5, -1.25, 3.0];
        assert_eq!(from_blob(&to_blob(&v)), v);
        assert!((cosine(&v, &v.iter().map(|x| x * 2.0).collect::<Vec<_>>()) - 1.0).abs() < 1e-6);
        assert_eq!(cosine(&v, &[0.0, 0.0, 0.0]), 0.0);
        assert_eq!(binary_bits(384), 384);
        assert_eq!(binary_bits(4), 8);
        assert_eq!(to_binary_source_blob(&[1.0, 2.0, 3.0]).len(), 8 * 4);
    }
}
