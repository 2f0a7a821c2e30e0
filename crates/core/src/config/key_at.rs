//! Which key of a TOML text a byte offset belongs to, written the way configuration errors name
//! keys (`heartbeat.active_hours.start`, `jobs[1].schedule`). A type error from the TOML
//! deserializer carries the span of the offending value (or of the table missing a field); this
//! walks the parsed document to the deepest key whose key or value covers that span.

use std::ops::Range;

use toml_edit::{Array, Document, Item, Table, TableLike, Value};

/// The dotted key at `offset` in `text`, `None` at the top level or when `text` does not parse.
pub fn key_at(text: &str, offset: usize) -> Option<String> {
    let document = Document::parse(text).ok()?;
    let mut path = Vec::new();
    in_table(document.as_table(), offset, &mut path).then(|| join(&path))
}

/// A step of a key path: a key, or an index into an array.
enum Step {
    Key(String),
    Index(usize),
}

fn join(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Step::Index(index) => out.push_str(&format!("[{index}]")),
        }
    }
    out
}

fn covers(span: Option<Range<usize>>, offset: usize) -> bool {
    span.is_some_and(|span| span.start <= offset && offset < span.end.max(span.start + 1))
}

/// Pushes the path to `offset` inside `table`; whether it found one.
fn in_table(table: &dyn TableLike, offset: usize, path: &mut Vec<Step>) -> bool {
    for (key, item) in table.iter() {
        path.push(Step::Key(key.to_owned()));
        let on_key = table
            .get_key_value(key)
            .is_some_and(|(key, _)| covers(key.span(), offset));
        if on_key || in_item(item, offset, path) {
            return true;
        }
        path.pop();
    }
    false
}

/// Whether `offset` is in `item` (pushing the steps below it when it is deeper).
fn in_item(item: &Item, offset: usize, path: &mut Vec<Step>) -> bool {
    match item {
        Item::None => false,
        Item::Value(value) => in_value(value, offset, path),
        Item::Table(table) => in_standard_table(table, offset, path),
        Item::ArrayOfTables(tables) => {
            for (index, table) in tables.iter().enumerate() {
                path.push(Step::Index(index));
                if in_standard_table(table, offset, path) {
                    return true;
                }
                path.pop();
            }
            false
        }
    }
}

/// A `[table]`: its own span is its header; its entries may sit anywhere after it.
fn in_standard_table(table: &Table, offset: usize, path: &mut Vec<Step>) -> bool {
    in_table(table, offset, path) || covers(table.span(), offset)
}

fn in_value(value: &Value, offset: usize, path: &mut Vec<Step>) -> bool {
    if !covers(value.span(), offset) {
        return false;
    }
    match value {
        Value::InlineTable(table) => {
            in_table(table, offset, path);
        }
        Value::Array(array) => {
            in_array(array, offset, path);
        }
        _ => {}
    }
    true
}

fn in_array(array: &Array, offset: usize, path: &mut Vec<Step>) {
    for (index, value) in array.iter().enumerate() {
        path.push(Step::Index(index));
        if in_value(value, offset, path) {
            return;
        }
        path.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(text: &str, marker: &str) -> Option<String> {
        key_at(text, text.find(marker).unwrap())
    }

    #[test]
    fn names_values_in_tables_inline_tables_and_arrays_of_tables() {
        let text = "top = 1\n[heartbeat]\ninterval = \"30\"\nactive_hours = { start = \"9am\", end = \"22:00\" }\n\n[[jobs]]\nname = \"a\"\n[[jobs]]\nname = \"b\"\nschedule = \"never\"\n[memory]\nextra_paths = [\"x\", 5]\n";
        assert_eq!(key_of(text, "1\n").as_deref(), Some("top"));
        assert_eq!(
            key_of(text, "\"30\"").as_deref(),
            Some("heartbeat.interval")
        );
        assert_eq!(
            key_of(text, "\"9am\"").as_deref(),
            Some("heartbeat.active_hours.start")
        );
        assert_eq!(
            key_of(text, "\"never\"").as_deref(),
            Some("jobs[1].schedule")
        );
        assert_eq!(key_of(text, "5]").as_deref(), Some("memory.extra_paths[1]"));
        assert_eq!(key_of(text, "[memory]").as_deref(), Some("memory"));
        assert_eq!(
            key_of(text, "interval").as_deref(),
            Some("heartbeat.interval")
        );
    }

    #[test]
    fn dotted_keys_and_quoted_keys_keep_their_path() {
        let text = "[budget.prices.\"openai/gpt-4o\"]\ninput = \"cheap\"\n[agent]\nlimits.turns = \"many\"\n";
        assert_eq!(
            key_of(text, "\"cheap\"").as_deref(),
            Some("budget.prices.openai/gpt-4o.input")
        );
        assert_eq!(
            key_of(text, "\"many\"").as_deref(),
            Some("agent.limits.turns")
        );
    }

    #[test]
    fn outside_every_key_or_unparsable_is_none() {
        assert_eq!(key_at("a = 1\n", 100), None);
        assert_eq!(key_at("a = [\n", 0), None);
        assert_eq!(key_at("", 0), None);
    }
}
