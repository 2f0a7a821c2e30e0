//! Build steps of the `localgpt` executable: the model host it carries, and link-time choices
//! that depend on the machine it is built on.
//!
//! The model host (`crates/model-host`, the program local models run in) is built here by a
//! nested `cargo build` for the same target and profile, in a target folder of its own
//! (`<target>/model-host`), and its bytes, deflated, are included in the executable
//! (`crate::model_process`). llama.cpp and its C++ runtime are then in the model host only:
//! everything else LocalGPT does starts without them. Cargo has no stable way for one package
//! to depend on another's executable, hence the nested build.
//!
//! Relative relocations packed as DT_RELR (`-z pack-relative-relocs`): the executable's ~44,000
//! relative relocations take 1.0 MB as RELA entries and about 10 kB as RELR, and the dynamic
//! loader reads (so keeps resident) the whole table at every start. A binary linked this way runs
//! only where glibc is 2.36 or newer, so it is done only for a native Linux build on a machine
//! whose own glibc is 2.36 or newer (the binary runs where it was built) and never for the
//! release archives (feature `portable`), which promise glibc 2.35. `LOCALGPT_RELR=0` turns it
//! off; `LOCALGPT_RELR=1` forces it (e.g. for a cross build whose target has a new glibc).
//!
//! A static musl build of `localgpt` (`--target x86_64-unknown-linux-musl`, the headless release
//! binary: no dynamic loader, no shared C library to map at each start) carries a model host
//! built for the matching glibc target (`x86_64-unknown-linux-gnu`): llama.cpp, its C++ runtime
//! and OpenMP need glibc, and only the model process runs them. The static executable relocates
//! itself at start (musl 1.2.4 and later read packed relocations), so it is always packed.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The relative-relocation packing flag, for this executable and the model host alike.
const RELR: &str = "-Wl,-z,pack-relative-relocs";

fn main() {
    println!("cargo:rerun-if-env-changed=LOCALGPT_RELR");
    let target = env::var("TARGET").unwrap_or_default();
    let host_target = model_host_target(&target);
    if target_env(&target) == "musl" || pack_relative_relocs(&target) {
        println!("cargo:rustc-link-arg-bins={RELR}");
    }
    if let Err(error) = build_model_host(&host_target, pack_relative_relocs(&host_target)) {
        panic!("building the model host (crates/model-host): {error}");
    }
}

/// The target the model host is built for: this build's target, except that a musl target's
/// model host is built for the same CPU with glibc (llama.cpp's C++ runtime and OpenMP).
fn model_host_target(target: &str) -> String {
    match target.strip_suffix("-musl") {
        Some(stem) => format!("{stem}-gnu"),
        None => target.to_string(),
    }
}

/// The C library part of a target triple ("gnu", "musl", ...; "" when it names none).
fn target_env(target: &str) -> &str {
    let last = target.rsplit('-').next().unwrap_or_default();
    ["gnu", "musl", "msvc"]
        .into_iter()
        .find(|env| last.starts_with(env))
        .unwrap_or_default()
}

/// Builds `localgpt-model-host` for `host_target` with this build's profile and flags, writes it
/// deflated to `OUT_DIR` and names that file in `LOCALGPT_MODEL_HOST_DEFLATED` for
/// `include_bytes!`.
fn build_model_host(host_target: &str, relr: bool) -> Result<(), String> {
    let var = |name: &str| env::var(name).map_err(|_| format!("cargo did not set {name}"));
    let manifest_dir = PathBuf::from(var("CARGO_MANIFEST_DIR")?);
    let host_dir = manifest_dir.join("../model-host");
    for dir in path_dependencies(&host_dir)? {
        println!(
            "cargo:rerun-if-changed={}",
            dir.join("Cargo.toml").display()
        );
        println!("cargo:rerun-if-changed={}", dir.join("src").display());
    }
    for file in ["../../Cargo.lock", "../../.cargo/config.toml"] {
        println!(
            "cargo:rerun-if-changed={}",
            manifest_dir.join(file).display()
        );
    }
    let out_dir = PathBuf::from(var("OUT_DIR")?);
    let target = var("TARGET")?;
    let (target_dir, profile) = layout(&out_dir, &target)?;
    let host_target_dir = target_dir.join("model-host");
    let mut cargo = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .current_dir(&manifest_dir)
        .args(["build", "--package", "localgpt-model-host"])
        .args(["--bin", "localgpt-model-host", "--profile", &profile])
        .args(["--target", host_target])
        .arg("--target-dir")
        .arg(&host_target_dir);
    if env::var_os("CARGO_FEATURE_PORTABLE").is_some() {
        cargo.args(["--features", "portable"]);
    }
    // This build script's environment describes the `localgpt` package to it; the nested
    // build must see only the user's environment (and this build's compiler flags).
    for (name, _) in env::vars_os() {
        if is_build_script_variable(&name) {
            cargo.env_remove(&name);
        }
    }
    let mut flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if relr {
        if !flags.is_empty() {
            flags.push('\x1f');
        }
        flags.push_str(&format!("-Clink-arg={RELR}"));
    }
    cargo.env("CARGO_ENCODED_RUSTFLAGS", flags);
    // Cargo reads this script's standard output for instructions: the nested build's goes to
    // standard error (shown when the build fails).
    let status = cargo
        .stdout(std::process::Stdio::from(std::io::stderr()))
        .status()
        .map_err(|error| format!("running cargo: {error}"))?;
    if !status.success() {
        return Err(format!("`cargo build` of the model host failed ({status})"));
    }
    let profile_dir = if profile == "dev" {
        "debug"
    } else {
        profile.as_str()
    };
    let built = host_target_dir
        .join(host_target)
        .join(profile_dir)
        .join(format!("localgpt-model-host{}", env::consts::EXE_SUFFIX));
    let deflated = out_dir.join("localgpt-model-host.deflate");
    // Debug builds (a 40 MB model host, this script unoptimised) compress fast.
    let level = if profile == "dev" {
        flate2::Compression::fast()
    } else {
        flate2::Compression::best()
    };
    deflate(&built, &deflated, level)?;
    println!(
        "cargo:rustc-env=LOCALGPT_MODEL_HOST_DEFLATED={}",
        deflated.display()
    );
    Ok(())
}

