//! The `web_fetch` tool: downloads a page over HTTP(S) and returns it as readable text. Private,
//! loopback and link-local addresses are refused unless allowed (so a page cannot make the agent
//! probe the user's network), every redirect is checked the same way, and bodies are size-capped.
//!
//! The address checked is the one connected to (no second DNS answer), and IPv6 forms that carry
//! an IPv4 address — mapped, compatible, NAT64, 6to4, Teredo — count as the address they carry.
//! Numeric spellings (`http://2130706433/`, `http://0x7f.1/`) are parsed to the address they
//! mean before the check, and URLs with a user name or password are refused.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use localgpt_core::chat::ToolSpec;
use serde_json::Value;

use super::{Tool, ToolContext, ToolError, ToolFuture, object_schema, string_arg};

/// Largest body read.
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Redirects followed at most.
const MAX_REDIRECTS: usize = 5;

/// Fetches a web page as text.
#[derive(Debug, Clone, Default)]
pub struct WebFetch {
    /// Allow loopback and private-network addresses (off by default).
    pub allow_private: bool,
}

impl Tool for WebFetch {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "web_fetch".to_owned(),
            description: "Fetch a web page (http or https URL) and return its readable text."
                .to_owned(),
            parameters: object_schema(&[("url", "string", "The address to fetch", true)]),
        }
    }

    fn is_read_only(&self) -> bool {
        true
    }

    fn run<'a>(&'a self, arguments: Value, _context: &'a ToolContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let url = string_arg(&arguments, "url")?;
            self.fetch(url).await
        })
    }
}

impl WebFetch {
    async fn fetch(&self, start: &str) -> Result<String, ToolError> {
        let mut url = reqwest::Url::parse(start)
            .map_err(|error| ToolError::InvalidArguments(format!("bad URL `{start}`: {error}")))?;
        for _ in 0..=MAX_REDIRECTS {
            let address = self.checked_address(&url).await?;
            let host = url.host_str().unwrap_or_default().to_owned();
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .user_agent(concat!("LocalGPT/", env!("CARGO_PKG_VERSION")))
                // Connect to the address that was checked, not to a second DNS answer.
                .resolve(&host, address)
                .build()
                .map_err(|error| ToolError::Failed(format!("HTTP client: {error}")))?;
            let response =
                client.get(url.clone()).send().await.map_err(|error| {
                    ToolError::Failed(format!("fetching {url} failed: {error}"))
                })?;
            if response.status().is_redirection() {
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|value| value.to_str().ok())
                    .ok_or_else(|| ToolError::Failed(format!("{url} redirected nowhere")))?;
                url = url.join(location).map_err(|error| {
                    ToolError::Failed(format!("{url} redirected to a bad address: {error}"))
                })?;
                continue;
            }
            return read_page(url, response).await;
        }
        Err(ToolError::Failed(format!(
            "more than {MAX_REDIRECTS} redirects starting at {start}"
        )))
    }

    /// Resolves the URL's host and refuses addresses the agent must not reach.
    async fn checked_address(&self, url: &reqwest::Url) -> Result<SocketAddr, ToolError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ToolError::InvalidArguments(format!(
                "only http and https URLs can be fetched, not `{}`",
                url.scheme()
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ToolError::InvalidArguments(
                "URLs with a user name or password (`user@host`) are not fetched".to_owned(),
            ));
        }
        let port = url.port_or_known_default().unwrap_or(80);
        let host = url
            .host_str()
            .ok_or_else(|| ToolError::InvalidArguments(format!("`{url}` has no host")))?;
        // The URL parser already turned every numeric spelling into the address it means.
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        let address = match literal.parse::<IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, port),
            Err(_) => tokio::net::lookup_host((literal, port))
                .await
                .map_err(|error| ToolError::Failed(format!("could not resolve {host}: {error}")))?
                .next()
                .ok_or_else(|| ToolError::Failed(format!("{host} has no address")))?,
        };
        if !self.allow_private && !is_public(address.ip()) {
            return Err(ToolError::Failed(format!(
                "{host} is a private, loopback or link-local address ({}); web_fetch only reaches \
                 public addresses",
                address.ip()
            )));
        }
        Ok(address)
    }
}

async fn read_page(
    url: reqwest::Url,
    mut response: reqwest::Response,
) -> Result<String, ToolError> {
    let status = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut body = Vec::new();
    let mut truncated = false;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| ToolError::Failed(format!("reading {url} failed: {error}")))?
    {
        let room = MAX_BODY_BYTES - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            truncated = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    if !status.is_success() {
        return Err(ToolError::Failed(format!("{url} answered {status}")));
    }
    let text = String::from_utf8_lossy(&body);
    let readable = if content_type.contains("html") || text.trim_start().starts_with('<') {
        html2text::from_read(text.as_bytes(), 100)
            .map_err(|error| ToolError::Failed(format!("could not read the page: {error}")))?
    } else {
        text.into_owned()
    };
    let mut out = format!("{url} ({status})\n\n{}", readable.trim());
    if truncated {
        out.push_str(&format!("\n[… page cut at {MAX_BODY_BYTES} bytes]"));
    }
    Ok(out)
}

/// Whether an address is on the public internet (shared with the sandbox's network proxy).
pub use localgpt_sandbox::is_public;
