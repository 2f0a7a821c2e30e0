//! Test helpers: a deterministic embedder (hashed bag of words) that exercises the index's vector
//! machinery without a model, and workspace builders.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use localgpt_core::embed::{EmbedError, Embedder};

/// Hashed bag-of-words vectors: texts sharing words get similar vectors. Counts its calls.
pub struct HashEmbedder {
    pub id: String,
    pub dimension: usize,
    pub texts_embedded: AtomicUsize,
    /// Pause per call, to make a run long enough to interrupt.
    pub delay: std::time::Duration,
}

impl HashEmbedder {
    pub fn new(id: &str, dimension: usize) -> Self {
        Self {
            id: id.to_owned(),
            dimension,
            texts_embedded: AtomicUsize::new(0),
            delay: std::time::Duration::ZERO,
        }
    }

    pub fn count(&self) -> usize {
        self.texts_embedded.load(Ordering::SeqCst)
    }
}

impl Embedder for HashEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn max_tokens(&self) -> usize {
        256
    }

    fn count_tokens(&self, text: &str) -> Result<usize, EmbedError> {
        Ok(text.split_whitespace().count())
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.texts_embedded.fetch_add(texts.len(), Ordering::SeqCst);
        std::thread::sleep(self.delay);
        Ok(texts
            .iter()
            .map(|text| {
                let mut vector = vec![0.0f32; self.dimension];
                for word in text
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| !w.is_empty())
                {
                    let hash = word
                        .to_lowercase()
                        .bytes()
                        .fold(1469598103934665603u64, |h, b| {
                            (h ^ u64::from(b)).wrapping_mul(1099511628211)
                        });
                    vector[(hash % self.dimension as u64) as usize] += 1.0;
                }
                let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
                vector.iter().map(|x| x / norm).collect()
            })
            .collect())
    }
}

pub fn write(root: &Path, relative: &str, text: &str) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}
