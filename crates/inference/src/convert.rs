//! Turning a sentence-transformers BERT model (`config.json`, `tokenizer.json`,
//! `model.safetensors`, optional `1_Pooling/config.json` and `sentence_bert_config.json`) into a
//! GGUF file that llama.cpp's `bert` architecture loads — what llama.cpp's own Python converter
//! does, in Rust, so that importing a model needs nothing but LocalGPT.

use std::path::Path;

use serde_json::Value as Json;

use crate::error::InferenceError;
use crate::gguf::{self, Tensor, TensorType, Value};
use crate::quantize;

/// GGUF key holding the longest input sentence-transformers embeds (inputs are cut to it).
pub const MAX_SEQ_KEY: &str = "localgpt.max_seq_length";

/// Weight precision of the written file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// 32-bit floats everywhere.
    #[default]
    F32,
    /// 16-bit floats for weight matrices, 32-bit for norms and biases (llama.cpp's choice).
    F16,
    /// GGML Q8_0 blocks (8-bit values with one f16 scale per 32) for weight matrices whose rows
    /// are whole blocks; norms, biases, and the position and token-type tables stay 32-bit, as
    /// llama.cpp's own quantizer leaves them.
    Q8_0,
}

impl Precision {
    /// The name `--precision` takes: `f32`, `f16` or `q8_0`.
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::Q8_0 => "q8_0",
        }
    }

    /// llama.cpp's `general.file_type` (`LLAMA_FTYPE_ALL_F32`, `MOSTLY_F16`, `MOSTLY_Q8_0`).
    pub fn file_type(self) -> u32 {
        match self {
            Self::F32 => 0,
            Self::F16 => 1,
            Self::Q8_0 => 7,
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A precision name that is not `f32`, `f16` or `q8_0`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown precision `{0}`: use f32, f16 or q8_0")]
pub struct UnknownPrecision(pub String);

impl std::str::FromStr for Precision {
    type Err = UnknownPrecision;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "f32" => Ok(Self::F32),
            "f16" => Ok(Self::F16),
            "q8_0" => Ok(Self::Q8_0),
            _ => Err(UnknownPrecision(text.to_owned())),
        }
    }
}

/// How a weight is stored at `precision`: only 2-D weight matrices are ever made smaller, never
/// the position and token-type tables (llama.cpp adds them to the activations directly rather
/// than looking rows up); Q8_0 needs rows of whole 32-value blocks and leaves other tensors f32.
pub fn tensor_type(precision: Precision, name: &str, shape: &[u64]) -> TensorType {
    let matrix = shape.len() == 2
        && name.ends_with(".weight")
        && !name.contains("_norm.")
        && !matches!(name, "token_types.weight" | "position_embd.weight");
    let row = shape
        .last()
        .and_then(|&row| usize::try_from(row).ok())
        .unwrap_or(0);
    match precision {
        Precision::F16 if matrix => TensorType::F16,
        Precision::Q8_0 if matrix && quantize::fits_q8_0(row) => TensorType::Q8_0,
        _ => TensorType::F32,
    }
}

/// Whether `dir` looks like a sentence-transformers / BERT model folder.
pub fn is_bert_folder(dir: &Path) -> bool {
    dir.join("config.json").is_file()
        && dir.join("tokenizer.json").is_file()
        && dir.join("model.safetensors").is_file()
}

