//! Q8_0 quantizer tests: exact bytes, error bounds, and refusals.

use super::*;

/// Deterministic values spread over several magnitudes (a small linear congruential generator).
fn values(count: usize, seed: u64) -> Vec<f32> {
    let mut state = seed;
    (0..count)
        .map(|i| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let unit = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            // Each block gets its own magnitude, from 1e-4 to 10.
            let magnitude = 10f32.powi((i / Q8_0_BLOCK_VALUES % 6) as i32 - 4);
            unit * 2.0 * magnitude
        })
        .collect()
}

#[test]
fn a_known_block_has_exact_bytes() {
    let mut block = [0.0f32; 32];
    block[0] = 127.0;
    block[1] = -127.0;
    block[2] = 0.5; // halves round away from zero, as C's roundf
    block[3] = 1.5;
    block[4] = -2.5;
    block[5] = 0.49;
    block[31] = -0.5;
    let bytes = quantize_q8_0(&block, 32).unwrap();
    let mut expected = vec![0x00, 0x3c]; // d = 1.0 as f16
    expected.extend([0x7f, 0x81, 0x01, 0x02, 0xfd, 0x00]);
    expected.extend([0u8; 25]);
    expected.push(0xff);
    assert_eq!(bytes, expected);

    // All equal: d = 1/127 (f16 0x2008), every q = 127.
    let ones = quantize_q8_0(&[1.0; 32], 32).unwrap();
    assert_eq!(&ones[..2], &[0x08, 0x20]);
    assert!(ones[2..].iter().all(|&q| q == 0x7f));

    // -16..15: d = 16/127 (f16 0x3008); -16 → -127, 15 → round(15 × 127 / 16) = 119.
    let ramp: Vec<f32> = (-16..16).map(|v| v as f32).collect();
    let ramp_bytes = quantize_q8_0(&ramp, 32).unwrap();
    assert_eq!(&ramp_bytes[..2], &[0x08, 0x30]);
    assert_eq!(ramp_bytes[2] as i8, -127);
    assert_eq!(ramp_bytes[2 + 16] as i8, 0);
    assert_eq!(ramp_bytes[33] as i8, 119);
}

#[test]
fn round_trip_stays_within_half_a_step() {
    let input = values(32 * 48, 7);
    let bytes = quantize_q8_0(&input, 384).unwrap();
    assert_eq!(bytes.len(), input.len() / 32 * 34);
    let output = dequantize_q8_0(&bytes).unwrap();
    assert_eq!(output.len(), input.len());
    for (block_in, block_out) in input.chunks(32).zip(output.chunks(32)) {
        let largest = block_in.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let step = largest / 127.0;
        // The f16 scale is off by at most half its unit: 2^-11 relative, or 2^-25 absolute
        // where it is subnormal (blocks whose values are all below about 0.008).
        let scale_error = (step * 2f32.powi(-11)).max(2f32.powi(-25));
        for (x, y) in block_in.iter().zip(block_out) {
            // Half a step from rounding q, plus q times the scale's rounding.
            let bound = step * 0.5 + 127.0 * scale_error + f32::EPSILON * x.abs();
            assert!(
                (x - y).abs() <= bound,
                "{x} came back as {y} (bound {bound})"
            );
        }
        // The largest value comes back within the scale's rounding alone.
        let top = block_in
            .iter()
            .zip(block_out)
            .find(|(x, _)| x.abs() == largest)
            .unwrap();
        assert!((top.0 - top.1).abs() <= 127.0 * scale_error * 1.01);
    }
    // Quantized data is about a quarter of f32's.
    assert!(bytes.len() * 3 < input.len() * 4);
}

#[test]
fn zero_blocks_stay_zero_and_never_become_nan() {
    let mut input = vec![0.0f32; 64];
    input[40] = -3.0;
    input[10] = -0.0;
    let bytes = quantize_q8_0(&input, 64).unwrap();
    assert_eq!(&bytes[..34], &[0u8; 34]);
    let output = dequantize_q8_0(&bytes).unwrap();
    assert!(output.iter().all(|v| v.is_finite()));
    assert!(output[..32].iter().all(|&v| v == 0.0));
    assert!((output[40] + 3.0).abs() < 3.0 * 2f32.powi(-10));
    assert!(
        output[32..]
            .iter()
            .enumerate()
            .all(|(i, &v)| i == 8 || v == 0.0)
    );

    // Values too small for an f16 scale flush to zero rather than to garbage.
    let tiny = quantize_q8_0(&[1e-12; 32], 32).unwrap();
    assert!(dequantize_q8_0(&tiny).unwrap().iter().all(|&v| v == 0.0));
}

#[test]
fn rows_that_are_not_whole_blocks_are_refused() {
    for row in [0, 1, 31, 33, 48, 100, 383] {
        assert!(!fits_q8_0(row), "{row}");
        let input = vec![1.0f32; row.max(1) * 2];
        assert_eq!(
            quantize_q8_0(&input, row),
            Err(QuantizeError::RowLength { row })
        );
    }
    for row in [32, 64, 384, 1536] {
        assert!(fits_q8_0(row));
    }
    // Whole blocks but not whole rows.
    let error = quantize_q8_0(&[0.5; 96], 64).unwrap_err();
    assert_eq!(
        error,
        QuantizeError::Ragged {
            values: 96,
            row: 64
        }
    );
    assert!(error.to_string().contains("whole rows"));
    // Bytes that are not whole blocks are not read.
    let error = dequantize_q8_0(&[0u8; 35]).unwrap_err();
    assert_eq!(error, QuantizeError::PartialBlock { bytes: 35 });
}

#[test]
fn nan_infinity_and_huge_values_are_refused_by_position() {
    for (index, bad) in [
        (0, f32::NAN),
        (37, f32::INFINITY),
        (63, f32::NEG_INFINITY),
        (5, -f32::NAN),
    ] {
        let mut input = values(64, 3);
        input[index] = bad;
        let error = quantize_q8_0(&input, 64).unwrap_err();
        assert!(
            matches!(error, QuantizeError::NotFinite { index: i, .. } if i == index),
            "{error:?}"
        );
        assert!(error.to_string().contains("not a finite number"));
        assert!(error.to_string().contains(&format!("value {index}")));
    }
    // A value whose scale would overflow f16 (|x| / 127 > 65504).
    let mut input = vec![0.25f32; 64];
    input[50] = -9.0e6;
    let error = quantize_q8_0(&input, 32).unwrap_err();
    assert!(
        matches!(error, QuantizeError::TooLarge { index: 50, .. }),
        "{error:?}"
    );
    // Just inside the range is fine.
    input[50] = -8.0e6;
    let output = dequantize_q8_0(&quantize_q8_0(&input, 32).unwrap()).unwrap();
    assert!((output[50] + 8.0e6).abs() <= 8.0e6 / 127.0);
}
