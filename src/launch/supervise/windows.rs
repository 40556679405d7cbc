//! Windows: `CreateProcess` through std, the console's Ctrl-C left to the command.

use std::ffi::{OsStr, OsString};
use std::io::ErrorKind;
use std::path::Path;
use std::process::Command;

use anyhow::Result;

use super::{KILLED_BY_SIGNAL, NOT_EXECUTABLE, NOT_FOUND};
use crate::platform;

/// What a process ended by Ctrl-C reports (STATUS_CONTROL_C_EXIT).
const CONTROL_C_EXIT: u32 = 0xC000_013A;

/// Runs commands one after another. While one runs, nomadctx survives the console's Ctrl-C
/// and Ctrl-Break, which reach the command too, to report how the command ended; a console
/// event that ends nomadctx removes the key file first (see [`platform::watch_console`]).
#[derive(Debug, Default)]
pub struct Supervisor {
    _private: (),
}

impl Supervisor {
    /// Until the next command starts, the console's events end nomadctx (after removing
    /// the key files), as if it had no command. Called before the key is written.
    pub fn idle(&self) -> Result<()> {
        platform::watch_console(crate::launch::child_key::remove_child_key_files);
        platform::set_command_running(false);
        Ok(())
    }

    /// Starts the command at `path` with `env` as its whole environment and waits for it.
    /// Returns its exit code; codes beyond 255 (NTSTATUS values) are 255, except Ctrl-C's,
    /// which is 130 as a shell reports SIGINT, so that `exec --all` stops there.
    pub fn run(
        &self,
        path: &Path,
        program: &OsStr,
        args: &[OsString],
        env: ChildEnv,
    ) -> Result<u8> {
        self.idle()?;
        platform::set_command_running(true);
        let status = Command::new(path)
            .args(args)
            .env_clear()
            .envs(env.0.iter().map(|(var, value)| (var, value)))
            .status();
        platform::set_command_running(false);
        drop(env);
        match status {
            Ok(status) => Ok(match status.code().map(|c| c as u32) {
                Some(CONTROL_C_EXIT) => KILLED_BY_SIGNAL + 2,
                Some(code) => u8::try_from(code).unwrap_or(u8::MAX),
                None => u8::MAX,
            }),
            Err(e) => {
                eprintln!("nomadctx: could not run {program:?}: {e}");
                Ok(if e.kind() == ErrorKind::PermissionDenied {
                    NOT_EXECUTABLE
                } else {
                    NOT_FOUND
                })
            }
        }
    }
}

/// The command's environment. std's `Command` copies it into the block `CreateProcess`
/// takes, which is not wiped; Windows offers nothing like Linux's memfd for the key either
/// (see runtime.rs), so this is no weaker than what surrounds it.
#[derive(Debug, Default)]
pub struct ChildEnv(Vec<(OsString, OsString)>);

impl ChildEnv {
    pub fn push(&mut self, var: &OsStr, value: &OsStr) -> Result<()> {
        self.0.push((var.to_owned(), value.to_owned()));
        Ok(())
    }
}
