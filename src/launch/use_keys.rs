//! The key files `use` keeps in the runtime directory: one per shell, named after it, swept
//! when that shell has gone.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow};

use super::runtime::{RUNTIME_DIR, RuntimeDir, warn_on_disk, write_private_file};
use crate::fs::{create_private_dir, remove_if_present};
use crate::secret::Secret;
use crate::shell::process::ShellProcess;

/// Per-shell key files: `key-PID-START-PIDNS-NAME-….pem`, after the shell that ran `use`.
const USE_KEY_PREFIX: &str = "key-";
/// Shared key files (`use --shared-key-file`) may be in use by other shells and directories,
/// so `use --unset` leaves them; they go at logout with the runtime directory.
const SHARED_KEY_PREFIX: &str = "shared-";

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