/// Converts the model in `dir` to a GGUF file at `out`.
pub fn convert_bert(
    dir: &Path,
    out: &Path,
    name: &str,
    precision: Precision,
) -> Result<(), InferenceError> {
    let bad = |reason: String| InferenceError::BadModelFile {
        path: dir.to_owned(),
        reason,
    };
    let config = read_json(&dir.join("config.json"))?;
    let model_type = config
        .get("model_type")
        .and_then(Json::as_str)
        .unwrap_or("");
    if !matches!(model_type, "bert" | "") {
        return Err(bad(format!(
            "model_type `{model_type}` is not supported for import (BERT sentence-transformers models are); convert it to GGUF with llama.cpp and import the .gguf"
        )));
    }
    let number = |key: &str| {
        config
            .get(key)
            .and_then(Json::as_u64)
            .ok_or_else(|| bad(format!("config.json has no `{key}`")))
    };
    let hidden = number("hidden_size")?;
    let layers = number("num_hidden_layers")?;
    let heads = number("num_attention_heads")?;
    let intermediate = number("intermediate_size")?;
    let positions = number("max_position_embeddings")?;
    let type_vocab = config
        .get("type_vocab_size")
        .and_then(Json::as_u64)
        .unwrap_or(2);
    let epsilon = config
        .get("layer_norm_eps")
        .and_then(Json::as_f64)
        .unwrap_or(1e-12) as f32;

    let pooling = match read_json(&dir.join("1_Pooling/config.json")) {
        Ok(pooling)
            if pooling
                .get("pooling_mode_cls_token")
                .and_then(Json::as_bool)
                == Some(true) =>
        {
            2u32
        }
        _ => 1u32, // mean, sentence-transformers' default
    };
    let max_seq = read_json(&dir.join("sentence_bert_config.json"))
        .ok()
        .and_then(|c| c.get("max_seq_length").and_then(Json::as_u64))
        .unwrap_or(positions)
        .min(positions);

    let (tokens, token_types, specials) = wordpiece_vocab(&dir.join("tokenizer.json"))?;
    let id_of = |token: &str| {
        specials
            .iter()
            .find(|(name, _)| name == token)
            .map(|(_, id)| *id)
    };
    let cls = id_of("[CLS]").ok_or_else(|| bad("tokenizer.json has no [CLS] token".to_owned()))?;
    let sep = id_of("[SEP]").ok_or_else(|| bad("tokenizer.json has no [SEP] token".to_owned()))?;

    let mut metadata: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String("bert".into())),
        ("general.name".into(), Value::String(name.to_owned())),
        (
            "general.file_type".into(),
            Value::U32(precision.file_type()),
        ),
        ("bert.context_length".into(), Value::U32(positions as u32)),
        ("bert.embedding_length".into(), Value::U32(hidden as u32)),
        (
            "bert.feed_forward_length".into(),
            Value::U32(intermediate as u32),
        ),
        ("bert.block_count".into(), Value::U32(layers as u32)),
        ("bert.attention.head_count".into(), Value::U32(heads as u32)),
        (
            "bert.attention.layer_norm_epsilon".into(),
            Value::F32(epsilon),
        ),
        ("bert.attention.causal".into(), Value::Bool(false)),
        ("bert.pooling_type".into(), Value::U32(pooling)),
        (
            "tokenizer.ggml.token_type_count".into(),
            Value::U32(type_vocab as u32),
        ),
        (MAX_SEQ_KEY.into(), Value::U32(max_seq as u32)),
        ("tokenizer.ggml.model".into(), Value::String("bert".into())),
        ("tokenizer.ggml.tokens".into(), Value::Strings(tokens)),
        ("tokenizer.ggml.token_type".into(), Value::I32s(token_types)),
        ("tokenizer.ggml.bos_token_id".into(), Value::U32(cls)),
        ("tokenizer.ggml.eos_token_id".into(), Value::U32(sep)),
        ("tokenizer.ggml.seperator_token_id".into(), Value::U32(sep)),
        ("tokenizer.ggml.cls_token_id".into(), Value::U32(cls)),
        ("tokenizer.ggml.add_bos_token".into(), Value::Bool(true)),
        ("tokenizer.ggml.add_eos_token".into(), Value::Bool(false)),
        ("tokenizer.ggml.add_sep_token".into(), Value::Bool(true)),
    ];
    for (token, key) in [
        ("[UNK]", "tokenizer.ggml.unknown_token_id"),
        ("[PAD]", "tokenizer.ggml.padding_token_id"),
        ("[MASK]", "tokenizer.ggml.mask_token_id"),
    ] {
        if let Some(id) = id_of(token) {
            metadata.push((key.into(), Value::U32(id)));
        }
    }

    let weights_path = dir.join("model.safetensors");
    let bytes = std::fs::read(&weights_path).map_err(|source| InferenceError::Io {
        path: weights_path.clone(),
        source,
    })?;
    let weights = safetensors::SafeTensors::deserialize(&bytes).map_err(|error| {
        InferenceError::BadModelFile {
            path: weights_path.clone(),
            reason: error.to_string(),
        }
    })?;
    let mut tensors = Vec::new();
    let mut names: Vec<String> = weights.names().into_iter().map(str::to_owned).collect();
    names.sort();
    for source_name in names {
        let Some(target) = gguf_tensor_name(&source_name) else {
            continue;
        };
        let view = weights
            .tensor(&source_name)
            .map_err(|error| InferenceError::BadModelFile {
                path: weights_path.clone(),
                reason: error.to_string(),
            })?;
        let values = to_f32(&view).map_err(|reason| InferenceError::BadModelFile {
            path: weights_path.clone(),
            reason: format!("{source_name}: {reason}"),
        })?;
        let shape: Vec<u64> = view.shape().iter().map(|&d| d as u64).collect();
        let kind = tensor_type(precision, &target, &shape);
        let data = match kind {
            TensorType::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            TensorType::F16 => values
                .iter()
                .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
                .collect(),
            TensorType::Q8_0 => {
                let row = shape.last().copied().unwrap_or(0) as usize;
                quantize::quantize_q8_0(&values, row).map_err(|error| {
                    InferenceError::BadModelFile {
                        path: weights_path.clone(),
                        reason: format!("{source_name}: {error}"),
                    }
                })?
            }
        };
        tensors.push(Tensor {
            name: target,
            shape,
            kind,
            data,
        });
    }
    let expected = 5 + 16 * layers as usize;
    if tensors.len() < expected {
        return Err(InferenceError::BadModelFile {
            path: weights_path,
            reason: format!(
                "found {} of the {expected} BERT weights; is this a BERT model?",
                tensors.len()
            ),
        });
    }
    gguf::write(out, &metadata, &tensors)
}

