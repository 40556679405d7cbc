//! `nomadctx completions`: a completion script generated from the clap definition.

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};

pub fn run(args: CompletionsArgs) -> Result<()> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "nomadctx", &mut out);
    crate::cmd::print(&String::from_utf8_lossy(&out))
}
