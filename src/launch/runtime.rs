//! The private runtime directory where key files go (for `use`, and for `exec` off Linux):
//! which one, checked, and created; and how a key file is written there.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};

#[cfg(not(target_os = "linux"))]
use crate::fs::create_private_dir;
use crate::fs::trust::{ANY_ACCESS, Private, SHARED_WRITE};
use crate::platform;
use crate::secret::Secret;
use crate::settings::{self, RUNTIME_DIR_VAR};

/// The private directory for key files: `NOMADCTX_RUNTIME_DIR`, else
/// `$XDG_RUNTIME_DIR/nomadctx` (tmpfs, emptied at logout), else (su, cron, containers) a
/// per-user directory in /dev/shm, which is memory too. Created 0700 and refused unless we
/// own it and nobody else can enter it or swap it. (On Linux `exec` needs none: its key is
/// in memory.)
#[cfg(not(target_os = "linux"))]
pub(super) fn runtime_dir() -> Result<PathBuf> {
    let dir = RuntimeDir::find()?.path;
    create_private_dir(&dir)?;
    RUNTIME_DIR.check_dir(&dir)?;
    Ok(dir)
}

/// What another user could do with a runtime directory of theirs, or one open to them.
const KEYS_AT_STAKE: &str = "another user could read or swap your key files";
pub(super) const RUNTIME_DIR: Private = Private {
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
pub(super) struct RuntimeDir {
    pub(super) path: PathBuf,
    /// Nothing memory-backed was left to fall back to: key files would be on a disk.
    pub(super) on_disk: bool,
}

impl RuntimeDir {
    /// Key paths go into NOMAD_CLIENT_KEY and must not depend on the directory a command
    /// runs in, so relative paths are refused (the XDG spec says to ignore a relative
    /// XDG_RUNTIME_DIR).
    pub(super) fn find() -> Result<Self> {
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
            if fs::symlink_metadata(&xdg).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
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
pub(super) fn warn_on_disk(dir: &Path) {
    crate::text::warn(&format!(
        "XDG_RUNTIME_DIR is not set (or not an absolute path) and /dev/shm is not memory, so key files go to {} on disk; set NOMADCTX_RUNTIME_DIR to a directory on a tmpfs",
        dir.display()
    ));
}

pub(super) fn write_private_file(dir: &Path, stem: &str, secret: &Secret) -> Result<PathBuf> {
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
