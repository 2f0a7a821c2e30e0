//! Attacks on the memory index, on real files and real SQLite databases: symlinks planted in the
//! workspace that lead into credential folders, LocalGPT's own state or anywhere outside the
//! memory folders (each must be skipped, never searched, never read back, and its text must not
//! reach the index file); files swapped for such links after indexing; names that are not UTF-8
//! or carry newlines and terminal escapes; index files damaged in every way we could think of;
//! and other users reading the index.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use localgpt_core::protected::ProtectedPaths;
use localgpt_core::text::display_path;
use localgpt_memory::{IndexSettings, MemoryIndex, SearchMode, SearchOptions};

/// Secrets planted outside the memory folders; none may ever be found in the index.
const SECRETS: &[&str] = &[
    "sshsecretzulu",
    "awssecretyankee",
    "outsidesecretxray",
    "statesecretwhiskey",
    "keychainsecretvictor",
    "relativesecretuniform",
];

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
    fn ws(&self) -> PathBuf {
        self.dir.path().join("home/.localgpt/workspace")
    }
    fn state(&self) -> PathBuf {
        self.dir.path().join("home/.localgpt/state")
    }
    fn index_file(&self) -> PathBuf {
        self.state().join("index.sqlite")
    }
    fn settings(&self, extra: Vec<PathBuf>) -> IndexSettings {
        let mut settings = IndexSettings::new(self.ws());
        settings.extra_paths = extra;
        settings.protected = ProtectedPaths::new(Some(&self.home()), &[self.state()]);
        settings
    }
    fn open(&self, extra: Vec<PathBuf>) -> MemoryIndex {
        MemoryIndex::open(self.index_file(), self.settings(extra), None).unwrap()
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A home with credential folders, LocalGPT's state, a folder outside everything, and a
/// workspace with one honest note.
fn setup() -> Setup {
    let setup = Setup {
        dir: tempfile::tempdir().unwrap(),
    };
    let home = setup.home();
    write(
        &home.join(".ssh/id_rsa"),
        "-----BEGIN OPENSSH PRIVATE KEY-----\nsshsecretzulu\n",
    );
    write(
        &home.join(".aws/credentials.md"),
        "# AWS\n\nawssecretyankee\n",
    );
    write(
        &home.join("Library/Keychains/login.md"),
        "# Keys\n\nkeychainsecretvictor\n",
    );
    write(
        &setup.state().join("notes.md"),
        "# State\n\nstatesecretwhiskey\n",
    );
    write(
        &setup.dir.path().join("outside/secret.md"),
        "# Outside\n\noutsidesecretxray relativesecretuniform\n",
    );
    write(
        &setup.ws().join("MEMORY.md"),
        "# Memory\n\nThe canoe is in the boathouse.\n",
    );
    write(
        &setup.ws().join("knowledge/boats.md"),
        "# Boats\n\nThe kayak paddle hangs in the garage.\n",
    );
    setup
}

fn hits(index: &MemoryIndex, query: &str) -> Vec<String> {
    index
        .search(
            query,
            SearchOptions {
                limit: 50,
                mode: SearchMode::Keyword,
                recency_half_life_days: None,
                source: None,
            },
        )
        .unwrap()
        .results
        .into_iter()
        .map(|hit| hit.path)
        .collect()
}

/// Every byte of the index and its log, to prove a secret never reached them.
fn index_bytes(index_file: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal"] {
        let mut name = index_file.as_os_str().to_owned();
        name.push(suffix);
        if let Ok(bytes) = std::fs::read(PathBuf::from(name)) {
            all.extend(bytes);
        }
    }
    all
}

fn assert_no_secret_anywhere(setup: &Setup, index: &MemoryIndex) {
    let bytes = index_bytes(&setup.index_file());
    for secret in SECRETS {
        assert!(hits(index, secret).is_empty(), "{secret} was searchable");
        assert!(
            !bytes
                .windows(secret.len())
                .any(|window| window == secret.as_bytes()),
            "{secret} reached the index file"
        );
    }
}

