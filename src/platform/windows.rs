//! Windows: no Unix modes or owners; private by where files live; copies for links; the
//! process table and the console's Ctrl-C through the Win32 API.
//!
//! nomadctx's directories are in the user's profile (`%APPDATA%`, `%LOCALAPPDATA%`,
//! `%TEMP%`), whose ACLs Windows sets to the user, SYSTEM and Administrators, and new files
//! inherit that ACL. There is no mode to check or set, so the Unix checks of owner and mode
//! pass here; reading or changing ACLs is not done.
#![allow(unsafe_code)] // The Win32 calls below; each says why it is sound.

use std::ffi::OsStr;
use std::fs::{DirBuilder, File, FileType, Metadata, OpenOptions};
use std::io;
use std::os::windows::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use windows_sys::Win32::Foundation::{CloseHandle, INVALID_HANDLE_VALUE};
use windows_sys::Win32::System::Console::{CTRL_BREAK_EVENT, CTRL_C_EVENT, SetConsoleCtrlHandler};
use windows_sys::Win32::System::Diagnostics::ToolHelp::{
    CreateToolhelp32Snapshot, PROCESSENTRY32W, Process32FirstW, Process32NextW, TH32CS_SNAPPROCESS,
};
use windows_sys::Win32::System::Threading::{
    GetExitCodeProcess, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
};
use windows_sys::core::BOOL;

/// Opens a symlink or junction itself instead of what it points to (winbase.h).
const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
/// What GetExitCodeProcess reports for a process still running.
const STILL_ACTIVE: u32 = 259;

pub fn user_id() -> Option<u32> {
    None
}

pub fn owner(_: &Metadata) -> Option<u32> {
    None
}

pub fn mode(_: &Metadata) -> Option<u32> {
    None
}

/// The file inherits the profile directory's ACL; a reparse point there is not followed.
pub fn private_file(options: &mut OpenOptions) -> &mut OpenOptions {
    options.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
}

pub fn private_file_nonblocking(options: &mut OpenOptions) -> &mut OpenOptions {
    private_file(options)
}

/// A file on Windows never blocks its opener the way a Unix named pipe does.
pub fn no_follow_nonblocking(options: &mut OpenOptions) -> &mut OpenOptions {
    options.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
}

pub fn nonblocking(options: &mut OpenOptions) -> &mut OpenOptions {
    options
}

pub fn make_private(_: &File) -> io::Result<()> {
    Ok(())
}

pub fn private_dir() -> DirBuilder {
    DirBuilder::new()
}

/// std does not expose NTFS hard link counts on stable Rust.
pub fn link_count(_: &Metadata) -> Option<u64> {
    None
}

pub fn special_kind(_: FileType) -> Option<&'static str> {
    None
}

/// NTFS journals the rename itself, and std cannot open a directory to flush it.
pub fn sync_dir(_: &Path) -> io::Result<()> {
    Ok(())
}

/// A copy of `target` (a file name in the same directory): symlinks need Developer Mode or
/// an administrator on Windows. The copy is made under a temporary name and renamed over
/// the old one by the caller, so readers see one version or the other.
pub fn link(target: &OsStr, link: &Path) -> io::Result<()> {
    let dir = link.parent().unwrap_or(Path::new("."));
    std::fs::copy(dir.join(target), link).map(drop)
}

/// Whether the copy at `link` holds what `target` holds.
pub fn links_to(link: &Path, target: &OsStr) -> bool {
    let dir = link.parent().unwrap_or(Path::new("."));
    match (std::fs::read(link), std::fs::read(dir.join(target))) {
        (Ok(copy), Ok(original)) => copy == original,
        _ => false,
    }
}

/// The process that started nomadctx, from a snapshot of the process table; 0 if it
/// cannot be read.
pub fn parent_pid() -> u32 {
    let me = std::process::id();
    // SAFETY: the snapshot handle is checked and closed once; PROCESSENTRY32W is plain data
    // whose dwSize is set before use, as Process32FirstW requires.
    unsafe {
        let snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
        if snapshot == INVALID_HANDLE_VALUE {
            return 0;
        }
        let mut entry: PROCESSENTRY32W = std::mem::zeroed();
        entry.dwSize = size_of::<PROCESSENTRY32W>() as u32;
        let mut parent = 0;
        let mut more = Process32FirstW(snapshot, &mut entry);
        while more != 0 {
            if entry.th32ProcessID == me {
                parent = entry.th32ParentProcessID;
                break;
            }
            more = Process32NextW(snapshot, &mut entry);
        }
        CloseHandle(snapshot);
        parent
    }
}

/// Whether process `pid` has gone. One that cannot be opened (another user's) counts as
/// running, so its files stay.
pub fn has_exited(pid: u32) -> bool {
    // SAFETY: the handle is checked and closed once; the exit code is written to a local.
    unsafe {
        let process = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
        if process.is_null() {
            // ERROR_INVALID_PARAMETER: no such process.
            return io::Error::last_os_error().raw_os_error() == Some(87);
        }
        let mut code = 0u32;
        let read = GetExitCodeProcess(process, &mut code);
        CloseHandle(process);
        read != 0 && code != STILL_ACTIVE
    }
}

/// Whether a command nomadctx started is running, for the console handler.
static COMMAND_RUNNING: AtomicBool = AtomicBool::new(false);
/// What to do before nomadctx ends of a console event (remove the command's key file).
static BEFORE_EXIT: OnceLock<fn()> = OnceLock::new();

/// Handles the console's events from now on. Ctrl-C and Ctrl-Break go to every process
/// attached to the console, the command included: while a command runs, nomadctx survives
/// them to report how the command ended (as `system(3)` does on Unix), and the command
/// keeps its own handling. Otherwise, and for closing the console, logging off or shutting
/// down, `before_exit` runs and nomadctx ends as by default.
pub fn watch_console(before_exit: fn()) {
    unsafe extern "system" fn handler(event: u32) -> BOOL {
        if (event == CTRL_C_EVENT || event == CTRL_BREAK_EVENT)
            && COMMAND_RUNNING.load(Ordering::SeqCst)
        {
            return 1;
        }
        if let Some(before_exit) = BEFORE_EXIT.get() {
            before_exit();
        }
        0
    }
    if BEFORE_EXIT.set(before_exit).is_ok() {
        // SAFETY: the handler is a plain function that reads two statics.
        unsafe {
            SetConsoleCtrlHandler(Some(handler), 1);
        }
    }
}

/// Tells the console handler whether a command is running.
pub fn set_command_running(running: bool) {
    COMMAND_RUNNING.store(running, Ordering::SeqCst);
}

/// Prompts on the console are not supported: the file store, which needs one, is for hosts
/// without a keychain, and Windows has Credential Manager.
pub fn open_terminal() -> io::Result<File> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "terminal prompts are not supported on Windows",
    ))
}

pub fn keys_without_echo<T>(
    _: &File,
    _: impl FnOnce(u8) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    Err(open_terminal().unwrap_err().into())
}

/// Standard input without std's buffer (which would keep a copy of what it read).
pub fn unbuffered_stdin() -> io::Result<File> {
    use std::os::windows::io::AsHandle;
    io::stdin().as_handle().try_clone_to_owned().map(File::from)
}
