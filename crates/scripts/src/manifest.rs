//! The manifest of one script tool: `NAME.toml` beside `NAME.js` in a `tools/` folder.
//!
//! ```toml
//! name = "word_count"                  # optional; must be the file name without `.toml`
//! description = "Counts the words of a note."
//!
//! [parameters]                         # a JSON Schema object, as the model sees it
//! type = "object"
//! required = ["path"]
//! properties.path = { type = "string", description = "A note under notes/" }
//!
//! [permissions]                        # everything is denied unless listed here
//! read = ["notes"]                     # workspace-relative folders or files fs.read/list may use
//! write = ["out"]                      # ... fs.write may use (readable too)
//! hosts = ["api.example.org"]          # fetch: [sandbox] allow_net syntax (host, *.domain, :port)
//! memory = true                        # memory.search
//! timeout_ms = 2000                    # 1 ..= 30000, default 2000
//! memory_mb = 32                       # 1 ..= 256, default 32
//! ```

use std::path::{Component, Path, PathBuf};

use localgpt_core::protected::has_credential_component;
use localgpt_sandbox::Allowlist;
use serde::Deserialize;
use serde_json::Value;

use crate::TOOL_PREFIX;

/// Default time limit of one call.
pub const DEFAULT_TIMEOUT_MS: u64 = 2_000;
/// Largest time limit a manifest may ask for.
pub const MAX_TIMEOUT_MS: u64 = 30_000;
/// Default memory limit of one call.
pub const DEFAULT_MEMORY_MB: u64 = 32;
/// Largest memory limit a manifest may ask for.
pub const MAX_MEMORY_MB: u64 = 256;
/// Longest manifest name.
const MAX_NAME: usize = 48;
/// Longest description.
const MAX_DESCRIPTION: usize = 1_024;
/// Workspace folders no script may write: tools (its own and others' code and manifests) and
/// skills (which ship tools too).
pub const UNWRITABLE_FOLDERS: &[&str] = &["tools", "skills"];

/// A manifest as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The tool's name (the file name when absent).
    pub name: Option<String>,
    /// What the tool does, for the model.
    pub description: String,
    /// The JSON Schema of the arguments.
    #[serde(default)]
    pub parameters: Option<toml::Table>,
    /// What the script may use.
    #[serde(default)]
    pub permissions: RawPermissions,
}

/// `[permissions]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPermissions {
    /// Readable workspace paths.
    #[serde(default)]
    pub read: Vec<String>,
    /// Writable workspace paths.
    #[serde(default)]
    pub write: Vec<String>,
    /// Hosts `fetch` may reach.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Whether `memory.search` is available.
    #[serde(default)]
    pub memory: bool,
    /// Time limit of one call, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Memory limit of one call, in MiB.
    pub memory_mb: Option<u64>,
}

/// Checked permissions.
#[derive(Debug, Clone)]
pub struct Permissions {
    /// Workspace-relative paths (clean, no `..`) that `fs.read` and `fs.list` may use.
    pub read: Vec<PathBuf>,
    /// Workspace-relative paths that `fs.write` may use.
    pub write: Vec<PathBuf>,
    /// The hosts as written (for display).
    pub hosts: Vec<String>,
    /// The hosts `fetch` may reach.
    pub allow: Allowlist,
    /// Whether `memory.search` is available.
    pub memory: bool,
    /// Time limit of one call, in milliseconds.
    pub timeout_ms: u64,
    /// Memory limit of one call, in MiB.
    pub memory_mb: u64,
}

impl Permissions {
    /// Nothing allowed, default limits.
    pub fn none() -> Self {
        Self {
            read: Vec::new(),
            write: Vec::new(),
            hosts: Vec::new(),
            allow: Allowlist::default(),
            memory: false,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            memory_mb: DEFAULT_MEMORY_MB,
        }
    }

