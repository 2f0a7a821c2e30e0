//! Link-time choices for the `localgpt` executable that depend on the machine it is built on.
//!
//! Relative relocations packed as DT_RELR (`-z pack-relative-relocs`): the executable's ~44,000
//! relative relocations take 1.0 MB as RELA entries and about 10 kB as RELR, and the dynamic
//! loader reads (so keeps resident) the whole table at every start. A binary linked this way runs
//! only where glibc is 2.36 or newer, so it is done only for a native Linux build on a machine
//! whose own glibc is 2.36 or newer (the binary runs where it was built) and never for the
//! release archives (feature `portable`), which promise glibc 2.35. `LOCALGPT_RELR=0` turns it
//! off; `LOCALGPT_RELR=1` forces it (e.g. for a cross build whose target has a new glibc).

use std::env;

fn main() {
    println!("cargo:rerun-if-env-changed=LOCALGPT_RELR");
    if pack_relative_relocs() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

fn pack_relative_relocs() -> bool {
    match env::var("LOCALGPT_RELR").as_deref() {
        Ok("1") => return true,
        Ok("0") => return false,
        _ => {}
    }
    let var = |name: &str| env::var(name).unwrap_or_default();
    let native_linux_gnu = var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu"
        && var("HOST") == var("TARGET");
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
