//! The policy as a macOS `sandbox-exec` (Seatbelt) profile, generated on every platform so its
//! text is tested here. Deny by default; system folders readable; the workspace, `allow_write`
//! and a private temporary folder writable; `allow_read` readable; credential stores and
//! LocalGPT's own files denied even inside an allowed folder (later rules win in SBPL); no
//! network at all (`allow_net` needs the Linux proxy, so it is reported as not enforced there).
//! Credential-named folders (`.ssh`, `.aws` … anywhere) are denied by a pattern as well, so one
//! made after the profile was written is denied too. On macOS the `bash` tool and `localgpt
//! sandbox run` run each command as `sandbox-exec -p PROFILE CMD…` ([`crate::Confinement::command`]);
//! by hand: `sandbox-exec -p "$(localgpt sandbox profile)" CMD…`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use localgpt_core::protected::CREDENTIAL_NAMES;

use crate::SandboxError;
use crate::policy::Policy;

/// The program that runs a command under a profile.
pub const SANDBOX_EXEC: &str = "/usr/bin/sandbox-exec";

/// System folders every command may read (and run programs from) on macOS.
pub const MACOS_SYSTEM_READ: &[&str] = &[
    "/usr",
    "/bin",
    "/sbin",
    "/System",
    "/Library/Apple",
    "/Library/Frameworks",
    "/Library/Preferences",
    "/opt/homebrew",
    "/usr/local",
    "/private/etc",
    "/private/var/db/timezone",
    "/dev",
];

/// Device files every command may write.
const MACOS_DEVICES: &[&str] = &["/dev/null", "/dev/zero", "/dev/tty", "/dev/dtracehelper"];