#[test]
fn symlinks_into_credentials_state_or_outside_are_skipped_and_named() {
    let setup = setup();
    let (ws, home) = (setup.ws(), setup.home());
    let outside = setup.dir.path().join("outside");
    let links: Vec<(PathBuf, PathBuf)> = vec![
        // A note that is really the SSH key.
        (ws.join("notes.md"), home.join(".ssh/id_rsa")),
        // A folder that is really ~/.aws.
        (ws.join("cloud"), home.join(".aws")),
        // LocalGPT's own state.
        (ws.join("state.md"), setup.state().join("notes.md")),
        // A folder outside every root.
        (ws.join("knowledge/elsewhere"), outside.clone()),
        // A plain file outside every root.
        (ws.join("outside.md"), outside.join("secret.md")),
        // A relative link climbing out.
        (
            ws.join("knowledge/rel.md"),
            PathBuf::from("../../../../outside/secret.md"),
        ),
        // A chain: an innocent-looking link outside that leads into ~/.ssh.
        (ws.join("chain.md"), outside.join("hop.md")),
        // The keychain, which has no dot in its name.
        (ws.join("keys"), home.join("Library/Keychains")),
    ];
    symlink(home.join(".ssh/id_rsa"), outside.join("hop.md")).unwrap();
    for (link, target) in &links {
        symlink(target, link).unwrap();
    }
    // Links that stay inside the workspace keep working (their targets sit in hidden folders,
    // so the links are the only way the walk reaches them).
    write(
        &ws.join(".drafts/plan.md"),
        "# Plan\n\nPaint the canoe green.\n",
    );
    write(
        &ws.join(".archive/old.md"),
        "# Old\n\nThe kayak paddle was mended.\n",
    );
    symlink(ws.join(".drafts/plan.md"), ws.join("alias.md")).unwrap();
    symlink(ws.join(".archive"), ws.join("library")).unwrap();

    let mut index = setup.open(Vec::new());
    let report = index.reindex(false, &mut |_| {}).unwrap();
    for (link, _) in &links {
        assert!(
            report.skipped.iter().any(|skipped| skipped.path == *link),
            "{} was not reported skipped: {:?}",
            link.display(),
            report.skipped
        );
    }
    assert_no_secret_anywhere(&setup, &index);
    for key in [
        "notes.md",
        "cloud/credentials.md",
        "state.md",
        "outside.md",
        "knowledge/rel.md",
        "chain.md",
        "keys/login.md",
    ] {
        assert_eq!(index.indexed_file(key).unwrap(), None, "{key}");
    }
    let canoe = hits(&index, "canoe");
    assert!(canoe.contains(&"MEMORY.md".to_owned()), "{canoe:?}");
    assert!(canoe.contains(&"alias.md".to_owned()), "{canoe:?}");
    assert!(hits(&index, "kayak").contains(&"library/old.md".to_owned()));
    assert!(
        index
            .indexed_file("alias.md")
            .unwrap()
            .unwrap()
            .text
            .contains("canoe")
    );

    // A forced rebuild keeps refusing them.
    index.reindex(true, &mut |_| {}).unwrap();
    assert_no_secret_anywhere(&setup, &index);
}

#[test]
fn extra_paths_that_contain_credentials_or_are_credentials_stay_closed() {
    let setup = setup();
    // The whole home as an extra path: its keychain and LocalGPT's state are still protected.
    // ~/.ssh itself as an extra path is refused outright.
    let extra = vec![setup.home(), setup.home().join(".ssh")];
    let mut index = setup.open(extra);
    let report = index.reindex(false, &mut |_| {}).unwrap();
    assert!(
        report
            .skipped
            .iter()
            .any(|skipped| skipped.path == setup.home().join(".ssh")),
        "{:?}",
        report.skipped
    );
    assert_no_secret_anywhere(&setup, &index);
    assert!(!hits(&index, "canoe").is_empty());
}

#[test]
fn a_file_swapped_for_a_symlink_after_indexing_is_refused_when_read() {
    let setup = setup();
    let note = setup.ws().join("knowledge/boats.md");
    let mut index = setup.open(Vec::new());
    index.reindex(false, &mut |_| {}).unwrap();
    assert_eq!(hits(&index, "kayak"), vec!["knowledge/boats.md".to_owned()]);
    for target in [
        setup.home().join(".ssh/id_rsa"),
        setup.dir.path().join("outside/secret.md"),
        setup.state().join("notes.md"),
    ] {
        std::fs::remove_file(&note).unwrap();
        symlink(&target, &note).unwrap();
        // No reindex in between: the hit and the file read are checked at read time.
        assert!(hits(&index, "kayak").is_empty(), "{}", target.display());
        assert_eq!(index.indexed_file("knowledge/boats.md").unwrap(), None);
    }
    // A named pipe in its place does not hang the reader or the walk.
    std::fs::remove_file(&note).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(&note)
        .status()
        .unwrap();
    assert!(status.success());
    assert!(!matches!(
        index.indexed_file("knowledge/boats.md"),
        Ok(Some(_))
    ));
    index.reindex(false, &mut |_| {}).unwrap();
    assert_no_secret_anywhere(&setup, &index);
}

