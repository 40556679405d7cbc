//! `nomadctx check`: validate a context's material, ask its cluster over a live mutual-TLS
//! request who it is, and print what it said (escaped: it comes from the server).

use anyhow::{Context as _, Result, bail};

use crate::app::App;
use crate::cli::CheckArgs;
use crate::cmd::output::print;
use crate::context::{Address, Context};
use crate::keychain::Keychain;
use crate::keychain::Secrets;
use crate::probe::{self, Credentials, Report};
use crate::text::printable;
use crate::text::warn;
use crate::tls;
use crate::tls::expiry::warn_if_expiring;

pub fn run(app: &App, args: CheckArgs) -> Result<()> {
    let config = app.load()?;
    let keychain = Keychain::for_config(&config)?;
    if !args.all {
        let name = app.resolve(&config, args.name.as_deref())?;
        let context = config.get(&name)?;
        let report = check(app, &keychain, &name, context)?;
        return print(&format!(
            "context {name:?}: OK, {} answered over {}\n  nomad version  {}\n  region         {}\n  leader         {}\n",
            context.address,
            if report.tls {
                "mutual TLS"
            } else {
                "plain HTTP"
            },
            printable(&report.version),
            printable(&report.region),
            printable(&report.leader)
        ));
    }
    let mut failed = 0;
    let mut out = String::from("NAME\tRESULT\n");
    for (name, context) in &config.contexts {
        // One line per context, so the error chain is flattened here and only here.
        let row = match check(app, &keychain, name, context) {
            Ok(report) => format!("OK (Nomad {}, region {})", report.version, report.region),
            Err(e) => {
                failed += 1;
                format!("FAILED: {e:#}")
            }
        };
        out.push_str(&format!("{name}\t{}\n", printable(&row)));
    }
    print(&out)?;
    if failed > 0 {
        bail!(
            "{failed} of {} contexts failed the check",
            config.contexts.len()
        );
    }
    Ok(())
}

fn check(app: &App, keychain: &Keychain, name: &str, stored: &Context) -> Result<Report> {
    warn_if_expiring(name, stored.client_cert_not_after);
    // Its errors name the context already.
    let (context, secrets) = Secrets::fetch(&app.store, keychain, name, stored.clone())?;
    let token = secrets.token_str(name)?;
    let in_context = || format!("context {name:?}");
    let address = Address::parse(&context.address).with_context(in_context)?;
    let credentials = credentials(app, name, stored, &context, &secrets)
        .map(|c| Credentials { token, ..c })
        .with_context(in_context)?;
    probe::check(name, &context, &address, credentials).with_context(in_context)
}

/// The CA and client certificate from the store, checked, and the key from the keychain.
fn credentials(
    app: &App,
    name: &str,
    stored: &Context,
    context: &Context,
    secrets: &Secrets,
) -> Result<Credentials<'static>> {
    let ca_path = app.store.ca_file(context);
    let ca = ca_path.as_deref().map(tls::pem::read_ca).transpose()?;
    let Some(path) = app.store.client_cert_file(context) else {
        return Ok(Credentials {
            ca,
            ..Credentials::default()
        });
    };
    let certs = tls::pem::read_certificates(&path, "stored certificate")?;
    let ca_ref = ca.as_deref().zip(ca_path.as_deref());
    let not_after = tls::checks::check_client_certificate(&certs, &path, ca_ref)?;
    // `check` warned from the date the config keeps; only a certificate that says otherwise
    // has more to tell.
    if stored.client_cert_not_after != Some(not_after)
        && let Some(warning) = tls::expiry::expiry_warning(name, not_after)
    {
        warn(&warning);
    }
    let key = secrets.key_der(name)?;
    Ok(Credentials {
        ca,
        client: key.map(|key| (certs, key)),
        token: None,
    })
}
