//! `nomadctx show`: one context in full, secrets reported as present or missing, never shown.

use anyhow::Result;
use serde::Serialize;

use crate::cli::ShowArgs;
use crate::cmd::list::View;
use crate::cmd::{App, print};
use crate::keychain::{Item, account};
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
    client_certificate: Option<tls::CertDetails>,
}

pub fn run(app: &App, args: ShowArgs) -> Result<()> {
    let config = app.store.load()?;
    let (name, _) = app.resolve(&config, args.name.as_deref())?;
    let context = config.get(&name)?;
    let keychain = app.keychain(&config)?;
    let materials = app.cert_materials(&name, context)?;
    // Presence is checked in the keychain itself, so `show` also reveals a lost item.
    let stored = |item: Item, expected: bool| -> Option<bool> {
        expected
            .then(|| keychain.get(&name, item).map(|s| s.is_some()))
            .and_then(|r| r.ok())
    };
    let current = app.current_name(&config).is_some_and(|(n, _)| n == name);
    let details = Details {
        view: View {
            name: &name,
            context,
            current,
            default: config.default.as_deref() == Some(name.as_str()),
        },
        ca_file: materials.ca_cert,
        client_cert_file: materials.client_cert,
        keychain: keychain.backend().describe(),
        client_key_stored: stored(Item::ClientKey, context.client_cert),
        token_stored: stored(Item::Token, context.token),
        client_certificate: client_certificate(app, &name, context.client_cert)?,
    };
    if args.json {
        return print(&format!("{}\n", serde_json::to_string_pretty(&details)?));
    }
    let secret_line = |stored: Option<bool>, expected: bool, item: Item| match (expected, stored) {
        (false, _) => "none".to_owned(),
        (true, Some(true)) => format!(
            "stored in {} (account nomadctx/{})",
            details.keychain,
            account(&name, item)
        ),
        (true, Some(false)) => format!(
            "MISSING from {}; store it again with `nomadctx set {name} ...`",
            details.keychain
        ),
        (true, None) => format!("unknown: {} did not answer", details.keychain),
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
            secret_line(
                details.client_key_stored,
                context.client_cert,
                Item::ClientKey,
            ),
        ),
        (
            "acl token",
            secret_line(details.token_stored, context.token, Item::Token),
        ),
        ("current", details.view.current.to_string()),
        ("default", details.view.default.to_string()),
    ] {
        out.push_str(&format!("{label:<16} {value}\n"));
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
            out.push_str(&format!("  {label:<14} {value}\n"));
        }
    }
    print(&out)
}

/// Details of the stored client certificate (the leaf, not its intermediates).
fn client_certificate(app: &App, name: &str, held: bool) -> Result<Option<tls::CertDetails>> {
    if !held {
        return Ok(None);
    }
    let path = app.store.client_cert_path(name);
    let in_context = |e: anyhow::Error| {
        anyhow::anyhow!(
            "context {name:?}: {e:#}; store it again with `nomadctx set {name} --cert FILE --key FILE`"
        )
    };
    let certs = tls::read_certificates(&path, "stored certificate").map_err(in_context)?;
    let details = tls::certificate_details(&certs[0])
        .map_err(|e| in_context(e.context(format!("stored certificate {}", path.display()))))?;
    Ok(Some(details))
}
