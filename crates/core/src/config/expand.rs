//! `${VAR}` expansion in a parsed config document: each string value's `${NAME}` is replaced by
//! the variable's value (`$$` is a literal `$`). A key whose value names an unset variable is
//! removed with a warning, so only a command that needs the value fails.

use std::path::Path;

use toml_edit::{Item, Value};

use super::load::{ConfigError, ConfigWarning, EnvLookup, WarningKind};

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Expands `${VAR}` in every string of `table`. A key whose value names an unset variable is
/// removed (as if it were not written) with a warning: only a command that needs the value
/// fails, and it says which variable to set.
pub(super) fn expand_table(
    table: &mut toml_edit::Table,
    prefix: &str,
    path: &Path,
    env: EnvLookup<'_>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<(), ConfigError> {
    let mut unset = Vec::new();
    for (key, item) in table.iter_mut() {
        let dotted = join(prefix, key.get());
        match expand_item(item, &dotted, path, env, warnings) {
            Err(ConfigError::MissingEnvVar { var, .. }) if item.is_value() => {
                unset.push((key.get().to_owned(), dotted, var));
            }
            other => other?,
        }
    }
    for (name, dotted, var) in unset {
        table.remove(&name);
        warnings.push(ConfigWarning {
            key: dotted,
            kind: WarningKind::UnsetVariable { var },
            path: path.to_owned(),
        });
    }
    Ok(())
}

fn expand_item(
    item: &mut Item,
    key: &str,
    path: &Path,
    env: EnvLookup<'_>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<(), ConfigError> {
    match item {
        Item::Value(value) => expand_value(value, key, path, env),
        Item::Table(table) => expand_table(table, key, path, env, warnings),
        Item::ArrayOfTables(array) => {
            for (index, table) in array.iter_mut().enumerate() {
                expand_table(table, &format!("{key}.{index}"), path, env, warnings)?;
            }
            Ok(())
        }
        Item::None => Ok(()),
    }
}

fn expand_value(
    value: &mut Value,
    key: &str,
    path: &Path,
    env: EnvLookup<'_>,
) -> Result<(), ConfigError> {
    match value {
        Value::String(text) => {
            let original = text.value().clone();
            if original.contains('$') {
                let expanded = expand_string(&original, key, path, env)?;
                if expanded != original {
                    let decor = text.decor().clone();
                    let mut replacement = toml_edit::Formatted::new(expanded);
                    *replacement.decor_mut() = decor;
                    *text = replacement;
                }
            }
            Ok(())
        }
        Value::Array(array) => {
            for (index, element) in array.iter_mut().enumerate() {
                expand_value(element, &format!("{key}.{index}"), path, env)?;
            }
            Ok(())
        }
        Value::InlineTable(table) => {
            for (name, element) in table.iter_mut() {
                expand_value(element, &join(key, name.get()), path, env)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Replaces `${NAME}` with the variable's value; `$$` is a literal `$`; other `$` stay as they are.
pub fn expand_string(
    text: &str,
    key: &str,
    path: &Path,
    env: EnvLookup<'_>,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('{') {
            let bad = || ConfigError::BadEnvReference {
                path: path.to_owned(),
                key: key.to_owned(),
                value: text.to_owned(),
            };
            let end = tail.find('}').ok_or_else(bad)?;
            let name = &tail[..end];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(bad());
            }
            let value = env(name).ok_or_else(|| ConfigError::MissingEnvVar {
                path: path.to_owned(),
                key: key.to_owned(),
                var: name.to_owned(),
            })?;
            out.push_str(&value);
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}
