//! Finding skills under their roots, resolving name clashes by root order, and checking each
//! skill's requirements against this machine.

use std::path::{Path, PathBuf};

use localgpt_core::fs::find_executable;

use super::parse::{
    MAX_SKILL_BYTES, SkillError, SkillManifest, parse_manifest, split_front_matter,
};

/// Deepest folder level searched below a root for `SKILL.md`, as OpenClaw does.
const MAX_DEPTH: usize = 6;

/// Where a skill was found; earlier sources win name clashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SkillSource {
    /// `workspace/skills`.
    Workspace,
    /// `~/.localgpt/skills` (shared by every workspace).
    User,
}

impl SkillSource {
    /// A short label for listings.
    pub fn label(self) -> &'static str {
        match self {
            Self::Workspace => "workspace",
            Self::User => "user",
        }
    }
}

/// Whether a skill can be used here, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eligibility {
    /// Every requirement is met.
    Eligible,
    /// Missing requirements, one reason each.
    Ineligible(Vec<String>),
}

impl Eligibility {
    /// Whether the skill can be used.
    pub fn is_eligible(&self) -> bool {
        matches!(self, Self::Eligible)
    }
}

/// A skill found on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct Skill {
    /// The parsed front matter.
    pub manifest: SkillManifest,
    /// The SKILL.md file.
    pub location: PathBuf,
    /// Which root it came from.
    pub source: SkillSource,
    /// Whether it can be used on this machine.
    pub eligibility: Eligibility,
}

impl Skill {
    /// The skill's folder (`{baseDir}` in its text).
    pub fn base_dir(&self) -> &Path {
        self.location.parent().unwrap_or(Path::new("."))
    }

    /// The instructions: the body after the front matter, with `{baseDir}` filled in.
    pub fn body(&self) -> Result<String, SkillError> {
        let text = read_capped(&self.location)?;
        let body = split_front_matter(&text).map_or(text.as_str(), |(_, body)| body);
        Ok(body
            .replace("{baseDir}", &self.base_dir().display().to_string())
            .trim()
            .to_owned())
    }
}

/// Every skill found, plus the files that could not be read.
#[derive(Debug, Default)]
pub struct SkillSet {
    /// Skills by precedence, then name.
    pub skills: Vec<Skill>,
    /// Skills shadowed by one of the same name from an earlier root.
    pub shadowed: Vec<Skill>,
    /// SKILL.md files that could not be used, with the reason.
    pub errors: Vec<SkillError>,
}

impl SkillSet {
    /// The skill called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&Skill> {
        self.skills.iter().find(|skill| skill.manifest.name == name)
    }
}

/// Finds skills under each root, in order of precedence. `env` looks up environment variables and
/// `path` is the executable search path, both injected so that callers and tests control them.
pub fn discover(
    roots: &[(SkillSource, PathBuf)],
    env: &dyn Fn(&str) -> Option<String>,
    path: Option<&std::ffi::OsStr>,
) -> SkillSet {
    let mut set = SkillSet::default();
    for (source, root) in roots {
        let mut found = Vec::new();
        collect_skill_files(root, 0, &mut found);
        found.sort();
        for location in found {
            let dir_name = location
                .parent()
                .and_then(Path::file_name)
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            let manifest = match read_capped(&location)
                .and_then(|text| parse_manifest(&location, &text, &dir_name))
            {
                Ok(manifest) => manifest,
                Err(error) => {
                    tracing::warn!("skipping skill: {error}");
                    set.errors.push(error);
                    continue;
                }
            };
            let eligibility = check(&manifest, env, path);
            let skill = Skill {
                manifest,
                location,
                source: *source,
                eligibility,
            };
            if set.get(&skill.manifest.name).is_some() {
                set.shadowed.push(skill);
            } else {
                set.skills.push(skill);
            }
        }
    }
    set
}

fn collect_skill_files(dir: &Path, depth: usize, found: &mut Vec<PathBuf>) {
    let candidate = dir.join("SKILL.md");
    if depth > 0 && candidate.is_file() {
        found.push(candidate);
        return;
    }
    if depth >= MAX_DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "node_modules" {
            continue;
        }
        // Follow only real folders: a symlinked folder could loop or lead outside the root.
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            collect_skill_files(&entry.path(), depth + 1, found);
        }
    }
}

fn read_capped(path: &Path) -> Result<String, SkillError> {
    let read_error = |source| SkillError::Read {
        path: path.to_owned(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read_error)?.len();
    if size > MAX_SKILL_BYTES {
        return Err(SkillError::TooLarge {
            path: path.to_owned(),
            size,
        });
    }
    std::fs::read_to_string(path).map_err(read_error)
}

fn check(
    manifest: &SkillManifest,
    env: &dyn Fn(&str) -> Option<String>,
    path: Option<&std::ffi::OsStr>,
) -> Eligibility {
    if manifest.always {
        return Eligibility::Eligible;
    }
    let requires = &manifest.requires;
    let mut reasons = Vec::new();
    let this_os = match std::env::consts::OS {
        "macos" => "darwin",
        "windows" => "win32",
        other => other,
    };
    if !requires.os.is_empty() && !requires.os.iter().any(|os| os == this_os) {
        reasons.push(format!(
            "runs only on {} (this is {this_os})",
            requires.os.join(", ")
        ));
    }
    let on_path = |bin: &str| path.is_some_and(|path| find_executable(bin, path).is_some());
    let missing: Vec<&str> = requires
        .bins
        .iter()
        .map(String::as_str)
        .filter(|bin| !on_path(bin))
        .collect();
    if !missing.is_empty() {
        reasons.push(format!("needs {} on PATH", missing.join(", ")));
    }
    if !requires.any_bins.is_empty() && !requires.any_bins.iter().any(|bin| on_path(bin)) {
        reasons.push(format!(
            "needs one of {} on PATH",
            requires.any_bins.join(", ")
        ));
    }
    let unset: Vec<&str> = requires
        .env
        .iter()
        .map(String::as_str)
        .filter(|name| env(name).is_none_or(|value| value.is_empty()))
        .collect();
    if !unset.is_empty() {
        reasons.push(format!("needs environment variable {}", unset.join(", ")));
    }
    if reasons.is_empty() {
        Eligibility::Eligible
    } else {
        Eligibility::Ineligible(reasons)
    }
}
