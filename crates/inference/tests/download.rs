//! Downloads over real HTTP on loopback: digest checking, progress, and cut-off transfers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpListener;

use localgpt_inference::download::download;
use sha2::{Digest, Sha256};

/// Serves `body` once, claiming `claimed_length` bytes.
fn serve_once(body: Vec<u8>, claimed_length: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 2048];
        let _ = stream.read(&mut request).unwrap();
        write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Length: {claimed_length}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        stream.write_all(&body).unwrap();
    });
    format!("http://{address}/model.gguf")
}

#[test]
fn verified_downloads_land_and_report_progress() {
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let digest = hex::encode(Sha256::digest(&body));
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("m.bin");
    let mut seen = Vec::new();
    download(
        &serve_once(body.clone(), body.len()),
        &digest,
        &target,
        &mut |done, total| seen.push((done, total)),
    )
    .unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), body);
    assert_eq!(seen.last(), Some(&(300_000, Some(300_000))));
    assert!(seen.len() > 1);
}

#[test]
fn wrong_digest_or_short_transfer_installs_nothing() {
    let body = b"model bytes".to_vec();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("m.bin");
    let error = download(
        &serve_once(body.clone(), body.len()),
        &"0".repeat(64),
        &target,
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(error.to_string().contains("SHA-256 mismatch"), "{error}");
    assert!(!target.exists());
    let digest = hex::encode(Sha256::digest(&body));
    let error = download(
        &serve_once(body.clone(), body.len() + 100),
        &digest,
        &target,
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(!target.exists(), "{error}");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(names.is_empty(), "temporary files were left behind");
}
