//! Where the client key is materialised for Nomad (which wants a path), and how it is removed.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
#[cfg(not(target_os = "linux"))]
use std::sync::{Mutex, PoisonError};

use anyhow::{Context as _, Result, anyhow, bail};

use crate::fs::trust::{ANY_ACCESS, Private, SHARED_WRITE};
use crate::fs::{create_private_dir, remove_if_present};
use crate::platform;
use crate::secret::Secret;
use crate::settings::{self, RUNTIME_DIR_VAR};
use crate::shell::process::ShellProcess;

/// Per-shell key files: `key-PID-START-PIDNS-NAME-….pem`, after the shell that ran `use`.
const USE_KEY_PREFIX: &str = "key-";
/// Shared key files (`use --shared-key-file`) may be in use by other shells and directories,
/// so `use --unset` leaves them; they go at logout with the runtime directory.
const SHARED_KEY_PREFIX: &str = "shared-";

/// The private directory for key files: `NOMADCTX_RUNTIME_DIR`, else
/// `$XDG_RUNTIME_DIR/nomadctx` (tmpfs, emptied at logout), else (su, cron, containers) a
/// per-user directory in /dev/shm, which is memory too. Created 0700 and refused unless we
/// own it and nobody else can enter it or swap it. (On Linux `exec` needs none: its key is
/// in memory.)
#[cfg(not(target_os = "linux"))]
fn runtime_dir() -> Result<PathBuf> {
    let dir = RuntimeDir::find()?.path;
    create_private_dir(&dir)?;
    RUNTIME_DIR.check_dir(&dir)?;
    Ok(dir)
}

/// What another user could do with a runtime directory of theirs, or one open to them.
const KEYS_AT_STAKE: &str = "another user could read or swap your key files";
const RUNTIME_DIR: Private = Private {
    what: "the nomadctx runtime directory",
    forbidden: ANY_ACCESS,
    at_stake: KEYS_AT_STAKE,
    not_yours: "move it away, or set NOMADCTX_RUNTIME_DIR to a private directory",
};
const XDG_RUNTIME_DIR: Private = Private {
    what: "XDG_RUNTIME_DIR",
    forbidden: SHARED_WRITE,
    at_stake: KEYS_AT_STAKE,
    // su and `sudo -E` keep the previous user's.
    not_yours: "unset XDG_RUNTIME_DIR (su and `sudo -E` keep another user's), or set NOMADCTX_RUNTIME_DIR to a private directory",
};

/// Where key files go, found without creating anything or saying anything.
#[derive(Debug)]
struct RuntimeDir {
    path: PathBuf,
    /// Nothing memory-backed was left to fall back to: key files would be on a disk.
    on_disk: bool,
}

impl RuntimeDir {
    /// Key paths go into NOMAD_CLIENT_KEY and must not depend on the directory a command
    /// runs in, so relative paths are refused (the XDG spec says to ignore a relative
    /// XDG_RUNTIME_DIR).
    fn find() -> Result<Self> {
        let at = |path: PathBuf| {
            Ok(Self {
                path,
                on_disk: false,
            })
        };
        if let Some(dir) = settings::non_empty(RUNTIME_DIR_VAR) {
            let dir = PathBuf::from(dir);
            if !dir.is_absolute() {
                bail!(
                    "{RUNTIME_DIR_VAR} {} is not an absolute path, so key files would land wherever a command runs (a git checkout, say); set it to a full path such as $XDG_RUNTIME_DIR/nomadctx",
                    dir.display()
                );
            }
            return at(dir);
        }
        if let Some(xdg) = settings::non_empty("XDG_RUNTIME_DIR").map(PathBuf::from)
            && xdg.is_absolute()
        {
            if fs::symlink_metadata(&xdg).is_err() {
                bail!(
                    "XDG_RUNTIME_DIR {} does not exist (su and containers keep the variable of another session); unset it, start a login session of your own (`su -`, ssh), or set NOMADCTX_RUNTIME_DIR to a private directory on a tmpfs",
                    xdg.display()
                );
            }
            // Its ancestors are walked with those of nomadctx/ in it.
            XDG_RUNTIME_DIR.check_dir_itself(&xdg)?;
            return at(xdg.join("nomadctx"));
        }
        let user_dir = |parent: &Path| match platform::user_id() {
            Some(uid) => parent.join(format!("nomadctx-{uid}")),
            // Windows: %TEMP% is the user's own.
            None => parent.join("nomadctx"),
        };
        if is_memory_backed(Path::new(SHM)) {
            return at(user_dir(Path::new(SHM)));
        }
        // A relative TMPDIR would put key paths at the mercy of the current directory too.
        let tmp = Some(std::env::temp_dir())
            .filter(|t| t.is_absolute())
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        Ok(Self {
            path: user_dir(&tmp),
            on_disk: cfg!(target_os = "linux") && !is_memory_backed(&tmp),
        })
    }
}

