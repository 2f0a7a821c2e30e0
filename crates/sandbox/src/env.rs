//! The environment a confined command gets: a short allow-list and the names `[sandbox] env`
//! adds, never anything that looks like a key or token, nor LocalGPT's own `LOCALGPT_*`.

use std::ffi::OsString;

/// Variables every command gets when set (plus every `LC_*`).
pub const BASE_ENV: &[&str] = &["PATH", "HOME", "LANG", "TERM", "TZ", "USER", "SHELL"];

/// Name parts that mark a variable as secret; such names are never passed on, even if listed.
const SECRET_MARKERS: &[&str] = &[
    "KEY",
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "CREDENTIAL",
    "AUTH",
    "COOKIE",
    "SESSION",
];

/// Whether `name` may be passed to a command when `[sandbox] env` lists it.
pub fn is_passable(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    !upper.starts_with("LOCALGPT")
        && !SECRET_MARKERS.iter().any(|marker| upper.contains(marker))
        && !name.is_empty()
}

/// The part of `source` a command may see: [`BASE_ENV`], `LC_*` and the passable `extra` names.
pub fn scrubbed_environment(
    source: impl IntoIterator<Item = (OsString, OsString)>,
    extra: &[String],
) -> Vec<(OsString, OsString)> {
    source
        .into_iter()
        .filter(|(name, _)| {
            name.to_str().is_some_and(|name| {
                BASE_ENV.contains(&name)
                    || name.starts_with("LC_")
                    || (extra.iter().any(|listed| listed == name) && is_passable(name))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(name, value)| (OsString::from(name), OsString::from(value)))
            .collect()
    }

    #[test]
    fn keys_tokens_and_localgpt_variables_never_pass_even_when_listed() {
        let source = vars(&[
            ("PATH", "/usr/bin"),
            ("ANTHROPIC_API_KEY", "sk-ant"),
            ("GITHUB_TOKEN", "ghp"),
            ("LOCALGPT_HOME", "/h"),
            ("EDITOR", "vi"),
            ("LC_ALL", "C"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
        ]);
        let listed = [
            "ANTHROPIC_API_KEY",
            "GITHUB_TOKEN",
            "LOCALGPT_HOME",
            "EDITOR",
        ]
        .map(String::from);
        let kept: Vec<String> = scrubbed_environment(source, &listed)
            .into_iter()
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .collect();
        assert_eq!(kept, ["PATH", "EDITOR", "LC_ALL"]);
    }
}
