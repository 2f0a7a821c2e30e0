//! The watcher with real file operations: a burst of writes arrives as one coalesced callback,
//! and creates, edits, renames and deletes are all reported.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use localgpt_memory::watcher::MemoryWatcher;

fn next_batch(receiver: &mpsc::Receiver<Vec<PathBuf>>) -> Vec<PathBuf> {
    receiver
        .recv_timeout(Duration::from_secs(10))
        .expect("the watcher reported nothing within 10 s")
}

fn names(paths: &[PathBuf]) -> Vec<String> {
    let mut names: Vec<String> = paths
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn reports_coalesced_markdown_changes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let (sender, receiver) = mpsc::channel();
    let _watcher = MemoryWatcher::start(
        std::slice::from_ref(&root),
        Duration::from_millis(300),
        move |paths| {
            sender.send(paths).ok();
        },
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));

    for n in 0..20 {
        std::fs::write(root.join("burst.md"), format!("version {n}")).unwrap();
    }
    std::fs::write(root.join("other.md"), "x").unwrap();
    std::fs::write(root.join("ignored.png"), "x").unwrap();
    // Twenty-one writes arrive in a few coalesced callbacks (a loaded machine may split the burst).
    let mut seen = Vec::new();
    let mut callbacks = 0;
    while !(seen.contains(&"burst.md".to_owned()) && seen.contains(&"other.md".to_owned())) {
        seen.extend(names(&next_batch(&receiver)));
        callbacks += 1;
    }
    assert!(
        callbacks <= 3,
        "{callbacks} callbacks for one burst of writes"
    );
    assert!(!seen.contains(&"ignored.png".to_owned()));

    std::fs::rename(root.join("other.md"), root.join("renamed.md")).unwrap();
    let mut seen = names(&next_batch(&receiver));
    while !seen.contains(&"renamed.md".to_owned()) {
        seen.extend(names(&next_batch(&receiver)));
    }
    std::fs::remove_file(root.join("burst.md")).unwrap();
    assert!(names(&next_batch(&receiver)).contains(&"burst.md".to_owned()));
}
