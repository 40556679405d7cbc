//! One module per subcommand; this one only dispatches to them.

pub mod output;

mod add;
mod check;
mod completions;
mod current;
mod default;
mod doctor;
mod exec;
mod export_p12;
mod init;
mod keychain;
mod list;
mod man;
mod remove;
mod rename;
mod set;
mod show;
mod subshell;
mod unlock;
mod use_;

use anyhow::Result;

use crate::app::App;
use crate::cli::{Cli, Command};
use crate::store::Store;

/// Runs the command and returns the process exit code.
pub fn run(cli: Cli) -> Result<u8> {
    let app = App::new(Store::from_env()?, cli.context);
    match cli.command {
        Command::Add(args) => add::run(&app, args),
        Command::List(args) => list::run(&app, args),
        Command::Show(args) => show::run(&app, args),
        Command::Set(args) => set::run(&app, args),
        Command::Remove(args) => remove::run(&app, args),
        Command::Rename(args) => rename::run(&app, args),
        Command::Default(args) => default::run(&app, args),
        Command::Current => current::run(&app),
        Command::Use(args) => use_::run(&app, args),
        Command::Exec(args) => return exec::run(&app, args),
        Command::Shell(args) => return subshell::run(&app, args),
        Command::Doctor(args) => return doctor::run(&app, args),
        Command::Check(args) => check::run(&app, args),
        Command::ExportP12(args) => export_p12::run(&app, args),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
        Command::Init(args) => init::run(args),
        Command::Keychain(args) => keychain::run(&app, args),
        Command::Unlock(args) => unlock::unlock(&app, args),
        Command::Lock => unlock::lock(&app),
    }
    .map(|()| 0)
}
