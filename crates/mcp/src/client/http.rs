//! One MCP server over Streamable HTTP: each JSON-RPC message is a POST to the server's URL
//! (with the configured headers, e.g. an `Authorization` from `${VAR}`), answered with JSON or an
//! event stream whose events carry the answer; the session id the server gives at `initialize`
//! goes with every later request, and a `DELETE` ends the session. Answers are size-capped and
//! the caller bounds every wait.

use std::collections::BTreeMap;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};

use super::ClientError;

/// Largest answer accepted from a server.
const MAX_ANSWER: usize = 8 * 1024 * 1024;

/// The session header of Streamable HTTP.
const SESSION: &str = "mcp-session-id";

/// A session with a server over HTTP.
#[derive(Debug)]
pub struct HttpConnection {
    client: reqwest::Client,
    url: reqwest::Url,
    headers: HeaderMap,
    session: Option<HeaderValue>,
    protocol: Option<HeaderValue>,
    next_id: u64,
}

impl HttpConnection {
    /// A connection to `url` sending `headers` (nothing is sent yet). Only `http` and `https`
    /// URLs, and header names and values HTTP allows, are accepted.
    pub fn new(url: &str, headers: &BTreeMap<String, String>) -> Result<Self, ClientError> {
        let url = reqwest::Url::parse(url)
            .map_err(|error| ClientError::Start(format!("the url is not valid: {error}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ClientError::Start(format!(
                "the url must be http or https, not {}",
                url.scheme()
            )));
        }
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ClientError::Start(format!("`{name}` is not a header name")))?;
            let mut value = HeaderValue::from_str(value).map_err(|_| {
                ClientError::Start(format!("the value of header `{name}` is not valid"))
            })?;
            value.set_sensitive(true);
            map.insert(name, value);
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| ClientError::Start(format!("HTTP client: {error}")))?;
        Ok(Self {
            client,
            url,
            headers: map,
            session: None,
            protocol: None,
            next_id: 1,
        })
    }

    /// The `initialize` handshake; keeps the session id and protocol version the server gives.
    pub async fn initialize(&mut self) -> Result<Value, ClientError> {
        let result = self
            .request("initialize", super::initialize_params())
            .await?;
        self.protocol = result
            .get("protocolVersion")
            .and_then(Value::as_str)
            .and_then(|version| HeaderValue::from_str(version).ok());
        self.post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await?;
        Ok(result)
    }

    /// Sends one request and returns its result.
    pub async fn request(&mut self, method: &str, params: Value) -> Result<Value, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        let answer = self
            .post(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await?;
        let message = answer
            .into_iter()
            .find(|message| message.get("id").and_then(Value::as_u64) == Some(id))
            .ok_or_else(|| ClientError::Protocol(format!("no answer to `{method}`")))?;
        super::answer_result(&message)
    }

    /// Ends the session (the server may not support it; that is fine).
    pub async fn shutdown(self) {
        if let Some(session) = &self.session {
            let _ = self
                .client
                .delete(self.url.clone())
                .headers(self.headers.clone())
                .header(SESSION, session.clone())
                .send()
                .await;
        }
    }

    /// POSTs `message`; the JSON-RPC messages of the answer (none for a notification).
    async fn post(&mut self, message: &Value) -> Result<Vec<Value>, ClientError> {
        let mut request = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json, text/event-stream")
            .body(message.to_string());
        if let Some(session) = &self.session {
            request = request.header(SESSION, session.clone());
        }
        if let Some(protocol) = &self.protocol {
            request = request.header("mcp-protocol-version", protocol.clone());
        }
        let mut response = request.send().await.map_err(|error| {
            ClientError::Crashed(format!(
                "the server did not answer: {}",
                error.without_url()
            ))
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(ClientError::Crashed(format!(
                "the server answered HTTP {status}"
            )));
        }
        if let Some(session) = response.headers().get(SESSION) {
            self.session = Some(session.clone());
        }
        let event_stream = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|kind| kind.starts_with("text/event-stream"));
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|error| {
            ClientError::Crashed(format!("the answer broke off: {}", error.without_url()))
        })? {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(ClientError::Protocol(
                    "an answer longer than 8 MiB".to_owned(),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        let text = String::from_utf8_lossy(&body);
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        if event_stream {
            return Ok(events(&text));
        }
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Array(messages)) => Ok(messages),
            Ok(message) => Ok(vec![message]),
            Err(_) => Err(ClientError::Protocol(
                "an answer that is not JSON".to_owned(),
            )),
        }
    }
}

/// The JSON messages in the `data:` fields of an event stream's events.
fn events(stream: &str) -> Vec<Value> {
    let mut messages = Vec::new();
    let mut data = String::new();
    for line in stream.lines().chain(std::iter::once("")) {
        if line.is_empty() {
            if let Ok(message) = serde_json::from_str::<Value>(&data) {
                messages.push(message);
            }
            data.clear();
        } else if let Some(rest) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(rest.strip_prefix(' ').unwrap_or(rest));
        }
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_json_messages() {
        let stream = "event: message\nid: 1\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n: comment\ndata: not json\n\ndata: {\"a\":\ndata: 1}\n";
        let found = events(stream);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0]["id"], 1);
        assert_eq!(found[1]["a"], 1);
    }

    #[test]
    fn only_http_urls_and_valid_headers() {
        assert!(HttpConnection::new("file:///etc/passwd", &BTreeMap::new()).is_err());
        assert!(HttpConnection::new("not a url", &BTreeMap::new()).is_err());
        let bad = BTreeMap::from([("Authorization".to_owned(), "Bearer x\r\nEvil: 1".to_owned())]);
        assert!(HttpConnection::new("http://127.0.0.1:1/mcp", &bad).is_err());
        let good = BTreeMap::from([("Authorization".to_owned(), "Bearer x".to_owned())]);
        assert!(HttpConnection::new("http://127.0.0.1:1/mcp", &good).is_ok());
    }
}
