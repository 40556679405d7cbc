//! `nomadctx add`: validate everything, then store certificates, secrets and config together.
//! Also home of the change machinery `set` shares.

use std::io::Read;
use std::path::PathBuf;

use rustls_pki_types::CertificateDer;

use anyhow::{Result, anyhow, bail};

use crate::cli::{AddArgs, ContextArgs};
use crate::cmd::{App, warn};
use crate::context::{Context, validate_address, validate_name};
use crate::keychain::{Item, Keychain};
use crate::secret::Secret;
use crate::store::{Config, Lock, Rollback, checkpoint, replace_file, require_absent};
use crate::{import, tls};

pub fn run(app: &App, args: AddArgs) -> Result<()> {
    let name = args.name;
    validate_name(&name)?;
    let mut settings = args.settings;
    let in_context = |e: anyhow::Error| anyhow!("context {name:?}: {e:#}");
    if let Some(dir) = &args.from_dir {
        import::from_dir(&mut settings, dir).map_err(in_context)?;
    }
    let env_token = if args.from_env {
        import::from_env(&mut settings).map_err(in_context)?
    } else {
        None
    };
    let Some(address) = settings.address.clone() else {
        bail!("context {name:?} needs an address: add --address https://HOST:4646");
    };
    let mut context = Context {
        address,
        ..Context::default()
    };
    let mut inputs = Inputs::read(&name, &settings)?;
    inputs.token = inputs.token.or(env_token);
    apply_settings(&mut context, &settings);
    validate_context(&name, &context)?;

    context.client_cert_not_after = inputs.check_chain(app, &name, None)?;

    let lock = app.store.lock()?;
    let mut config = app.store.load()?;
    require_absent(&config, &name, args.force)?;
    let keychain = app.keychain(&config)?;
    let update = Update {
        ca: inputs.ca.map_or(Change::Remove, |(certs, _)| {
            Change::Put(tls::certificates_to_pem(&certs))
        }),
        client: inputs.client.map_or(Change::Remove, |((certs, _), key)| {
            Change::Put((tls::certificates_to_pem(&certs), key))
        }),
        token: inputs.token.map_or(Change::Remove, Change::Put),
    };
    save(app, &lock, &mut config, &keychain, &name, context, update)?;
    eprintln!(
        "nomadctx: added context {name:?}; switch to it with: eval \"$(nomadctx use {name})\""
    );
    if args.remove_key_file {
        remove_key_file(&name, settings.key.as_deref(), &keychain)?;
    }
    Ok(())
}

