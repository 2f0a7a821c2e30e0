//! The model process's side: reads requests from LocalGPT, loads the one model the first request
//! names, and answers every later request on its output. Embedding requests are answered in
//! order; each chat reply streams from a thread of its own, so a cancellation is read while it
//! runs. The process ends when its input closes (LocalGPT dropped it, or LocalGPT itself ended).

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use localgpt_core::chat::{ChatError, ChatEvent};
use localgpt_core::embed::Embedder;

use super::protocol::{ModelSpec, Reply, Request};
use crate::embed::LlamaEmbedder;
use crate::embedding::EmbedderOptions;
use crate::error::InferenceError;
use crate::local_chat::{Job, LocalChatModel, LocalChatOptions};

/// Where replies go; shared by the threads that stream chat replies.
type Output = Arc<Mutex<Box<dyn Write + Send>>>;

/// Serves requests from `input` until it ends. An error is returned only when the first request
/// is not a load or the output cannot be written; a model that fails to load is reported to
/// LocalGPT as [`Reply::LoadFailed`].
pub fn serve(input: impl BufRead, output: Box<dyn Write + Send>) -> Result<(), InferenceError> {
    serve_with(input, output, |_| Ok(()))
}

/// Like [`serve`], running `prepare` once the model to load is known and before it is read (the
/// binary confines the process there); its error is reported as the load's failure.
pub fn serve_with(
    mut input: impl BufRead,
    output: Box<dyn Write + Send>,
    prepare: impl FnOnce(&ModelSpec) -> Result<(), String>,
) -> Result<(), InferenceError> {
    let output: Output = Arc::new(Mutex::new(output));
    let model = match next_request(&mut input)? {
        Some(Request::Load { model }) => model,
        Some(other) => {
            return Err(InferenceError::Process(format!(
                "the first request must load a model, not {other:?}"
            )));
        }
        None => return Ok(()),
    };
    if let Err(message) = prepare(&model) {
        return write(&output, &Reply::LoadFailed { message });
    }
    match load(&model) {
        Ok(Loaded::Embedding(embedder)) => {
            write(&output, &Reply::Loaded)?;
            serve_embedder(&embedder, input, &output)
        }
        Ok(Loaded::Chat(model)) => {
            write(&output, &Reply::Loaded)?;
            serve_chat(&model, input, &output)
        }
        Err(error) => write(
            &output,
            &Reply::LoadFailed {
                message: error.to_string(),
            },
        ),
    }
}

enum Loaded {
    Embedding(LlamaEmbedder),
    Chat(Box<LocalChatModel>),
}

fn load(model: &ModelSpec) -> Result<Loaded, InferenceError> {
    Ok(match model {
        ModelSpec::Embedding {
            path,
            threads,
            batch_tokens,
        } => Loaded::Embedding(LlamaEmbedder::load_with(
            path,
            &EmbedderOptions {
                threads: *threads,
                batch_tokens: *batch_tokens,
            },
        )?),
        ModelSpec::Chat {
            name,
            path,
            threads,
            context_size,
            chat_template,
        } => Loaded::Chat(Box::new(LocalChatModel::load(
            name,
            path,
            &LocalChatOptions {
                threads: *threads,
                context_size: *context_size,
                chat_template: chat_template.clone(),
            },
        )?)),
    })
}

fn serve_embedder(
    embedder: &LlamaEmbedder,
    mut input: impl BufRead,
    output: &Output,
) -> Result<(), InferenceError> {
    while let Some(request) = next_request(&mut input)? {
        let reply = match request {
            Request::Embed { id, texts } => {
                let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
                match embedder.embed(&texts) {
                    Ok(vectors) => Reply::Vectors { id, vectors },
                    Err(error) => Reply::Failed {
                        id,
                        message: error.to_string(),
                    },
                }
            }
            Request::CountTokens { id, text } => match embedder.count_tokens(&text) {
                Ok(count) => Reply::Tokens { id, count },
                Err(error) => Reply::Failed {
                    id,
                    message: error.to_string(),
                },
            },
            Request::Chat { id, .. } => Reply::Failed {
                id,
                message: "this model process runs an embedding model, not a chat model".to_owned(),
            },
            Request::Cancel { .. } => continue,
            Request::Load { .. } => return Err(loaded_twice()),
        };
        write(output, &reply)?;
    }
    Ok(())
}

