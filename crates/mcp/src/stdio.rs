//! The stdio transport: one JSON-RPC message per line on standard input, each answer as one line
//! on standard output (logs go to standard error). Ends when input closes.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::protocol;
use crate::server::{Connection, McpServer};

/// Longest message line accepted (bytes); longer ones are answered with an error and skipped.
const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// Serves one client on `input`/`output` until `input` ends.
pub async fn serve(
    server: &McpServer,
    input: impl AsyncBufRead + Unpin,
    mut output: impl AsyncWrite + Unpin,
) -> std::io::Result<()> {
    let mut connection = Connection::default();
    let mut input = input;
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = AsyncReadExt::take(&mut input, MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .await?;
        if read == 0 {
            return Ok(());
        }
        let answer = if line.len() > MAX_LINE_BYTES && !line.ends_with(b"\n") {
            skip_rest_of_line(&mut input).await?;
            Some(protocol::error(
                serde_json::Value::Null,
                protocol::INVALID_REQUEST,
                "the message is too large",
            ))
        } else {
            let text = String::from_utf8_lossy(&line);
            if text.trim().is_empty() {
                continue;
            }
            server.handle_text(&mut connection, text.trim()).await
        };
        if let Some(answer) = answer {
            let mut bytes = serde_json::to_vec(&answer).map_err(std::io::Error::other)?;
            bytes.push(b'\n');
            output.write_all(&bytes).await?;
            output.flush().await?;
        }
    }
}

async fn skip_rest_of_line(input: &mut (impl AsyncBufRead + Unpin)) -> std::io::Result<()> {
    loop {
        let buffer = input.fill_buf().await?;
        if buffer.is_empty() {
            return Ok(());
        }
        if let Some(end) = buffer.iter().position(|byte| *byte == b'\n') {
            input.consume(end + 1);
            return Ok(());
        }
        let length = buffer.len();
        input.consume(length);
    }
}

/// Serves one client on this process's standard input and output.
pub async fn serve_stdio(server: &McpServer) -> std::io::Result<()> {
    let input = tokio::io::BufReader::new(tokio::io::stdin());
    serve(server, input, tokio::io::stdout()).await
}