/// Memory that Linux systems mount, writable by all and sticky, as /tmp is.
const SHM: &str = "/dev/shm";

/// Whether files in `dir` stay in memory (tmpfs or ramfs), never on a disk.
#[cfg(target_os = "linux")]
fn is_memory_backed(dir: &Path) -> bool {
    use nix::sys::statfs::{FsType, TMPFS_MAGIC, statfs};
    /// ramfs, from linux/magic.h (nix names tmpfs only).
    const RAMFS_MAGIC: FsType = FsType(0x8584_58f6);
    statfs(dir)
        .is_ok_and(|fs| fs.filesystem_type() == TMPFS_MAGIC || fs.filesystem_type() == RAMFS_MAGIC)
}

/// Elsewhere it cannot be told (and there is no /dev/shm): the system temp dir it is.
#[cfg(not(target_os = "linux"))]
fn is_memory_backed(_: &Path) -> bool {
    false
}

/// Said when a key file is written where it outlives a reboot.
fn warn_on_disk(dir: &Path) {
    crate::text::warn(&format!(
        "XDG_RUNTIME_DIR is not set (or not an absolute path) and /dev/shm is not memory, so key files go to {} on disk; set NOMADCTX_RUNTIME_DIR to a directory on a tmpfs",
        dir.display()
    ));
}

/// The key files `use` keeps in the runtime directory, seen from the shell that runs it.
#[derive(Debug)]
pub struct UseKeys {
    dir: PathBuf,
    on_disk: bool,
    shell: ShellProcess,
}

impl UseKeys {
    /// The runtime directory (created and checked) and the shell that called `use`.
    pub fn create() -> Result<Self> {
        Self::open(RuntimeDir::find()?)
    }

    /// As [`UseKeys::create`], but None when the runtime directory does not exist: there is
    /// no key file to remove then, and nothing to create.
    pub fn existing() -> Result<Option<Self>> {
        let found = RuntimeDir::find()?;
        if fs::symlink_metadata(&found.path).is_err() {
            return Ok(None);
        }
        Self::open(found).map(Some)
    }

    fn warn_if_on_disk(&self) {
        if self.on_disk {
            warn_on_disk(&self.dir);
        }
    }

    fn open(found: RuntimeDir) -> Result<Self> {
        create_private_dir(&found.path)?;
        RUNTIME_DIR.check_dir(&found.path)?;
        Ok(Self {
            dir: found.path,
            on_disk: found.on_disk,
            shell: ShellProcess::calling(),
        })
    }

    /// Writes the key for this shell: a new 0600 file per call, so that shells using the
    /// same context never remove each other's file, named after the shell so that only its
    /// own next `use` removes it and a later `use` can tell when the shell has gone.
    pub fn write(&self, name: &str, pem: &Secret) -> Result<PathBuf> {
        let shell = &self.shell;
        let stem = format!(
            "{USE_KEY_PREFIX}{}-{}-{}-{name}",
            shell.pid, shell.start, shell.pid_ns
        );
        self.warn_if_on_disk();
        write_private_file(&self.dir, &stem, pem)
    }

    /// Writes the key for `use --shared-key-file`: one file per context, replaced
    /// atomically, so that direnv re-running an .envrc leaves one file behind, not one per
    /// `cd`.
    pub fn write_shared(&self, name: &str, pem: &Secret) -> Result<PathBuf> {
        self.warn_if_on_disk();
        let fresh = write_private_file(&self.dir, &format!("{SHARED_KEY_PREFIX}{name}-new"), pem)?;
        let path = self.dir.join(format!("{SHARED_KEY_PREFIX}{name}.pem"));
        fs::rename(&fresh, &path).map_err(|e| {
            let _ = fs::remove_file(&fresh);
            anyhow!(
                "could not put the key file in place at {}: {e}",
                path.display()
            )
        })?;
        Ok(path)
    }

    /// Removes the key files this shell's earlier `use` runs wrote (all but `keep`, the one
    /// just written), and those of shells that have exited, which had no `use --unset` to
    /// remove them (the rest go at logout with the runtime directory). An earlier file of
    /// this shell is in use by nobody: its `use` printed another since, or was killed before
    /// printing. A child shell or direnv that inherited this shell's variables writes files
    /// of its own, so a parent's file stays while the parent runs. Shared files stay, and
    /// so do files that count pids in another namespace (a container sharing the
    /// directory). One read of the directory, one look-up per shell.
    pub fn sweep(&self, keep: Option<&Path>) -> Result<()> {
        let entries = fs::read_dir(&self.dir)
            .with_context(|| format!("could not list {}", self.dir.display()))?;
        let mut looked_up: Vec<(ShellProcess, bool)> = Vec::new();
        let in_use = std::cell::OnceCell::new();
        for entry in entries {
            let entry = entry.with_context(|| format!("could not list {}", self.dir.display()))?;
            let Some(owner) = entry.file_name().to_str().and_then(key_file_shell) else {
                continue;
            };
            let path = entry.path();
            if owner == self.shell {
                if keep != Some(path.as_path()) {
                    remove_if_present(&path)?;
                }
                continue;
            }
            if owner.pid_ns != self.shell.pid_ns {
                continue;
            }
            let exited = match looked_up.iter().find(|(shell, _)| *shell == owner) {
                Some(&(_, exited)) => exited,
                None => {
                    let exited = owner.has_exited();
                    looked_up.push((owner, exited));
                    exited
                }
            };
            if exited && !in_use.get_or_init(keys_in_use).contains(&path) {
                remove_if_present(&path)?;
            }
        }
        Ok(())
    }
}

