//! `nomadctx set`: change an existing context, validated exactly as `add` validates.

use anyhow::Result;

use crate::cli::SetArgs;
use crate::cmd::App;
use crate::cmd::add::{Change, Inputs, Update, apply_settings, save, validate_context};
use crate::tls;

pub fn run(app: &App, args: SetArgs) -> Result<()> {
    let name = args.name;
    let inputs = Inputs::read(&name, &args.settings)?;

    let lock = app.store.lock()?;
    let mut config = app.store.load()?;
    let mut context = config.get(&name)?.clone();
    apply_settings(&mut context, &args.settings);
    validate_context(&name, &context)?;
    context.client_cert_not_after = inputs.check_chain(app, &name, config.contexts.get(&name))?;
    let keychain = app.keychain(&config)?;
    let update = Update {
        ca: inputs.ca.map_or(Change::Keep, |(certs, _)| {
            Change::Put(tls::certificates_to_pem(&certs))
        }),
        client: inputs.client.map_or(Change::Keep, |((certs, _), key)| {
            Change::Put((tls::certificates_to_pem(&certs), key))
        }),
        token: match inputs.token {
            Some(token) => Change::Put(token),
            None if args.clear_token => Change::Remove,
            None => Change::Keep,
        },
    };
    save(app, &lock, &mut config, &keychain, &name, context, update)?;
    eprintln!("nomadctx: updated context {name:?}");
    Ok(())
}
