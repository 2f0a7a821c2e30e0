//! Attacks from inside a process that confined itself with `confine_self`, as LocalGPT's model
//! process does before llama.cpp parses a model file: the test program runs itself again, the
//! copy confines itself to one readable file, then tries to read planted secrets, list folders,
//! write files, run programs, open TCP, UDP and UNIX sockets, reach a listener of the parent, and
//! signal or trace other processes. Every attempt must fail while the allowed file stays
//! readable; the suite prints "0 escapes of N attempts".

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(target_os = "linux")]

use std::io::Read;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Command;

const CHILD: &str = "LOCALGPT_TEST_SELF_CONFINED_CHILD";
const SECRET: &str = "PLANTED-SECRET-77e1";
const ALLOWED: &str = "model bytes";

/// Whether `attempt` got through (it must not).
fn escaped<T, E>(what: &str, attempt: Result<T, E>, escapes: &mut Vec<String>, total: &mut usize) {
    *total += 1;
    if attempt.is_ok() {
        escapes.push(what.to_owned());
    }
}

fn read_text(path: &Path) -> std::io::Result<String> {
    let mut text = String::new();
    std::fs::File::open(path)?.read_to_string(&mut text)?;
    if text.is_empty() {
        return Err(std::io::Error::other("empty"));
    }
    Ok(text)
}

/// Loads the shared library at `path` (and leaves it loaded).
fn dlopen(path: &Path) -> Result<(), String> {
    let name = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a NUL-terminated path; the library is a copy of the system's zlib, whose
    // initialisers do nothing.
    let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        Err(format!("{} not loaded", path.display()))
    } else {
        Ok(())
    }
}

/// The attacks, run in the confined copy. Prints what it found; the parent judges.
#[test]
#[ignore = "run by a_self_confined_process_reads_its_model_and_nothing_else in a process of its own"]
fn confined_attacks() {
    let lab = PathBuf::from(std::env::var_os(CHILD).unwrap());
    let model = lab.join("models/model.gguf");
    // As in a portable build: the model, and the folder of llama.cpp's CPU backends.
    let confined = localgpt_sandbox::confine_self(&[model.clone(), lab.join("backends")]).unwrap();
    println!("CONFINED {confined:?}");
    assert_eq!(
        read_text(&model).unwrap(),
        ALLOWED,
        "the allowed file must stay readable"
    );
    println!("ALLOWED READ OK");

    let mut escapes = Vec::new();
    let mut total = 0;
    // A library planted outside cannot be loaded; the backends' folder still can.
    escaped(
        "load a library planted outside",
        dlopen(&lab.join("outside/libplanted.so")),
        &mut escapes,
        &mut total,
    );
    dlopen(&lab.join("backends/libggml-cpu-test.so")).unwrap();
    println!("ALLOWED LIBRARY LOADED");
    let secret_dir = lab.join("outside");
    escaped(
        "read a secret beside the model's folder",
        read_text(&secret_dir.join("secret.txt")),
        &mut escapes,
        &mut total,
    );
    escaped(
        "read a secret next to the model",
        read_text(&lab.join("models/other.txt")),
        &mut escapes,
        &mut total,
    );
    escaped(
        "list the model's folder",
        std::fs::read_dir(lab.join("models")),
        &mut escapes,
        &mut total,
    );
    escaped(
        "list the lab",
        std::fs::read_dir(&lab),
        &mut escapes,
        &mut total,
    );
    escaped(
        "read /etc/passwd",
        read_text(Path::new("/etc/passwd")),
        &mut escapes,
        &mut total,
    );
    escaped(
        "read /etc/hostname",
        read_text(Path::new("/etc/hostname")),
        &mut escapes,
        &mut total,
    );
    escaped(
        "read the parent's environment",
        read_text(Path::new(&format!(
            "/proc/{}/environ",
            std::os::unix::process::parent_id()
        ))),
        &mut escapes,
        &mut total,
    );
    escaped(
        "read another process's memory map",
        read_text(Path::new("/proc/1/maps")),
        &mut escapes,
        &mut total,
    );
    if let Some(home) = std::env::home_dir() {
        escaped(
            "list the home folder",
            std::fs::read_dir(&home),
            &mut escapes,
            &mut total,
        );
    }
    escaped(
        "write beside the secret",
        std::fs::write(secret_dir.join("planted.txt"), "x"),
        &mut escapes,
        &mut total,
    );
    escaped(
        "overwrite the model",
        std::fs::OpenOptions::new().append(true).open(&model),
        &mut escapes,
        &mut total,
    );
    escaped(
        "write in /tmp",
        std::fs::write(std::env::temp_dir().join("self-confined-escape"), "x"),
        &mut escapes,
        &mut total,
    );
    escaped(
        "write in /dev/shm",
        std::fs::write("/dev/shm/self-confined-escape", "x"),
        &mut escapes,
        &mut total,
    );
    escaped(
        "make a folder in /tmp",
        std::fs::create_dir(std::env::temp_dir().join("self-confined-dir")),
        &mut escapes,
        &mut total,
    );
    escaped(
        "hard-link the secret next to the model",
        std::fs::hard_link(secret_dir.join("secret.txt"), lab.join("models/link.txt")),
        &mut escapes,
        &mut total,
    );
    escaped(
        "run /bin/sh",
        Command::new("/bin/sh").args(["-c", "true"]).status(),
        &mut escapes,
        &mut total,
    );
    escaped(
        "run /usr/bin/env",
        Command::new("/usr/bin/env").status(),
        &mut escapes,
        &mut total,
    );
    let port: u16 = std::env::var("LOCALGPT_TEST_PORT")
        .unwrap()
        .parse()
        .unwrap();
    escaped(
        "connect to the parent's TCP listener",
        TcpStream::connect(("127.0.0.1", port)),
        &mut escapes,
        &mut total,
    );
    escaped(
        "listen on TCP",
        TcpListener::bind("127.0.0.1:0"),
        &mut escapes,
        &mut total,
    );
    escaped(
        "open a UDP socket",
        UdpSocket::bind("127.0.0.1:0"),
        &mut escapes,
        &mut total,
    );
    escaped(
        "send UDP to a public address",
        UdpSocket::bind("0.0.0.0:0").and_then(|socket| socket.send_to(b"x", "1.1.1.1:53")),
        &mut escapes,
        &mut total,
    );
    escaped(
        "connect to the parent's UNIX socket",
        UnixStream::connect(lab.join("outside/parent.sock")),
        &mut escapes,
        &mut total,
    );
    escaped(
        "listen on a UNIX socket",
        UnixListener::bind(std::env::temp_dir().join("self-confined.sock")),
        &mut escapes,
        &mut total,
    );
    // SAFETY: plain system calls on numbers; each is expected to fail.
    let signal = unsafe { libc::kill(std::os::unix::process::parent_id() as i32, 0) };
    escaped(
        "signal the parent",
        if signal == 0 { Ok(()) } else { Err(()) },
        &mut escapes,
        &mut total,
    );
    // SAFETY: as above.
    let trace = unsafe {
        libc::ptrace(
            libc::PTRACE_ATTACH,
            std::os::unix::process::parent_id() as i32,
            0,
            0,
        )
    };
    escaped(
        "trace the parent",
        if trace == 0 { Ok(()) } else { Err(()) },
        &mut escapes,
        &mut total,
    );
    // SAFETY: as above.
    let unshare = unsafe { libc::unshare(libc::CLONE_NEWUSER) };
    escaped(
        "enter a new user namespace",
        if unshare == 0 { Ok(()) } else { Err(()) },
        &mut escapes,
        &mut total,
    );
    println!("ESCAPES {escapes:?}");
    println!("{} escapes of {total} attempts", escapes.len());
}