fn serve_chat(
    model: &LocalChatModel,
    mut input: impl BufRead,
    output: &Output,
) -> Result<(), InferenceError> {
    let running: Arc<Mutex<HashMap<u64, Arc<AtomicBool>>>> = Arc::default();
    let outcome = loop {
        let request = match next_request(&mut input) {
            Ok(Some(request)) => request,
            Ok(None) => break Ok(()),
            Err(error) => break Err(error),
        };
        let reply = match request {
            Request::Chat { id, request } => {
                let (events, mut receiver) = futures_channel::mpsc::unbounded();
                let cancel = Arc::new(AtomicBool::new(false));
                lock(&running).insert(id, Arc::clone(&cancel));
                model.submit(Job {
                    request,
                    events,
                    cancel: Arc::clone(&cancel),
                });
                let output = Arc::clone(output);
                let running = Arc::clone(&running);
                let forwarded = std::thread::Builder::new()
                    .name(format!("reply-{id}"))
                    .spawn(move || {
                        forward_reply(id, &mut receiver, &output, &cancel);
                        lock(&running).remove(&id);
                    });
                match forwarded {
                    Ok(_) => continue,
                    Err(error) => Reply::Failed {
                        id,
                        message: format!("starting the reply thread: {error}"),
                    },
                }
            }
            Request::CountTokens { id, text } => Reply::Tokens {
                id,
                count: model.count_tokens(&text),
            },
            Request::Cancel { id } => {
                if let Some(cancel) = lock(&running).get(&id) {
                    cancel.store(true, Ordering::SeqCst);
                }
                continue;
            }
            Request::Embed { id, .. } => Reply::Failed {
                id,
                message: "this model process runs a chat model, not an embedding model".to_owned(),
            },
            Request::Load { .. } => break Err(loaded_twice()),
        };
        if let Err(error) = write(output, &reply) {
            break Err(error);
        }
    };
    // Input closed: stop every reply still running (the model's thread then ends with it).
    for cancel in lock(&running).values() {
        cancel.store(true, Ordering::SeqCst);
    }
    outcome
}

/// Writes each event of reply `id` until it ends, then `Done`; stops the reply when the output
/// is gone.
fn forward_reply(
    id: u64,
    receiver: &mut futures_channel::mpsc::UnboundedReceiver<Result<ChatEvent, ChatError>>,
    output: &Output,
    cancel: &AtomicBool,
) {
    while let Some(item) = next_blocking(receiver) {
        let reply = match item {
            Ok(event) => Reply::Event { id, event },
            Err(error) => Reply::Failed {
                id,
                message: match error {
                    ChatError::Failed { message, .. } => message,
                    other => other.to_string(),
                },
            },
        };
        if write(output, &reply).is_err() {
            cancel.store(true, Ordering::SeqCst);
            return;
        }
    }
    let _ = write(output, &Reply::Done { id });
}

/// Wakes a thread parked in [`next_blocking`].
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// The stream's next item, waiting on this thread.
fn next_blocking<S: futures_core::Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    loop {
        match std::pin::Pin::new(&mut *stream).poll_next(&mut context) {
            Poll::Ready(item) => return item,
            Poll::Pending => std::thread::park(),
        }
    }
}

fn next_request(input: &mut impl BufRead) -> Result<Option<Request>, InferenceError> {
    let mut line = String::new();
    let read = input
        .read_line(&mut line)
        .map_err(|error| InferenceError::Process(format!("reading a request: {error}")))?;
    if read == 0 {
        return Ok(None);
    }
    serde_json::from_str(&line)
        .map(Some)
        .map_err(|error| InferenceError::Process(format!("an unreadable request: {error}")))
}

fn write(output: &Output, reply: &Reply) -> Result<(), InferenceError> {
    let mut line = serde_json::to_vec(reply)
        .map_err(|error| InferenceError::Process(format!("encoding a reply: {error}")))?;
    line.push(b'\n');
    let mut output = lock(output);
    output
        .write_all(&line)
        .and_then(|()| output.flush())
        .map_err(|error| InferenceError::Process(format!("writing a reply: {error}")))
}

fn loaded_twice() -> InferenceError {
    InferenceError::Process("a model process loads one model, once".to_owned())
}

fn lock<T: ?Sized>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