#[test]
fn odd_names_are_indexed_under_names_that_open_again_or_skipped() {
    let setup = setup();
    let ws = setup.ws();
    let name = |bytes: &[u8]| ws.join(OsStr::from_bytes(bytes));
    let bad_utf8 = name(b"bad\xffname.md");
    let bad_folder = name(b"folder\xfe");
    let newline = name(b"line\nbreak.md");
    let escape = name(b"esc\x1b]52;c;cHduZWQ=\x07\x1b[2J.md");
    let bidi = ws.join("invoice\u{202e}dm.exe.md");
    std::fs::write(&bad_utf8, "# Bad\n\nfalcon in a bad name\n").unwrap();
    std::fs::create_dir_all(&bad_folder).unwrap();
    std::fs::write(bad_folder.join("inner.md"), "# Inner\n\nfalcon inside\n").unwrap();
    std::fs::write(&newline, "# Newline\n\nfalcon on two lines\n").unwrap();
    std::fs::write(&escape, "# Escape\n\nfalcon with escapes\n").unwrap();
    std::fs::write(&bidi, "# Bidi\n\nfalcon reversed\n").unwrap();

    let mut index = setup.open(Vec::new());
    let report = index.reindex(false, &mut |_| {}).unwrap();
    for skipped in [&bad_utf8, &bad_folder] {
        assert!(
            report
                .skipped
                .iter()
                .any(|s| s.path == *skipped && s.reason.contains("not UTF-8")),
            "{}: {:?}",
            display_path(skipped),
            report.skipped
        );
    }
    let found = hits(&index, "falcon");
    assert_eq!(found.len(), 3, "{found:?}");
    for key in &found {
        assert!(!key.contains('\u{fffd}'), "{key:?} is a lossy name");
        // The stored name opens the very file, on disk and through the index.
        assert!(ws.join(key).is_file(), "{key:?} does not open");
        let file = index.indexed_file(key).unwrap().unwrap();
        assert!(file.text.contains("falcon"));
        // Shown escaped, on one line, with no control character left.
        let shown = display_path(Path::new(key));
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
    }
    assert!(found.contains(&"line\nbreak.md".to_owned()));
    assert_eq!(display_path(Path::new("line\nbreak.md")), "line\\nbreak.md");
}

/// The ways an index file was found damaged.
fn damage(kind: &str, index_file: &Path) {
    let bytes = std::fs::read(index_file).unwrap();
    let damaged: Vec<u8> = match kind {
        "garbage" => b"this is not a database, just some text\n".repeat(200),
        "zero-length" => Vec::new(),
        "header-then-garbage" => {
            let mut out = b"SQLite format 3\0".to_vec();
            out.extend(std::iter::repeat_n(0xa5u8, 8192));
            out
        }
        "truncated" => bytes[..bytes.len() / 3].to_vec(),
        "first-page-smashed" => {
            let mut out = bytes.clone();
            for byte in &mut out[100..4096] {
                *byte = 0x5a;
            }
            out
        }
        "inner-pages-smashed" => {
            let mut out = bytes.clone();
            for byte in &mut out[4096..] {
                *byte = 0xc3;
            }
            out
        }
        "last-pages-smashed" => {
            let mut out = bytes.clone();
            let from = (bytes.len() / 2) & !4095;
            for byte in &mut out[from..] {
                *byte = 0xc3;
            }
            out
        }
        "missing-table" | "wrong-columns" => {
            let connection = rusqlite::Connection::open(index_file).unwrap();
            let sql = if kind == "missing-table" {
                "DROP TABLE chunks"
            } else {
                "DROP TABLE files; CREATE TABLE files (x)"
            };
            connection
                .execute_batch(&format!("PRAGMA foreign_keys = OFF; {sql}"))
                .unwrap();
            return;
        }
        other => panic!("unknown damage {other}"),
    };
    std::fs::write(index_file, damaged).unwrap();
}

fn corrupt_copies(state: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(state)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("index.sqlite.corrupt-")
        })
        .collect()
}

