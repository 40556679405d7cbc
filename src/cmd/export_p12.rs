//! `nomadctx export-p12`: the client certificate, its chain and key as a password-protected
//! PKCS#12 bundle for a browser, straight from the keychain.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use zeroize::Zeroizing;

use crate::app::App;
use crate::cli::ExportP12Args;
use crate::fs::replace_file;
use crate::keychain::{Keychain, Secrets};
use crate::tls;
use crate::tls::expiry::warn_if_expiring;

pub fn run(app: &App, args: ExportP12Args) -> Result<()> {
    let config = app.load()?;
    let name = app.resolve(&config, args.name.as_deref())?;
    let keychain = Keychain::for_config(&config)?;
    let context = config.get(&name)?;
    if !context.has_client() {
        bail!(
            "context {name:?} has no client certificate to export; add one with `nomadctx set {name} --cert FILE --key FILE`"
        );
    }
    if args.output.is_none() && std::io::stdout().is_terminal() {
        bail!(
            "a PKCS#12 bundle is binary and holds the key: write it to a file with -o {name}.p12"
        );
    }
    // Before the password is asked for: a path that cannot be written is known now.
    let output = args.output.as_deref().map(output_path).transpose()?;
    let password = if args.password_stdin {
        password_from_stdin()?
    } else {
        password_from_terminal(&name)?
    };

    warn_if_expiring(&name, context.client_cert_not_after);
    let (context, secrets) = Secrets::fetch(&app.store, &keychain, &name, context.clone())?;
    let mut chain = Vec::new();
    // The context as the secrets were read: a `set` since may have removed the first look's.
    let Some(client_cert) = app.store.client_cert_file(&context) else {
        bail!(
            "context {name:?} no longer has a client certificate (removed while exporting); add one with `nomadctx set {name} --cert FILE --key FILE`"
        );
    };
    for path in [client_cert].into_iter().chain(app.store.ca_file(&context)) {
        chain.extend(
            tls::pem::read_certificates(&path, "stored certificate")
                .with_context(|| format!("context {name:?}"))?,
        );
    }
    let Some(key) = secrets.key.as_ref() else {
        bail!(
            "context {name:?} has a client certificate but no key; store it with `nomadctx set {name} --key FILE`"
        );
    };
    let key_der = tls::pem::key_to_pkcs8(key).with_context(|| format!("context {name:?}"))?;
    let bundle = bundle(&name, &chain, &key_der, &password)?;
    match &output {
        Some(path) => {
            output_path(path)?;
            replace_file(path, &bundle)?;
            eprintln!(
                "nomadctx: wrote {} (mode 0600); import it into your browser with its password",
                path.display()
            );
            Ok(())
        }
        None => crate::cmd::output::print_bytes(&bundle),
    }
}

/// Where `-o FILE` writes: relative to the current directory, in a directory that exists
/// (none is created on a typo), and in place of nothing or a regular file only. A device
/// node (`-o /dev/null` as root), a symlink or a directory is refused, not replaced.
fn output_path(given: &Path) -> Result<PathBuf> {
    let path = std::path::absolute(given)
        .with_context(|| format!("could not resolve the output path {}", given.display()))?;
    // `new.p12/` has the file name `new.p12` to Path, but names a directory to the kernel.
    let names_a_dir = given.as_os_str().as_encoded_bytes().ends_with(b"/");
    let Some(dir) = path
        .parent()
        .filter(|_| path.file_name().is_some() && !names_a_dir)
    else {
        bail!(
            "{} is not a file name; give -o a file, e.g. -o prod.p12",
            given.display()
        );
    };
    if !dir.is_dir() {
        bail!(
            "the directory {} does not exist; create it first, or give -o a path in an existing one",
            dir.display()
        );
    }
    match std::fs::symlink_metadata(&path) {
        Ok(meta) if !meta.file_type().is_file() => bail!(
            "{} exists and is {}, not a regular file; nomadctx will not replace it: choose another path, or remove it first",
            given.display(),
            describe(meta.file_type())
        ),
        Ok(_) => Ok(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(path),
        Err(e) => Err(e).with_context(|| format!("could not inspect {}", given.display())),
    }
}

fn describe(kind: std::fs::FileType) -> &'static str {
    if kind.is_symlink() {
        "a symlink"
    } else if kind.is_dir() {
        "a directory"
    } else {
        crate::platform::special_kind(kind).unwrap_or("something else")
    }
}

fn bundle(
    name: &str,
    chain: &[rustls_pki_types::CertificateDer<'_>],
    key: &crate::secret::Secret,
    password: &str,
) -> Result<Zeroizing<Vec<u8>>> {
    let chain: Vec<&[u8]> = chain.iter().map(|c| c.as_ref()).collect();
    crate::tls::pkcs12::bundle(name, &chain, key.expose(), password)
        .map(Zeroizing::new)
        .map_err(|e| anyhow!("could not build the PKCS#12 bundle for context {name:?}: {e:#}"))
}

/// One line of standard input, read without std's buffer keeping a copy.
fn password_from_stdin() -> Result<Zeroizing<String>> {
    crate::keychain::file::passphrase::from_stdin("password")
}

/// Asks twice on the terminal with echo off.
fn password_from_terminal(name: &str) -> Result<Zeroizing<String>> {
    crate::keychain::file::passphrase::from_terminal(
        &format!("Password for the {name} bundle: "),
        Some("Repeat it: "),
        "pipe the bundle's password in with --password-stdin",
    )
}
