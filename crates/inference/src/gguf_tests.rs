//! Unit tests of the GGUF writer and reader: round trips and bad files.

use super::*;

#[test]
fn written_files_read_back_with_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    let metadata = vec![
        (
            "general.architecture".to_owned(),
            Value::String("bert".into()),
        ),
        ("bert.block_count".to_owned(), Value::U32(6)),
        ("bert.attention.causal".to_owned(), Value::Bool(false)),
        (
            "tokenizer.ggml.tokens".to_owned(),
            Value::Strings(vec!["[PAD]".into(), "▁a".into()]),
        ),
        (
            "tokenizer.ggml.token_type".to_owned(),
            Value::I32s(vec![3, 1]),
        ),
    ];
    let tensors = vec![
        Tensor {
            name: "a.weight".into(),
            shape: vec![2, 3],
            kind: TensorType::F32,
            data: vec![0; 24],
        },
        Tensor {
            name: "b.weight".into(),
            shape: vec![5],
            kind: TensorType::F16,
            data: vec![0; 10],
        },
    ];
    write(&path, &metadata, &tensors).unwrap();
    let info = read_info(&path).unwrap();
    assert_eq!(info.version, 3);
    assert_eq!(info.tensor_count, 2);
    assert_eq!(info.architecture(), Some("bert"));
    assert_eq!(info.integer("bert.block_count"), Some(6));
    assert_eq!(info.metadata["bert.attention.causal"], Value::Bool(false));
    let size = std::fs::metadata(&path).unwrap().len();
    assert_eq!(size % 32, 0);
}

#[test]
fn bad_files_are_named_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = read_info(&dir.path().join("nope.gguf")).unwrap_err();
    assert!(missing.to_string().contains("nope.gguf"));
    let text = dir.path().join("text.gguf");
    std::fs::write(&text, "hello world, not a model").unwrap();
    assert!(
        read_info(&text)
            .unwrap_err()
            .to_string()
            .contains("not a GGUF model file")
    );
    let empty = dir.path().join("empty.gguf");
    std::fs::write(&empty, "").unwrap();
    assert!(
        read_info(&empty)
            .unwrap_err()
            .to_string()
            .contains("too short")
    );
    let good = dir.path().join("good.gguf");
    let tensors = vec![Tensor {
        name: "t".into(),
        shape: vec![1024],
        kind: TensorType::F32,
        data: vec![1; 4096],
    }];
    write(
        &good,
        &[("general.architecture".to_owned(), Value::String("x".into()))],
        &tensors,
    )
    .unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let cut = dir.path().join("cut.gguf");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert!(
        read_info(&cut)
            .unwrap_err()
            .to_string()
            .contains("truncated")
    );
    let random = dir.path().join("random.gguf");
    let mut noise = b"GGUF".to_vec();
    noise.extend((0..500u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
    std::fs::write(&random, noise).unwrap();
    assert!(read_info(&random).is_err());
}

#[test]
fn q8_0_tensors_are_sized_exactly_and_a_cut_is_noticed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.gguf");
    let tensors = vec![Tensor {
        name: "blk.0.attn_q.weight".into(),
        shape: vec![4, 64],
        kind: TensorType::Q8_0,
        data: vec![0; 4 * 2 * 34],
    }];
    write(&path, &[], &tensors).unwrap();
    let info = read_info(&path).unwrap();
    assert_eq!(info.tensor_types["blk.0.attn_q.weight"], 8);
    let bytes = std::fs::read(&path).unwrap();
    // Cut 40 bytes into the 272 bytes of blocks: an f16-or-smaller guess (256 values / 8 = 32
    // bytes) would pass it; the exact Q8_0 size does not.
    let cut = dir.path().join("cut.gguf");
    std::fs::write(&cut, &bytes[..bytes.len() - 40 - 16]).unwrap();
    let error = read_info(&cut).unwrap_err().to_string();
    assert!(error.contains("truncated"), "{error}");
}
