//! The network namespace of a command that may reach `allow_net` hosts. Between fork and exec
//! the child enters a new user and network namespace (its user and group mapped to themselves),
//! brings up loopback — the only interface there — opens the proxy's listener on
//! `127.0.0.1:3128` inside it and hands that listener to LocalGPT over a socket pair
//! (`SCM_RIGHTS`). LocalGPT serves the proxy from the listener; the command can reach nothing
//! else, since no other interface or route exists in its namespace.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::net::PROXY_PORT;

fn check(result: libc::c_int) -> io::Result<libc::c_int> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

/// The identity maps written for the new user namespace, prepared before fork.
#[derive(Debug, Clone)]
pub struct Maps {
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
}

impl Maps {
    /// Maps the current effective user and group to themselves.
    pub fn current() -> Self {
        // SAFETY: geteuid and getegid have no failure mode.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        Self {
            uid_map: format!("{uid} {uid} 1\n").into_bytes(),
            gid_map: format!("{gid} {gid} 1\n").into_bytes(),
        }
    }

    /// Enters a new user and network namespace with loopback up, and returns the proxy's
    /// listener in it. Only system calls on memory prepared beforehand: safe after fork.
    pub fn enter(&self) -> io::Result<OwnedFd> {
        // SAFETY: plain integers and pointers to memory owned by `self` or the stack.
        unsafe {
            check(libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET))?;
            write_file(c"/proc/self/setgroups", b"deny")?;
            write_file(c"/proc/self/gid_map", &self.gid_map)?;
            write_file(c"/proc/self/uid_map", &self.uid_map)?;
            loopback_up()?;
            let listener = OwnedFd::from_raw_fd(check(libc::socket(
                libc::AF_INET,
                libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
                0,
            ))?);
            let address = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: PROXY_PORT.to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
                },
                sin_zero: [0; 8],
            };
            check(libc::bind(
                listener.as_raw_fd(),
                (&address as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            ))?;
            check(libc::listen(listener.as_raw_fd(), 128))?;
            Ok(listener)
        }
    }
}

/// # Safety
/// Only system calls on `path` and `data`.
unsafe fn write_file(path: &CStr, data: &[u8]) -> io::Result<()> {
    // SAFETY: see above.
    unsafe {
        let fd = check(libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC))?;
        let written = libc::write(fd, data.as_ptr().cast(), data.len());
        let error = io::Error::last_os_error();
        libc::close(fd);
        if written != data.len() as isize {
            return Err(error);
        }
    }
    Ok(())
}

/// # Safety
/// Only system calls on stack memory.
unsafe fn loopback_up() -> io::Result<()> {
    // SAFETY: see above; `ifreq` is plain data for which all zeroes is valid.
    unsafe {
        let fd = OwnedFd::from_raw_fd(check(libc::socket(
            libc::AF_INET,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            0,
        ))?);
        let mut request: libc::ifreq = std::mem::zeroed();
        for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
            *slot = *byte as libc::c_char;
        }
        check(libc::ioctl(
            fd.as_raw_fd(),
            // The request's type is the C library's (glibc: unsigned long, musl: int).
            libc::SIOCGIFFLAGS as libc::Ioctl,
            &mut request,
        ))?;
        request.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        check(libc::ioctl(
            fd.as_raw_fd(),
            libc::SIOCSIFFLAGS as libc::Ioctl,
            &request,
        ))?;
    }
    Ok(())
}

/// Control-message space for one descriptor, aligned for `cmsghdr`.
#[repr(C, align(8))]
struct ControlBuffer([u8; 64]);

/// A connected pair of UNIX sockets (`SOCK_SEQPACKET`, close-on-exec): the parent's end, the
/// child's end.
pub fn socket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: socketpair writes two descriptors into `fds`.
    unsafe {
        check(libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        ))?;
        Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])))
    }
}

