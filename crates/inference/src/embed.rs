//! Sentence embeddings on llama.cpp. The model is memory-mapped once; a worker thread owns the
//! llama.cpp context and embeds many texts per decode (one sequence id each), reading the pooled
//! vector of every sequence and L2-normalising it — what sentence-transformers returns. Inputs
//! longer than the model's window are cut as sentence-transformers cuts them (keeping the final
//! separator token).

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::token::LlamaToken;
use localgpt_core::embed::{EmbedError, Embedder};

use crate::backend::{backend, default_threads};
use crate::convert::MAX_SEQ_KEY;
use crate::embedding::{EmbedderOptions, model_fingerprint};
use crate::error::InferenceError;
use crate::gguf;

/// Tokens decoded together in one batch (raised to the model's window when that is larger).
/// Sequences in a batch attend over the whole batch (masked), so attention grows with the square
/// of this. Measured with `benches/embed_throughput.rs` on all-MiniLM-L6-v2, 2 threads: 256
/// tokens 26.0 chunks/s, 512 25.6, 1024 23.9, 2048 19.8; short sentences gained nothing beyond
/// 256 either.
const DEFAULT_BATCH_TOKENS: usize = 256;
/// Sequences decoded together in one batch (short texts share a decode).
const BATCH_SEQUENCES: u32 = 16;

struct Request {
    inputs: Vec<Vec<LlamaToken>>,
    reply: mpsc::Sender<Result<Vec<Vec<f32>>, String>>,
}

/// A sentence-embedding model running in-process on llama.cpp.
pub struct LlamaEmbedder {
    model: Arc<LlamaModel>,
    id: String,
    dimension: usize,
    max_tokens: usize,
    requests: Option<mpsc::Sender<Request>>,
    worker: Option<JoinHandle<()>>,
    path: PathBuf,
}

impl std::fmt::Debug for LlamaEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlamaEmbedder")
            .field("id", &self.id)
            .field("dimension", &self.dimension)
            .field("path", &self.path)
            .finish()
    }
}

impl LlamaEmbedder {
    /// Loads the GGUF embedding model at `path`, running on `threads` threads (default: the physical
    /// cores). The file is checked first, so a missing, truncated or foreign file is a clear error.
    pub fn load(path: &Path, threads: Option<usize>) -> Result<Self, InferenceError> {
        Self::load_with(
            path,
            &EmbedderOptions {
                threads,
                ..EmbedderOptions::default()
            },
        )
    }

    /// Loads the GGUF embedding model at `path` with `options`.
    pub fn load_with(path: &Path, options: &EmbedderOptions) -> Result<Self, InferenceError> {
        let info = gguf::read_info(path)?;
        let backend = backend()?;
        let params = LlamaModelParams::default();
        let model = LlamaModel::load_from_file(backend, path, &params).map_err(|error| {
            InferenceError::BadModelFile {
                path: path.to_owned(),
                reason: format!(
                    "llama.cpp could not load it ({error}); is the architecture `{}` supported?",
                    info.architecture().unwrap_or("unknown")
                ),
            }
        })?;
        let model = Arc::new(model);
        let dimension = usize::try_from(model.n_embd()).unwrap_or(0);
        let window = model.n_ctx_train() as usize;
        let max_tokens = model
            .meta_val_str(MAX_SEQ_KEY)
            .ok()
            .and_then(|text| text.parse::<usize>().ok())
            .unwrap_or(window)
            .min(window)
            .max(8);
        let pooling = info
            .integer(&format!(
                "{}.pooling_type",
                info.architecture().unwrap_or("bert")
            ))
            .unwrap_or(0);
        if pooling == 0 {
            return Err(InferenceError::BadModelFile {
                path: path.to_owned(),
                reason: "the model has no pooling type, so it is not a sentence-embedding model"
                    .to_owned(),
            });
        }
        let id = model_fingerprint(path, max_tokens)?;
        let threads = options.threads.unwrap_or_else(default_threads).max(1);
        // A batch holds at least one whole input.
        let batch_tokens = options
            .batch_tokens
            .unwrap_or(DEFAULT_BATCH_TOKENS)
            .max(max_tokens);
        let batch_tokens = u32::try_from(batch_tokens).unwrap_or(u32::MAX);
        let (sender, receiver) = mpsc::channel::<Request>();
        let worker_model = Arc::clone(&model);
        let (ready_sender, ready) = mpsc::channel();
        let worker = std::thread::Builder::new()
            .name("embedder".to_owned())
            .spawn(move || run_worker(&worker_model, threads, batch_tokens, receiver, ready_sender))
            .map_err(|error| {
                InferenceError::Engine(format!("starting the embedding thread: {error}"))
            })?;
        ready
            .recv()
            .map_err(|_| InferenceError::Engine("the embedding thread stopped".to_owned()))?
            .map_err(InferenceError::Engine)?;
        tracing::info!(path = %path.display(), dimension, max_tokens, threads, "embedding model loaded");
        Ok(Self {
            model,
            id,
            dimension,
            max_tokens,
            requests: Some(sender),
            worker: Some(worker),
            path: path.to_owned(),
        })
    }