#[test]
fn a_damaged_index_is_moved_aside_and_rebuilt_in_every_variant() {
    for kind in [
        "garbage",
        "zero-length",
        "header-then-garbage",
        "truncated",
        "first-page-smashed",
        "inner-pages-smashed",
        "last-pages-smashed",
        "missing-table",
        "wrong-columns",
    ] {
        let setup = setup();
        // Enough notes for the file to span many pages.
        for n in 0..60 {
            write(
                &setup.ws().join(format!("memory/note-{n}.md")),
                &format!("# Note {n}\n\n{}\n", "filler words about boats ".repeat(40)),
            );
        }
        {
            let mut index = setup.open(Vec::new());
            index.reindex(false, &mut |_| {}).unwrap();
        }
        damage(kind, &setup.index_file());
        // Open, search (refreshing first), stats, and a forced reindex all work, and find the
        // note again.
        let mut index = setup.open(Vec::new());
        index.ensure_fresh().unwrap();
        let found = index
            .search_or_rebuild("canoe", SearchOptions::default())
            .unwrap();
        assert_eq!(found.results[0].path, "MEMORY.md", "{kind}");
        assert!(index.stats().unwrap().files >= 62, "{kind}");
        let report = index.reindex(true, &mut |_| {}).unwrap();
        assert!(report.files_indexed >= 62, "{kind}");
        assert_eq!(
            hits(&index, "canoe"),
            vec!["MEMORY.md".to_owned()],
            "{kind}"
        );
        drop(index);
        let copies = corrupt_copies(&setup.state());
        if kind == "zero-length" {
            // An empty file is a valid empty database: nothing to move aside.
            assert!(copies.is_empty(), "{copies:?}");
        } else {
            assert_eq!(copies.len(), 1, "{kind}: {copies:?}");
            let mode = std::fs::metadata(&copies[0]).unwrap().permissions().mode();
            assert_eq!(
                mode & 0o077,
                0,
                "{kind}: the moved copy is readable by others"
            );
        }
        // And it stays healthy when opened again.
        let index = setup.open(Vec::new());
        assert!(index.recovered_from().is_none(), "{kind}");
        assert_eq!(
            hits(&index, "canoe"),
            vec!["MEMORY.md".to_owned()],
            "{kind}"
        );
    }
}

#[test]
fn a_stale_log_is_moved_aside_with_the_damaged_file_and_not_replayed() {
    let setup = setup();
    {
        let mut index = setup.open(Vec::new());
        index.reindex(false, &mut |_| {}).unwrap();
    }
    damage("garbage", &setup.index_file());
    let wal = setup.state().join("index.sqlite-wal");
    std::fs::write(&wal, b"\x37\x7f\x06\x82 garbage log").unwrap();
    let mut index = setup.open(Vec::new());
    assert!(index.recovered_from().is_some());
    // The old log is gone from beside the new file (moved aside, or discarded by SQLite).
    let current = std::fs::read(&wal).unwrap_or_default();
    assert!(!current.windows(7).any(|w| w == b"garbage"));
    index.ensure_fresh().unwrap();
    assert_eq!(hits(&index, "canoe"), vec!["MEMORY.md".to_owned()]);
}

#[test]
fn pages_damaged_behind_an_intact_schema_are_rebuilt_by_a_forced_reindex_or_a_search() {
    let setup = setup();
    for n in 0..200 {
        write(
            &setup.ws().join(format!("memory/note-{n}.md")),
            &format!(
                "# Note {n}\n\n{}\n",
                "filler words about canoes ".repeat(40)
            ),
        );
    }
    let build = || {
        let mut index = setup.open(Vec::new());
        index.reindex(true, &mut |_| {}).unwrap();
    };
    build();
    // The schema pages survive, so opening succeeds; the data behind them does not.
    damage("last-pages-smashed", &setup.index_file());
    let mut index = setup.open(Vec::new());
    assert!(
        index.recovered_from().is_none(),
        "the damage was meant to pass the open check"
    );
    let report = index.reindex(true, &mut |_| {}).unwrap();
    assert!(report.files_indexed >= 202);
    assert!(index.recovered_from().is_some());
    assert_eq!(hits(&index, "boathouse"), vec!["MEMORY.md".to_owned()]);
    drop(index);

    build();
    damage("last-pages-smashed", &setup.index_file());
    let mut index = setup.open(Vec::new());
    assert!(index.recovered_from().is_none());
    // A search that meets the damage rebuilds and answers; so do stats afterwards.
    let mut found = None;
    for query in ["boathouse", "filler canoes", "note"] {
        found = Some(
            index
                .search_or_rebuild(query, SearchOptions::default())
                .unwrap(),
        );
    }
    assert!(!found.unwrap().results.is_empty());
    assert!(
        index.recovered_from().is_some(),
        "the search did not meet the damage"
    );
    assert_eq!(index.stats().unwrap().files, 202);
    assert_eq!(hits(&index, "boathouse"), vec!["MEMORY.md".to_owned()]);
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_index_and_its_log_are_private_whatever_the_umask() {
    let setup = setup();
    // SAFETY: umask only sets this process's file-creation mask; this test runs in its own
    // process under nextest.
    unsafe { libc::umask(0o022) };
    let mut index = setup.open(Vec::new());
    index.reindex(false, &mut |_| {}).unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let path = setup.state().join(format!("index.sqlite{suffix}"));
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    drop(index);
    // An index an older LocalGPT left readable is tightened when opened.
    for suffix in ["", "-wal", "-shm"] {
        let path = setup.state().join(format!("index.sqlite{suffix}"));
        if path.exists() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let index = setup.open(Vec::new());
    for suffix in ["", "-wal", "-shm"] {
        let path = setup.state().join(format!("index.sqlite{suffix}"));
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
    drop(index);
}
