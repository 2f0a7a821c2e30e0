//! Memory: search, index statistics, reading an indexed file (to open a hit), and reindexing
//! with progress.

use std::convert::Infallible;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use localgpt_memory::{Progress, SearchMode, SearchOptions};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::{ApiError, ServerState};

/// Query of `GET /api/memory/search`.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    q: String,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    mode: Option<String>,
}

fn memory(state: &ServerState) -> Result<&localgpt_memory::MemoryHandle, ApiError> {
    state
        .memory
        .as_ref()
        .ok_or_else(|| ApiError::not_found("the memory index is not open in this daemon"))
}

/// `GET /api/memory/search?q=&limit=&mode=`: hybrid search results.
pub async fn search(
    State(state): State<ServerState>,
    caller: Caller,
    Query(query): Query<SearchQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner(&state)?;
    let mode = match query.mode.as_deref() {
        None => SearchMode::Hybrid,
        Some(mode) => mode.parse().map_err(|_| {
            ApiError::bad_request(format!("unknown mode `{mode}`: hybrid, keyword or vector"))
        })?,
    };
    let options = SearchOptions {
        limit: query.limit.unwrap_or(10).clamp(1, 100),
        mode,
        ..SearchOptions::default()
    };
    let results = memory(&state)?.search(query.q, options).await?;
    Ok(Json(json!(results)))
}

/// `GET /api/memory/stats`.
pub async fn stats(
    State(state): State<ServerState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner(&state)?;
    let stats = memory(&state)?.stats().await?;
    Ok(Json(json!(stats)))
}

/// Query of `GET /api/memory/file`.
#[derive(Debug, Deserialize)]
pub struct FileQuery {
    path: String,
}

/// `GET /api/memory/file?path=`: an indexed file's text, by the path a search result gives.
/// Paths the index does not list are 404, and so are listed files that, at the moment of reading,
/// fail [`localgpt_memory::MemoryRoots`] — the one rule the index walk and search share (real
/// path inside the memory folders, never a credential store or LocalGPT's own state) — so nothing
/// else is reachable, even through a file swapped for a symlink after indexing.
pub async fn file(
    State(state): State<ServerState>,
    caller: Caller,
    Query(query): Query<FileQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner(&state)?;
    let shown = query.path.clone();
    let file = memory(&state)?
        .indexed_file(query.path)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("`{shown}` is not an indexed memory file")))?;
    Ok(Json(json!(file)))
}

/// Body of `POST /api/memory/reindex`.
#[derive(Debug, Default, Deserialize)]
pub struct ReindexBody {
    #[serde(default)]
    force: bool,
}

/// `POST /api/memory/reindex` (`{"force": bool}`): server-sent `progress` events
/// (`{phase, done, total}`), then `done` with the report as `memory reindex --json` prints it
/// (or `error`).
pub async fn reindex(
    State(state): State<ServerState>,
    caller: Caller,
    body: Option<Json<ReindexBody>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    caller.require_owner(&state)?;
    let memory = memory(&state)?.clone();
    let force = body.map(|Json(body)| body.force).unwrap_or_default();
    let (events, receiver) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let progress_events = events.clone();
    tokio::spawn(async move {
        let result = memory
            .reindex(force, move |progress| {
                let _ = progress_events.send(progress_event(&progress));
            })
            .await;
        let last = match result {
            Ok(report) => Event::default()
                .event("done")
                .data(json!(report).to_string()),
            Err(error) => Event::default()
                .event("error")
                .data(json!({"message": error.to_string()}).to_string()),
        };
        let _ = events.send(last);
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|event| (Ok(event), receiver))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

fn progress_event(progress: &Progress) -> Event {
    let (phase, done, total) = match *progress {
        Progress::Scanned { files, changed } => ("scanned", changed, files),
        Progress::Files { done, total } => ("files", done, total),
        Progress::Embeddings { done, total } => ("embeddings", done, total),
    };
    Event::default()
        .event("progress")
        .data(json!({"phase": phase, "done": done, "total": total}).to_string())
}