/// Sends `fd` over `socket`. Only system calls on stack memory: safe after fork.
pub fn send_fd(socket: RawFd, fd: RawFd) -> io::Result<()> {
    let mut byte = [b'L'];
    let mut control = ControlBuffer([0; 64]);
    // SAFETY: the message points at `byte` and `control`, both alive for the call; the
    // control buffer is large enough and aligned for one SCM_RIGHTS header and descriptor.
    unsafe {
        let mut iov = libc::iovec {
            iov_base: byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        let mut message: libc::msghdr = std::mem::zeroed();
        message.msg_iov = &mut iov;
        message.msg_iovlen = 1;
        message.msg_control = control.0.as_mut_ptr().cast();
        // Lengths are size_t in glibc's declarations and socklen_t in musl's.
        message.msg_controllen = libc::CMSG_SPACE(size_of::<RawFd>() as u32) as _;
        let header = libc::CMSG_FIRSTHDR(&message);
        if header.is_null() {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(header).cast::<RawFd>(), fd);
        if libc::sendmsg(socket, &message, libc::MSG_NOSIGNAL) != 1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Waits for the listener the child sends over `socket`; `None` when the socket is closed or
/// shut down first.
pub fn receive_listener(socket: &OwnedFd) -> io::Result<Option<OwnedFd>> {
    let mut byte = [0u8];
    let mut control = ControlBuffer([0; 64]);
    // SAFETY: as in `send_fd`; the kernel writes at most `msg_controllen` bytes of control data.
    unsafe {
        let mut iov = libc::iovec {
            iov_base: byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        let mut message: libc::msghdr = std::mem::zeroed();
        message.msg_iov = &mut iov;
        message.msg_iovlen = 1;
        message.msg_control = control.0.as_mut_ptr().cast();
        message.msg_controllen = control.0.len() as _;
        let received = loop {
            let received = libc::recvmsg(socket.as_raw_fd(), &mut message, libc::MSG_CMSG_CLOEXEC);
            if received < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            break received;
        };
        if received < 0 {
            return Err(io::Error::last_os_error());
        }
        if received == 0 {
            return Ok(None);
        }
        let mut header = libc::CMSG_FIRSTHDR(&message);
        let mut found = None;
        while !header.is_null() {
            if (*header).cmsg_level == libc::SOL_SOCKET && (*header).cmsg_type == libc::SCM_RIGHTS {
                let fd = std::ptr::read_unaligned(libc::CMSG_DATA(header).cast::<RawFd>());
                found = Some(OwnedFd::from_raw_fd(fd));
            }
            header = libc::CMSG_NXTHDR(&message, header);
        }
        Ok(found)
    }
}

/// What the child does for a command with `allow_net`: enter the namespace, send the listener
/// to the parent, keep no copy of it.
#[derive(Debug)]
pub struct NetnsChild {
    /// The identity maps.
    pub maps: Maps,
    /// The child's end of the socket pair.
    pub sender: OwnedFd,
}

impl NetnsChild {
    /// Runs in the child between fork and exec.
    pub fn enter(&self) -> io::Result<()> {
        let listener = self.maps.enter()?;
        send_fd(self.sender.as_raw_fd(), listener.as_raw_fd())
        // The listener and the sender are closed here and at exec (close-on-exec).
    }
}

/// Whether this machine lets LocalGPT make the namespace (user namespaces allowed, loopback
/// configurable): tried for real in a forked child, once per process.
pub fn available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(probe)
}

fn probe() -> bool {
    let maps = Maps::current();
    // SAFETY: the forked child only makes system calls on memory prepared before the fork and
    // leaves with `_exit`; the parent waits for exactly that child.
    unsafe {
        let pid = libc::fork();
        if pid == 0 {
            let code = if maps.enter().is_ok() { 0 } else { 1 };
            libc::_exit(code);
        }
        if pid < 0 {
            return false;
        }
        let mut status = 0;
        loop {
            if libc::waitpid(pid, &mut status, 0) == pid {
                break;
            }
            if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return false;
            }
        }
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
    }
}
