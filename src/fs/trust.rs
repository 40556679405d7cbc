//! Whether a directory or file can be trusted with what nomadctx keeps there: yours, not
//! writable by anyone else, and not reached through a directory or symlink that another
//! user controls (the rules OpenSSH's StrictModes applies to ~/.ssh).

use std::fs::{self, Metadata};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::platform;

/// The sticky bit: in a directory with it (as /tmp), only an entry's owner may rename or
/// remove the entry, so others writing there cannot swap what is ours.
const STICKY: u32 = 0o1000;

/// Group and others may write.
pub const SHARED_WRITE: u32 = 0o022;
/// Group and others may do anything at all.
pub const ANY_ACCESS: u32 = 0o077;

/// A directory nomadctx keeps its config, certificates or key files in: `what` names it in
/// messages, `forbidden` are the mode bits it must not have, and `at_stake` says what
/// another user could do otherwise (it ends the first sentence of the error).
#[derive(Debug, Clone, Copy)]
pub struct Private {
    pub what: &'static str,
    pub forbidden: u32,
    pub at_stake: &'static str,
    /// What to do about a directory or file of another user's there.
    pub not_yours: &'static str,
}

/// What to do about a config directory or file of another user's.
pub const MOVE_IT_AWAY: &str = "move it away, or check who put it there";

impl Private {
    /// Refuses `dir` unless it is a directory of yours without the forbidden mode bits, and
    /// every directory above it (symlinks resolved) belongs to you or root and is writable
    /// by nobody else (or is sticky, as /tmp is). `dir` itself may be a symlink of yours, as
    /// dotfile managers make them.
    pub fn check_dir(&self, dir: &Path) -> Result<()> {
        let link = fs::symlink_metadata(dir)
            .with_context(|| format!("could not inspect {} {}", self.what, dir.display()))?;
        if link.file_type().is_symlink() {
            self.check_owner(dir, &link)?;
        }
        let meta = fs::metadata(dir)
            .with_context(|| format!("could not inspect {} {}", self.what, dir.display()))?;
        self.check_directory(dir, &meta)?;
        check_ancestors(dir)
    }

    /// As [`Private::check_dir`] for a directory whose ancestors a check has just walked
    /// (`certs/` in the config directory, XDG_RUNTIME_DIR above `nomadctx/`): the directory
    /// itself only, so that a command walks each path once.
    pub fn check_dir_itself(&self, dir: &Path) -> Result<()> {
        let meta = fs::metadata(dir)
            .with_context(|| format!("could not inspect {} {}", self.what, dir.display()))?;
        self.check_directory(dir, &meta)
    }

    fn check_directory(&self, dir: &Path, meta: &Metadata) -> Result<()> {
        if !meta.is_dir() {
            bail!(
                "{} {} is not a directory; move it away and try again",
                self.what,
                dir.display()
            );
        }
        self.check_owner(dir, meta)?;
        self.check_mode(dir, meta)
    }

    /// Refuses an opened file that is not a regular file of yours without the forbidden
    /// mode bits. Checking the opened file (not the path) leaves no window to swap it.
    pub fn check_file(&self, path: &Path, file: &fs::File) -> Result<()> {
        let meta = file
            .metadata()
            .with_context(|| format!("could not inspect {} {}", self.what, path.display()))?;
        self.check_regular(path, &meta)
    }

