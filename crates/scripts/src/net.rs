//! `fetch` for scripts: only to the hosts the manifest lists, decided by the sandbox's
//! [`Allowlist`] (the `[sandbox] allow_net` syntax and rules) and its address guard
//! ([`localgpt_sandbox::is_public`], the one `web_fetch` and the shell's proxy use): a name must
//! resolve to public addresses only, and is connected to at the address that was checked; a
//! private, loopback or link-local address is reached only when listed literally. Every redirect
//! is decided again, proxies from the environment are ignored, and bodies are capped.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use localgpt_sandbox::{Allowlist, Permit, is_public};
use serde::{Deserialize, Serialize};

/// Largest response body returned to a script.
pub const MAX_RESPONSE_BYTES: u64 = 2 * 1024 * 1024;
/// Largest request body sent.
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;
/// Redirects followed at most.
const MAX_REDIRECTS: usize = 5;
/// Headers a script may not set.
const FORBIDDEN_HEADERS: &[&str] = &[
    "host",
    "proxy-authorization",
    "connection",
    "transfer-encoding",
    "content-length",
];

/// A request as a script makes it: `fetch(url, {method, headers, body})`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FetchRequest {
    /// The address.
    #[serde(default)]
    pub url: String,
    /// `GET` unless given.
    #[serde(default)]
    pub method: Option<String>,
    /// Request headers.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Request body.
    #[serde(default)]
    pub body: Option<String>,
}

/// What `fetch` returns to the script.
#[derive(Debug, Clone, Serialize)]
pub struct FetchResponse {
    /// The final address (after redirects).
    pub url: String,
    /// HTTP status.
    pub status: u16,
    /// Whether the status is 2xx.
    pub ok: bool,
    /// Response headers (lower-case names).
    pub headers: std::collections::BTreeMap<String, String>,
    /// The body as text (lossy UTF-8, capped).
    pub body: String,
}

/// `fetch` limited to an allowlist, until a deadline.
#[derive(Debug, Clone)]
pub struct GuardedFetch {
    allow: Allowlist,
    deadline: Instant,
}

impl GuardedFetch {
    /// Fetches reach `allow` until `deadline` (the script's time limit).
    pub fn new(allow: Allowlist, deadline: Instant) -> Self {
        Self { allow, deadline }
    }

    /// Performs `request`, following redirects that are allowed too.
    pub fn fetch(&self, request: &FetchRequest) -> Result<FetchResponse, String> {
        let method = request
            .method
            .as_deref()
            .unwrap_or("GET")
            .to_ascii_uppercase();
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| format!("`{method}` is not an HTTP method"))?;
        for name in request.headers.keys() {
            if FORBIDDEN_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(format!("refused: scripts may not set the `{name}` header"));
            }
        }
        if request
            .body
            .as_ref()
            .is_some_and(|body| body.len() > MAX_REQUEST_BYTES)
        {
            return Err(format!(
                "refused: request bodies are limited to {MAX_REQUEST_BYTES} bytes"
            ));
        }
        let mut url = reqwest::Url::parse(request.url.trim())
            .map_err(|error| format!("bad URL `{}`: {error}", request.url.escape_debug()))?;
        let mut method = method;
        for _ in 0..=MAX_REDIRECTS {
            let (host, address) = self.checked(&url)?;
            let remaining = self.deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err("the script's time limit ran out before the request".to_owned());
            }
            let client = reqwest::blocking::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(remaining.min(Duration::from_secs(30)))
                .user_agent(concat!("LocalGPT-script/", env!("CARGO_PKG_VERSION")))
                .resolve(&host, address)
                .build()
                .map_err(|error| format!("HTTP client: {error}"))?;
            let mut builder = client.request(method.clone(), url.clone());
            for (name, value) in &request.headers {
                builder = builder.header(name, value);
            }
            if let Some(body) = &request.body
                && method != reqwest::Method::GET
            {
                builder = builder.body(body.clone());
            }
            let response = builder
                .send()
                .map_err(|error| format!("fetching {url} failed: {error}"))?;
            if response.status().is_redirection()
                && let Some(location) = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|value| value.to_str().ok())
            {
                url = url
                    .join(location)
                    .map_err(|error| format!("{url} redirected to a bad address: {error}"))?;
                method = reqwest::Method::GET;
                continue;
            }
            return read(url, response);
        }
        Err(format!("more than {MAX_REDIRECTS} redirects"))
    }

    /// Decides `url` by the allowlist and the address guard; the host name and the address to
    /// connect to.
    fn checked(&self, url: &reqwest::Url) -> Result<(String, SocketAddr), String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "refused: only http and https URLs can be fetched, not `{}`",
                url.scheme()
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("refused: URLs with a user name or password are not fetched".to_owned());
        }
        let host = url
            .host_str()
            .ok_or_else(|| format!("refused: `{url}` has no host"))?
            .to_owned();
        let port = url.port_or_known_default().unwrap_or(80);
        let permit = self.allow.decide(&host, port).map_err(|reason| {
            format!(
                "refused: {} (this tool's manifest lists the hosts fetch may reach)",
                reason.replace("[sandbox] allow_net", "the manifest's hosts")
            )
        })?;
        let address = match permit {
            Permit::Address(address) => address,
            Permit::Name(name, port) => {
                let resolved: Vec<SocketAddr> = (name.as_str(), port)
                    .to_socket_addrs()
                    .map_err(|error| format!("could not resolve {host}: {error}"))?
                    .collect();
                if let Some(private) = resolved.iter().find(|address| !is_public(address.ip())) {
                    return Err(format!(
                        "refused: {host} resolves to a private, loopback or link-local address \
                         ({}); only addresses listed literally in the manifest may be private",
                        private.ip()
                    ));
                }
                *resolved
                    .first()
                    .ok_or_else(|| format!("{host} has no address"))?
            }
        };
        Ok((host, address))
    }
}

fn read(url: reqwest::Url, response: reqwest::blocking::Response) -> Result<FetchResponse, String> {
    use std::io::Read;
    let status = response.status();
    let headers = response
        .headers()
        .iter()
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    let mut body = Vec::new();
    response
        .take(MAX_RESPONSE_BYTES)
        .read_to_end(&mut body)
        .map_err(|error| format!("reading {url} failed: {error}"))?;
    Ok(FetchResponse {
        url: url.to_string(),
        status: status.as_u16(),
        ok: status.is_success(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}