/// Writes `from`, compressed as a raw deflate stream at `level`, to `to` (7.1 MB of model host in
/// a dist build become 3.1 MB at the best level; inflating them takes about 50 ms per model
/// process start).
fn deflate(from: &Path, to: &Path, level: flate2::Compression) -> Result<(), String> {
    let bytes = std::fs::read(from).map_err(|error| format!("{}: {error}", from.display()))?;
    let file = std::fs::File::create(to).map_err(|error| format!("{}: {error}", to.display()))?;
    let mut encoder = flate2::write::DeflateEncoder::new(file, level);
    std::io::Write::write_all(&mut encoder, &bytes)
        .and_then(|()| encoder.finish().map(drop))
        .map_err(|error| format!("{}: {error}", to.display()))
}

/// The target folder and profile name of this build, from `OUT_DIR`
/// (`<target-dir>/[<triple>/]<profile-dir>/build/<package>-<hash>/out`).
fn layout(out_dir: &Path, target: &str) -> Result<(PathBuf, String), String> {
    let unexpected = || format!("unexpected OUT_DIR {}", out_dir.display());
    let profile_dir = out_dir.ancestors().nth(3).ok_or_else(unexpected)?;
    let name = profile_dir
        .file_name()
        .and_then(|name| name.to_str())
        .ok_or_else(unexpected)?;
    let profile = if name == "debug" { "dev" } else { name }.to_owned();
    let mut target_dir = profile_dir.parent().ok_or_else(unexpected)?;
    if target_dir.file_name().is_some_and(|name| name == target) {
        target_dir = target_dir.parent().ok_or_else(unexpected)?;
    }
    Ok((target_dir.to_path_buf(), profile))
}

/// `dir` and every package it depends on by path, transitively (read from the manifests'
/// `path = "…"` entries): the sources the model host is built from.
fn path_dependencies(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut found: Vec<PathBuf> = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let dir = dir
            .canonicalize()
            .map_err(|error| format!("{}: {error}", dir.display()))?;
        if found.contains(&dir) {
            continue;
        }
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml"))
            .map_err(|error| format!("{}/Cargo.toml: {error}", dir.display()))?;
        for line in manifest.lines() {
            if let Some(path) = line
                .split("path = \"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .filter(|path| path.starts_with(".."))
            {
                pending.push(dir.join(path));
            }
        }
        found.push(dir);
    }
    Ok(found)
}

/// Variables cargo sets for this build script (about the `localgpt` package and this build);
/// build scripts of the nested build would otherwise read them as their own.
fn is_build_script_variable(name: &OsString) -> bool {
    let name = name.to_string_lossy();
    const PREFIXES: [&str; 5] = [
        "CARGO_FEATURE_",
        "CARGO_CFG_",
        "CARGO_PKG_",
        "CARGO_MANIFEST_",
        "DEP_",
    ];
    const NAMES: [&str; 13] = [
        "CARGO_TARGET_DIR",
        "CARGO_PRIMARY_PACKAGE",
        "OUT_DIR",
        "TARGET",
        "HOST",
        "PROFILE",
        "OPT_LEVEL",
        "DEBUG",
        "NUM_JOBS",
        "RUSTC_LINKER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CLIPPY_ARGS",
        "CARGO_CRATE_NAME",
    ];
    PREFIXES.iter().any(|prefix| name.starts_with(prefix)) || NAMES.contains(&name.as_ref())
}

/// Whether a glibc executable for `target` is linked with packed relative relocations.
fn pack_relative_relocs(target: &str) -> bool {
    match env::var("LOCALGPT_RELR").as_deref() {
        Ok("1") => return true,
        Ok("0") => return false,
        _ => {}
    }
    let var = |name: &str| env::var(name).unwrap_or_default();
    let native_linux_gnu = target.contains("-linux-") && target_env(target) == "gnu" && {
        // A musl build on this machine carries a model host for this machine's glibc target.
        let host = var("HOST");
        host == target || model_host_target(&host) == target
    };
    native_linux_gnu
        && env::var_os("CARGO_FEATURE_PORTABLE").is_none()
        && host_glibc().is_some_and(|version| version >= (2, 36))
}

/// The glibc version of the machine running this build script (the host), if it uses glibc.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn host_glibc() -> Option<(u32, u32)> {
    // SAFETY: gnu_get_libc_version returns a pointer to a static, NUL-terminated string.
    let version = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) };
    let mut parts = version.to_str().ok()?.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn host_glibc() -> Option<(u32, u32)> {
    None
}
