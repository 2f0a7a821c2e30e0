//! Which program a model process runs. LocalGPT's own executable carries the model host (the
//! program with llama.cpp in it, `localgpt-model-host`) as bytes, so the one binary a user
//! installs stays the only file, while everything else LocalGPT does — `--version`, the CLI, the
//! idle daemon — starts without llama.cpp's code, its C++ runtime and its static initialisers.
//! The bytes are deflate-compressed (7.1 MB of model host take 3.1 MB of the executable). A start
//! inflates them into an anonymous, sealed memory file (Linux `memfd_create`) and runs that (a
//! start while another model process runs reuses its memory file): nothing is written to disk, and an upgrade of the binary on disk never meets a running
//! daemon's older protocol.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use crate::error::InferenceError;

/// The executable a model process runs.
#[derive(Clone, PartialEq, Eq)]
pub enum Program {
    /// A file on disk.
    File(PathBuf),
    /// An executable image in memory, run from a memory file written for each start.
    Image {
        /// The name the memory file gets (shown in `/proc/PID/exe`).
        name: &'static str,
        /// The executable's bytes, compressed as a raw deflate stream.
        deflated: &'static [u8],
    },
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Image { name, deflated } => f
                .debug_struct("Image")
                .field("name", name)
                .field("deflated_bytes", &deflated.len())
                .finish(),
        }
    }
}

impl std::fmt::Display for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Image { name, .. } => write!(f, "{name} (built in)"),
        }
    }
}

/// How to start a model process: a program that runs [`super::serve_stdio`], its arguments, and
/// environment variables it gets besides the few passed on from LocalGPT's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessCommand {
    /// The executable.
    pub program: Program,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Variables set for it.
    pub envs: Vec<(OsString, OsString)>,
    /// How long loading the model may take before the process is ended as hung.
    pub load_timeout: Duration,
}

/// How long a model process may take to load its model: a large model read from a slow disk
/// takes minutes; a process silent for longer is taken as hung and ended.
pub const DEFAULT_LOAD_TIMEOUT: Duration = Duration::from_secs(300);

impl ProcessCommand {
    /// The executable file `program` with `args`.
    pub fn file(program: impl Into<PathBuf>, args: &[&str]) -> Self {
        Self {
            program: Program::File(program.into()),
            args: args.iter().map(OsString::from).collect(),
            envs: Vec::new(),
            load_timeout: DEFAULT_LOAD_TIMEOUT,
        }
    }

    /// The executable image `deflated` (a raw deflate stream), named `name`.
    pub fn image(name: &'static str, deflated: &'static [u8]) -> Self {
        Self {
            program: Program::Image { name, deflated },
            args: Vec::new(),
            envs: Vec::new(),
            load_timeout: DEFAULT_LOAD_TIMEOUT,
        }
    }

    /// Sets `name` to `value` in the process's environment.
    pub fn env(mut self, name: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((name.into(), value.into()));
        self
    }

    /// Sets how long loading may take (default [`DEFAULT_LOAD_TIMEOUT`]).
    pub fn load_timeout(mut self, timeout: Duration) -> Self {
        self.load_timeout = timeout;
        self
    }

    /// A [`Command`] for the program, and what must stay open while the process runs (an image
    /// written out: the next start reuses it while this one is kept).
    pub(crate) fn command(&self) -> Result<(Command, Option<Arc<Staged>>), InferenceError> {
        let (mut command, staged) = match &self.program {
            Program::File(path) => (Command::new(path), None),
            Program::Image { name, deflated } => {
                let staged = Staged::shared(name, deflated).map_err(|error| {
                    InferenceError::Process(format!("preparing {name} to run: {error}"))
                })?;
                let mut command = Command::new(staged.path());
                // What `ps` shows, instead of the memory file's descriptor path.
                #[cfg(unix)]
                std::os::unix::process::CommandExt::arg0(&mut command, name);
                (command, Some(staged))
            }
        };
        command.args(&self.args);
        Ok((command, staged))
    }
}

/// Images written out and still kept by a running model process, by the address of their
/// deflated bytes: the chat model's process then starts from the memory file the embedding
/// model's process already runs from (its pages are in memory for that process anyway), instead
/// of inflating the image again (about 50 ms).
static STAGED: Mutex<Vec<(usize, Weak<Staged>)>> = Mutex::new(Vec::new());

/// An executable image written out to run; it goes away once dropped (a started process keeps
/// its own reference).
pub(crate) struct Staged {
    #[cfg(target_os = "linux")]
    file: std::fs::File,
    #[cfg(all(unix, not(target_os = "linux")))]
    file: tempfile::TempPath,
}

impl Staged {
    /// The image `deflated` written out: the one a running process was started from, else a
    /// new one.
    fn shared(name: &str, deflated: &'static [u8]) -> std::io::Result<Arc<Self>> {
        let key = deflated.as_ptr() as usize;
        let mut staged = STAGED.lock().unwrap_or_else(PoisonError::into_inner);
        staged.retain(|(_, weak)| weak.strong_count() > 0);
        if let Some(kept) = staged
            .iter()
            .find(|(address, _)| *address == key)
            .and_then(|(_, weak)| weak.upgrade())
        {
            return Ok(kept);
        }
        let written = Arc::new(Self::write(
            name,
            flate2::read::DeflateDecoder::new(deflated),
        )?);
        staged.push((key, Arc::downgrade(&written)));
        Ok(written)
    }

    /// A sealed memory file with `image` in it: no one can change the program once written. It
    /// is closed on exec, so no other child of LocalGPT inherits it; the model process is started
    /// through `/proc/self/fd/N`, which the kernel opens before it closes that descriptor.
    #[cfg(target_os = "linux")]
    fn write(name: &str, mut image: impl std::io::Read) -> std::io::Result<Self> {
        use std::os::fd::FromRawFd;
        /// Linux 6.3+: the memory file is meant to be executed (older kernels refuse the flag).
        const MFD_EXEC: libc::c_uint = 0x10;
        let name = std::ffi::CString::new(name)?;
        let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
        // SAFETY: `name` is a valid C string; the returned descriptor is owned by the `File`.
        let mut fd = unsafe { libc::memfd_create(name.as_ptr(), flags | MFD_EXEC) };
        if fd < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
            // SAFETY: as above.
            fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
        }
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor owned by nothing else.
        let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
        std::io::copy(&mut image, &mut file)?;
        let seals =
            libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
        // SAFETY: a plain fcntl on the descriptor `file` owns.
        if unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, seals) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Self { file })
    }

    #[cfg(target_os = "linux")]
    fn path(&self) -> PathBuf {
        use std::os::fd::AsRawFd;
        PathBuf::from(format!("/proc/self/fd/{}", self.file.as_raw_fd()))
    }

    /// Other Unix systems: a private temporary file, removed once the process has started.
    #[cfg(all(unix, not(target_os = "linux")))]
    fn write(name: &str, mut image: impl std::io::Read) -> std::io::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let mut file = tempfile::Builder::new().prefix(name).tempfile()?;
        std::io::copy(&mut image, &mut file)?;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o700))?;
        Ok(Self {
            file: file.into_temp_path(),
        })
    }

    #[cfg(all(unix, not(target_os = "linux")))]
    fn path(&self) -> PathBuf {
        self.file.to_path_buf()
    }

    #[cfg(not(unix))]
    fn write(_name: &str, _image: impl std::io::Read) -> std::io::Result<Self> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "built-in model hosts run on Unix systems only",
        ))
    }

    #[cfg(not(unix))]
    fn path(&self) -> PathBuf {
        PathBuf::new()
    }
}
