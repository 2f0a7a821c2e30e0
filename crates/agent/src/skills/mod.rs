//! OpenClaw-format skills: folders holding a `SKILL.md` whose front matter names and describes the
//! skill and whose body teaches the model how to do something. Skills are found in
//! `workspace/skills` and then `~/.localgpt/skills` (the first wins on a name clash), checked for
//! what they need (executables, environment variables, OS), listed in the system prompt by name,
//! description and location, and read in full only when used.

mod discover;
mod parse;

pub use discover::{Eligibility, Skill, SkillSet, SkillSource, discover};
pub use parse::{
    MAX_SKILL_BYTES, Requirements, SkillError, SkillManifest, parse_manifest, split_front_matter,
};

/// The system-prompt block listing the skills the model may use: eligible ones, not hidden from
/// the model, as OpenClaw's `<available_skills>` catalog.
pub fn prompt_listing(skills: &SkillSet) -> Option<String> {
    let listed: Vec<&Skill> = skills
        .skills
        .iter()
        .filter(|skill| skill.eligibility.is_eligible() && !skill.manifest.disable_model_invocation)
        .collect();
    if listed.is_empty() {
        return None;
    }
    let mut out = String::from(
        "Skills: before replying, scan the descriptions below. If exactly one skill clearly applies, \
         read its SKILL.md at <location> with read_file and follow it (resolve relative paths against \
         the skill's folder). If several apply, pick the most specific; if none applies, read none.\n\
         <available_skills>\n",
    );
    for skill in listed {
        out.push_str(&format!(
            "<skill><name>{}</name><description>{}</description><location>{}</location></skill>\n",
            xml_escape(&skill.manifest.name),
            xml_escape(&skill.manifest.description),
            xml_escape(&skill.location.display().to_string()),
        ));
    }
    out.push_str("</available_skills>");
    Some(out)
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
