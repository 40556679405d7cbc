//! Runs a command as nomadctx's child: starts it with the context's environment, passes
//! signals (Unix) or survives the console's Ctrl-C (Windows), and reports how it ended.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::{ChildEnv, Supervisor};

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::{ChildEnv, Supervisor};

/// What a shell reports for a command it cannot find, or cannot run.
pub const NOT_FOUND: u8 = 127;
pub const NOT_EXECUTABLE: u8 = 126;
/// Exit codes from 129 up mean the command was killed by a signal.
pub const KILLED_BY_SIGNAL: u8 = 128;

/// The signal that killed a command, from its exit code (128+N), as a shell reports it. On
/// Windows only Ctrl-C is told apart (130): other codes above 128 are the command's own.
pub fn killing_signal(code: u8) -> Option<u8> {
    if cfg!(windows) {
        (code == KILLED_BY_SIGNAL + 2).then_some(2)
    } else {
        code.checked_sub(KILLED_BY_SIGNAL).filter(|n| *n > 0)
    }
}
