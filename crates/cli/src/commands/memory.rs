//! `localgpt memory search|reindex|stats`: the workspace's search index from the command line.

use std::time::{Duration, Instant};

use anyhow::Context;
use localgpt_core::text::{display_path, terminal_safe, terminal_safe_line};
use localgpt_memory::{IndexSettings, MemoryIndex, Progress, ReindexReport, SearchOptions};

use crate::app::App;
use crate::cli::MemoryCommand;
use crate::embedding::embedder_for;
use crate::progress::Progress as Bar;
use crate::terminal::{bold_marks, colour_on};

/// Opens the index for this configuration, with its embedder (if one can be used). A damaged
/// index file is moved aside and a fresh one opened (the warning names where it went); the next
/// refresh rebuilds it from the markdown.
pub fn open_index(app: &App, quiet: bool, with_embedder: bool) -> anyhow::Result<MemoryIndex> {
    let vectors = if with_embedder {
        Vectors::Configured { unload_after: None }
    } else {
        Vectors::None
    };
    open_index_with(app, quiet, vectors)
}

/// Which embedder an index is opened with.
#[derive(Debug, Clone, Copy)]
pub enum Vectors {
    /// None: keyword search only.
    None,
    /// The configured one; a local model leaves memory after `unload_after` without use, when
    /// given (long-running processes).
    Configured { unload_after: Option<Duration> },
}

/// Like [`open_index`], with the embedder chosen by `vectors`.
pub fn open_index_with(app: &App, quiet: bool, vectors: Vectors) -> anyhow::Result<MemoryIndex> {
    let (embedder, note) = match vectors {
        Vectors::Configured { unload_after } => embedder_for(app, unload_after),
        Vectors::None => (None, None),
    };
    if let (Some(note), false) = (note, quiet) {
        eprintln!("note: {note}");
    }
    let settings = IndexSettings::from_config(&app.paths, &app.config);
    MemoryIndex::open(app.paths.index_file(), settings, embedder)
        .context("opening the memory index")
}

/// Runs one `memory` subcommand.
pub fn run(command: MemoryCommand, app: &App) -> anyhow::Result<()> {
    match command {
        MemoryCommand::Search {
            query,
            limit,
            mode,
            source,
            json,
        } => {
            let mut index = open_index(app, json, true)?;
            let refreshed = index.ensure_fresh().context("updating the memory index")?;
            warn_skipped(&refreshed);
            let results = index.search_or_rebuild(
                &query,
                SearchOptions {
                    limit,
                    mode,
                    recency_half_life_days: None,
                    source,
                },
            )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&results)?);
                return Ok(());
            }
            if let Some(note) = &results.note {
                eprintln!("note: {note}");
            }
            if results.results.is_empty() {
                println!("No matches for {query:?}.");
            }
            let bold = colour_on(&std::io::stdout());
            for (rank, hit) in results.results.iter().enumerate() {
                // Names and text come from files: shown escaped, each on one line, so a name
                // with a newline or a terminal escape cannot forge lines or drive the terminal.
                let heading = if hit.headings.is_empty() {
                    String::new()
                } else {
                    format!("  § {}", terminal_safe_line(&hit.headings.join(" › ")))
                };
                println!(
                    "{}. {}:{}-{}{heading}  ({:.3})",
                    rank + 1,
                    display_path(std::path::Path::new(&hit.path)),
                    hit.start_line,
                    hit.end_line,
                    hit.score
                );
                // Matches are marked `**…**`: terminal bold on a terminal, as written elsewhere.
                println!(
                    "   {}\n",
                    bold_marks(&terminal_safe(hit.snippet.trim()), bold)
                );
            }
            Ok(())
        }
        MemoryCommand::Reindex { force, json } => {
            let mut index = open_index(app, json, true)?;
            let started = Instant::now();
            let files = Bar::new(0, "files", json);
            let embeddings = Bar::new(0, "embeddings", json);
            let report = index.reindex(force, &mut |progress| match progress {
                Progress::Scanned { changed, .. } => files.set_total(changed as u64),
                Progress::Files { done, total } => {
                    files.set_total(total as u64);
                    files.set(done as u64);
                }
                Progress::Embeddings { done, total } => {
                    embeddings.set_total(total as u64);
                    embeddings.set(done as u64);
                }
            })?;
            files.finish();
            embeddings.finish();
            let elapsed = started.elapsed();
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&{
                        let mut value = serde_json::json!(report);
                        value["seconds"] = elapsed.as_secs_f64().into();
                        value
                    })?
                );
                return Ok(());
            }
            warn_skipped(&report);
            println!(
                "{} files: {} indexed ({} chunks), {} removed, {} unchanged; {} embeddings computed, {} from cache ({:.2} s)",
                report.files_seen,
                report.files_indexed,
                report.chunks_written,
                report.files_removed,
                report.files_seen.saturating_sub(report.files_indexed),
                report.embeddings_computed,
                report.embeddings_cached,
                elapsed.as_secs_f64()
            );
            Ok(())
        }
        MemoryCommand::Stats { json } => {
            let mut index = open_index(app, json, false)?;
            if index.recovered_from().is_some()
                || index.stats().is_ok_and(|s| s.last_indexed.is_none())
            {
                // A damaged file was moved aside, or the index was never built: count what a
                // build finds, not an empty file.
                let report = index
                    .ensure_fresh()
                    .context("rebuilding the memory index")?;
                warn_skipped(&report);
            }
            let stats = match index.stats() {
                Err(error) if error.is_corruption() => {
                    index.reindex(true, &mut |_| {})?;
                    index.stats()?
                }
                other => other?,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&stats)?);
                return Ok(());
            }
            println!("index:            {}", stats.path.display());
            println!("files:            {}", stats.files);
            println!("chunks:           {}", stats.chunks);
            println!("embedded chunks:  {}", stats.embedded_chunks);
            println!("index size:       {:.1} MB", stats.index_bytes as f64 / 1e6);
            match (&stats.embedding_model, stats.embedding_dimension) {
                (Some(model), Some(dimension)) => {
                    println!("embedding model:  {model} ({dimension} dimensions)")
                }
                _ => println!("embedding model:  none (keyword search only)"),
            }
            println!(
                "last indexed:     {}",
                stats.last_indexed.as_deref().unwrap_or("never")
            );
            Ok(())
        }
    }
}

fn warn_skipped(report: &ReindexReport) {
    for skipped in &report.skipped {
        eprintln!(
            "warning: skipped {}: {}",
            display_path(&skipped.path),
            terminal_safe_line(&skipped.reason)
        );
    }
}
