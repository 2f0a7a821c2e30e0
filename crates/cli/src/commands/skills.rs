//! `localgpt skills list|show`: the skills found in the workspace and the user's skill folder.

use anyhow::bail;
use localgpt_agent::skills::{Eligibility, SkillSet};

use crate::app::App;
use crate::cli::SkillsCommand;

/// Finds the skills for this configuration, in precedence order.
pub fn find(app: &App) -> SkillSet {
    localgpt_agent::host::setup::find_skills(&app.paths, &app.config)
}

/// Runs one `skills` subcommand.
pub fn run(command: SkillsCommand, app: &App) -> anyhow::Result<()> {
    let set = find(app);
    for error in &set.errors {
        eprintln!("warning: skipped skill {error}");
    }
    match command {
        SkillsCommand::List { json } => {
            if json {
                let skills: Vec<_> = set
                    .skills
                    .iter()
                    .map(|skill| {
                        let (eligible, reasons) = match &skill.eligibility {
                            Eligibility::Eligible => (true, Vec::new()),
                            Eligibility::Ineligible(reasons) => (false, reasons.clone()),
                        };
                        serde_json::json!({
                            "name": skill.manifest.name,
                            "description": skill.manifest.description,
                            "source": skill.source.label(),
                            "location": skill.location,
                            "eligible": eligible,
                            "reasons": reasons,
                            "user_invocable": skill.manifest.user_invocable,
                            "model_invocable": !skill.manifest.disable_model_invocation,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&skills)?);
                return Ok(());
            }
            if set.skills.is_empty() {
                println!(
                    "No skills found. Put skills in {}/<name>/SKILL.md or {}/<name>/SKILL.md.",
                    app.paths.workspace(&app.config).join("skills").display(),
                    app.paths.skills_dir().display()
                );
                return Ok(());
            }
            for skill in &set.skills {
                let emoji = skill.manifest.emoji.as_deref().unwrap_or(" ");
                let status = match &skill.eligibility {
                    Eligibility::Eligible => "ready".to_owned(),
                    Eligibility::Ineligible(reasons) => {
                        format!("unavailable: {}", reasons.join("; "))
                    }
                };
                println!(
                    "{emoji} {:<24} {:<9} {status}\n    {}",
                    skill.manifest.name,
                    skill.source.label(),
                    skill.manifest.description
                );
            }
            Ok(())
        }
        SkillsCommand::Show { name } => {
            let Some(skill) = set.get(&name) else {
                bail!("no skill named `{name}`; `localgpt skills list` shows the ones found");
            };
            println!("name:        {}", skill.manifest.name);
            println!("description: {}", skill.manifest.description);
            println!(
                "location:    {} ({})",
                skill.location.display(),
                skill.source.label()
            );
            if let Some(homepage) = &skill.manifest.homepage {
                println!("homepage:    {homepage}");
            }
            match &skill.eligibility {
                Eligibility::Eligible => println!("status:      ready"),
                Eligibility::Ineligible(reasons) => {
                    println!("status:      unavailable: {}", reasons.join("; "))
                }
            }
            println!("\n{}", skill.body()?);
            Ok(())
        }
    }
}
