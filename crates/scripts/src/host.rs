//! The host functions a script may be given. [`Host`] is what the engine calls; the engine only
//! installs the functions the manifest grants, and [`PolicyHost`] — the host LocalGPT uses —
//! checks every call again against the manifest and the policy: files through [`ConfinedFs`],
//! `fetch` through [`GuardedFetch`], `memory.search` through the caller's [`MemorySearcher`].

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use localgpt_core::protected::ProtectedPaths;
use serde_json::Value;

use crate::fs::ConfinedFs;
use crate::manifest::Permissions;
use crate::net::{FetchRequest, FetchResponse, GuardedFetch};

/// Host functions, as the engine calls them. Errors are messages the script (and, when it does
/// not catch them, the model) reads.
pub trait Host: Send + Sync {
    /// `fs.read(path)`.
    fn read(&self, path: &str) -> Result<String, String>;
    /// `fs.write(path, text)`.
    fn write(&self, path: &str, text: &str) -> Result<(), String>;
    /// `fs.list(path)`.
    fn list(&self, path: &str) -> Result<Vec<String>, String>;
    /// `fetch(url, options)`.
    fn fetch(&self, request: &FetchRequest) -> Result<FetchResponse, String>;
    /// `memory.search(query, limit)`.
    fn memory_search(&self, query: &str, limit: usize) -> Result<Value, String>;
}

/// Searches LocalGPT's memory for a script (implemented by the caller, which owns the index).
pub trait MemorySearcher: Send + Sync {
    /// Up to `limit` results for `query`, as JSON the script receives.
    fn search(&self, query: &str, limit: usize) -> Result<Value, String>;
}

/// The host of one call, enforcing a tool's permissions.
pub struct PolicyHost {
    fs: ConfinedFs,
    net: GuardedFetch,
    permissions: Permissions,
    memory: Option<Arc<dyn MemorySearcher>>,
}

impl std::fmt::Debug for PolicyHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyHost")
            .field("fs", &self.fs)
            .field("permissions", &self.permissions)
            .finish_non_exhaustive()
    }
}

impl PolicyHost {
    /// A host for a tool with `permissions`, working in `workspace`, refusing `protected`
    /// places, whose network calls end by the tool's time limit counted from now.
    pub fn new(workspace: &Path, protected: ProtectedPaths, permissions: &Permissions) -> Self {
        let deadline = Instant::now() + std::time::Duration::from_millis(permissions.timeout_ms);
        Self {
            fs: ConfinedFs::new(workspace, &permissions.read, &permissions.write, protected),
            net: GuardedFetch::new(permissions.allow.clone(), deadline),
            permissions: permissions.clone(),
            memory: None,
        }
    }

    /// Gives `memory.search` (when the manifest asks for it) to `searcher`.
    pub fn with_memory(mut self, searcher: Arc<dyn MemorySearcher>) -> Self {
        self.memory = Some(searcher);
        self
    }
}

fn not_granted(what: &str) -> String {
    format!("refused: this tool's manifest does not grant {what}")
}

impl Host for PolicyHost {
    fn read(&self, path: &str) -> Result<String, String> {
        if self.permissions.read.is_empty() && self.permissions.write.is_empty() {
            return Err(not_granted("fs.read"));
        }
        self.fs.read(path)
    }

    fn write(&self, path: &str, text: &str) -> Result<(), String> {
        if self.permissions.write.is_empty() {
            return Err(not_granted("fs.write"));
        }
        self.fs.write(path, text)
    }

    fn list(&self, path: &str) -> Result<Vec<String>, String> {
        if self.permissions.read.is_empty() && self.permissions.write.is_empty() {
            return Err(not_granted("fs.list"));
        }
        self.fs.list(path)
    }

    fn fetch(&self, request: &FetchRequest) -> Result<FetchResponse, String> {
        if self.permissions.allow.is_empty() {
            return Err(not_granted("fetch"));
        }
        self.net.fetch(request)
    }

    fn memory_search(&self, query: &str, limit: usize) -> Result<Value, String> {
        match (&self.memory, self.permissions.memory) {
            (Some(memory), true) => memory.search(query, limit.clamp(1, 50)),
            (None, true) => Err("memory search is not available here".to_owned()),
            (_, false) => Err(not_granted("memory.search")),
        }
    }
}
