//! `nomadctx list`: the contexts as a table, names, or JSON. Never touches the keychain.

use anyhow::Result;

use crate::app::App;
use crate::cli::ListArgs;
use crate::cmd::output::{View, print};
use crate::keychain::Backend;
use crate::text::{printable, printable_json};
use crate::tls;

pub fn run(app: &App, args: ListArgs) -> Result<()> {
    let config = app.store.load()?;
    let current = app.current(&config);
    let is_current = |name: &str| current.as_deref() == Some(name);
    if args.names {
        let names: String = config.contexts.keys().map(|n| format!("{n}\n")).collect();
        return print(&names);
    }
    if args.json {
        let views: Vec<View> = config
            .contexts
            .iter()
            .map(|(name, context)| {
                View::new(
                    name,
                    context,
                    is_current(name),
                    config.default.as_deref() == Some(name),
                )
            })
            .collect();
        let json = serde_json::to_string_pretty(&views)?;
        return print(&format!("{}\n", printable_json(&json)));
    }
    if config.contexts.is_empty() {
        eprintln!("nomadctx: {}", config.known_names());
        return Ok(());
    }
    let rows: Vec<[String; 6]> = config
        .contexts
        .iter()
        .map(|(name, c)| {
            [
                if is_current(name) { "*" } else { "" }.to_owned(),
                printable(name).into_owned(),
                printable(&c.address).into_owned(),
                printable(c.region.as_deref().unwrap_or_default()).into_owned(),
                printable(c.namespace.as_deref().unwrap_or_default()).into_owned(),
                c.client_cert_not_after
                    .map(tls::expiry::format_day)
                    .unwrap_or_default(),
            ]
        })
        .collect();
    let header = ["", "NAME", "ADDRESS", "REGION", "NAMESPACE", "CERT EXPIRES"].map(str::to_owned);
    print(&table(std::iter::once(&header).chain(&rows)))?;
    // A NOMADCTX_KEYCHAIN that names no backend is for the commands that use one to report.
    if let Ok(backend) = Backend::choose(config.keychain)
        && !backend.is_durable()
    {
        eprintln!(
            "nomadctx: keys and tokens are in {}: lost at reboot (docs/headless.md)",
            backend.describe()
        );
    }
    Ok(())
}

/// Left-aligned columns separated by two spaces, trailing blanks trimmed.
fn table<'a>(rows: impl Iterator<Item = &'a [String; 6]> + Clone) -> String {
    let mut widths = [0usize; 6];
    for row in rows.clone() {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    rows.map(|row| {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            // Padded by hand: `{cell:w$}` panics past a width of 65,535, and a hand-edited
            // value can be longer.
            .map(|(cell, w)| format!("{cell}{}", " ".repeat(w - cell.chars().count())))
            .collect();
        format!("{}\n", line.join("  ").trim_end())
    })
    .collect()
}
