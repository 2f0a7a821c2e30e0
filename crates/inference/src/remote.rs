//! Embeddings from a server instead of the built-in engine: OpenAI's `/v1/embeddings` (and any
//! OpenAI-compatible server through its base URL) or Ollama's `/api/embed`. The vector size is
//! learned from one probe request when the embedder is opened; transient failures (429, 5xx,
//! connection errors) are retried a few times with backoff; other failures name the endpoint and
//! what to fix. Token counts are estimated (about four characters a token).

use std::time::Duration;

use localgpt_core::embed::{EmbedError, Embedder};
use serde_json::{Value, json};

/// Which wire protocol the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteKind {
    /// `POST {base}/embeddings` with `{model, input}` → `{data: [{embedding}]}`.
    OpenAi,
    /// `POST {base}/api/embed` with `{model, input}` → `{embeddings: [[…]]}`.
    Ollama,
}

/// An embedding endpoint.
#[derive(Debug)]
pub struct RemoteEmbedder {
    kind: RemoteKind,
    url: String,
    model: String,
    api_key: Option<String>,
    id: String,
    dimension: usize,
    max_tokens: usize,
    agent: ureq::Agent,
}

const ATTEMPTS: u32 = 4;
const TEXTS_PER_REQUEST: usize = 64;

impl RemoteEmbedder {
    /// Connects to `base` (e.g. `https://api.openai.com/v1` or `http://localhost:11434`) and asks
    /// for one vector to learn the model's dimension.
    pub fn connect(
        kind: RemoteKind,
        base: &str,
        model: &str,
        api_key: Option<String>,
        max_tokens: usize,
    ) -> Result<Self, EmbedError> {
        let base = base.trim_end_matches('/');
        let url = match kind {
            RemoteKind::OpenAi => format!("{base}/embeddings"),
            RemoteKind::Ollama => format!("{base}/api/embed"),
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(120)))
            .http_status_as_error(false)
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::PlatformVerifier)
                    .build(),
            )
            .build()
            .into();
        let mut embedder = Self {
            kind,
            id: format!(
                "{}:{model}",
                match kind {
                    RemoteKind::OpenAi => "openai",
                    RemoteKind::Ollama => "ollama",
                }
            ),
            url,
            model: model.to_owned(),
            api_key,
            dimension: 0,
            max_tokens: max_tokens.max(16),
            agent,
        };
        let probe = embedder.request(&["dimension probe"])?;
        embedder.dimension = probe.first().map_or(0, Vec::len);
        if embedder.dimension == 0 {
            return Err(embedder.failure("the server returned an empty vector".to_owned()));
        }
        Ok(embedder)
    }

    fn failure(&self, message: String) -> EmbedError {
        EmbedError::Remote {
            endpoint: self.url.clone(),
            message,
        }
    }

    fn request(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let body = json!({"model": self.model, "input": texts});
        let mut wait = Duration::from_millis(500);
        let mut last_error = String::new();
        for attempt in 1..=ATTEMPTS {
            let mut request = self
                .agent
                .post(&self.url)
                .header("content-type", "application/json");
            if let Some(key) = &self.api_key {
                request = request.header("authorization", &format!("Bearer {key}"));
            }
            let response = match request.send(body.to_string()) {
                Ok(response) => response,
                Err(error) => {
                    last_error = format!("cannot reach the server ({error})");
                    std::thread::sleep(wait);
                    wait *= 2;
                    continue;
                }
            };
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let text = response
                .into_body()
                .read_to_string()
                .map_err(|error| self.failure(format!("reading the answer: {error}")))?;
            match status {
                200..=299 => return self.parse(&text, texts.len()),
                429 | 500..=599 => {
                    last_error = format!(
                        "HTTP {status}: {}",
                        text.chars().take(200).collect::<String>()
                    );
                    if attempt < ATTEMPTS {
                        std::thread::sleep(
                            retry_after.map_or(wait, |secs| Duration::from_secs(secs.min(30))),
                        );
                        wait *= 2;
                    }
                }
                401 | 403 => {
                    return Err(self.failure(format!("HTTP {status}: the API key was refused; set OPENAI_API_KEY or `localgpt config set providers.openai.api_key …`")));
                }
                _ => {
                    return Err(self.failure(format!(
                        "HTTP {status}: {}",
                        text.chars().take(300).collect::<String>()
                    )));
                }
            }
        }
        Err(self.failure(format!("gave up after {ATTEMPTS} attempts: {last_error}")))
    }

    fn parse(&self, text: &str, expected: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
        let json: Value = serde_json::from_str(text)
            .map_err(|error| self.failure(format!("the answer is not JSON ({error})")))?;
        let rows: Vec<&Value> = match self.kind {
            RemoteKind::OpenAi => json.get("data").and_then(Value::as_array).map(|data| {
                data.iter()
                    .filter_map(|item| item.get("embedding"))
                    .collect()
            }),
            RemoteKind::Ollama => json
                .get("embeddings")
                .and_then(Value::as_array)
                .map(|rows| rows.iter().collect()),
        }
        .ok_or_else(|| self.failure("the answer has no embeddings".to_owned()))?;
        if rows.len() != expected {
            return Err(self.failure(format!("asked for {expected} vectors, got {}", rows.len())));
        }
        rows.into_iter()
            .map(|row| {
                let vector: Vec<f32> = row
                    .as_array()
                    .ok_or_else(|| self.failure("a vector is not an array".to_owned()))?
                    .iter()
                    .map(|v| v.as_f64().unwrap_or(0.0) as f32)
                    .collect();
                let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
                Ok(if norm > 0.0 {
                    vector.iter().map(|v| v / norm).collect()
                } else {
                    vector
                })
            })
            .collect()
    }
}

impl Embedder for RemoteEmbedder {
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
        Ok(text.chars().count().div_ceil(4))
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for group in texts.chunks(TEXTS_PER_REQUEST) {
            let batch = self.request(group)?;
            if batch.iter().any(|vector| vector.len() != self.dimension) {
                return Err(self.failure("the server changed the vector size".to_owned()));
            }
            vectors.extend(batch);
        }
        Ok(vectors)
    }
}
