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
