//! The debug failpoint between a change's steps, where tests stop or fail a change.

use anyhow::{Result, bail};

/// A named step of a change, where debug builds stop when tests ask: `NOMADCTX_FAILPOINT`
/// fails there (to prove the rollback), `NOMADCTX_PAUSE_AT` says so on stderr and waits to
/// be killed (to prove what a crash there leaves). Release builds compile both away.
pub fn checkpoint(step: &str) -> Result<()> {
    if !cfg!(debug_assertions) {
        return Ok(());
    }
    if std::env::var(crate::settings::FAILPOINT_VAR).is_ok_and(|v| v == step) {
        bail!("failing at {step} because NOMADCTX_FAILPOINT says so");
    }
    if std::env::var(crate::settings::PAUSE_AT_VAR).is_ok_and(|v| v == step) {
        eprintln!("nomadctx: paused at {step}");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
    Ok(())
}
