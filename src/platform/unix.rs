//! Unix: modes and owners from the inode, `O_NOFOLLOW`, symlinks, processes, signal
//! dispositions and the controlling terminal.

use std::ffi::OsStr;
use std::fs::{DirBuilder, File, FileType, Metadata, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::unistd::getuid;

/// The user nomadctx runs as, which must own what it keeps.
pub fn user_id() -> Option<u32> {
    Some(getuid().as_raw())
}

/// The owner of a file or directory.
pub fn owner(meta: &Metadata) -> Option<u32> {
    Some(meta.uid())
}

/// The permission bits of a file or directory (with setuid, setgid and sticky).
pub fn mode(meta: &Metadata) -> Option<u32> {
    Some(meta.permissions().mode() & 0o7777)
}

/// Options that create a file only its owner can read (0600), and never follow a symlink
/// planted where it should be.
pub fn private_file(options: &mut OpenOptions) -> &mut OpenOptions {
    options.mode(0o600).custom_flags(OFlag::O_NOFOLLOW.bits())
}

/// As [`private_file`], and a named pipe planted there does not block the open.
pub fn private_file_nonblocking(options: &mut OpenOptions) -> &mut OpenOptions {
    options
        .mode(0o600)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
}

/// Options that open an existing file without following a symlink, and without blocking on
/// a named pipe there (nor, once the caller has refused what is not a regular file, on any
/// read: O_NONBLOCK changes nothing for those).
pub fn no_follow_nonblocking(options: &mut OpenOptions) -> &mut OpenOptions {
    options.custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
}

/// Options that open an existing file, symlinks followed, without blocking on a named pipe.
pub fn nonblocking(options: &mut OpenOptions) -> &mut OpenOptions {
    options.custom_flags(OFlag::O_NONBLOCK.bits())
}

/// Makes an open file readable by its owner only (older versions made some 0644).
pub fn make_private(file: &File) -> io::Result<()> {
    file.set_permissions(Permissions::from_mode(0o600))
}

/// Creates directories only their owner can enter (0700).
pub fn private_dir() -> DirBuilder {
    let mut builder = DirBuilder::new();
    builder.mode(0o700);
    builder
}

/// How many names the file has: removing one of several leaves the bytes on disk.
pub fn link_count(meta: &Metadata) -> Option<u64> {
    Some(meta.nlink())
}

/// What a file that is neither regular file, directory nor symlink is, for messages.
pub fn special_kind(kind: FileType) -> Option<&'static str> {
    if kind.is_block_device() || kind.is_char_device() {
        Some("a device")
    } else if kind.is_fifo() {
        Some("a named pipe")
    } else if kind.is_socket() {
        Some("a socket")
    } else {
        None
    }
}

/// Makes a rename in `dir` durable: fsync of the directory itself.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir).and_then(|d| d.sync_all())
}

/// Makes `link` a new symlink to `target`, a file name in the same directory.
pub fn link(target: &OsStr, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

/// Whether `link` (made by [`link`]) names `target`.
pub fn links_to(link: &Path, target: &OsStr) -> bool {
    std::fs::read_link(link).is_ok_and(|t| t.as_os_str() == target)
}

/// The process that started nomadctx.
pub fn parent_pid() -> u32 {
    std::os::unix::process::parent_id()
}

/// Whether process `pid` has gone (a pid of another user's still counts as running).
#[cfg(not(target_os = "linux"))]
pub fn has_exited(pid: u32) -> bool {
    use nix::{errno::Errno, sys::signal::kill, unistd::Pid};
    i32::try_from(pid).is_ok_and(|pid| kill(Pid::from_raw(pid), None) == Err(Errno::ESRCH))
}

/// Whether `signal` is ignored now (`nohup`, `trap '' HUP`: inherited from the parent).
#[allow(unsafe_code)] // Reading a disposition: std and nix offer no safe call.
pub fn is_ignored(signal: i32) -> bool {
    use nix::libc;
    let mut current = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: a null new action only reads the current one into `current`, which is
    // zero-initialised and as large as the C struct; nothing is changed.
    let read = unsafe { libc::sigaction(signal, std::ptr::null(), current.as_mut_ptr()) };
    // SAFETY: sigaction filled it (and it was zeroed before in any case).
    read == 0 && unsafe { current.assume_init() }.sa_sigaction == libc::SIG_IGN
}

/// The controlling terminal, for prompts that must reach a person even inside `$(...)`.
pub fn open_terminal() -> io::Result<File> {
    OpenOptions::new().read(true).write(true).open("/dev/tty")
}

/// Runs `read` with the terminal's echo and signal keys off (so that Ctrl-C reaches `read`
/// as a byte and the terminal is put back), reading a key at a time; `read` gets the
/// terminal's erase key. The terminal is restored afterwards, also on error.
pub fn keys_without_echo<T>(
    tty: &File,
    read: impl FnOnce(u8) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    use anyhow::Context as _;
    use nix::sys::termios::{LocalFlags, SetArg, SpecialCharacterIndices, tcgetattr, tcsetattr};
    let original = tcgetattr(tty).context("could not configure the terminal")?;
    let mut keys = original.clone();
    keys.local_flags
        .remove(LocalFlags::ECHO | LocalFlags::ICANON | LocalFlags::ISIG);
    keys.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
    keys.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
    tcsetattr(tty, SetArg::TCSAFLUSH, &keys).context("could not turn off echo")?;
    let read = read(original.control_chars[SpecialCharacterIndices::VERASE as usize]);
    let _ = tcsetattr(tty, SetArg::TCSANOW, &original);
    read
}

/// Standard input without std's buffer (which would keep a copy of what it read).
pub fn unbuffered_stdin() -> io::Result<File> {
    use std::os::fd::AsFd;
    io::stdin().as_fd().try_clone_to_owned().map(File::from)
}