#[test]
fn a_self_confined_process_reads_its_model_and_nothing_else() {
    let support = localgpt_sandbox::Support::detect();
    println!("{support:?}");
    let lab = tempfile::tempdir().unwrap();
    let root = lab.path().canonicalize().unwrap();
    std::fs::create_dir_all(root.join("models")).unwrap();
    std::fs::create_dir_all(root.join("outside")).unwrap();
    std::fs::write(root.join("models/model.gguf"), ALLOWED).unwrap();
    std::fs::write(root.join("models/other.txt"), SECRET).unwrap();
    std::fs::write(root.join("outside/secret.txt"), SECRET).unwrap();
    std::fs::create_dir_all(root.join("backends")).unwrap();
    let zlib = Path::new("/usr/lib/x86_64-linux-gnu/libz.so.1");
    let zlib = if zlib.exists() {
        zlib
    } else {
        Path::new("/lib/x86_64-linux-gnu/libz.so.1")
    };
    std::fs::copy(zlib, root.join("backends/libggml-cpu-test.so")).unwrap();
    std::fs::copy(zlib, root.join("outside/libplanted.so")).unwrap();
    let _unix = UnixListener::bind(root.join("outside/parent.sock")).unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    tcp.set_nonblocking(true).unwrap();
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "confined_attacks",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, &root)
        .env(
            "LOCALGPT_TEST_PORT",
            tcp.local_addr().unwrap().port().to_string(),
        )
        .output()
        .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{text}");
    assert!(output.status.success(), "{text}");
    assert!(text.contains("1 passed"), "the attacks did not run: {text}");
    assert!(text.contains("ALLOWED READ OK"), "{text}");
    assert!(text.contains("ALLOWED LIBRARY LOADED"), "{text}");
    assert!(
        text.contains("landlock_full: true") && text.contains("seccomp: true"),
        "{text}"
    );
    assert!(text.contains("\n0 escapes of "), "{text}");
    assert!(!text.contains(SECRET), "a secret leaked: {text}");
    assert!(
        tcp.accept().is_err(),
        "the confined process reached the parent's listener"
    );
    assert!(!root.join("outside/planted.txt").exists());
    assert!(!root.join("models/link.txt").exists());
}
