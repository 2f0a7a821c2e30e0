//! `localgpt sandbox check|run`: what this machine's kernel enforces for shell commands, and a
//! way to run any command under the `[sandbox]` policy to see what it may and may not do.

use std::path::Path;

use anyhow::Context;
use localgpt_sandbox::{Confinement, PROXY_URL, Policy, SandboxLevel, Support};

use crate::app::App;
use crate::cli::SandboxCommand;

/// The `[sandbox]` policy of this home for `workspace`: its credential stores and LocalGPT's own
/// config, state and models are never reachable.
pub fn policy(app: &App, workspace: &Path) -> Policy {
    localgpt_agent::host::setup::sandbox_policy(&app.paths, &app.config, workspace)
}

/// Runs one `sandbox` subcommand; returns the exit status to leave with.
pub fn run(command: SandboxCommand, app: &App) -> anyhow::Result<i32> {
    let workspace = app.paths.workspace(&app.config);
    std::fs::create_dir_all(&workspace)
        .with_context(|| format!("creating the workspace {}", workspace.display()))?;
    let policy = policy(app, &workspace);
    match command {
        SandboxCommand::Check { json } => {
            check(&policy, json)?;
            Ok(0)
        }
        SandboxCommand::Profile => {
            print!(
                "{}",
                localgpt_sandbox::seatbelt::profile(&policy, &std::env::temp_dir())?
            );
            Ok(0)
        }
        SandboxCommand::Run { command } => run_confined(&policy, &command),
    }
}

fn level_name(level: SandboxLevel) -> &'static str {
    match level {
        SandboxLevel::Auto => "auto",
        SandboxLevel::Strict => "strict",
        SandboxLevel::Off => "off",
    }
}

fn check(policy: &Policy, json: bool) -> anyhow::Result<()> {
    let support = Support::detect();
    let gaps = if policy.level == SandboxLevel::Off {
        vec!["the sandbox is off (level = \"off\"): commands run unconfined".to_owned()]
    } else {
        support.gaps(policy)
    };
    let runs = policy.level != SandboxLevel::Strict || gaps.is_empty();
    if json {
        let report = serde_json::json!({
            "level": level_name(policy.level),
            "support": support,
            "allow_net": policy.allow_net,
            "allow_net_proxy": proxied(policy, &support),
            "not_enforced": gaps,
            "commands_run": runs,
            "workspace": policy.workspace,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let yes = |on: bool| if on { "yes" } else { "no" };
    println!("level:              {}", level_name(policy.level));
    println!("os:                 {}", support.os);
    match support.landlock_abi {
        Some(abi) => println!("landlock:           ABI {abi} (file-system rules)"),
        None => println!("landlock:           not available"),
    }
    println!(
        "network blocked:    {} (Landlock TCP rules: {}, seccomp socket filter: {})",
        yes(support.landlock_network || support.seccomp),
        yes(support.landlock_network),
        yes(support.seccomp)
    );
    println!(
        "network namespace:  {} (needed for allow_net's filtering proxy)",
        yes(support.network_namespace)
    );
    println!(
        "allow_net:          {}",
        allow_net_summary(policy, &support)
    );
    println!("seccomp:            {}", yes(support.seccomp));
    if support.os == "macos" {
        println!(
            "sandbox-exec:       {} (commands run under the Seatbelt profile of `sandbox profile`)",
            yes(support.seatbelt)
        );
    }
    println!("signal scoping:     {}", yes(support.landlock_scopes));
    println!(
        "process limit:      {}",
        match support.process_limit {
            localgpt_sandbox::ProcessLimit::Rlimit => "RLIMIT_NPROC",
            localgpt_sandbox::ProcessLimit::Cgroup => "pids cgroup (running as root)",
            localgpt_sandbox::ProcessLimit::None => "not enforceable (root without a pids cgroup)",
        }
    );
    println!(
        "workspace:          {}",
        localgpt_core::text::display_path(&policy.workspace)
    );
    if gaps.is_empty() {
        println!("every part of the policy is enforced on this machine");
    } else {
        println!("not enforced:");
        for gap in &gaps {
            println!("  - {gap}");
        }
        if !runs {
            println!("level = \"strict\": commands are refused until this is fixed");
        }
    }
    Ok(())
}

/// Whether commands reach `allow_net` hosts through the filtering proxy here.
fn proxied(policy: &Policy, support: &Support) -> bool {
    policy.level != SandboxLevel::Off && !policy.allow_net.is_empty() && support.network_namespace
}

/// What `allow_net` gives commands on this machine, in words.
fn allow_net_summary(policy: &Policy, support: &Support) -> String {
    let listed = policy.allow_net.join(", ");
    let hosts = localgpt_core::text::terminal_safe_line(&listed);
    if policy.level == SandboxLevel::Off {
        "the sandbox is off: commands reach any host".to_owned()
    } else if policy.allow_net.is_empty() {
        "none (commands have no network)".to_owned()
    } else if proxied(policy, support) {
        format!("{hosts}, only through the filtering proxy at {PROXY_URL} (HTTP_PROXY/HTTPS_PROXY)")
    } else {
        format!("{hosts} NOT reachable: no network namespace here, so all network stays blocked")
    }
}

fn run_confined(policy: &Policy, command: &[String]) -> anyhow::Result<i32> {
    let Some((program, args)) = command.split_first() else {
        anyhow::bail!("name a command to run: localgpt sandbox run -- CMD [ARGS…]");
    };
    let mut confinement = Confinement::prepare(policy)?;
    for gap in confinement.unenforced() {
        eprintln!("warning: sandbox: not enforced: {gap}");
    }
    let mut process = confinement.command(program);
    process.args(args).current_dir(&policy.workspace);
    confinement.apply(&mut process);
    let status = process
        .status()
        .with_context(|| format!("could not start {program}"))?;
    drop(confinement);
    use std::os::unix::process::ExitStatusExt;
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => {
            eprintln!("sandbox: {program} was stopped by signal {signal}");
            128 + signal
        }
        (None, None) => 1,
    })
}