    /// As [`Private::check_file`] for a file by its path, which must not be a symlink: a
    /// file in a checked directory (nobody else can swap it there).
    pub fn check_file_at(&self, path: &Path) -> Result<()> {
        let meta = match fs::symlink_metadata(path) {
            Ok(meta) => meta,
            // A missing file is the reader's to report, with what to do about it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("could not inspect {} {}", self.what, path.display())
                });
            }
        };
        self.check_regular(path, &meta)
    }

    /// As [`Private::check_dir`] for a directory nomadctx is about to create: the nearest
    /// one that exists above it must pass the checks for the directories above.
    pub fn check_dir_or_parent(&self, dir: &Path) -> Result<()> {
        if fs::symlink_metadata(dir).is_ok() {
            return self.check_dir(dir);
        }
        let Some(existing) = dir.ancestors().skip(1).find(|a| a.exists()) else {
            return Ok(());
        };
        check_above(existing)?;
        check_ancestors(existing)
    }

    fn check_regular(&self, path: &Path, meta: &Metadata) -> Result<()> {
        if !meta.is_file() {
            let kind = if meta.is_dir() {
                Some("a directory")
            } else {
                platform::special_kind(meta.file_type())
            };
            bail!(
                "{} {} is {}not a regular file; {}",
                self.what,
                path.display(),
                kind.map(|k| format!("{k}, ")).unwrap_or_default(),
                self.not_yours
            );
        }
        self.check_owner(path, meta)?;
        self.check_mode(path, meta)
    }

    fn check_owner(&self, path: &Path, meta: &Metadata) -> Result<()> {
        let (Some(owner), Some(uid)) = (platform::owner(meta), platform::user_id()) else {
            return Ok(());
        };
        if owner != uid {
            bail!(
                "{} {} belongs to user id {owner}, not to you ({uid}), so {}; {}",
                self.what,
                path.display(),
                self.at_stake,
                self.not_yours
            );
        }
        Ok(())
    }

    fn check_mode(&self, path: &Path, meta: &Metadata) -> Result<()> {
        let Some(mode) = platform::mode(meta) else {
            return Ok(());
        };
        if mode & self.forbidden != 0 {
            bail!(
                "{} {} has mode {:03o}, open to other users, so {}; run `chmod {:03o} {}`",
                self.what,
                path.display(),
                mode & 0o777,
                self.at_stake,
                mode & 0o777 & !self.forbidden,
                shell_word(path)
            );
        }
        Ok(())
    }
}

/// Every directory above `path` (which exists), after following symlinks, and every
/// symlink on the way to it: yours or root's, and not writable by others unless sticky.
fn check_ancestors(path: &Path) -> Result<()> {
    // Without Unix owners (Windows) there is nothing to judge the walk by.
    let Some(uid) = platform::user_id() else {
        return Ok(());
    };
    // A symlink on the path as given is as good as the user who owns it: another user's
    // link could be pointed somewhere else at any time.
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    for prefix in absolute.ancestors().skip(1) {
        if let Ok(meta) = fs::symlink_metadata(prefix)
            && meta.file_type().is_symlink()
        {
            check_above_meta(prefix, &meta, Unmapped::Trusted)?;
        }
    }
    let real = real_path(path)?;
    let above = real
        .ancestors()
        .skip(1)
        .map(|dir| {
            fs::metadata(dir)
                .map(|meta| (dir, meta))
                .with_context(|| format!("could not inspect {}", dir.display()))
        })
        .collect::<Result<Vec<_>>>()?;
    // In a user namespace every other user shows as the overflow id: such a directory is
    // taken for root's only above the topmost one of yours (your home), never below it.
    let topmost_own = above
        .iter()
        .rposition(|(_, meta)| platform::owner(meta) == Some(uid));
    above.iter().enumerate().try_for_each(|(i, (dir, meta))| {
        let unmapped = if topmost_own.is_some_and(|own| i > own) {
            Unmapped::Trusted
        } else {
            Unmapped::Refused
        };
        check_above_meta(dir, meta, unmapped)
    })
}

/// Whether a directory owned by an id this user namespace does not map may pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unmapped {
    Trusted,
    Refused,
}

fn real_path(path: &Path) -> Result<PathBuf> {
    fs::canonicalize(path).with_context(|| format!("could not resolve {}", path.display()))
}

fn check_above(dir: &Path) -> Result<()> {
    let meta = fs::metadata(dir).with_context(|| format!("could not inspect {}", dir.display()))?;
    check_above_meta(dir, &meta, Unmapped::Trusted)
}

/// A directory (or symlink) above nomadctx's own: yours or root's, and writable by nobody
/// else unless sticky.
fn check_above_meta(path: &Path, meta: &Metadata, unmapped: Unmapped) -> Result<()> {
    let (Some(uid), Some(owner), Some(mode)) = (
        platform::user_id(),
        platform::owner(meta),
        platform::mode(meta),
    ) else {
        return Ok(());
    };
    if owner != uid && owner != 0 && !(unmapped == Unmapped::Trusted && is_unmapped(owner)) {
        bail!(
            "{} belongs to user id {owner}, who could swap what nomadctx keeps below it for their own; keep nomadctx's directories on a path of yours",
            path.display(),
        );
    }
    if meta.is_dir() && mode & SHARED_WRITE != 0 && mode & STICKY == 0 {
        bail!(
            "{} has mode {:03o}: other users may rename what is in it and swap nomadctx's files for their own; run `chmod go-w {}`",
            path.display(),
            mode & 0o777,
            shell_word(path)
        );
    }
    Ok(())
}

