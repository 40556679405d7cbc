//! `nomadctx default`: show or set the context commands use when nothing else says.

use anyhow::{Result, bail};

use crate::app::App;
use crate::cli::DefaultArgs;
use crate::cmd::output::print;

pub fn run(app: &App, args: DefaultArgs) -> Result<()> {
    if args.name.is_none() && !args.clear {
        let config = app.store.load()?;
        return match config.default {
            Some(name) => print(&format!("{name}\n")),
            None => bail!("no default context is set; set one with `nomadctx default NAME`"),
        };
    }
    let lock = app.store.lock()?;
    let mut config = app.store.load()?;
    if let Some(name) = &args.name {
        config.get(name)?;
    }
    config.default = args.name.clone();
    app.store.save(&config, &lock)?;
    match args.name {
        Some(name) => eprintln!("nomadctx: the default context is now {name:?}"),
        None => eprintln!("nomadctx: cleared the default context"),
    }
    Ok(())
}
