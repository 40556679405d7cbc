//! Test harness, a file per job: the world (`world`), the command builder (`run`), the
//! certificates (`pki`), TLS peers (`servers`), the terminal driver (`terminal`) and the bus
//! monitor (`monitor`), the second local account (`accounts`); here, the binary under test
//! and the tools the tests need.

mod accounts;
mod monitor;
mod pki;
mod run;
mod servers;
mod terminal;
mod world;

pub use accounts::*;
pub use monitor::*;
pub use pki::*;
pub use run::*;
pub use servers::*;
pub use terminal::*;
pub use world::*;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The nomadctx under test: this build's, or the one NOMADCTX_TEST_BINARY names (`.ci/run`
/// runs the keychain, exec and shell tests again against the static musl binary).
pub fn bin() -> &'static str {
    static BIN: OnceLock<String> = OnceLock::new();
    BIN.get_or_init(|| match std::env::var("NOMADCTX_TEST_BINARY") {
        Ok(path) if !path.is_empty() => path,
        _ => env!("CARGO_BIN_EXE_nomadctx").to_owned(),
    })
}

/// Every tool the suite drives, with its Debian package: tests/required-tools.txt, which
/// tests/run.sh installs from.
const REQUIRED_TOOLS: &str = include_str!("../../required-tools.txt");

/// Panics, naming every missing tool and its package at once, when any tool the suite needs
/// is not installed; then returns the path of `tool`.
pub fn require_tool(tool: &str) -> PathBuf {
    static MISSING: OnceLock<Vec<String>> = OnceLock::new();
    let missing = MISSING.get_or_init(|| {
        REQUIRED_TOOLS
            .lines()
            .map(|line| line.split('#').next().unwrap_or_default())
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                Some((fields.next()?, fields.next()?))
            })
            .filter(|(tool, _)| which::which(tool).is_err())
            .map(|(tool, package)| format!("{tool} (package {package})"))
            .collect()
    });
    assert!(
        missing.is_empty(),
        "the tests need tools that are not installed: {}; `bash tests/run.sh` installs them",
        missing.join(", ")
    );
    which::which(tool)
        .unwrap_or_else(|_| panic!("{tool} is not listed in tests/required-tools.txt"))
}

/// The first line `stream` gives, newline and all (empty at its end): what a child process
/// says once it is ready.
pub fn first_line(stream: impl Read) -> String {
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    line
}

/// xorshift64*: reproducible random draws without a dependency, for property tests.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (0 for an empty range).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}