    /// Token ids the model sees for `text` (with `[CLS]`/`[SEP]`), cut to the window.
    pub fn tokenize(&self, text: &str) -> Vec<LlamaToken> {
        let vocab = self.model.vocab();
        let mut tokens = vocab.tokenize(text.as_bytes(), true, false);
        if tokens.len() > self.max_tokens {
            let last = tokens[tokens.len() - 1];
            tokens.truncate(self.max_tokens - 1);
            tokens.push(last);
        }
        if tokens.is_empty() {
            tokens.push(vocab.bos());
        }
        tokens
    }
}

impl Drop for LlamaEmbedder {
    fn drop(&mut self) {
        self.requests.take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

impl Embedder for LlamaEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    fn count_tokens(&self, text: &str) -> Result<usize, EmbedError> {
        Ok(self
            .model
            .vocab()
            .tokenize(text.as_bytes(), false, false)
            .len())
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let inputs = texts.iter().map(|text| self.tokenize(text)).collect();
        let (reply, answer) = mpsc::channel();
        let sender = self
            .requests
            .as_ref()
            .ok_or_else(|| EmbedError::Inference("the embedder is shut down".to_owned()))?;
        sender
            .send(Request { inputs, reply })
            .map_err(|_| EmbedError::Inference("the embedding thread stopped".to_owned()))?;
        answer
            .recv()
            .map_err(|_| EmbedError::Inference("the embedding thread stopped".to_owned()))?
            .map_err(EmbedError::Inference)
    }
}

fn run_worker(
    model: &LlamaModel,
    threads: usize,
    batch_tokens: u32,
    requests: mpsc::Receiver<Request>,
    ready: mpsc::Sender<Result<(), String>>,
) {
    let Ok(backend) = backend() else {
        let _ = ready.send(Err("the llama.cpp backend is not available".to_owned()));
        return;
    };
    let threads = i32::try_from(threads).unwrap_or(2);
    let params = LlamaContextParams::default()
        .with_embeddings(true)
        .with_n_ctx(NonZeroU32::new(batch_tokens))
        .with_n_batch(batch_tokens)
        .with_n_ubatch(batch_tokens)
        .with_n_seq_max(BATCH_SEQUENCES)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let mut context = match model.new_context(backend, params) {
        Ok(context) => context,
        Err(error) => {
            let _ = ready.send(Err(format!("creating the embedding context: {error}")));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    let mut batch = LlamaBatch::new(batch_tokens as usize, BATCH_SEQUENCES as i32);
    while let Ok(request) = requests.recv() {
        let mut vectors = Vec::with_capacity(request.inputs.len());
        let mut failure = None;
        let mut start = 0;
        while start < request.inputs.len() && failure.is_none() {
            // Fill one batch with as many whole sequences as fit.
            batch.clear();
            let mut end = start;
            let mut tokens = 0usize;
            while end < request.inputs.len()
                && end - start < BATCH_SEQUENCES as usize
                && (end == start || tokens + request.inputs[end].len() <= batch_tokens as usize)
            {
                tokens += request.inputs[end].len();
                let seq = i32::try_from(end - start).unwrap_or(0);
                if let Err(error) = batch.add_sequence(&request.inputs[end], seq, true) {
                    failure = Some(format!("building a batch: {error}"));
                    break;
                }
                end += 1;
            }
            if failure.is_some() {
                break;
            }
            context.clear_kv_cache();
            if let Err(error) = context.decode(&mut batch) {
                failure = Some(format!("decoding: {error}"));
                break;
            }
            for seq in 0..(end - start) {
                match context.embeddings_seq_ith(i32::try_from(seq).unwrap_or(0)) {
                    Ok(values) => vectors.push(normalize(values)),
                    Err(error) => {
                        failure = Some(format!("reading embeddings: {error}"));
                        break;
                    }
                }
            }
            start = end;
        }
        let _ = request.reply.send(match failure {
            Some(error) => Err(error),
            None => Ok(vectors),
        });
    }
}

fn normalize(values: &[f32]) -> Vec<f32> {
    let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        values.iter().map(|v| v / norm).collect()
    } else {
        values.to_vec()
    }
}
