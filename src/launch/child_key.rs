//! The key `exec` hands its command: a sealed memfd on Linux, elsewhere a 0600 file in the
//! runtime directory removed on every exit path.

use std::fs;
#[cfg(target_os = "linux")]
use std::io::Write;
#[cfg(not(target_os = "linux"))]
use std::path::{Path, PathBuf};
#[cfg(not(target_os = "linux"))]
use std::sync::{Mutex, PoisonError};

#[cfg(target_os = "linux")]
use anyhow::Context as _;
use anyhow::Result;

#[cfg(not(target_os = "linux"))]
use super::runtime::{runtime_dir, write_private_file};
#[cfg(not(target_os = "linux"))]
use crate::platform;
use crate::secret::Secret;

/// The key handed to a command run by `exec`, readable by the command and by any process
/// it starts for as long as nomadctx waits for it.
#[derive(Debug)]
pub struct ChildKey {
    path: String,
    #[cfg(target_os = "linux")]
    _memfd: fs::File,
    #[cfg(not(target_os = "linux"))]
    file: PathBuf,
}

impl ChildKey {
    /// On Linux the key lives in a sealed memfd that never touches a disk. Children that do
    /// not inherit descriptors (Terraform plugins, Python's subprocess) still reach it through
    /// `/proc/<nomadctx pid>/fd/N`, which stays valid while nomadctx is alive as their parent.
    #[cfg(target_os = "linux")]
    pub fn new(pem: &Secret) -> Result<Self> {
        use nix::fcntl::{FcntlArg, SealFlag, fcntl};
        use nix::sys::memfd::{MFdFlags, memfd_create};
        use std::os::fd::AsRawFd;

        let fd = memfd_create(
            c"nomadctx-client-key",
            MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
        )
        .context("could not create an in-memory file for the client key")?;
        let mut file = fs::File::from(fd);
        file.write_all(pem.expose())
            .context("could not write the client key to memory")?;
        let seals = SealFlag::F_SEAL_WRITE
            | SealFlag::F_SEAL_GROW
            | SealFlag::F_SEAL_SHRINK
            | SealFlag::F_SEAL_SEAL;
        fcntl(&file, FcntlArg::F_ADD_SEALS(seals))
            .context("could not seal the in-memory client key")?;
        let path = format!("/proc/{}/fd/{}", std::process::id(), file.as_raw_fd());
        Ok(Self { path, _memfd: file })
    }

    /// Elsewhere: a 0600 file in the private runtime directory (on macOS in the per-user
    /// `$TMPDIR`, on Windows in `%TEMP%`), removed on drop and, should nomadctx die of a
    /// signal before that, by the signal's handler. Files of an `exec` killed outright
    /// (SIGKILL, `taskkill /F`) are removed by the next one.
    #[cfg(not(target_os = "linux"))]
    pub fn new(pem: &Secret) -> Result<Self> {
        let dir = runtime_dir()?;
        sweep_exec_keys(&dir);
        let mut live = LIVE_KEY_FILES
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let file = write_private_file(&dir, EXEC_KEY_STEM, pem)?;
        live.push(file.clone());
        Ok(Self {
            path: file.display().to_string(),
            file,
        })
    }

    pub fn path(&self) -> &str {
        &self.path
    }
}

#[cfg(not(target_os = "linux"))]
impl Drop for ChildKey {
    fn drop(&mut self) {
        let mut live = LIVE_KEY_FILES
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let _ = fs::remove_file(&self.file);
        live.retain(|f| *f != self.file);
    }
}

/// `exec`'s key files: `exec-key-PID-….pem` ([`write_private_file`] adds the PID of the
/// nomadctx that wrote them).
#[cfg(not(target_os = "linux"))]
const EXEC_KEY_STEM: &str = "exec-key";

/// The key files of this process's `exec`, for a signal handler to remove before nomadctx
/// dies of the signal. The lock is held while a file is created, so a signal either finds
/// it listed or comes before it exists.
#[cfg(not(target_os = "linux"))]
static LIVE_KEY_FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Removes the key files this process handed to commands: nomadctx is about to end of a
/// signal, before their commands ran or with none running. (On Linux there are none: the
/// key is in memory.)
#[cfg(not(target_os = "linux"))]
pub fn remove_child_key_files() {
    let live = LIVE_KEY_FILES
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    for file in live.iter() {
        let _ = fs::remove_file(file);
    }
}

/// Removes the key files of `exec` runs that have ended without removing them (killed
/// outright). Best effort: a file that stays is swept by a later run.
#[cfg(not(target_os = "linux"))]
fn sweep_exec_keys(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.strip_prefix(EXEC_KEY_STEM)?.strip_prefix('-'))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = pid
            && pid != std::process::id()
            && pid != 0
            && platform::has_exited(pid)
        {
            let _ = fs::remove_file(entry.path());
        }
    }
}
