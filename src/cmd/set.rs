//! `nomadctx set`: change an existing context, validated exactly as `add` validates.

use anyhow::{Result, bail};

use crate::app::App;
use crate::change::inputs::{Inputs, apply_settings, validate_context, warn_plain_http};
use crate::change::{Change, Transaction, Update};
use crate::cli::SetArgs;
use crate::keychain::Keychain;
use crate::tls;

pub fn run(app: &App, args: SetArgs) -> Result<()> {
    let name = args.name;
    let settings = args.settings.into_settings();
    // Files and the token (which may wait on stdin) are read before the lock is taken, so
    // that other changes do not wait for the user.
    let seen = app.load()?.get(&name)?.clone();
    let stored_cert = app.store.client_cert_file(&seen);
    let inputs = Inputs::read(&name, &settings, stored_cert.as_deref())?;
    let lock = app.store.lock()?;
    let mut config = app.load_locked(&lock)?;
    let before = config.get(&name)?.clone();
    if settings.cert.is_none()
        && inputs.client.is_some()
        && before.client_version != seen.client_version
    {
        bail!(
            "context {name:?}: its client certificate changed while the key was read; run the command again"
        );
    }
    let mut context = before.clone();
    apply_settings(&mut context, &settings);
    validate_context(&name, &context)?;
    context.client_cert_not_after = inputs.check_chain(&app.store, &name, Some(&before))?;
    let keychain = Keychain::for_config(&config)?;
    let update = Update {
        ca: inputs.ca.map_or(Change::Keep, |(certs, _)| {
            Change::Put(tls::pem::certificates_to_pem(&certs))
        }),
        client: inputs.client.map_or(Change::Keep, |((certs, _), key)| {
            Change::Put((tls::pem::certificates_to_pem(&certs), key))
        }),
        token: match inputs.token {
            Some(token) => Change::Put(token),
            None if args.clear_token => Change::Remove,
            None => Change::Keep,
        },
    };
    warn_plain_http(&name, &context, &update);
    let mut change = Transaction::begin(&app.store, &keychain, &lock);
    change.apply(&name, &mut context, update)?;
    config.contexts.insert(name.clone(), context);
    change.commit(&config)?;
    eprintln!("nomadctx: updated context {name:?}");
    Ok(())
}
