//! The seccomp filters of a confined command: system calls no shell command needs, which would
//! let it escape or attack the machine, fail with `EPERM`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::SandboxError;

/// System calls denied outright.
const DENIED: &[libc::c_long] = &[
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_bpf,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_reboot,
    libc::SYS_acct,
    libc::SYS_fsopen,
    libc::SYS_fsmount,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_setsid,
    libc::SYS_setpgid,
];

fn condition(
    arg: u8,
    operator: SeccompCmpOp,
    value: u64,
) -> Result<SeccompCondition, SandboxError> {
    SeccompCondition::new(arg, SeccompCmpArgLen::Dword, operator, value).map_err(setup)
}

fn rule(conditions: Vec<SeccompCondition>) -> Result<SeccompRule, SandboxError> {
    SeccompRule::new(conditions).map_err(setup)
}

fn setup(error: impl std::fmt::Display) -> SandboxError {
    SandboxError::Setup(format!("seccomp: {error}"))
}

/// [`build`], compiled once per process for each of its two forms.
pub fn filters(inet_stream: bool) -> Result<Vec<BpfProgram>, SandboxError> {
    static STREAM: OnceLock<Result<Vec<BpfProgram>, String>> = OnceLock::new();
    static NO_INET: OnceLock<Result<Vec<BpfProgram>, String>> = OnceLock::new();
    let cell = if inet_stream { &STREAM } else { &NO_INET };
    cell.get_or_init(|| {
        build(inet_stream).map_err(|error| match error {
            SandboxError::Setup(reason) => reason,
            other => other.to_string(),
        })
    })
    .clone()
    .map_err(SandboxError::Setup)
}

/// The filters to install, in order. `inet_stream`: IPv4/IPv6 stream (TCP) sockets are allowed,
/// for a command in a network namespace of its own whose only way out is the proxy; other
/// IPv4/IPv6 sockets (UDP …) are still denied. Otherwise no IPv4/IPv6 socket at all.
fn build(inet_stream: bool) -> Result<Vec<BpfProgram>, SandboxError> {
    let mut rules = base_rules()?;
    rules.insert(libc::SYS_socket, socket_rules(inet_stream)?);
    compile(rules)
}

/// The filters of a process confining itself (LocalGPT's model process): those of a confined
/// command, and no program run and no socket of any kind.
pub fn self_filters() -> Result<Vec<BpfProgram>, SandboxError> {
    let mut rules = base_rules()?;
    for call in [
        libc::SYS_execve,
        libc::SYS_execveat,
        libc::SYS_socket,
        libc::SYS_socketpair,
    ] {
        rules.insert(call, Vec::new());
    }
    compile(rules)
}

/// Calls denied outright, `personality` changes, and clones into new namespaces.
fn base_rules() -> Result<BTreeMap<i64, Vec<SeccompRule>>, SandboxError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for call in DENIED {
        rules.insert(*call, Vec::new());
    }
    // Only querying the personality is allowed.
    rules.insert(
        libc::SYS_personality,
        vec![rule(vec![condition(0, SeccompCmpOp::Ne, 0xffff_ffff)?])?],
    );
    // A clone with any namespace flag.
    let mut clone_rules = Vec::new();
    for flag in [
        libc::CLONE_NEWNS,
        libc::CLONE_NEWUTS,
        libc::CLONE_NEWIPC,
        libc::CLONE_NEWUSER,
        libc::CLONE_NEWPID,
        libc::CLONE_NEWNET,
        libc::CLONE_NEWCGROUP,
    ] {
        let flag = flag as u64;
        clone_rules.push(rule(vec![condition(
            0,
            SeccompCmpOp::MaskedEq(flag),
            flag,
        )?])?);
    }
    rules.insert(libc::SYS_clone, clone_rules);
    Ok(rules)
}

/// Which sockets are denied; see [`build`].
fn socket_rules(inet_stream: bool) -> Result<Vec<SeccompRule>, SandboxError> {
    // Raw and packet sockets, sockets to local services by path, and any IPv4/IPv6 socket
    // (with `inet_stream`, any that is not a stream).
    let mut socket_rules = vec![
        rule(vec![condition(
            0,
            SeccompCmpOp::Eq,
            libc::AF_PACKET as u64,
        )?])?,
        rule(vec![condition(0, SeccompCmpOp::Eq, libc::AF_UNIX as u64)?])?,
        rule(vec![condition(
            0,
            SeccompCmpOp::Eq,
            libc::AF_NETLINK as u64,
        )?])?,
        rule(vec![condition(
            1,
            SeccompCmpOp::MaskedEq(0xf),
            libc::SOCK_RAW as u64,
        )?])?,
    ];
    for family in [libc::AF_INET, libc::AF_INET6] {
        if !inet_stream {
            socket_rules.push(rule(vec![condition(0, SeccompCmpOp::Eq, family as u64)?])?);
            continue;
        }
        // The socket type is the low four bits of the second argument (flags above them).
        for kind in (0..16u64).filter(|kind| *kind != libc::SOCK_STREAM as u64) {
            socket_rules.push(rule(vec![
                condition(0, SeccompCmpOp::Eq, family as u64)?,
                condition(1, SeccompCmpOp::MaskedEq(0xf), kind)?,
            ])?);
        }
    }
    Ok(socket_rules)
}

/// `rules` answered with `EPERM`, then `clone3` answered with `ENOSYS`.
fn compile(rules: BTreeMap<i64, Vec<SeccompRule>>) -> Result<Vec<BpfProgram>, SandboxError> {
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(setup)?;
    let eperm = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(setup)?;
    // clone3 passes its flags in memory a filter cannot read: it answers ENOSYS so the C
    // library falls back to clone, whose flags the filter above checks.
    let mut clone3 = BTreeMap::new();
    clone3.insert(libc::SYS_clone3, Vec::new());
    let enosys = SeccompFilter::new(
        clone3,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .map_err(setup)?;
    Ok(vec![
        BpfProgram::try_from(eperm).map_err(setup)?,
        BpfProgram::try_from(enosys).map_err(setup)?,
    ])
}