/// Inside a user namespace (`unshare --user`, rootless containers) the owner of a directory
/// outside it, root included, shows as the overflow id (65534). Its true owner cannot be
/// told, so such directories are judged by their mode alone.
fn is_unmapped(owner: u32) -> bool {
    const OVERFLOW_UID: u32 = 65534;
    owner == OVERFLOW_UID
        && fs::read_to_string("/proc/self/uid_map")
            .is_ok_and(|map| map.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
}

/// A path as it can be pasted into a shell: single-quoted when it holds anything but
/// the characters paths usually have.
fn shell_word(path: &Path) -> String {
    let text = path.display().to_string();
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+@%:,".contains(&b))
    {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const CONFIG: Private = Private {
        what: "config directory",
        forbidden: SHARED_WRITE,
        at_stake: "another user could replace your contexts",
        not_yours: MOVE_IT_AWAY,
    };

    fn chmod(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_directory_others_can_write_is_refused_with_the_chmod() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cfg");
        fs::create_dir(&dir).unwrap();
        chmod(&dir, 0o700);
        CONFIG.check_dir(&dir).unwrap();
        chmod(&dir, 0o775);
        let err = format!("{:#}", CONFIG.check_dir(&dir).unwrap_err());
        assert!(
            err.contains("mode 775") && err.contains("chmod 755"),
            "{err}"
        );
    }

    #[test]
    fn a_writable_directory_above_is_refused_unless_sticky() {
        let tmp = tempfile::tempdir().unwrap();
        let above = tmp.path().join("shared");
        let dir = above.join("cfg");
        fs::create_dir_all(&dir).unwrap();
        chmod(&dir, 0o700);
        chmod(&above, 0o777);
        let err = format!("{:#}", CONFIG.check_dir(&dir).unwrap_err());
        assert!(err.contains("chmod go-w"), "{err}");
        assert!(CONFIG.check_dir_or_parent(&dir.join("new")).is_err());
        chmod(&above, 0o1777);
        CONFIG.check_dir(&dir).unwrap();
        CONFIG.check_dir_or_parent(&dir.join("new")).unwrap();
    }

    #[test]
    fn a_symlink_of_yours_to_a_private_directory_is_fine() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        fs::create_dir(&real).unwrap();
        chmod(&real, 0o700);
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        CONFIG.check_dir(&link).unwrap();
        chmod(&real, 0o777);
        assert!(CONFIG.check_dir(&link).is_err());
    }

    #[test]
    fn another_users_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        // As root, a file given to nobody; otherwise root's own files are someone else's.
        let path = if nix::unistd::getuid().is_root() {
            let path = tmp.path().join("config.toml");
            fs::write(&path, "").unwrap();
            nix::unistd::chown(&path, Some(nix::unistd::Uid::from_raw(4242)), None).unwrap();
            path
        } else {
            PathBuf::from("/etc/passwd")
        };
        let file = fs::File::open(&path).unwrap();
        let err = format!("{:#}", CONFIG.check_file(&path, &file).unwrap_err());
        assert!(
            err.contains("belongs to user id") && err.contains("not to you"),
            "{err}"
        );
    }

    #[test]
    fn a_named_pipe_opened_without_blocking_is_refused_as_what_it_is() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("pipe");
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let file = platform::nonblocking(fs::OpenOptions::new().read(true))
            .open(&path)
            .unwrap();
        let err = format!("{:#}", CONFIG.check_file(&path, &file).unwrap_err());
        assert!(
            err.contains("is a named pipe, not a regular file; move it away"),
            "{err}"
        );
    }

    #[test]
    fn paths_in_hints_can_be_pasted() {
        assert_eq!(shell_word(Path::new("/home/a/.config")), "/home/a/.config");
        assert_eq!(shell_word(Path::new("/tmp/a b")), "'/tmp/a b'");
        assert_eq!(shell_word(Path::new("/tmp/it's")), r"'/tmp/it'\''s'");
    }
}