/// Certificates as parsed, with the file they came from (for messages).
pub type Certs = (Vec<CertificateDer<'static>>, PathBuf);

/// Files and secrets from the command line, read and checked before anything is written.
#[derive(Debug, Default)]
pub struct Inputs {
    pub ca: Option<Certs>,
    pub client: Option<(Certs, Secret)>,
    pub token: Option<Secret>,
}

impl Inputs {
    pub fn read(name: &str, settings: &ContextArgs) -> Result<Self> {
        let in_context = |e: anyhow::Error| anyhow!("context {name:?}: {e:#}");
        let ca = settings
            .ca
            .as_ref()
            .map(|path| -> Result<Certs> {
                let certs = tls::read_ca(path)?;
                tls::check_ca_bundle(&certs, path)?;
                Ok((certs, path.clone()))
            })
            .transpose()
            .map_err(in_context)?;
        let client = match (&settings.cert, &settings.key) {
            (Some(cert_path), Some(key_path)) => {
                let cert_bytes =
                    tls::read_input(cert_path, "certificate file").map_err(in_context)?;
                let certs = tls::parse_certificates(&cert_bytes, cert_path, "certificate file")
                    .map_err(in_context)?;
                let key_bytes = tls::read_input(key_path, "key file").map_err(in_context)?;
                let key = tls::parse_private_key(&key_bytes, key_path).map_err(in_context)?;
                tls::check_key_matches(&certs, &key, cert_path, key_path).map_err(in_context)?;
                Some(((certs, cert_path.clone()), key))
            }
            (None, None) => None,
            _ => bail!("context {name:?}: --cert and --key go together; give both"),
        };
        let token = settings.token_stdin.then(|| read_token(name)).transpose()?;
        Ok(Self { ca, client, token })
    }

    /// Checks the client certificate that the context will hold against the CA it will
    /// hold, each either new or already stored, and returns the certificate's expiry.
    pub fn check_chain(
        &self,
        app: &App,
        name: &str,
        before: Option<&Context>,
    ) -> Result<Option<i64>> {
        if self.ca.is_none() && self.client.is_none() {
            return Ok(before.and_then(|b| b.client_cert_not_after));
        }
        let stored = |held: bool, path: PathBuf| -> Result<Option<Certs>> {
            if !held {
                return Ok(None);
            }
            Ok(Some((
                tls::read_certificates(&path, "stored certificate")?,
                path,
            )))
        };
        let ca = match &self.ca {
            Some(ca) => Some(ca.clone()),
            None => stored(before.is_some_and(|b| b.ca_cert), app.store.ca_path(name))?,
        };
        let client = match &self.client {
            Some((certs, _)) => Some(certs.clone()),
            None => stored(
                before.is_some_and(|b| b.client_cert),
                app.store.client_cert_path(name),
            )?,
        };
        let Some((certs, cert_path)) = client else {
            return Ok(None);
        };
        let ca = ca.as_ref().map(|(c, p)| (c.as_slice(), p.as_path()));
        let not_after = tls::check_client_certificate(&certs, &cert_path, ca)
            .map_err(|e| anyhow!("context {name:?}: {e:#}"))?;
        if let Some(warning) = tls::expiry_warning(name, not_after) {
            warn(&warning);
        }
        Ok(Some(not_after))
    }
}

/// Deletes the original key file once the key is in the keychain, as asked.
fn remove_key_file(name: &str, key: Option<&std::path::Path>, keychain: &Keychain) -> Result<()> {
    let Some(key) = key else {
        warn(&format!("context {name:?} has no key file to remove"));
        return Ok(());
    };
    std::fs::remove_file(key).map_err(|e| {
        anyhow!(
            "context {name:?} was added, but its key file {} could not be removed: {e}",
            key.display()
        )
    })?;
    eprintln!(
        "nomadctx: removed the key file {}; the key of context {name:?} is now only in {}",
        key.display(),
        keychain.backend().describe()
    );
    Ok(())
}

/// An ACL token from stdin: surrounding whitespace dropped, and it must be one line of text.
fn read_token(name: &str) -> Result<Secret> {
    let mut raw = Vec::new();
    std::io::stdin()
        .lock()
        .take(64 * 1024)
        .read_to_end(&mut raw)
        .map_err(|e| {
            anyhow!("context {name:?}: could not read the ACL token from standard input: {e}")
        })?;
    let raw = Secret::new(raw);
    let token = raw.expose().trim_ascii();
    if token.is_empty() {
        bail!(
            "context {name:?}: --token-stdin read no token; pipe it in, e.g. `nomadctx add {name} ... --token-stdin < token.txt`"
        );
    }
    if std::str::from_utf8(token).is_err() || token.iter().any(|b| b.is_ascii_control()) {
        bail!("context {name:?}: the ACL token read from standard input is not one line of text");
    }
    Ok(Secret::new(token.to_vec()))
}

/// Copies the plain settings given on the command line into `context`; an empty string
/// clears an optional one.
pub fn apply_settings(context: &mut Context, settings: &ContextArgs) {
    let set = |field: &mut Option<String>, given: &Option<String>| {
        if let Some(value) = given {
            *field = (!value.is_empty()).then(|| value.clone());
        }
    };
    if let Some(address) = &settings.address {
        context.address = address.clone();
    }
    set(&mut context.region, &settings.region);
    set(&mut context.namespace, &settings.namespace);
    set(&mut context.tls_server_name, &settings.tls_server_name);
    if let Some(skip) = settings.skip_verify {
        context.skip_verify = skip;
    }
}

/// Checks that hold for the finished context, whether built by `add` or changed by `set`.
pub fn validate_context(name: &str, context: &Context) -> Result<()> {
    validate_address(&context.address).map_err(|e| anyhow!("context {name:?}: {e:#}"))?;
    for (flag, value) in [
        ("--region", &context.region),
        ("--namespace", &context.namespace),
        ("--tls-server-name", &context.tls_server_name),
    ] {
        if let Some(v) = value
            && v.chars().any(char::is_control)
        {
            bail!("context {name:?}: {flag} {v:?} contains control characters");
        }
    }
    Ok(())
}

/// What happens to one part of a context.
#[derive(Debug)]
pub enum Change<T> {
    Keep,
    Put(T),
    Remove,
}

impl<T> Change<T> {
    fn present(&self, before: bool) -> bool {
        match self {
            Change::Keep => before,
            Change::Put(_) => true,
            Change::Remove => false,
        }
    }
}

#[derive(Debug)]
pub struct Update {
    pub ca: Change<Vec<u8>>,
    pub client: Change<(Vec<u8>, Secret)>,
    pub token: Change<Secret>,
}

/// Writes `context` under `name` with the changes in `update`: keychain first, then the
/// certificate files, then the config. Any failure undoes what was done, so the keychain
/// and the config never disagree; secrets that are no longer needed go last.
pub fn save(
    app: &App,
    lock: &Lock,
    config: &mut Config,
    keychain: &Keychain,
    name: &str,
    mut context: Context,
    update: Update,
) -> Result<()> {
    let before = config.contexts.get(name).cloned().unwrap_or_default();
    context.ca_cert = update.ca.present(before.ca_cert);
    context.client_cert = update.client.present(before.client_cert);
    context.token = update.token.present(before.token);
    if context.address.starts_with("http://") && (context.ca_cert || context.client_cert) {
        warn(&format!(
            "context {name:?} has certificates but its address {} is plain http://; Nomad with mTLS needs https://",
            context.address
        ));
    }
    let stale = [
        (Item::ClientKey, before.client_cert && !context.client_cert),
        (Item::Token, before.token && !context.token),
    ];
    let mut rollback = Rollback::default();
    let cert_dir = app.store.cert_dir(name);
    // Runs last: a directory this change created is empty again by then.
    rollback.on_failure(move || {
        let _ = std::fs::remove_dir(cert_dir);
    });

    let key = match &update.client {
        Change::Put((_, key)) => Change::Put(key.clone()),
        Change::Keep => Change::Keep,
        Change::Remove => Change::Remove,
    };
    app.store.begin(&[name], lock, &mut rollback)?;
    put_secret(keychain, name, Item::ClientKey, &key, &mut rollback)?;
    put_secret(keychain, name, Item::Token, &update.token, &mut rollback)?;
    checkpoint("keychain-written")?;

    let ca_path = app.store.ca_path(name);
    match &update.ca {
        Change::Put(pem) => replace_file(&ca_path, Some(pem), &mut rollback)?,
        Change::Remove => replace_file(&ca_path, None, &mut rollback)?,
        Change::Keep => {}
    }
    let cert_path = app.store.client_cert_path(name);
    match &update.client {
        Change::Put((pem, _)) => replace_file(&cert_path, Some(pem), &mut rollback)?,
        Change::Remove => replace_file(&cert_path, None, &mut rollback)?,
        Change::Keep => {}
    }

    checkpoint("files-written")?;

    config.contexts.insert(name.to_owned(), context);
    app.store.save(config, lock)?;
    rollback.commit();
    checkpoint("config-saved")?;

    let _ = std::fs::remove_dir(app.store.cert_dir(name));
    for (item, _) in stale.iter().filter(|(_, stale)| *stale) {
        if let Err(e) = keychain.delete(name, *item) {
            warn(&format!(
                "{e:#}; `nomadctx doctor --repair` removes it later"
            ));
        }
    }
    app.store.finish(&[name], lock)
}

/// Stores a new secret, registering the step that puts the old one (or none) back.
fn put_secret(
    keychain: &Keychain,
    name: &str,
    item: Item,
    change: &Change<Secret>,
    rollback: &mut Rollback,
) -> Result<()> {
    let Change::Put(secret) = change else {
        return Ok(());
    };
    let old = keychain.get(name, item)?;
    keychain.set(name, item, secret)?;
    let keychain = keychain.clone();
    let name = name.to_owned();
    rollback.on_failure(move || {
        let _ = match old {
            Some(old) => keychain.set(&name, item, &old),
            None => keychain.delete(&name, item).map(|_| ()),
        };
    });
    Ok(())
}
