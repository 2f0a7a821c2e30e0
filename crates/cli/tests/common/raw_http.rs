//! Raw HTTP/1.1 over TCP for tests that must send what a well-behaved client never would: half
//! headers, oversized targets and headers, trickled bodies, chosen source addresses (127.0.0.x)
//! and arbitrary `Host`/`Origin` values; answers are read until the server closes.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

/// Safety net for every read: no test waits longer than this on one socket.
pub const SAFETY: Duration = Duration::from_secs(30);

/// A connection to `address` from the loopback address `source` (127.0.0.x), so one test can
/// play several clients.
pub fn connect_from(source: &str, address: &str) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
        let stream = socket.connect(address.parse().unwrap()).await.unwrap();
        stream.into_std().unwrap()
    });
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(SAFETY)).unwrap();
    stream
}

/// An answer read off the wire.
#[derive(Debug)]
pub struct Answer {
    /// The status code (0 when there was no answer).
    pub status: u16,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl Answer {
    /// The value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as JSON, null when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// Asserts the README's error shape, `{"error": {"code", "message"}}`, with `status`.
    pub fn assert_json_error(&self, status: u16, what: &str) {
        assert_eq!(self.status, status, "{what}: {self:?}");
        assert!(
            self.header("content-type")
                .is_some_and(|value| value.starts_with("application/json")),
            "{what}: {self:?}"
        );
        let body = self.json();
        assert!(body["error"]["code"].is_string(), "{what}: {self:?}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|message| !message.is_empty()),
            "{what}: {self:?}"
        );
    }
}

/// Reads one answer from `stream` until the server closes it (requests say `connection: close`).
pub fn read_answer(mut stream: TcpStream) -> Answer {
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_answer(&raw)
}

/// Status, headers and body of a raw answer (a chunked body decoded).
pub fn parse_answer(raw: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let chunked = headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("transfer-encoding") && value.contains("chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Answer {
        status,
        headers,
        body,
    }
}

/// The data of a chunked body.
pub fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// Sends `request` (raw bytes) from 127.0.0.1 and reads the answer.
pub fn raw(address: &str, request: &[u8]) -> Answer {
    raw_from("127.0.0.1", address, request)
}

pub fn raw_from(source: &str, address: &str, request: &[u8]) -> Answer {
    let mut stream = connect_from(source, address);
    // The server may answer (and close) before it has read everything; that is fine.
    let _ = stream.write_all(request);
    read_answer(stream)
}

/// A request with `connection: close`, the given extra header lines and body.
pub fn request(
    method: &str,
    target: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Vec<u8> {
    let mut text = format!("{method} {target} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        text.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    text.push_str("\r\n");
    text.push_str(body);
    text.into_bytes()
}

/// A JSON POST from `source` with the given extra headers.
pub fn post_json(
    source: &str,
    address: &str,
    path: &str,
    host: &str,
    extra: &[(&str, &str)],
    body: &Value,
) -> Answer {
    let mut headers = vec![("content-type", "application/json")];
    headers.extend_from_slice(extra);
    raw_from(
        source,
        address,
        &request("POST", path, host, &headers, &body.to_string()),
    )
}

/// Whether the server closed `stream` (end of file or reset) before the safety net.
pub fn closed_by_server(mut stream: &TcpStream) -> bool {
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}
