//! The generation thread: owns the llama.cpp context of one chat model, fits each prompt to the
//! window, reuses the key/value cache for the prefix it shares with the previous prompt, samples
//! tokens and streams text back, stopping on end-of-generation tokens, stop strings, the token
//! limit or cancellation.

use std::num::NonZeroU32;
use std::sync::atomic::Ordering;
use std::sync::mpsc;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use localgpt_core::chat::{
    ChatError, ChatEvent, ChatRequest, StopReason, ToolCall, ToolChoice, Usage,
};

use super::Job;
use super::template::ChatTemplate;
use super::text_stream::TextStream;
use crate::backend::backend;

/// Tokens generated when the request sets no limit.
const DEFAULT_MAX_TOKENS: u32 = 1_024;

/// Fixed settings of the worker.
pub struct WorkerSettings {
    pub threads: i32,
    pub context_size: u32,
    pub template: ChatTemplate,
}

/// Statistics of the last reply, for benchmarks and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplyStats {
    /// Prompt tokens in all.
    pub prompt_tokens: usize,
    /// Prompt tokens taken from the cache (not decoded again).
    pub reused_tokens: usize,
    /// Tokens generated.
    pub generated_tokens: usize,
}

/// Runs the worker until the job channel closes. Reports readiness (or why not) first.
pub fn run(
    model: &LlamaModel,
    settings: &WorkerSettings,
    jobs: mpsc::Receiver<Job>,
    ready: mpsc::Sender<Result<(), String>>,
    stats: &std::sync::Mutex<ReplyStats>,
) {
    let Ok(backend) = backend() else {
        let _ = ready.send(Err("the llama.cpp backend is not available".to_owned()));
        return;
    };
    let batch = settings.context_size.min(512);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(settings.context_size))
        .with_n_batch(batch)
        .with_n_ubatch(batch)
        .with_n_threads(settings.threads)
        .with_n_threads_batch(settings.threads);
    let mut context = match model.new_context(backend, params) {
        Ok(context) => context,
        Err(error) => {
            let _ = ready.send(Err(format!("creating the context: {error}")));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    let mut cached: Vec<LlamaToken> = Vec::new();
    while let Ok(job) = jobs.recv() {
        let mut generator = Generator {
            model,
            settings,
            context: &mut context,
            cached: &mut cached,
            job: &job,
        };
        match generator.reply() {
            Ok(reply_stats) => {
                if let Ok(mut shared) = stats.lock() {
                    *shared = reply_stats;
                }
            }
            Err(message) => {
                // The cache may be half-written; start clean next time.
                cached.clear();
                context.clear_kv_cache();
                let _ = job.events.unbounded_send(Err(ChatError::Failed {
                    provider: "local".to_owned(),
                    message,
                }));
            }
        }
    }
}

struct Generator<'a, 'm> {
    model: &'m LlamaModel,
    settings: &'a WorkerSettings,
    context: &'a mut LlamaContext<'m>,
    cached: &'a mut Vec<LlamaToken>,
    job: &'a Job,
}

impl Generator<'_, '_> {
    fn send(&self, event: ChatEvent) -> bool {
        self.job.events.unbounded_send(Ok(event)).is_ok()
    }

    fn cancelled(&self) -> bool {
        self.job.cancel.load(Ordering::SeqCst) || self.job.events.is_closed()
    }

    fn reply(&mut self) -> Result<ReplyStats, String> {
        let request = &self.job.request;
        let window = self.settings.context_size as usize;
        let max_new = request
            .max_tokens
            .unwrap_or(DEFAULT_MAX_TOKENS)
            .min(self.settings.context_size / 2) as usize;
        let offer_tools = self.settings.template.supports_tools() && !request.tools.is_empty();
        let prompt = fit_prompt(
            self.model,
            &self.settings.template,
            request,
            window - max_new,
        );
        let reused = self.reuse_cache(&prompt)?;
        let mut logits_index = self.decode_prompt(&prompt[reused..], reused)?;
        let constrain_calls = offer_tools && self.settings.template.uses_tool_call_tags();
        // A reply that must be a call is held to the call's grammar from its first token.
        let forced = constrain_calls && request.tool_choice == ToolChoice::Required;
        let mut sampler = if forced {
            whole_call_sampler(self.model, request)
        } else if let Some(grammar) = request.answer_grammar.as_deref().filter(|_| !offer_tools) {
            answer_sampler(self.model, request, grammar)
        } else {
            LlamaSampler::chain_simple(choose_samplers(self.model, request))
        };
        let mut grammar_on = forced;
        let mut stream = TextStream::new(&request.stop, offer_tools);
        let mut generated = 0usize;
        let mut position = prompt.len();
        let mut stop = StopReason::MaxTokens;
        let mut batch = LlamaBatch::new(1, 1);
        while generated < max_new && position < window {
            if self.cancelled() {
                stop = StopReason::Cancelled;
                break;
            }
            let token = sampler.sample(self.context, logits_index);
            if self.model.vocab().is_eog(token) {
                stop = StopReason::EndTurn;
                break;
            }
            generated += 1;
            let piece = self.model.vocab().token_to_piece(token, false, None);
            if let Some(text) = stream.push(&piece)
                && !self.send(ChatEvent::TextDelta(text))
            {
                stop = StopReason::Cancelled;
                break;
            }
            if stream.hit_stop {
                stop = StopReason::StopSequence;
                break;
            }
            // The model has opened a tool call: from the next token on it must be valid JSON.
            if constrain_calls
                && !grammar_on
                && let Some(rest) = stream.after_tool_tag()
            {
                grammar_on = true;
                if rest.trim().is_empty() {
                    sampler = constrained_sampler(self.model, request);
                }
            }
            batch.clear();
            batch
                .add(token, to_pos(position), &[0], true)
                .map_err(|error| error.to_string())?;
            self.context
                .decode(&mut batch)
                .map_err(|error| format!("decoding: {error}"))?;
            self.cached.push(token);
            logits_index = 0;
            position += 1;
        }
        let (rest, calls) = stream.finish();
        if let Some(text) = rest {
            self.send(ChatEvent::TextDelta(text));
        }
        for (index, call) in calls.into_iter().enumerate() {
            let id = format!("call_{index}");
            let raw = call.arguments.to_string();
            self.send(ChatEvent::ToolCallStart {
                index,
                id: id.clone(),
                name: call.name.clone(),
            });
            self.send(ChatEvent::ToolCallArgsDelta {
                index,
                fragment: raw.clone(),
            });
            self.send(ChatEvent::ToolCallEnd {
                index,
                call: ToolCall {
                    id,
                    name: call.name,
                    raw_arguments: raw,
                    arguments: Ok(call.arguments),
                },
            });
            if stop == StopReason::EndTurn || stop == StopReason::StopSequence {
                stop = StopReason::ToolUse;
            }
        }
        self.send(ChatEvent::Usage(Usage {
            input_tokens: prompt.len() as u64,
            output_tokens: generated as u64,
            cache_read_tokens: Some(reused as u64),
            cache_write_tokens: None,
        }));
        self.send(ChatEvent::Stop(stop));
        Ok(ReplyStats {
            prompt_tokens: prompt.len(),
            reused_tokens: reused,
            generated_tokens: generated,
        })
    }
}

impl Generator<'_, '_> {
    /// Keeps the cached prefix shared with `prompt` (at least one prompt token is always decoded
    /// again, for its logits) and drops the rest of the cache. Returns the tokens kept.
    fn reuse_cache(&mut self, prompt: &[LlamaToken]) -> Result<usize, String> {
        let shared = self
            .cached
            .iter()
            .zip(prompt)
            .take_while(|(cached, new)| cached == new)
            .count()
            .min(prompt.len().saturating_sub(1));
        let kept = match self.context.clear_kv_cache_seq(
            Some(0),
            Some(u32::try_from(shared).unwrap_or(u32::MAX)),
            None,
        ) {
            Ok(true) => shared,
            _ => {
                self.context.clear_kv_cache();
                0
            }
        };
        self.cached.truncate(kept);
        Ok(kept)
    }

    /// Decodes prompt tokens starting at position `start`, in batches; returns the batch index
    /// of the last token, whose logits give the first reply token.
    fn decode_prompt(&mut self, tokens: &[LlamaToken], start: usize) -> Result<i32, String> {
        let size = self.context.n_batch() as usize;
        let mut batch = LlamaBatch::new(size, 1);
        let mut last_index = 0;
        for (chunk_number, chunk) in tokens.chunks(size).enumerate() {
            if self.cancelled() {
                return Err("cancelled".to_owned());
            }
            batch.clear();
            let is_last_chunk = (chunk_number + 1) * size >= tokens.len();
            for (offset, token) in chunk.iter().enumerate() {
                let position = start + chunk_number * size + offset;
                let wants_logits = is_last_chunk && offset + 1 == chunk.len();
                batch
                    .add(*token, to_pos(position), &[0], wants_logits)
                    .map_err(|error| error.to_string())?;
            }
            self.context
                .decode(&mut batch)
                .map_err(|error| format!("decoding the prompt: {error}"))?;
            self.cached.extend_from_slice(chunk);
            last_index = i32::try_from(chunk.len() - 1).unwrap_or(0);
        }
        Ok(last_index)
    }
}

fn to_pos(position: usize) -> i32 {
    i32::try_from(position).unwrap_or(i32::MAX)
}

/// The sampler for the rest of a tool call: the grammar masks the logits first, so the usual
/// chain can only pick tokens it allows (and it is never fed one it did not allow).
fn constrained_sampler(model: &LlamaModel, request: &ChatRequest) -> LlamaSampler {
    let rest = choose_samplers(model, request);
    match super::grammar::sampler(model, &request.tools, true) {
        Some(grammar) => LlamaSampler::chain_simple(std::iter::once(grammar).chain(rest)),
        None => LlamaSampler::chain_simple(rest),
    }
}

/// The sampler for a reply that must be a tool call: the grammar from the opening tag on.
fn whole_call_sampler(model: &LlamaModel, request: &ChatRequest) -> LlamaSampler {
    let rest = choose_samplers(model, request);
    match super::grammar::sampler(model, &request.tools, false) {
        Some(grammar) => LlamaSampler::chain_simple(std::iter::once(grammar).chain(rest)),
        None => LlamaSampler::chain_simple(rest),
    }
}

/// The sampler for a reply in words held to `grammar` (a model that cannot call tools).
fn answer_sampler(model: &LlamaModel, request: &ChatRequest, grammar: &str) -> LlamaSampler {
    let rest = choose_samplers(model, request);
    match LlamaSampler::grammar(model, grammar, "root") {
        Ok(grammar) => LlamaSampler::chain_simple(std::iter::once(grammar).chain(rest)),
        Err(error) => {
            tracing::warn!(
                "answer grammar rejected by llama.cpp ({error}); decoding unconstrained"
            );
            LlamaSampler::chain_simple(rest)
        }
    }
}

/// The sampler chain for a request. Without a temperature, local models decode greedily with a
/// light repetition penalty (small models drift when sampled, and the same question then gets the
/// same answer); temperature 0 is plain greedy; otherwise llama.cpp's usual chain with a seed.
fn choose_samplers(model: &LlamaModel, request: &ChatRequest) -> Vec<LlamaSampler> {
    let penalties = || LlamaSampler::penalties(model.n_vocab(), 64, 1.1, 0.0, 0.0);
    let temperature = match request.temperature {
        None => return vec![penalties(), LlamaSampler::greedy()],
        Some(temperature) if temperature <= 0.0 => return vec![LlamaSampler::greedy()],
        Some(temperature) => temperature,
    };
    let seed = request.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos())
    });
    vec![
        penalties(),
        LlamaSampler::top_k(40),
        LlamaSampler::top_p(request.top_p.unwrap_or(0.95), 1),
        LlamaSampler::min_p(0.05, 1),
        LlamaSampler::temp(temperature),
        LlamaSampler::dist(seed),
    ]
}

