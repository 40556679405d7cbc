//! `nomadctx current`: the name of the context this shell uses.

use anyhow::Result;

use crate::app::App;
use crate::cmd::output::print;

pub fn run(app: &App) -> Result<()> {
    let config = app.store.load()?;
    let name = app.resolve(&config, None)?;
    print(&format!("{name}\n"))
}