    /// One line per permission, for `tools list`.
    pub fn describe(&self) -> Vec<String> {
        let paths = |list: &[PathBuf]| {
            list.iter()
                .map(|path| path.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut lines = Vec::new();
        if !self.read.is_empty() {
            lines.push(format!("read: {}", paths(&self.read)));
        }
        if !self.write.is_empty() {
            lines.push(format!("write: {}", paths(&self.write)));
        }
        if !self.hosts.is_empty() {
            lines.push(format!("fetch: {}", self.hosts.join(", ")));
        }
        if self.memory {
            lines.push("memory.search".to_owned());
        }
        lines.push(format!(
            "limits: {} ms, {} MiB",
            self.timeout_ms, self.memory_mb
        ));
        lines
    }
}

/// A script tool ready to run: its checked manifest and its source.
#[derive(Debug, Clone)]
pub struct ScriptTool {
    /// The manifest's name (without [`TOOL_PREFIX`]).
    pub name: String,
    /// What it does.
    pub description: String,
    /// JSON Schema of its arguments (an object schema).
    pub parameters: Value,
    /// What it may use.
    pub permissions: Permissions,
    /// The manifest file.
    pub manifest_path: PathBuf,
    /// The script file.
    pub script_path: PathBuf,
    /// The script's source.
    pub source: String,
}

impl ScriptTool {
    /// The name the model calls it by: [`TOOL_PREFIX`] + name.
    pub fn tool_name(&self) -> String {
        format!("{TOOL_PREFIX}{}", self.name)
    }

    /// A tool from source, for tests and benches (no files involved).
    pub fn inline(name: &str, source: &str, permissions: Permissions) -> Self {
        Self {
            name: name.to_owned(),
            description: format!("inline script {name}"),
            parameters: serde_json::json!({"type": "object", "properties": {}}),
            permissions,
            manifest_path: PathBuf::from(format!("{name}.toml")),
            script_path: PathBuf::from(format!("{name}.js")),
            source: source.to_owned(),
        }
    }
}

/// One thing wrong with a manifest, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub fix: String,
}

fn fault(message: impl Into<String>, fix: impl Into<String>) -> Fault {
    Fault {
        message: message.into(),
        fix: fix.into(),
    }
}

/// Parses and checks manifest text; `stem` is the manifest's file name without `.toml`.
pub fn parse(text: &str, stem: &str) -> Result<(String, String, Value, Permissions), Fault> {
    let manifest: Manifest = toml::from_str(text).map_err(|error| {
        fault(
            format!("not a valid manifest: {}", error.message()),
            "write TOML with `description`, optional `name`, `[parameters]` and `[permissions]` \
             (read, write, hosts, memory, timeout_ms, memory_mb)",
        )
    })?;
    let name = manifest.name.clone().unwrap_or_else(|| stem.to_owned());
    check_name(&name)?;
    if name != stem {
        return Err(fault(
            format!("the name `{name}` is not the file's name `{stem}`"),
            format!("rename the files to {name}.toml and {name}.js, or set name = \"{stem}\""),
        ));
    }
    let description = manifest.description.trim().to_owned();
    if description.is_empty() || description.chars().count() > MAX_DESCRIPTION {
        return Err(fault(
            "the description is empty or longer than 1024 characters",
            "say in one or two sentences what the tool does and when to use it",
        ));
    }
    let parameters = parameters(manifest.parameters)?;
    let permissions = permissions(manifest.permissions)?;
    Ok((name, description, parameters, permissions))
}

fn check_name(name: &str) -> Result<(), Fault> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.contains("__");
    if ok {
        Ok(())
    } else {
        Err(fault(
            format!("`{}` is not a valid tool name", name.escape_debug()),
            format!(
                "use lower-case letters, digits and single `_`, starting with a letter, at most \
                 {MAX_NAME} characters (the model sees it as {TOOL_PREFIX}NAME)"
            ),
        ))
    }
}

fn parameters(table: Option<toml::Table>) -> Result<Value, Fault> {
    let Some(table) = table else {
        return Ok(serde_json::json!({"type": "object", "properties": {}}));
    };
    let value = serde_json::to_value(table).map_err(|error| {
        fault(
            format!("[parameters] cannot be read as JSON Schema: {error}"),
            "write [parameters] as a JSON Schema object",
        )
    })?;
    if value.get("type").and_then(Value::as_str) != Some("object") {
        return Err(fault(
            "[parameters] is not an object schema",
            "set type = \"object\" under [parameters] and list the arguments in properties",
        ));
    }
    Ok(value)
}

