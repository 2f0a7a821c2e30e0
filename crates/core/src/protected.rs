//! Places no tool, index or search may read or write, whatever roots a setting allows: the
//! credential stores of the user's home (SSH, cloud and package-registry keys, password stores,
//! browser profiles) and LocalGPT's own configuration, state and model files. Every part of
//! LocalGPT that opens a path on behalf of a model or a search checks it here, after resolving
//! symlinks, so one list decides for all of them.

use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};

/// Folder or file names that hold credentials wherever they appear in a path.
pub const CREDENTIAL_NAMES: &[&str] = &[
    ".ssh",
    ".aws",
    ".gnupg",
    ".kube",
    ".docker",
    ".password-store",
    ".netrc",
    ".pypirc",
    ".npmrc",
    ".git-credentials",
    ".vault-token",
    ".azure",
    ".terraform.d",
    ".mozilla",
    ".thunderbird",
    ".pki",
    ".gcloud",
];

/// Paths under the home folder that hold credentials or browser profiles.
pub const CREDENTIAL_HOME_PATHS: &[&str] = &[
    ".config/gcloud",
    ".config/gh",
    ".config/hub",
    ".config/op",
    ".config/rclone",
    ".config/google-chrome",
    ".config/chromium",
    ".config/BraveSoftware",
    ".config/microsoft-edge",
    ".config/vivaldi",
    ".config/opera",
    ".config/Signal",
    ".config/Slack",
    ".config/discord",
    ".config/sops",
    ".local/share/keyrings",
    ".local/share/kwalletd",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".docker/config.json",
    ".m2/settings-security.xml",
    ".gradle/gradle.properties",
    "snap/chromium",
    "Library/Keychains",
    "Library/Application Support/Google/Chrome",
    "Library/Application Support/Firefox",
    "Library/Cookies",
];

/// The places LocalGPT protects on this machine.
#[derive(Debug, Clone, Default)]
pub struct ProtectedPaths {
    home: Option<PathBuf>,
    /// LocalGPT's own files outside the workspace: config, state, models.
    own: Vec<PathBuf>,
}

impl ProtectedPaths {
    /// The credential stores under `home` (the user's home folder, if known) and LocalGPT's own
    /// `config.toml`, `state/` and `models/` (given as paths; canonicalised when they exist).
    pub fn new(home: Option<&Path>, own: &[PathBuf]) -> Self {
        let canonical = |path: &Path| path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        Self {
            home: home.map(canonical),
            own: own.iter().map(|path| canonical(path)).collect(),
        }
    }

    /// The protections for the current user's home folder, with `own` as LocalGPT's files.
    pub fn for_current_user(own: &[PathBuf]) -> Self {
        Self::new(std::env::home_dir().as_deref(), own)
    }

    /// Whether `resolved` (an absolute path with symlinks already followed) is protected.
    pub fn protects(&self, resolved: &Path) -> bool {
        if has_credential_component(resolved) {
            return true;
        }
        if let Some(home) = &self.home
            && let Ok(below) = resolved.strip_prefix(home)
            && CREDENTIAL_HOME_PATHS
                .iter()
                .any(|credential| below.starts_with(credential))
        {
            return true;
        }
        self.own.iter().any(|own| resolved.starts_with(own))
    }
}

/// Whether any component of `path` is a credential name (`.ssh`, `.aws`, …).
pub fn has_credential_component(path: &Path) -> bool {
    path.components().any(|part| match part {
        Component::Normal(name) => is_credential_name(name),
        _ => false,
    })
}

fn is_credential_name(name: &OsStr) -> bool {
    CREDENTIAL_NAMES
        .iter()
        .any(|credential| name == *credential)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_folders_are_protected_anywhere_and_under_home() {
        let protected = ProtectedPaths::new(Some(Path::new("/home/u")), &[]);
        assert!(protected.protects(Path::new("/home/u/.ssh/id_ed25519")));
        assert!(protected.protects(Path::new("/srv/backup/.aws/credentials")));
        assert!(protected.protects(Path::new("/home/u/.config/gcloud/creds.db")));
        assert!(protected.protects(Path::new("/home/u/.config/google-chrome/Default/Cookies")));
        assert!(!protected.protects(Path::new("/home/u/notes/ssh.md")));
        assert!(!protected.protects(Path::new("/home/u/.config/localgpt-notes/x.md")));
        assert!(!protected.protects(Path::new("/srv/.config/gcloud/x")));
    }

    #[test]
    fn localgpt_own_files_are_protected() {
        let own = [
            PathBuf::from("/h/.localgpt/config.toml"),
            PathBuf::from("/h/.localgpt/state"),
        ];
        let protected = ProtectedPaths::new(None, &own);
        assert!(protected.protects(Path::new("/h/.localgpt/config.toml")));
        assert!(protected.protects(Path::new("/h/.localgpt/state/index.sqlite")));
        assert!(!protected.protects(Path::new("/h/.localgpt/workspace/MEMORY.md")));
    }
}
