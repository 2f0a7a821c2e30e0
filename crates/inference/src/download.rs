//! Downloading model files: HTTPS with the system's certificate store, streamed to a temporary
//! file beside the destination while a SHA-256 is computed, reported through a progress callback,
//! and moved into place only when the digest matches.

use std::io::{Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::InferenceError;

/// Bytes received so far and the total, when the server says.
pub type DownloadProgress<'a> = &'a mut dyn FnMut(u64, Option<u64>);

/// Downloads `url` to `destination`, checking it against `sha256` (hex).
pub fn download(
    url: &str,
    sha256: &str,
    destination: &Path,
    progress: DownloadProgress<'_>,
) -> Result<(), InferenceError> {
    let failed = |reason: String| InferenceError::Download {
        url: url.to_owned(),
        reason,
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::PlatformVerifier)
                .build(),
        )
        .user_agent(concat!("localgpt/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let response = agent
        .get(url)
        .call()
        .map_err(|error| failed(error.to_string()))?;
    let total = response
        .headers()
        .get("content-length")
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok());
    let parent = destination.parent().unwrap_or(Path::new("."));
    let io = |source| InferenceError::Io {
        path: destination.to_owned(),
        source,
    };
    std::fs::create_dir_all(parent).map_err(io)?;
    let mut temp = tempfile::Builder::new()
        .prefix(".download-")
        .tempfile_in(parent)
        .map_err(io)?;
    let mut reader = response.into_body().into_reader();
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut received = 0u64;
    loop {
        let read = reader.read(&mut buffer).map_err(|error| {
            failed(format!("connection failed after {received} bytes: {error}"))
        })?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        temp.as_file_mut().write_all(&buffer[..read]).map_err(io)?;
        received += read as u64;
        progress(received, total);
    }
    if let Some(total) = total
        && received != total
    {
        return Err(failed(format!("received {received} of {total} bytes")));
    }
    let digest = hex::encode(hasher.finalize());
    if !digest.eq_ignore_ascii_case(sha256) {
        return Err(failed(format!(
            "SHA-256 mismatch: expected {sha256}, got {digest}; the file was not installed"
        )));
    }
    temp.as_file().sync_all().map_err(io)?;
    temp.persist(destination).map_err(|error| io(error.error))?;
    Ok(())
}
