//! A GGUF chat model running in this process on llama.cpp (the engine of the model process, see
//! [`crate::model_process`]): a generation thread of its own keeps the key/value cache between
//! replies, so a follow-up question only processes its new tokens.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use localgpt_core::chat::{ChatError, ChatModel, ChatRequest, ChatStream};

use super::template::ChatTemplate;
use super::worker::{self, ReplyStats};
use super::{DEFAULT_CONTEXT_CAP, Job, LocalChatOptions, new_job, refuse_embedding_model};
use crate::backend::{backend, default_threads};
use crate::error::InferenceError;
use crate::gguf;

/// A GGUF chat model running in-process.
pub struct LocalChatModel {
    name: String,
    path: PathBuf,
    context_size: u32,
    supports_tools: bool,
    template: ChatTemplate,
    model: Arc<LlamaModel>,
    jobs: Option<mpsc::Sender<Job>>,
    worker: Option<JoinHandle<()>>,
    stats: Arc<Mutex<ReplyStats>>,
}

impl std::fmt::Debug for LocalChatModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalChatModel")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("context_size", &self.context_size)
            .finish_non_exhaustive()
    }
}

impl LocalChatModel {
    /// Loads the GGUF chat model at `path` as `local/{name}`. A missing, truncated or non-GGUF
    /// file, or one that is not a chat model, is an error naming the file.
    pub fn load(
        name: &str,
        path: &Path,
        options: &LocalChatOptions,
    ) -> Result<Self, InferenceError> {
        let info = gguf::read_info(path)?;
        let architecture = info.architecture().unwrap_or("unknown").to_owned();
        refuse_embedding_model(&info, &architecture, path)?;
        let model = LlamaModel::load_from_file(backend()?, path, &LlamaModelParams::default())
            .map_err(|error| InferenceError::BadModelFile {
                path: path.to_owned(),
                reason: format!(
                    "llama.cpp could not load it ({error}); is the architecture `{architecture}` supported?"
                ),
            })?;
        let model = Arc::new(model);
        let trained = model.n_ctx_train().max(256);
        let context_size = options
            .context_size
            .unwrap_or(DEFAULT_CONTEXT_CAP)
            .clamp(256, trained);
        let vocab = model.vocab();
        let piece =
            |token| String::from_utf8_lossy(&vocab.token_to_piece(token, true, None)).into_owned();
        let template = ChatTemplate::new(
            options
                .chat_template
                .clone()
                .or_else(|| info.string("tokenizer.chat_template").map(str::to_owned)),
            &piece(vocab.bos()),
            &piece(vocab.eos()),
        );
        let supports_tools = template.supports_tools();
        let threads = options.threads.unwrap_or_else(default_threads).max(1);
        let settings = worker::WorkerSettings {
            threads: i32::try_from(threads).unwrap_or(2),
            context_size,
            template: template.clone(),
        };
        let stats = Arc::new(Mutex::new(ReplyStats::default()));
        let (jobs, receiver) = mpsc::channel();
        let (ready_sender, ready) = mpsc::channel();
        let worker_model = Arc::clone(&model);
        let worker_stats = Arc::clone(&stats);
        let worker = std::thread::Builder::new()
            .name("local-chat".to_owned())
            .spawn(move || {
                worker::run(
                    &worker_model,
                    &settings,
                    receiver,
                    ready_sender,
                    &worker_stats,
                )
            })
            .map_err(|error| {
                InferenceError::Engine(format!("starting the generation thread: {error}"))
            })?;
        ready
            .recv()
            .map_err(|_| InferenceError::Engine("the generation thread stopped".to_owned()))?
            .map_err(InferenceError::Engine)?;
        tracing::info!(path = %path.display(), context_size, threads, supports_tools, "chat model loaded");
        Ok(Self {
            name: format!("local/{name}"),
            path: path.to_owned(),
            context_size,
            supports_tools,
            template,
            model,
            jobs: Some(jobs),
            worker: Some(worker),
            stats,
        })
    }

    /// Tokens in `text` by the model's own tokenizer.
    pub fn count_tokens(&self, text: &str) -> usize {
        self.model
            .vocab()
            .tokenize(text.as_bytes(), false, true)
            .len()
    }

    /// Token ids of prompt text as the engine sees it (special tokens parsed, BOS added when the
    /// model wants one).
    pub fn tokenize(&self, text: &str) -> Vec<i32> {
        worker::tokenize(&self.model, text)
            .into_iter()
            .map(|token| token.0)
            .collect()
    }

    /// The prompt text a request renders to with the model's chat template.
    pub fn render_prompt(&self, request: &ChatRequest) -> String {
        let tools = if self.template.supports_tools() {
            request.tools.as_slice()
        } else {
            &[]
        };
        self.template.render_or(
            request.system.as_deref(),
            &request.messages,
            tools,
            &|plain| worker::builtin_template(&self.model, plain),
        )
    }

    /// What the last reply cost in tokens, and how much of its prompt came from the cache.
    pub fn last_reply_stats(&self) -> ReplyStats {
        self.stats
            .lock()
            .map_or_else(|_| ReplyStats::default(), |stats| *stats)
    }

    /// Whether the model's chat template renders tools.
    pub fn supports_tools(&self) -> bool {
        self.supports_tools
    }
}

impl Drop for LocalChatModel {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

impl ChatModel for LocalChatModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn context_window(&self) -> Option<u32> {
        Some(self.context_size)
    }

    fn supports_tools(&self) -> bool {
        self.supports_tools
    }

    fn count_tokens(&self, text: &str) -> Option<usize> {
        Some(LocalChatModel::count_tokens(self, text))
    }

    fn stream(&self, request: ChatRequest) -> ChatStream {
        let (job, stream) = new_job(request);
        self.submit(job);
        Box::pin(stream)
    }
}

impl LocalChatModel {
    /// Hands `job` to the generation thread, or answers it with an error when that has stopped.
    pub(crate) fn submit(&self, job: Job) {
        let events = job.events.clone();
        let sent = self
            .jobs
            .as_ref()
            .is_some_and(|jobs| jobs.send(job).is_ok());
        if !sent {
            let _ = events.unbounded_send(Err(ChatError::Failed {
                provider: "local".to_owned(),
                message: "the generation thread has stopped".to_owned(),
            }));
        }
    }
}
