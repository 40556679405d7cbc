//! The modules behind the `nomadctx` binary, all private: `main` is the whole interface,
//! with two hidden doors, for the fuzz targets under fuzz/ (the config, PEM and HTTP
//! response parsers) and for the integration tests (the config store, the probe's parser).
//! There is no stable API.

mod app;
mod change;
mod cli;
mod cmd;
mod context;
mod duration;
mod fs;
mod keychain;
mod launch;
mod platform;
mod probe;
mod secret;
mod settings;
mod shell;
mod store;
mod text;
mod tls;

use std::process::ExitCode;

use clap::CommandFactory;

/// The whole program: answer a completion request, parse the command line, keep secrets
/// out of core dumps and debuggers, run the command, and map the outcome to an exit code
/// (a reader that went away, as `nomadctx list | head -1`, is success).
pub fn main() -> ExitCode {
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
            eprintln!("nomadctx: {}", text::printable_message(&format!("{err:#}")));
            ExitCode::FAILURE
        }
    }
}

/// Before any command reads a key or token: no core dump, and no debugger unless the command
/// hands its child a `/proc/<nomadctx pid>/fd/N` path, which the same kernel rule guards.
fn keep_secrets_private(command: &cli::Command) {
    launch::process_guard::forbid_core_dumps();
    if !matches!(command, cli::Command::Exec(_) | cli::Command::Shell(_)) {
        launch::process_guard::forbid_tracing();
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

/// What the fuzz targets under fuzz/ drive: the parsers of what comes from outside.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::context::Address;
    pub use crate::probe::http::{MAX_RESPONSE, parse_response};
    pub use crate::store::parse_config;
    pub use crate::text::{printable, printable_json};
    pub use crate::tls::checks::check_ca_bundle;
    pub use crate::tls::details::certificate_details;
    pub use crate::tls::expiry::{expiry_warning, format_day, format_time};
    pub use crate::tls::pem::{key_to_pem, parse_certificates, parse_private_key};
}

/// What the integration tests read as nomadctx does: config.toml, and the probe's parser.
#[doc(hidden)]
pub mod testing {
    pub use crate::probe::http::Failure;
    pub use crate::probe::http::{MAX_RESPONSE, parse_response};
    pub use crate::store::{Config, Store, parse_config};
}
