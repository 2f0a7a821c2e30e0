#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `web_fetch` against a real HTTP server on 127.0.0.1: pages become readable text, loopback is
//! refused unless allowed, redirects are checked again, and bodies are capped.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;

use localgpt_agent::tools::web_fetch::WebFetch;
use localgpt_agent::tools::{AllowedRoots, Tool, ToolContext};
use serde_json::json;

/// Serves each connection the response `route` gives for its path.
fn serve(route: fn(&str, u16) -> String) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut buffer = [0u8; 4096];
            let read = stream.read(&mut buffer).unwrap();
            let request = String::from_utf8_lossy(&buffer[..read]);
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let _ = stream.write_all(route(&path, port).as_bytes());
        }
    });
    port
}

fn routes(path: &str, port: u16) -> String {
    match path {
        "/page" => {
            let body = "<html><head><title>T</title><script>var secret = 1;</script></head><body><h1>Herons</h1><p>Herons wade in <b>shallow</b> water.</p></body></html>";
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
        }
        "/hop" => format!(
            "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{port}/page\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        ),
        _ => "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_owned(),
    }
}

fn context() -> ToolContext {
    let dir = std::env::temp_dir();
    ToolContext {
        roots: Arc::new(AllowedRoots::new(&dir, &[])),
        workspace: dir,
    }
}

#[tokio::test]
async fn pages_become_readable_text_when_loopback_is_allowed() {
    let port = serve(routes);
    let tool = WebFetch {
        allow_private: true,
    };
    let text = tool
        .run(
            json!({"url": format!("http://127.0.0.1:{port}/hop")}),
            &context(),
        )
        .await
        .unwrap();
    assert!(text.contains("Herons wade in"), "{text}");
    assert!(!text.contains("<p>"), "{text}");
    assert!(!text.contains("var secret"), "{text}");
    let missing = tool
        .run(
            json!({"url": format!("http://127.0.0.1:{port}/nothing")}),
            &context(),
        )
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("404"), "{missing}");
}

#[tokio::test]
async fn loopback_and_odd_schemes_are_refused_by_default() {
    let port = serve(routes);
    let tool = WebFetch::default();
    for url in [
        format!("http://127.0.0.1:{port}/page"),
        format!("http://localhost:{port}/page"),
        "http://[::1]/".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
    ] {
        let error = tool.run(json!({"url": url}), &context()).await.unwrap_err();
        assert!(
            error.to_string().contains("public addresses"),
            "{url}: {error}"
        );
    }
    let error = tool
        .run(json!({"url": "file:///etc/passwd"}), &context())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("only http and https"), "{error}");
}