/// The key files that running processes of this user still name in NOMAD_CLIENT_KEY. The
/// shell a file is named after is nearly always the one that uses it, but not always: a
/// pipe inside the command substitution (`$(nomadctx use prod | cat)`) makes it a subshell
/// that exits at once, and a tmux server or an editor may hold a shell's variables after
/// the shell has gone. Read only when a file of an exited shell is about to go.
#[cfg(target_os = "linux")]
fn keys_in_use() -> std::collections::HashSet<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    use zeroize::Zeroizing;
    const VAR: &[u8] = b"NOMAD_CLIENT_KEY=";
    let Ok(procs) = fs::read_dir("/proc") else {
        return Default::default();
    };
    procs
        .flatten()
        .filter(|p| p.file_name().as_bytes().iter().all(u8::is_ascii_digit))
        // Other shells' environments hold their tokens too: wiped once looked through.
        .filter_map(|p| fs::read(p.path().join("environ")).ok().map(Zeroizing::new))
        .flat_map(|environ| {
            environ
                .split(|b| *b == 0)
                .filter_map(|var| var.strip_prefix(VAR))
                .map(|value| PathBuf::from(std::ffi::OsStr::from_bytes(value)))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Elsewhere a process's environment cannot be read: the shell's exit is taken as final.
#[cfg(not(target_os = "linux"))]
fn keys_in_use() -> std::collections::HashSet<PathBuf> {
    Default::default()
}

/// The shell a per-shell key file was written for, from its name
/// (`key-PID-START-PIDNS-NAME-….pem`); None for any other file.
fn key_file_shell(file_name: &str) -> Option<ShellProcess> {
    fn number<T: std::str::FromStr>(field: Option<&str>) -> Option<T> {
        field
            .filter(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))?
            .parse()
            .ok()
    }
    let mut fields = file_name.strip_prefix(USE_KEY_PREFIX)?.splitn(4, '-');
    let shell = ShellProcess {
        pid: number(fields.next()).filter(|pid| *pid != 0)?,
        start: number(fields.next())?,
        pid_ns: number(fields.next())?,
    };
    fields.next()?.ends_with(".pem").then_some(shell)
}

fn write_private_file(dir: &Path, stem: &str, secret: &Secret) -> Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    for attempt in 0..100u32 {
        let path = dir.join(format!(
            "{stem}-{}-{nanos:09}-{attempt}.pem",
            std::process::id()
        ));
        let file =
            platform::private_file(fs::OpenOptions::new().write(true).create_new(true)).open(&path);
        match file {
            // No fsync: the file lives in memory (the runtime dir) or, where only a disk is
            // left, is better never written back at all than forced onto it; readers see
            // the bytes either way (it cost 0.7 ms of `use` on a disk).
            Ok(mut file) => {
                if let Err(e) = file.write_all(secret.expose()) {
                    let _ = fs::remove_file(&path);
                    return Err(e)
                        .with_context(|| format!("could not write key file {}", path.display()));
                }
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("could not create key file {}", path.display()));
            }
        }
    }
    Err(anyhow!(
        "could not find a free key file name in {}",
        dir.display()
    ))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_per_shell_key_file_names_its_shell() {
        let shell = ShellProcess {
            pid: 4242,
            start: 987_654,
            pid_ns: 4_026_531_836,
        };
        assert_eq!(
            key_file_shell("key-4242-987654-4026531836-my-prod.v2-77-000000012-0.pem"),
            Some(shell)
        );
        for other in [
            "shared-prod.pem",
            "shared-prod-new-77-000000012-0.pem",
            "exec-key-77-000000012-0.pem",
            // Written by versions before key files named their shell.
            "key-prod-77-000000012-0.pem",
            "key-0-987654-4026531836-prod-77-000000012-0.pem",
            "key-4242-987654-4026531836-prod-77-000000012-0.pem.tmp",
            "key-+4242-987654-4026531836-prod-77-000000012-0.pem",
            "key-4242-987654-.pem",
        ] {
            assert_eq!(key_file_shell(other), None, "{other}");
        }
    }
}
