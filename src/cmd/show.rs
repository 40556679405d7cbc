//! `nomadctx show`: one context in full, secrets reported as present or missing, never shown.

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::app::App;
use crate::cli::ShowArgs;
use crate::cmd::output::View;
use crate::cmd::output::print;
use crate::keychain::{Item, ItemRef, Keychain, SERVICE};
use crate::text::{printable, printable_json};
use crate::tls;

#[derive(Debug, Serialize)]
struct Details<'a> {
    #[serde(flatten)]
    view: View<'a>,
    ca_file: Option<String>,
    client_cert_file: Option<String>,
    keychain: &'static str,
    client_key_stored: Option<bool>,
    token_stored: Option<bool>,
    client_certificate: Option<tls::details::CertDetails>,
}

pub fn run(app: &App, args: ShowArgs) -> Result<()> {
    let config = app.load()?;
    let name = app.resolve(&config, args.name.as_deref())?;
    let context = config.get(&name)?;
    let keychain = Keychain::for_config(&config)?;
    let materials = app.cert_materials(context, app.store.links_current(context))?;
    let item_of = |item: Item| {
        let version = match item {
            Item::ClientKey => context.client_version.as_deref(),
            Item::Token => context.token_version.as_deref(),
        };
        version.map(|v| ItemRef::new(context.id(), item, v))
    };
    // Presence is checked in the keychain itself, so `show` also reveals a lost item.
    let stored = |item: Item| -> Option<bool> {
        item_of(item)
            .map(|i| keychain.contains(&name, &i))
            .and_then(|r| r.ok())
    };
    let current = app.current(&config).is_some_and(|n| n == name);
    let details = Details {
        view: View::new(
            &name,
            context,
            current,
            config.default.as_deref() == Some(name.as_str()),
        ),
        ca_file: materials.ca_cert,
        client_cert_file: materials.client_cert,
        keychain: keychain.backend().describe(),
        client_key_stored: stored(Item::ClientKey),
        token_stored: stored(Item::Token),
        client_certificate: client_certificate(app, &name, context)?,
    };
    if args.json {
        let json = serde_json::to_string_pretty(&details)?;
        return print(&format!("{}\n", printable_json(&json)));
    }
    let durable = keychain.backend().is_durable();
    let secret_line = |stored: Option<bool>, item: Item| match (item_of(item), stored) {
        (None, _) => "none".to_owned(),
        (Some(i), Some(true)) => format!(
            "stored in {} as item {SERVICE}/{}{}",
            details.keychain,
            keychain.account(&i),
            if durable { "" } else { "; lost at reboot" }
        ),
        (Some(_), Some(false)) => format!(
            "MISSING from {}{}; store it again with `nomadctx set {name} {}`",
            details.keychain,
            if durable {
                ""
            } else {
                ", which loses everything at reboot"
            },
            match item {
                Item::ClientKey => "--key FILE",
                Item::Token => "--token-stdin",
            }
        ),
        (Some(_), None) => format!("unknown: {} did not answer", details.keychain),
    };
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    let mut out = String::new();
    for (label, value) in [
        ("name", name.clone()),
        ("address", context.address.clone()),
        ("region", opt(&context.region)),
        ("namespace", opt(&context.namespace)),
        ("tls server name", opt(&context.tls_server_name)),
        ("skip verify", context.skip_verify.to_string()),
        ("ca file", opt(&details.ca_file)),
        ("client cert", opt(&details.client_cert_file)),
        (
            "client key",
            secret_line(details.client_key_stored, Item::ClientKey),
        ),
        ("acl token", secret_line(details.token_stored, Item::Token)),
        ("current", details.view.current.to_string()),
        ("default", details.view.default.to_string()),
    ] {
        out.push_str(&format!("{label:<16} {}\n", printable(&value)));
    }
    if let Some(cert) = &details.client_certificate {
        out.push_str("client certificate:\n");
        for (label, value) in [
            ("subject", cert.subject.clone()),
            ("issuer", cert.issuer.clone()),
            (
                "names",
                if cert.sans.is_empty() {
                    "-".to_owned()
                } else {
                    cert.sans.join(", ")
                },
            ),
            ("serial", cert.serial.clone()),
            ("valid from", cert.not_before.clone()),
            ("valid until", cert.not_after.clone()),
            ("key type", cert.key_type.clone()),
            ("sha-256", cert.sha256.clone()),
        ] {
            out.push_str(&format!("  {label:<14} {}\n", printable(&value)));
        }
    }
    print(&out)
}

/// Details of the stored client certificate (the leaf, not its intermediates).
fn client_certificate(
    app: &App,
    name: &str,
    context: &crate::context::Context,
) -> Result<Option<tls::details::CertDetails>> {
    let Some(path) = app.store.client_cert_file(context) else {
        return Ok(None);
    };
    let remedy = || {
        format!(
            "context {name:?}: the stored client certificate cannot be read; store it again with `nomadctx set {name} --cert FILE --key FILE`"
        )
    };
    let certs = tls::pem::read_certificates(&path, "stored certificate").with_context(remedy)?;
    let details = tls::details::certificate_details(&certs[0])
        .with_context(|| format!("stored certificate {}", path.display()))
        .with_context(remedy)?;
    Ok(Some(details))
}
