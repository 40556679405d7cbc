//! `nomadctx rename`: a new name for a context. Its certificate files and keychain items are
//! keyed by its id, so nothing but the config changes.

use anyhow::Result;

use crate::app::App;
use crate::cli::RenameArgs;
use crate::context::validate_name;
use crate::store::require_absent;

pub fn run(app: &App, args: RenameArgs) -> Result<()> {
    let (old, new) = (args.old, args.new);
    validate_name(&new)?;
    let lock = app.store.lock()?;
    let mut config = app.load_locked(&lock)?;
    let context = config.get(&old)?.clone();
    require_absent(&config, &new, false)?;
    config.contexts.remove(&old);
    config.contexts.insert(new.clone(), context);
    if config.default.as_deref() == Some(old.as_str()) {
        config.default = Some(new.clone());
    }
    app.store.save(&config, &lock)?;
    eprintln!("nomadctx: renamed context {old:?} to {new:?}");
    Ok(())
}
