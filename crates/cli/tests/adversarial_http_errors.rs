//! Every error the daemon's HTTP server returns — axum's, hyper's within the documented limits,
//! and the daemon's own — has the JSON shape `{"error": …}`, end to end with the real binary and
//! raw requests an attacker could send.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::raw_http::{raw, request};
use common::{daemon_home as home_for, daemon_url, start_daemon};
use localgpt_provider_script::{Script, ScriptedServer, Turn};

/// `host:port` of the daemon of `home`.
fn address(home: &Path) -> String {
    daemon_url(home).trim_start_matches("http://").to_owned()
}

fn scripted(turns: usize) -> (tokio::runtime::Runtime, ScriptedServer) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut script = Script::new();
    for index in 0..turns {
        script = script.turn(Turn::text([format!("answer {index}")]));
    }
    let server = runtime.block_on(ScriptedServer::start(script));
    (runtime, server)
}

#[test]
fn every_error_has_the_json_shape() {
    let (_runtime, server) = scripted(1);
    let home = home_for(&server, "");
    let _running = start_daemon(home.path());
    let address = address(home.path());
    let host = address.as_str();
    let json_type = [("content-type", "application/json")];
    let cases: Vec<(u16, &str, Vec<u8>)> = vec![
        (
            400,
            "bad JSON",
            request("POST", "/api/chat", host, &json_type, "{\"message\": "),
        ),
        (
            400,
            "cut short",
            request("POST", "/api/chat", host, &json_type, "{\"message\": \"hi\""),
        ),
        (
            422,
            "missing field",
            request("POST", "/api/chat", host, &json_type, "{\"msg\": \"hi\"}"),
        ),
        (
            422,
            "wrong type",
            request("POST", "/v1/chat/completions", host, &json_type, "{\"messages\": 5}"),
        ),
        (
            415,
            "text body",
            request("POST", "/api/chat", host, &[("content-type", "text/plain")], "hi"),
        ),
        (
            415,
            "no content type",
            request("POST", "/api/chat", host, &[], "{\"message\": \"hi\"}"),
        ),
        (
            413,
            "declared too big",
            format!(
                "POST /api/chat HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: 5000000\r\n\r\n{{"
            )
            .into_bytes(),
        ),
        (
            413,
            "chunked too big",
            {
                let mut bytes = format!(
                    "POST /api/chat HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
                )
                .into_bytes();
                let chunk = "a".repeat(64 * 1024);
                for _ in 0..20 {
                    bytes.extend_from_slice(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes());
                }
                bytes.extend_from_slice(b"0\r\n\r\n");
                bytes
            },
        ),
        (405, "GET on a POST route", request("GET", "/api/chat", host, &[], "")),
        (405, "DELETE /health", request("DELETE", "/health", host, &[], "")),
        (404, "unknown route", request("GET", "/nope", host, &[], "")),
        (404, "unknown API route", request("GET", "/api/nope/../../etc/passwd", host, &[], "")),
        (
            414,
            "long target",
            request("GET", &format!("/health?{}", "a".repeat(9000)), host, &[], ""),
        ),
        (
            431,
            "many headers",
            {
                let many: Vec<(String, String)> = (0..150)
                    .map(|index| (format!("x-h{index}"), "v".to_owned()))
                    .collect();
                let many: Vec<(&str, &str)> = many
                    .iter()
                    .map(|(name, value)| (name.as_str(), value.as_str()))
                    .collect();
                request("GET", "/health", host, &many, "")
            },
        ),
        (
            431,
            "one huge header",
            request("GET", "/health", host, &[("x-big", &"b".repeat(40 * 1024))], ""),
        ),
        (
            400,
            "query without its field",
            request("GET", "/api/memory/search?k=3", host, &[], ""),
        ),
    ];
    for (status, what, bytes) in cases {
        raw(&address, &bytes).assert_json_error(status, what);
    }
    // Past hyper's own hard limits (a 64 KiB target, 256 KiB or 400 lines of headers) hyper
    // refuses the request itself with the bare status before any handler runs, as documented;
    // the daemon stays up.
    let huge = raw(
        &address,
        &request(
            "GET",
            &format!("/health?{}", "a".repeat(70_000)),
            host,
            &[],
            "",
        ),
    );
    assert_eq!(huge.status, 414, "{huge:?}");
    assert_eq!(
        raw(&address, &request("GET", "/health", host, &[], "")).status,
        200
    );
    assert_eq!(server.request_count(), 0);
}