/// llama.cpp's name for a BERT weight, or `None` for weights it does not use.
fn gguf_tensor_name(name: &str) -> Option<String> {
    let name = name.strip_prefix("bert.").unwrap_or(name);
    let fixed = match name {
        "embeddings.word_embeddings.weight" => "token_embd.weight",
        "embeddings.token_type_embeddings.weight" => "token_types.weight",
        "embeddings.position_embeddings.weight" => "position_embd.weight",
        "embeddings.LayerNorm.weight" => "token_embd_norm.weight",
        "embeddings.LayerNorm.bias" => "token_embd_norm.bias",
        _ => "",
    };
    if !fixed.is_empty() {
        return Some(fixed.to_owned());
    }
    let rest = name.strip_prefix("encoder.layer.")?;
    let (layer, part) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (module, suffix) = part.rsplit_once('.')?;
    let target = match module {
        "attention.self.query" => "attn_q",
        "attention.self.key" => "attn_k",
        "attention.self.value" => "attn_v",
        "attention.output.dense" => "attn_output",
        "attention.output.LayerNorm" => "attn_output_norm",
        "intermediate.dense" => "ffn_up",
        "output.dense" => "ffn_down",
        "output.LayerNorm" => "layer_output_norm",
        _ => return None,
    };
    Some(format!("blk.{layer}.{target}.{suffix}"))
}

fn to_f32(view: &safetensors::tensor::TensorView<'_>) -> Result<Vec<f32>, String> {
    let data = view.data();
    Ok(match view.dtype() {
        safetensors::Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        safetensors::Dtype::F16 => data
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        safetensors::Dtype::BF16 => data
            .chunks_exact(2)
            .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        other => return Err(format!("weights of type {other:?} are not supported")),
    })
}

/// Tokens, their llama.cpp token types, and the special tokens' ids.
type Vocabulary = (Vec<String>, Vec<i32>, Vec<(String, u32)>);

