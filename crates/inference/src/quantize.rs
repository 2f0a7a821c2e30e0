//! GGML's Q8_0 block quantization (type id 8), as llama.cpp's reference quantizer
//! (`quantize_row_q8_0_ref` in `ggml-quants.c`) writes it: each block of 32 values becomes one
//! f16 scale `d = max|x| / 127` and 32 signed bytes `q = round(x / d)` — 34 bytes for 128 bytes
//! of f32, with every value within `d / 2` of the original.
//!
//! Blocks never straddle rows, so a tensor can be quantized only when its rows are a whole
//! number of blocks; the caller keeps other tensors (and 1-D ones) in f32, as llama.cpp does.

/// Values per Q8_0 block.
pub const Q8_0_BLOCK_VALUES: usize = 32;
/// Bytes per Q8_0 block: a little-endian f16 scale, then 32 `i8` values.
pub const Q8_0_BLOCK_BYTES: usize = 2 + Q8_0_BLOCK_VALUES;

/// Why a tensor cannot be quantized.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QuantizeError {
    /// Rows must be a whole number of blocks (and not empty).
    #[error("rows of {row} values are not a whole number of {Q8_0_BLOCK_VALUES}-value blocks")]
    RowLength {
        /// The row length asked for.
        row: usize,
    },
    /// The values do not make whole rows.
    #[error("{values} values do not make whole rows of {row}")]
    Ragged {
        /// How many values were given.
        values: usize,
        /// The row length.
        row: usize,
    },
    /// NaN or infinity: no scale represents it, and a model holding one is broken.
    #[error("value {index} is {value}, not a finite number")]
    NotFinite {
        /// Position of the value.
        index: usize,
        /// The value.
        value: f32,
    },
    /// A block's largest value is beyond what an f16 scale can carry (|x| > 65504 × 127).
    #[error("value {index} ({value}) is too large for a Q8_0 scale")]
    TooLarge {
        /// Position of the value.
        index: usize,
        /// The value.
        value: f32,
    },
    /// Quantized bytes that are not whole blocks.
    #[error("{bytes} bytes are not whole {Q8_0_BLOCK_BYTES}-byte Q8_0 blocks")]
    PartialBlock {
        /// How many bytes were given.
        bytes: usize,
    },
}

/// Whether rows of `row` values can be stored as Q8_0 blocks.
pub fn fits_q8_0(row: usize) -> bool {
    row > 0 && row.is_multiple_of(Q8_0_BLOCK_VALUES)
}

/// Quantizes `values`, made of rows of `row` values each, to Q8_0 blocks.
pub fn quantize_q8_0(values: &[f32], row: usize) -> Result<Vec<u8>, QuantizeError> {
    if !fits_q8_0(row) {
        return Err(QuantizeError::RowLength { row });
    }
    if !values.len().is_multiple_of(row) {
        return Err(QuantizeError::Ragged {
            values: values.len(),
            row,
        });
    }
    if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(QuantizeError::NotFinite { index, value });
    }
    let mut out = Vec::with_capacity(values.len() / Q8_0_BLOCK_VALUES * Q8_0_BLOCK_BYTES);
    for (number, block) in values.chunks_exact(Q8_0_BLOCK_VALUES).enumerate() {
        let (position, largest) =
            block
                .iter()
                .map(|v| v.abs())
                .enumerate()
                .fold(
                    (0, 0.0f32),
                    |best, (i, v)| if v > best.1 { (i, v) } else { best },
                );
        let scale = largest / 127.0;
        let stored = half::f16::from_f32(scale);
        if stored.is_infinite() {
            return Err(QuantizeError::TooLarge {
                index: number * Q8_0_BLOCK_VALUES + position,
                value: block[position],
            });
        }
        // As llama.cpp: divide by the f32 scale (not the rounded f16 one), round half away
        // from zero.
        let inverse = if scale == 0.0 { 0.0 } else { 1.0 / scale };
        out.extend_from_slice(&stored.to_le_bytes());
        out.extend(
            block
                .iter()
                .map(|v| ((v * inverse).round().clamp(-127.0, 127.0) as i8).to_le_bytes()[0]),
        );
    }
    Ok(out)
}

/// The values Q8_0 `blocks` stand for (`d × q`), as llama.cpp reads them back.
pub fn dequantize_q8_0(blocks: &[u8]) -> Result<Vec<f32>, QuantizeError> {
    if !blocks.len().is_multiple_of(Q8_0_BLOCK_BYTES) {
        return Err(QuantizeError::PartialBlock {
            bytes: blocks.len(),
        });
    }
    let mut out = Vec::with_capacity(blocks.len() / Q8_0_BLOCK_BYTES * Q8_0_BLOCK_VALUES);
    for block in blocks.chunks_exact(Q8_0_BLOCK_BYTES) {
        let scale = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
        out.extend(
            block[2..]
                .iter()
                .map(|&q| f32::from(i8::from_le_bytes([q])) * scale),
        );
    }
    Ok(out)
}

#[cfg(test)]
#[path = "quantize_tests.rs"]
mod tests;
