//! `web_fetch` against every spelling of a private address the URL and IP grammars allow
//! (numeric, octal, hex, IPv4 inside IPv6 — mapped, compatible, NAT64, 6to4, Teredo — trailing
//! dots, user@host): a real server on 127.0.0.1 counts connections and must never be reached.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use localgpt_agent::tools::web_fetch::WebFetch;
use localgpt_agent::tools::{AllowedRoots, Tool, ToolContext};
use serde_json::json;

/// Serves anything with 200 and counts the connections it accepted.
fn counting_server() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counted.fetch_add(1, Ordering::SeqCst);
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let body = "INTERNAL-ONLY-PAGE";
            let _ = stream.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    (port, hits)
}

#[tokio::test]
async fn web_fetch_refuses_every_spelling_of_a_private_address() {
    let (port, hits) = counting_server();
    let tool = WebFetch::default();
    let dir = tempfile::tempdir().unwrap();
    let context = ToolContext {
        roots: Arc::new(AllowedRoots::new(dir.path(), &[])),
        workspace: dir.path().to_path_buf(),
    };
    let hosts = [
        "127.0.0.1",
        "2130706433",
        "0x7f.1",
        "0x7f000001",
        "017700000001",
        "0177.0.0.1",
        "127.1",
        "127.0.1",
        "127.0.0.1.",
        "localhost",
        "localhost.",
        "LOCALHOST",
        "0",
        "0.0.0.0",
        "evil@127.0.0.1",
        "evil.com@127.0.0.1",
        "user:pass@localhost",
        "example.com:80@127.0.0.1",
        "[::1]",
        "[::]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[0:0:0:0:0:ffff:127.0.0.1]",
        "[::127.0.0.1]",
        "[64:ff9b::127.0.0.1]",
        "[64:ff9b::7f00:1]",
        "[64:ff9b:1::7f00:1]",
        "[2002:7f00:1::1]",
        "[2001:0:7f00:1::1]",
        "[2001:0:4136:e378:8000:63bf:80ff:fffe]",
        "[fe80::1]",
        "[fd00::1]",
        "169.254.169.254",
        "[::ffff:169.254.169.254]",
        "[64:ff9b::a9fe:a9fe]",
        "10.0.0.1",
        "192.168.1.1",
        "100.64.0.1",
    ];
    for host in hosts {
        let url = format!("http://{host}:{port}/secret?q=1");
        let result = tokio::time::timeout(
            Duration::from_secs(30),
            tool.run(json!({"url": url}), &context),
        )
        .await
        .expect("web_fetch must answer");
        match result {
            Ok(page) => panic!("{url} was fetched: {page}"),
            Err(error) => {
                let text = error.to_string();
                assert!(!text.contains("INTERNAL-ONLY-PAGE"), "{url}: {text}");
                assert!(
                    text.contains("public addresses")
                        || text.contains("user name or password")
                        || text.contains("could not resolve"),
                    "{url}: {text}"
                );
            }
        }
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "a private address was reached"
    );
}

#[test]
fn addresses_that_embed_ipv4_count_as_what_they_embed() {
    use localgpt_agent::tools::web_fetch::is_public;
    for private in [
        "::ffff:10.1.2.3",
        "::10.1.2.3",
        "64:ff9b::10.1.2.3",
        "64:ff9b::192.168.1.1",
        "64:ff9b:1::8.8.8.8",
        "2002:0a01:0203::1",
        "2002:c0a8:0101::1",
        "2001:0:0a01:0203::1",
        "2001:0:0808:0808:0:0:f5fe:fdfc",
    ] {
        assert!(!is_public(private.parse().unwrap()), "{private}");
    }
    for public in [
        "::ffff:8.8.8.8",
        "64:ff9b::8.8.8.8",
        "2002:0808:0808::1",
        "2001:0:0808:0808:0:0:f7f7:f7f7",
        "8.8.8.8",
    ] {
        assert!(is_public(public.parse().unwrap()), "{public}");
    }
}
