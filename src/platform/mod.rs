//! The few things that differ per OS: file modes and owners, private files and directories,
//! links to a certificate's live version, processes, signals and the console, and the
//! terminal.
//!
//! Unix (Linux and macOS) share one file; Windows has its own. Where Windows has no
//! counterpart (Unix modes, owners checked against the running user), the Windows side says
//! so and what protects the files instead.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;
