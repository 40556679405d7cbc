//! `nomadctx completions`: the script that registers nomadctx's completion with a shell.
//!
//! The script is small and calls back into nomadctx (with `NOMADCTX_COMPLETE` set) on every
//! TAB, so that context names come from the config file of the moment.

use anyhow::{Context as _, Result};
use clap_complete::env::Shells;

use crate::cli::{COMPLETE_VAR, CompletionsArgs};

pub fn run(args: CompletionsArgs) -> Result<()> {
    let name = args.shell.name();
    let shells = Shells::builtins();
    let shell = shells
        .completer(name)
        .with_context(|| format!("no completion support for {name}"))?;
    let mut out = Vec::new();
    // The completer is called by name, so the script keeps working when nomadctx moves
    // within PATH or is upgraded.
    shell
        .write_registration(COMPLETE_VAR, "nomadctx", "nomadctx", "nomadctx", &mut out)
        .context("could not write the completion script")?;
    crate::cmd::output::print_bytes(&out)
}