/// The WordPiece vocabulary in llama.cpp's form: tokens in id order (`##x` → `x`, other normal
/// pieces `p` → `▁p`, the five BERT special tokens kept and marked as control tokens), their
/// types, and the special tokens' ids.
fn wordpiece_vocab(path: &Path) -> Result<Vocabulary, InferenceError> {
    let bad = |reason: &str| InferenceError::BadModelFile {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    let tokenizer = read_json(path)?;
    let model = tokenizer
        .get("model")
        .ok_or_else(|| bad("no `model` section"))?;
    if model
        .get("type")
        .and_then(Json::as_str)
        .is_some_and(|kind| kind != "WordPiece")
    {
        return Err(bad(
            "the tokenizer is not WordPiece (BERT); convert this model with llama.cpp and import the .gguf",
        ));
    }
    let vocab = model
        .get("vocab")
        .and_then(Json::as_object)
        .ok_or_else(|| bad("no `model.vocab`"))?;
    let mut by_id: Vec<Option<&str>> = vec![None; vocab.len()];
    for (token, id) in vocab {
        let id = id
            .as_u64()
            .ok_or_else(|| bad("a vocabulary id is not a number"))? as usize;
        if id >= by_id.len() {
            by_id.resize(id + 1, None);
        }
        by_id[id] = Some(token);
    }
    const SPECIAL: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
    let mut tokens = Vec::with_capacity(by_id.len());
    let mut types = Vec::with_capacity(by_id.len());
    let mut specials = Vec::new();
    for (id, token) in by_id.into_iter().enumerate() {
        let token = token.unwrap_or("[UNUSED]");
        if SPECIAL.contains(&token) {
            tokens.push(token.to_owned());
            types.push(3);
            specials.push((token.to_owned(), id as u32));
        } else if let Some(piece) = token.strip_prefix("##") {
            tokens.push(piece.to_owned());
            types.push(1);
        } else {
            tokens.push(format!("\u{2581}{token}"));
            types.push(1);
        }
    }
    Ok((tokens, types, specials))
}

fn read_json(path: &Path) -> Result<Json, InferenceError> {
    let text = std::fs::read_to_string(path).map_err(|source| InferenceError::Io {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|error| InferenceError::BadModelFile {
        path: path.to_owned(),
        reason: format!("not valid JSON: {error}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_names_follow_llama_cpp() {
        assert_eq!(
            gguf_tensor_name("embeddings.word_embeddings.weight").as_deref(),
            Some("token_embd.weight")
        );
        assert_eq!(
            gguf_tensor_name("bert.encoder.layer.3.attention.self.query.bias").as_deref(),
            Some("blk.3.attn_q.bias")
        );
        assert_eq!(
            gguf_tensor_name("encoder.layer.5.output.LayerNorm.weight").as_deref(),
            Some("blk.5.layer_output_norm.weight")
        );
        assert_eq!(
            gguf_tensor_name("encoder.layer.0.intermediate.dense.weight").as_deref(),
            Some("blk.0.ffn_up.weight")
        );
        assert_eq!(gguf_tensor_name("embeddings.position_ids"), None);
        assert_eq!(gguf_tensor_name("pooler.dense.weight"), None);
    }

    #[test]
    fn only_weight_matrices_with_whole_block_rows_become_q8_0() {
        use TensorType::{F16, F32, Q8_0};
        let q8 = |name: &str, shape: &[u64]| tensor_type(Precision::Q8_0, name, shape);
        assert_eq!(q8("token_embd.weight", &[30522, 384]), Q8_0);
        assert_eq!(q8("blk.0.ffn_down.weight", &[384, 1536]), Q8_0);
        // Tables llama.cpp adds to activations, norms, biases and 1-D tensors stay f32.
        assert_eq!(q8("position_embd.weight", &[512, 384]), F32);
        assert_eq!(q8("token_types.weight", &[2, 384]), F32);
        assert_eq!(q8("token_embd_norm.weight", &[384]), F32);
        assert_eq!(q8("blk.0.attn_output_norm.weight", &[384]), F32);
        assert_eq!(q8("blk.0.attn_q.bias", &[384]), F32);
        // Rows that are not whole 32-value blocks stay f32 (llama.cpp falls back the same way).
        assert_eq!(q8("blk.0.attn_q.weight", &[48, 48]), F32);
        assert_eq!(q8("blk.0.ffn_up.weight", &[96, 100]), F32);
        assert_eq!(q8("blk.0.ffn_up.weight", &[100, 96]), Q8_0);
        assert_eq!(q8("blk.0.ffn_up.weight", &[0, 0]), F32);
        // 3-D tensors are not BERT's and are left alone.
        assert_eq!(q8("blk.0.ffn_up.weight", &[2, 32, 32]), F32);
        // f16 keeps its rules: matrices shrink, whatever their row length.
        let f16 = |name: &str, shape: &[u64]| tensor_type(Precision::F16, name, shape);
        assert_eq!(f16("blk.0.attn_q.weight", &[48, 48]), F16);
        assert_eq!(f16("position_embd.weight", &[512, 384]), F32);
        assert_eq!(
            tensor_type(Precision::F32, "token_embd.weight", &[8, 32]),
            F32
        );
        assert_eq!(Precision::Q8_0.file_type(), 7);
        assert_eq!(Precision::F16.file_type(), 1);
        assert_eq!(Precision::F32.file_type(), 0);
        assert_eq!("Q8-0".parse::<Precision>(), Ok(Precision::Q8_0));
        assert!("q4_k".parse::<Precision>().is_err());
    }

    #[test]
    fn wordpiece_tokens_take_llama_cpp_form() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        std::fs::write(&path, r###"{"model": {"type": "WordPiece", "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "key": 5, "##s": 6}}}"###).unwrap();
        let (tokens, types, specials) = wordpiece_vocab(&path).unwrap();
        assert_eq!(
            tokens,
            [
                "[PAD]",
                "[UNK]",
                "[CLS]",
                "[SEP]",
                "[MASK]",
                "\u{2581}key",
                "s"
            ]
        );
        assert_eq!(types, [3, 3, 3, 3, 3, 1, 1]);
        assert_eq!(specials[2], ("[CLS]".to_owned(), 2));
    }
}