fn permissions(raw: RawPermissions) -> Result<Permissions, Fault> {
    let read = raw
        .read
        .iter()
        .map(|path| workspace_path(path, "read"))
        .collect::<Result<Vec<_>, _>>()?;
    let write = raw
        .write
        .iter()
        .map(|path| workspace_path(path, "write"))
        .collect::<Result<Vec<_>, _>>()?;
    for path in &write {
        let first = path.components().next();
        let unwritable = match first {
            None => true,
            Some(Component::Normal(name)) => {
                UNWRITABLE_FOLDERS.iter().any(|folder| name == *folder)
            }
            Some(_) => true,
        };
        if unwritable {
            return Err(fault(
                format!(
                    "write = \"{}\" would let the script change tools or skills (its own code)",
                    path.display()
                ),
                "name a folder for the tool's output, such as \"out\"; the whole workspace, \
                 tools/ and skills/ are never writable by scripts",
            ));
        }
    }
    let allow = Allowlist::parse(&raw.hosts).map_err(|error| {
        fault(
            error.replace("[sandbox] allow_net", "hosts"),
            "list host names (`api.example.org`), `*.example.org`, IP addresses, optionally \
             with `:port`; no scheme, path or user",
        )
    })?;
    let timeout_ms = raw.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
    if !(1..=MAX_TIMEOUT_MS).contains(&timeout_ms) {
        return Err(fault(
            format!("timeout_ms = {timeout_ms} is out of range"),
            format!("use 1 to {MAX_TIMEOUT_MS} milliseconds"),
        ));
    }
    let memory_mb = raw.memory_mb.unwrap_or(DEFAULT_MEMORY_MB);
    if !(1..=MAX_MEMORY_MB).contains(&memory_mb) {
        return Err(fault(
            format!("memory_mb = {memory_mb} is out of range"),
            format!("use 1 to {MAX_MEMORY_MB} MiB"),
        ));
    }
    Ok(Permissions {
        read,
        write,
        hosts: raw.hosts,
        allow,
        memory: raw.memory,
        timeout_ms,
        memory_mb,
    })
}

/// A permission path: relative to the workspace, without `..`, `~` or credential folders.
/// `.` stands for the whole workspace.
fn workspace_path(raw: &str, key: &str) -> Result<PathBuf, Fault> {
    let bad = |why: &str| {
        fault(
            format!("{key} = \"{}\" {why}", raw.escape_debug()),
            "name a folder or file inside the workspace, relative to it (\"notes\", \
             \"data/list.csv\"); \".\" is the whole workspace",
        )
    };
    if raw.trim().is_empty() || raw.contains('\0') {
        return Err(bad("is empty"));
    }
    let path = Path::new(raw);
    if path.is_absolute() || raw.starts_with('~') {
        return Err(bad("is not relative to the workspace"));
    }
    let mut clean = PathBuf::new();
    for part in path.components() {
        match part {
            Component::Normal(name) => clean.push(name),
            Component::CurDir => {}
            _ => return Err(bad("leaves the workspace (`..`)")),
        }
    }
    if has_credential_component(&clean) {
        return Err(bad("names a credentials folder, which no tool may use"));
    }
    Ok(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_manifest_parses() {
        let text = r#"
description = "Counts words."
[parameters]
type = "object"
required = ["path"]
properties.path = { type = "string" }
[permissions]
read = ["notes", "./data/x.csv"]
write = ["out"]
hosts = ["api.example.org", "127.0.0.1:9000"]
memory = true
timeout_ms = 500
"#;
        let (name, _, parameters, permissions) = parse(text, "word_count").unwrap();
        assert_eq!(name, "word_count");
        assert_eq!(parameters["required"][0], "path");
        assert_eq!(permissions.read[1], PathBuf::from("data/x.csv"));
        assert_eq!(permissions.timeout_ms, 500);
        assert_eq!(permissions.memory_mb, DEFAULT_MEMORY_MB);
        assert!(permissions.allow.decide("127.0.0.1", 9000).is_ok());
    }

    #[test]
    fn dangerous_permissions_are_refused_with_a_fix() {
        for (permissions, says) in [
            ("read = [\"../x\"]", "leaves the workspace"),
            ("read = [\"/etc\"]", "not relative"),
            ("read = [\"~/.ssh\"]", "not relative"),
            ("read = [\"notes/.ssh\"]", "credentials"),
            ("write = [\".\"]", "tools or skills"),
            ("write = [\"tools\"]", "tools or skills"),
            ("write = [\"skills/x\"]", "tools or skills"),
            ("hosts = [\"http://x.org/\"]", "hosts entry"),
            ("timeout_ms = 0", "out of range"),
            ("memory_mb = 100000", "out of range"),
            ("exec = true", "not a valid manifest"),
        ] {
            let text = format!("description = \"d\"\n[permissions]\n{permissions}\n");
            let fault = parse(&text, "t").unwrap_err();
            assert!(fault.message.contains(says), "{permissions}: {fault:?}");
            assert!(!fault.fix.is_empty());
        }
    }

    #[test]
    fn names_must_match_the_file_and_the_format() {
        assert!(parse("description = \"d\"\nname = \"other\"", "t").is_err());
        assert!(parse("description = \"d\"", "Bad-Name").is_err());
        assert!(parse("description = \"d\"", "a__b").is_err());
        assert!(parse("description = \"\"", "ok").is_err());
        assert!(parse("description = \"d\"\n[parameters]\ntype = \"string\"", "ok").is_err());
    }
}
