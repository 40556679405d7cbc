//! nomadctx: parse the command line, run the command, map the outcome to an exit code.

use std::process::ExitCode;

use nomadctx::text::printable_message;
use nomadctx::{cli, cmd, process_guard};

use clap::CommandFactory;

mod wipe_on_free;

use wipe_on_free::WipeOnFree;

/// See Cargo.toml: musl's own allocator maps and unmaps memory on nearly every free.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: WipeOnFree<mimalloc::MiMalloc> = WipeOnFree(mimalloc::MiMalloc);

#[cfg(not(target_env = "musl"))]
#[global_allocator]
static ALLOCATOR: WipeOnFree<std::alloc::System> = WipeOnFree(std::alloc::System);

fn main() -> ExitCode {
    // A TAB in a shell whose completion script `nomadctx completions` wrote: answer and exit.
    clap_complete::CompleteEnv::with_factory(cli::Cli::command)
        .var(cli::COMPLETE_VAR)
        .complete();
    let cli = cli::parse();
    keep_secrets_private(&cli.command);
    match cmd::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("nomadctx: {}", printable_message(&format!("{err:#}")));
            ExitCode::FAILURE
        }
    }
}

/// Before any command reads a key or token: no core dump, and no debugger unless the command
/// hands its child a `/proc/<nomadctx pid>/fd/N` path, which the same kernel rule guards.
fn keep_secrets_private(command: &cli::Command) {
    process_guard::forbid_core_dumps();
    if !matches!(command, cli::Command::Exec(_) | cli::Command::Shell(_)) {
        process_guard::forbid_tracing();
    }
}

/// A reader that went away (`nomadctx list | head -1`) is not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
