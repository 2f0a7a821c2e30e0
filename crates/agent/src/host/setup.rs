//! What a home's paths and configuration decide, computed in one place for the host and for the
//! commands that need one piece without a whole host (`sandbox check`, `tools list`, `skills
//! list`): the protected paths, the sandbox policy, the skills and the script-tool folders.

use std::path::{Path, PathBuf};

use localgpt_core::config::{Config, process_env};
use localgpt_core::paths::Paths;
use localgpt_core::protected::ProtectedPaths;
use localgpt_sandbox::Policy;

use crate::skills::{Eligibility, SkillSet, SkillSource, discover};

/// LocalGPT's own files that no tool may read or write: the configuration, the state folder
/// (sessions, index, logs) and the models.
pub fn own_files(paths: &Paths) -> [PathBuf; 3] {
    [
        paths.config_file.clone(),
        paths.state_dir(),
        paths.models_dir(),
    ]
}

/// Credential stores and LocalGPT's own files, out of every tool's reach.
pub fn protected_paths(paths: &Paths) -> ProtectedPaths {
    ProtectedPaths::for_current_user(&own_files(paths))
}

/// The `[sandbox]` policy for commands started in `workspace` (`bash`, MCP servers, prechecks).
pub fn sandbox_policy(paths: &Paths, config: &Config, workspace: &Path) -> Policy {
    Policy::from_config(
        &config.sandbox,
        workspace,
        std::env::home_dir().as_deref(),
        &own_files(paths),
        |path| paths.expand(path),
    )
}

/// The skills of this home, in precedence order: the workspace's, then the user's.
pub fn find_skills(paths: &Paths, config: &Config) -> SkillSet {
    let roots = [
        (
            SkillSource::Workspace,
            paths.workspace(config).join("skills"),
        ),
        (SkillSource::User, paths.skills_dir()),
    ];
    discover(&roots, &process_env, std::env::var_os("PATH").as_deref())
}

/// Where script tools are found: `workspace/tools/` and the `tools/` folder of every eligible
/// skill.
pub fn script_folders(paths: &Paths, config: &Config) -> Vec<PathBuf> {
    let mut folders = vec![paths.workspace(config).join("tools")];
    folders.extend(
        find_skills(paths, config)
            .skills
            .iter()
            .filter(|skill| matches!(skill.eligibility, Eligibility::Eligible))
            .map(|skill| skill.base_dir().join("tools")),
    );
    folders
}
