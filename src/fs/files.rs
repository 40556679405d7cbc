//! Small file helpers: atomic replacement of files and links, private directories,
//! listing, and removal.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::Path;

use anyhow::{Context as _, Result, anyhow};

use crate::platform;

/// The names in `dir`, sorted; a missing directory has none.
pub fn list_dir(dir: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("could not read {}", dir.display())),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("could not read {}", dir.display()))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// Creates `dir` (and parents) with mode 0700 for the parts it creates.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    platform::private_dir()
        .recursive(true)
        .create(dir)
        .with_context(|| format!("could not create directory {}", dir.display()))
}

/// Temp file, fsync, rename, fsync of the directory: a reader or a crash sees the old file
/// or the new one, never a torn one. Creates the directory (0700) when missing.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| anyhow!("{} has no parent", path.display()))?;
    create_private_dir(dir)?;
    replace_file(path, bytes)
}

/// As [`write_atomic`], in a directory that must exist: the new file (0600) takes the
/// place of whatever directory entry `path` is, so callers check what they replace.
pub fn replace_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| anyhow!("{} has no parent", path.display()))?;
    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut file =
            platform::private_file(OpenOptions::new().write(true).create_new(true)).open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("could not write {}", path.display()));
    }
    // The new file is in place; a directory that cannot be synced does not undo that, and
    // callers must not act as if it had (a change would roll back what the config names).
    if let Err(e) = platform::sync_dir(dir) {
        crate::text::warn(&format!(
            "{} is written but {} could not be synced to disk: {e}",
            path.display(),
            dir.display()
        ));
    }
    Ok(())
}

/// Removes a file; one that is already gone is no error.
pub fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => {
            Err(e).with_context(|| format!("could not remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Makes `link` name `target` in one step (a new link renamed over the old one): a symlink
/// on Unix, a copy on Windows (see [`platform::link`]).
pub fn replace_link(target: &Path, link: &Path) -> Result<()> {
    let dir = link
        .parent()
        .ok_or_else(|| anyhow!("{} has no parent", link.display()))?;
    let file_name = link.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let made = platform::link(target.as_os_str(), &tmp).and_then(|()| fs::rename(&tmp, link));
    if let Err(e) = made {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("could not link {}", link.display()));
    }
    Ok(())
}
