//! Reading `HEARTBEAT.md`: which checkbox tasks are open. Tasks inside HTML comments or code
//! fences do not count (the starter file keeps its examples in a comment), so a file with no open
//! task lets the heartbeat skip its run without calling a model.

/// One open task line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenTask {
    /// 1-based line number in the file.
    pub line: usize,
    /// The task text after `- [ ]`.
    pub text: String,
}

/// The open (`- [ ]`, `* [ ]`, `+ [ ]`, `1. [ ]`) tasks of a HEARTBEAT.md, in file order.
pub fn open_tasks(markdown: &str) -> Vec<OpenTask> {
    let mut tasks = Vec::new();
    let mut in_comment = false;
    let mut fence: Option<&str> = None;
    for (index, raw) in markdown.lines().enumerate() {
        let mut line = raw.trim();
        if let Some(marker) = fence {
            if line.starts_with(marker) {
                fence = None;
            }
            continue;
        }
        if !in_comment && (line.starts_with("```") || line.starts_with("~~~")) {
            fence = Some(&line[..3]);
            continue;
        }
        // Strip comment spans, which may open and close on the same line or span lines.
        let mut visible = String::new();
        loop {
            if in_comment {
                match line.find("-->") {
                    Some(end) => {
                        in_comment = false;
                        line = &line[end + 3..];
                    }
                    None => break,
                }
            } else {
                match line.find("<!--") {
                    Some(start) => {
                        visible.push_str(&line[..start]);
                        in_comment = true;
                        line = &line[start + 4..];
                    }
                    None => {
                        visible.push_str(line);
                        break;
                    }
                }
            }
        }
        if let Some(text) = open_task_text(visible.trim()) {
            tasks.push(OpenTask {
                line: index + 1,
                text,
            });
        }
    }
    tasks
}

fn open_task_text(line: &str) -> Option<String> {
    let after_bullet = if let Some(rest) = line.strip_prefix(['-', '*', '+']) {
        rest
    } else {
        let digits = line
            .find(|c: char| !c.is_ascii_digit())
            .filter(|&n| n > 0)?;
        line[digits..].strip_prefix(['.', ')'])?
    };
    let text = after_bullet.trim_start().strip_prefix("[ ]")?.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_open_tasks_and_ignores_done_ones() {
        let text = "# Tasks\n- [ ] water the plants\n- [x] done already\n* [ ] call mum\n1. [ ] numbered\n- [ ]\n- plain item\n";
        let tasks = open_tasks(text);
        let texts: Vec<_> = tasks.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["water the plants", "call mum", "numbered"]);
        assert_eq!(tasks[0].line, 2);
    }

    #[test]
    fn commented_and_fenced_tasks_do_not_count() {
        let text = "intro\n<!--\n- [ ] example one\n- [ ] example two\n-->\n```md\n- [ ] in a fence\n```\n<!-- - [ ] inline --> - [ ] real one\n";
        let tasks = open_tasks(text);
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].text, "real one");
    }

    #[test]
    fn the_starter_heartbeat_file_has_no_open_tasks() {
        let starter = localgpt_core::workspace::STARTER_FILES
            .iter()
            .find(|(name, _)| *name == "HEARTBEAT.md")
            .map(|(_, text)| *text)
            .unwrap();
        assert!(open_tasks(starter).is_empty());
    }
}