/// The prompt's tokens, made to fit `budget`: oldest messages go first, then the system prompt
/// is shortened, and as a last resort only the newest tokens are kept. Never fails for length.
pub fn fit_prompt(
    model: &LlamaModel,
    template: &ChatTemplate,
    request: &ChatRequest,
    budget: usize,
) -> Vec<LlamaToken> {
    let tools = if template.supports_tools() {
        request.tools.as_slice()
    } else {
        &[]
    };
    let mut messages = request.messages.clone();
    let mut system = request.system.clone();
    loop {
        let text = template.render_or(system.as_deref(), &messages, tools, &|plain| {
            builtin_template(model, plain)
        });
        let tokens = tokenize(model, &text);
        if tokens.len() <= budget {
            return tokens;
        }
        if messages.len() > 1 {
            messages.remove(0);
            tracing::debug!("prompt too long for the window: dropped the oldest message");
        } else if let Some(text) = system.as_ref().filter(|text| text.chars().count() > 64) {
            let keep = text.chars().count() / 2;
            system = Some(format!(
                "{}\n[…]",
                text.chars().take(keep).collect::<String>()
            ));
        } else if system.is_some() {
            system = None;
        } else {
            tracing::warn!("the last message alone is longer than the window; keeping its end");
            return tokens[tokens.len() - budget..].to_vec();
        }
    }
}

/// The prompt by llama.cpp's built-in template matcher (it recognises the common families from the
/// model's template text), for when the Jinja template cannot be rendered.
pub fn builtin_template(model: &LlamaModel, messages: &[(String, String)]) -> Option<String> {
    let template = model.chat_template(None).ok()?;
    let messages = messages
        .iter()
        .map(|(role, content)| LlamaChatMessage::new(role.clone(), content.clone()).ok())
        .collect::<Option<Vec<_>>>()?;
    model.apply_chat_template(&template, &messages, true).ok()
}

/// Token ids of rendered prompt text, special tokens parsed, BOS added when the model wants it.
pub fn tokenize(model: &LlamaModel, text: &str) -> Vec<LlamaToken> {
    let vocab = model.vocab();
    let mut tokens = vocab.tokenize(text.as_bytes(), false, true);
    if vocab.should_add_bos() && tokens.first() != Some(&vocab.bos()) {
        tokens.insert(0, vocab.bos());
    }
    tokens
}
