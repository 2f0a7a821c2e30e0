//! Helpers of the script tool tests: a home laid out like LocalGPT's (config, state, a credential
//! folder, a workspace with notes), running inline scripts under a policy, and tiny HTTP servers
//! on 127.0.0.1 that count the connections they get.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use localgpt_core::protected::ProtectedPaths;
use localgpt_scripts::{Output, Permissions, PolicyHost, ScriptError, ScriptTool};

/// The secret planted everywhere a script must not reach.
pub const SECRET: &str = "SECRET-7f3a9c-do-not-leak";

/// A home folder with LocalGPT's files and a workspace.
pub struct Home {
    pub dir: tempfile::TempDir,
    pub home: PathBuf,
    pub workspace: PathBuf,
    pub config: PathBuf,
    pub state: PathBuf,
}

impl Home {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let root = home.join(".localgpt");
        let workspace = root.join("workspace");
        let state = root.join("state");
        let config = root.join("config.toml");
        for folder in [
            workspace.join("notes"),
            workspace.join("private"),
            workspace.join("out"),
            workspace.join("tools"),
            state.clone(),
            home.join(".ssh"),
            home.join(".aws"),
        ] {
            std::fs::create_dir_all(folder).unwrap();
        }
        std::fs::write(workspace.join("notes/hello.md"), "hello from the notes").unwrap();
        std::fs::write(workspace.join("private/diary.md"), SECRET).unwrap();
        std::fs::write(&config, format!("api_key = \"{SECRET}\"")).unwrap();
        std::fs::write(state.join("tokens.json"), SECRET).unwrap();
        std::fs::write(home.join(".ssh/id_ed25519"), SECRET).unwrap();
        std::fs::write(home.join(".aws/credentials"), SECRET).unwrap();
        std::fs::write(dir.path().join("outside.txt"), SECRET).unwrap();
        Self {
            dir,
            home,
            workspace,
            config,
            state,
        }
    }

    pub fn protected(&self) -> ProtectedPaths {
        ProtectedPaths::new(Some(&self.home), &[self.config.clone(), self.state.clone()])
    }

    /// Runs `source` with `permissions` in this home.
    pub fn run(&self, source: &str, permissions: Permissions) -> Result<Output, ScriptError> {
        self.run_with(source, permissions, serde_json::json!({}))
    }

    pub fn run_with(
        &self,
        source: &str,
        permissions: Permissions,
        arguments: serde_json::Value,
    ) -> Result<Output, ScriptError> {
        let host = PolicyHost::new(&self.workspace, self.protected(), &permissions);
        let tool = ScriptTool::inline("attack", source, permissions);
        localgpt_scripts::run(&tool, &arguments, Arc::new(host))
    }
}

/// Permissions from manifest text (`[permissions]` body).
pub fn permissions(body: &str) -> Permissions {
    let text = format!("description = \"test\"\n[permissions]\n{body}\n");
    localgpt_scripts::manifest::parse(&text, "attack")
        .unwrap()
        .3
}

/// The error message of a failed call; panics on success.
pub fn refusal(result: Result<Output, ScriptError>) -> String {
    match result {
        Ok(output) => panic!("the attack succeeded: {output:?}"),
        Err(error) => {
            let message = error.to_string();
            assert!(
                !message.contains(SECRET),
                "the refusal leaks the secret: {message}"
            );
            message
        }
    }
}

/// An HTTP server on 127.0.0.1 answering every request with `response`, counting connections.
pub struct Server {
    pub port: u16,
    pub hits: Arc<AtomicUsize>,
}

impl Server {
    pub fn start(response: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                counter.fetch_add(1, Ordering::SeqCst);
                let mut buffer = [0u8; 4096];
                let _ = stream.read(&mut buffer);
                let _ = stream.write_all(response.as_bytes());
            }
        });
        Self { port, hits }
    }

    /// A server answering 200 with `body`.
    pub fn ok(body: &str) -> Self {
        Self::start(format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ))
    }

    /// A server redirecting to `location`.
    pub fn redirect(location: &str) -> Self {
        Self::start(format!(
            "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ))
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}