/// `path` as an SBPL string literal; refuses paths SBPL cannot hold (not UTF-8, or with a control
/// character), rather than writing a profile that means something else.
fn quoted(path: &Path) -> Result<String, SandboxError> {
    let text = path
        .to_str()
        .ok_or_else(|| SandboxError::Setup(format!("{} is not UTF-8", path.display())))?;
    if text.chars().any(char::is_control) {
        return Err(SandboxError::Setup(format!(
            "{text:?} has a control character; it cannot go into a sandbox profile"
        )));
    }
    Ok(format!(
        "\"{}\"",
        text.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

/// `name` with the characters a regular expression gives a meaning escaped.
fn regex_escape(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() && c != '-' && c != '_' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn subpaths(paths: &[PathBuf]) -> Result<String, SandboxError> {
    let mut out = String::new();
    for path in paths {
        let _ = write!(out, " (subpath {})", quoted(path)?);
    }
    Ok(out)
}

/// The Seatbelt profile of `policy`, with `tmp` as the command's private temporary folder.
pub fn profile(policy: &Policy, tmp: &Path) -> Result<String, SandboxError> {
    let system: Vec<PathBuf> = MACOS_SYSTEM_READ.iter().map(PathBuf::from).collect();
    let mut writable = vec![policy.workspace.clone(), tmp.to_path_buf()];
    writable.extend(policy.write.iter().cloned());
    let mut readable = policy.read.clone();
    readable.extend(writable.iter().cloned());

    let mut out = String::from(
        ";; LocalGPT sandbox profile (generated; see `localgpt sandbox check`)\n\
         (version 1)\n\
         (deny default)\n\
         (allow process-fork)\n\
         (allow process-exec)\n\
         (allow signal (target same-sandbox))\n\
         (allow sysctl-read)\n\
         (allow mach-lookup (global-name \"com.apple.system.opendirectoryd.libinfo\"))\n\
         (allow file-read-metadata)\n",
    );
    let _ = writeln!(out, "(allow file-read*{})", subpaths(&system)?);
    let _ = writeln!(out, "(allow file-read*{})", subpaths(&readable)?);
    let _ = writeln!(out, "(allow file-write*{})", subpaths(&writable)?);
    let mut devices = String::new();
    for device in MACOS_DEVICES {
        let _ = write!(devices, " (literal {})", quoted(Path::new(device))?);
    }
    let _ = writeln!(out, "(allow file-write-data{devices})");
    if !policy.never.is_empty() {
        // Last: in SBPL a later rule wins over an earlier one, so these hold inside allowed
        // folders too.
        let _ = writeln!(
            out,
            "(deny file-read* file-write*{})",
            subpaths(&policy.never)?
        );
    }
    // Credential names anywhere, even in folders made after this profile.
    let mut patterns = String::new();
    for name in CREDENTIAL_NAMES {
        let _ = write!(patterns, " (regex #\"/{}(/|$)\")", regex_escape(name));
    }
    let _ = writeln!(out, "(deny file-read* file-write*{patterns})");
    out.push_str("(deny network*)\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use localgpt_core::config::SandboxConfig;

    fn policy(config: &SandboxConfig) -> Policy {
        Policy::from_config(
            config,
            Path::new("/Users/ana/.localgpt/workspace"),
            Some(Path::new("/Users/ana")),
            &[PathBuf::from("/Users/ana/.localgpt/config.toml")],
            |path| PathBuf::from(path),
        )
    }

    #[test]
    fn denies_by_default_and_allows_only_the_policy() {
        let config = SandboxConfig {
            allow_read: vec!["/Users/ana/projects".to_owned()],
            allow_write: vec!["/Users/ana/out".to_owned()],
            ..SandboxConfig::default()
        };
        let text = profile(&policy(&config), Path::new("/private/tmp/lg-1")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "(version 1)");
        assert_eq!(lines[2], "(deny default)");
        let read = lines
            .iter()
            .find(|line| line.starts_with("(allow file-read*") && line.contains("projects"))
            .unwrap();
        assert!(read.contains("(subpath \"/Users/ana/.localgpt/workspace\")"));
        assert!(
            !read.contains("(subpath \"/Users/ana\")"),
            "the whole home is readable"
        );
        let write = lines
            .iter()
            .find(|line| line.starts_with("(allow file-write*"))
            .unwrap();
        assert!(write.contains("/Users/ana/out") && write.contains("/private/tmp/lg-1"));
        assert!(!write.contains("projects"), "allow_read became writable");
        assert!(text.contains("(deny network*)"));
        assert!(!text.contains("(allow network"));
    }

    #[test]
    fn credentials_are_denied_after_every_allow() {
        let config = SandboxConfig {
            allow_read: vec!["/Users/ana".to_owned()],
            ..SandboxConfig::default()
        };
        let text = profile(&policy(&config), Path::new("/private/tmp/lg-2")).unwrap();
        let deny = text
            .lines()
            .position(|line| line.starts_with("(deny file-read* file-write*"))
            .unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let last_allow = lines
            .iter()
            .rposition(|line| line.starts_with("(allow file-"))
            .unwrap();
        assert!(
            deny > last_allow,
            "a later allow would win over the credential deny"
        );
        let rule = text.lines().nth(deny).unwrap();
        for secret in [
            "/Users/ana/.ssh",
            "/Users/ana/.aws",
            "/Users/ana/.gnupg",
            "/Users/ana/.localgpt/config.toml",
        ] {
            assert!(
                rule.contains(&format!("(subpath \"{secret}\")")),
                "{secret} not denied: {rule}"
            );
        }
    }

    #[test]
    fn credential_names_are_denied_anywhere_by_pattern() {
        let text = profile(
            &policy(&SandboxConfig::default()),
            Path::new("/private/tmp/lg-5"),
        )
        .unwrap();
        let rule = text.lines().find(|line| line.contains("(regex")).unwrap();
        assert!(rule.starts_with("(deny file-read* file-write*"), "{rule}");
        for pattern in [
            r##"(regex #"/\.ssh(/|$)")"##,
            r##"(regex #"/\.aws(/|$)")"##,
            r##"(regex #"/\.git-credentials(/|$)")"##,
        ] {
            assert!(rule.contains(pattern), "{pattern} missing: {rule}");
        }
        let lines: Vec<&str> = text.lines().collect();
        let position = |prefix: &str| lines.iter().rposition(|line| line.starts_with(prefix));
        assert!(position("(deny file-read* file-write* (regex") > position("(allow file-"));
    }

    #[test]
    fn paths_cannot_break_out_of_their_string() {
        let mut config = SandboxConfig {
            allow_read: vec!["/Users/ana/a\") (allow network*) (\"".to_owned()],
            ..SandboxConfig::default()
        };
        let text = profile(&policy(&config), Path::new("/private/tmp/lg-3")).unwrap();
        assert!(!text.lines().any(|line| line.starts_with("(allow network")));
        assert!(text.contains("(subpath \"/Users/ana/a\\\") (allow network*) (\\\"\")"));
        config.allow_read = vec!["/Users/ana/evil\n(allow default)".to_owned()];
        assert!(profile(&policy(&config), Path::new("/private/tmp/lg-4")).is_err());
    }
}
