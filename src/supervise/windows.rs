//! Windows: `CreateProcess` through std, the console's Ctrl-C left to the command.

use std::ffi::{OsStr, OsString};
use std::io::ErrorKind;
use std::path::Path;
use std::process::Command;
use std::sync::Once;

use anyhow::Result;

use super::{KILLED_BY_SIGNAL, NOT_EXECUTABLE, NOT_FOUND};
use crate::platform;

/// What a process ended by Ctrl-C reports (STATUS_CONTROL_C_EXIT).
const CONTROL_C_EXIT: u32 = 0xC000_013A;

/// Runs commands one after another. From the first, nomadctx survives the console's Ctrl-C
/// and Ctrl-Break, which reach the command too, to report how the command ended.
#[derive(Debug)]
pub struct Supervisor {
    console: Once,
}

impl Default for Supervisor {
    fn default() -> Self {
        Self {
            console: Once::new(),
        }
    }
}

impl Supervisor {
    pub fn idle(&self) -> Result<()> {
        self.console.call_once(platform::ignore_console_interrupts);
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
        let status = Command::new(path)
            .args(args)
            .env_clear()
            .envs(env.0.iter().map(|(var, value)| (var, value)))
            .status();
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
