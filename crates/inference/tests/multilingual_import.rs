//! Sentence models for other languages. The converter takes BERT models with a WordPiece
//! tokenizer (LaBSE and other multilingual BERTs convert as MiniLM does); the popular multilingual
//! sentence-transformers models use a SentencePiece tokenizer (XLM-RoBERTa's), which it refuses with
//! the way forward — convert with llama.cpp and import the `.gguf` — instead of writing a model whose
//! vectors would be wrong. The folders here are shaped like the real ones'
//! (`paraphrase-multilingual-MiniLM-L12-v2`: `model_type` "bert" with a Unigram tokenizer;
//! `multilingual-e5-small`: `model_type` "xlm-roberta"); no such model is packaged on a registry
//! this project can reach, so the real files are not used.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use localgpt_inference::Precision;
use localgpt_inference::convert::convert_bert;
use serde_json::json;

fn write(dir: &Path, name: &str, value: &serde_json::Value) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
}

fn folder(model_type: &str, tokenizer_model: serde_json::Value) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "config.json",
        &json!({
            "model_type": model_type,
            "hidden_size": 384,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "intermediate_size": 1536,
            "max_position_embeddings": 512,
            "vocab_size": 250037
        }),
    );
    write(
        dir.path(),
        "1_Pooling/config.json",
        &json!({"pooling_mode_mean_tokens": true}),
    );
    write(
        dir.path(),
        "tokenizer.json",
        &json!({ "model": tokenizer_model }),
    );
    std::fs::write(dir.path().join("model.safetensors"), b"").unwrap();
    dir
}

fn refusal(dir: &Path) -> String {
    let out = dir.join("out.gguf");
    let error = convert_bert(dir, &out, "multilingual", Precision::F32)
        .unwrap_err()
        .to_string();
    assert!(!out.exists(), "nothing may be written for a refused model");
    error
}

#[test]
fn a_bert_with_a_sentencepiece_tokenizer_is_refused_with_the_llama_cpp_path() {
    // paraphrase-multilingual-MiniLM-L12-v2: BERT layers, XLM-R's Unigram vocabulary.
    let dir = folder(
        "bert",
        json!({"type": "Unigram", "unk_id": 3, "vocab": [["<s>", 0.0], ["▁鍵", -9.5], ["▁Schlüssel", -10.1]]}),
    );
    let error = refusal(dir.path());
    assert!(error.contains("not WordPiece"), "{error}");
    assert!(error.contains("llama.cpp"), "{error}");
    assert!(error.contains(&dir.path().display().to_string()), "{error}");
}

#[test]
fn an_xlm_roberta_model_is_refused_with_the_llama_cpp_path() {
    // multilingual-e5-small, bge-m3, paraphrase-multilingual-mpnet-base-v2.
    let dir = folder("xlm-roberta", json!({"type": "Unigram", "vocab": []}));
    let error = refusal(dir.path());
    assert!(error.contains("xlm-roberta"), "{error}");
    assert!(error.contains("llama.cpp"), "{error}");
}
