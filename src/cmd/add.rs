//! `nomadctx add`: validate everything, then store certificates, secrets and config as one
//! change. Also home of the input checks `set` shares.

use std::io::Read;
use std::path::{Path, PathBuf};

use rustls_pki_types::CertificateDer;

use anyhow::{Context as _, Result, anyhow, bail};

use crate::change::{Change, Transaction, Update, journal};
use crate::cli::{AddArgs, ContextArgs};
use crate::cmd::App;
use crate::context::{Context, fresh_id, validate_address, validate_name};
use crate::keychain::{Backend, Keychain};
use crate::secret::{Secret, TokenProblem, parse_token};
use crate::store::require_absent;
use crate::text::warn;
use crate::{import, tls};

pub fn run(app: &App, args: AddArgs) -> Result<()> {
    let name = args.name;
    validate_name(&name)?;
    let mut settings = args.settings;
    let in_context = |e: anyhow::Error| e.context(format!("context {name:?}"));
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
    let mut inputs = Inputs::read(&name, &settings, None)?;
    inputs.token = inputs.token.or(env_token);
    apply_settings(&mut context, &settings);
    validate_context(&name, &context)?;

    context.client_cert_not_after = inputs.check_chain(app, &name, None)?;
    let stores_key = inputs.client.is_some();
    if args.remove_key_file {
        let Some(key) = settings.key.as_deref() else {
            bail!(
                "context {name:?}: --remove-key-file removes the key file given with --key, and there is none; drop --remove-key-file"
            );
        };
        key_file_removable(&name, key)?;
    }

    let lock = app.store.lock()?;
    let mut config = app.load_locked(&lock)?;
    require_absent(&config, &name, args.force)?;
    let backend = Backend::choose(config.keychain)?;
    refuse_to_remove_the_only_copy(&name, backend, args.remove_key_file, args.force)?;
    let update = Update {
        ca: inputs.ca.map_or(Change::Keep, |(certs, _)| {
            Change::Put(tls::pem::certificates_to_pem(&certs))
        }),
        client: inputs.client.map_or(Change::Keep, |((certs, _), key)| {
            Change::Put((tls::pem::certificates_to_pem(&certs), key))
        }),
        token: inputs.token.map_or(Change::Keep, Change::Put),
    };
    warn_plain_http(&name, &context, &update);
    context.id = Some(fresh_id(8)?);

    // A new store id is saved before any item is written under it, so that `doctor` can
    // find what a crash leaves; if the change fails and leaves nothing, it goes again.
    let first_id = config
        .store
        .is_none()
        .then(|| app.store.read_raw())
        .transpose()?;
    if first_id.is_some() {
        config.ensure_store_id()?;
        config.store_dir = app.store.fingerprint();
        app.store.save(&config, &lock)?;
    }
    let keychain = app.keychain(&config)?;
    let stored = (|| {
        let mut change = Transaction::begin(&app.store, &keychain, &lock);
        change.apply(&name, &mut context, update)?;
        if let Some(replaced) = config.contexts.get(&name) {
            change.retire_context(&name, replaced);
        }
        config.contexts.insert(name.clone(), context);
        change.commit(&config)
    })();
    if let (Err(_), Some(before)) = (&stored, first_id)
        && journal(&app.store).is_empty()
    {
        app.store.restore_raw(before.as_deref())?;
    }
    stored?;
    eprintln!(
        "nomadctx: added context {name:?}; switch to it with: eval \"$(nomadctx use {name})\""
    );
    if stores_key && !keychain.backend().is_durable() {
        warn(&format!(
            "the key of context {name:?} is in the kernel keyring: lost at reboot, so keep the key file, or choose a durable keychain (README: Headless servers)"
        ));
    }
    if let Some(key) = settings.key.as_deref().filter(|_| args.remove_key_file) {
        remove_key_file(&name, key, &keychain)?;
    }
    Ok(())
}

/// After `--remove-key-file` the keychain item is the key; in the kernel keyring it would
/// not outlive the next reboot.
fn refuse_to_remove_the_only_copy(
    name: &str,
    backend: Backend,
    remove_key_file: bool,
    force: bool,
) -> Result<()> {
    if remove_key_file && !force && !backend.is_durable() {
        bail!(
            "context {name:?}: not removing the key file (--remove-key-file): {} loses its keys at reboot, so the file would be the only lasting copy; keep the file, choose a durable keychain, or pass --force to remove it anyway",
            backend.describe()
        );
    }
    Ok(())
}

/// Certificates with a plain http:// address are almost always a mistake.
pub fn warn_plain_http(name: &str, context: &Context, update: &Update) {
    let certs = matches!(update.ca, Change::Put(_)) || matches!(update.client, Change::Put(_));
    if context.address.starts_with("http://") && (certs || context.has_ca() || context.has_client())
    {
        warn(&format!(
            "context {name:?} has certificates but its address {} is plain http://; Nomad with mTLS needs https://",
            context.address
        ));
    }
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
    /// `stored_cert` is the client certificate the context already holds, if any: `set NAME
    /// --key FILE` alone pairs a new key with it (as after a reboot emptied the kernel
    /// keyring).
    pub fn read(name: &str, settings: &ContextArgs, stored_cert: Option<&Path>) -> Result<Self> {
        let in_context = |e: anyhow::Error| e.context(format!("context {name:?}"));
        let ca = settings
            .ca
            .as_ref()
            .map(|path| -> Result<Certs> {
                let certs = tls::pem::read_ca(path)?;
                tls::checks::check_ca_bundle(&certs, path)?;
                Ok((certs, path.clone()))
            })
            .transpose()
            .map_err(in_context)?;
        let cert_path = settings
            .cert
            .as_deref()
            .or(stored_cert.filter(|_| settings.key.is_some()));
        let client = match (cert_path, &settings.key) {
            (Some(cert_path), Some(key_path)) => {
                let cert_bytes =
                    tls::pem::read_input(cert_path, "certificate file").map_err(in_context)?;
                let certs =
                    tls::pem::parse_certificates(&cert_bytes, cert_path, "certificate file")
                        .map_err(in_context)?;
                let key_bytes = tls::pem::read_input(key_path, "key file").map_err(in_context)?;
                let key = tls::pem::parse_private_key(&key_bytes, key_path).map_err(in_context)?;
                tls::pem::check_key_matches(&certs, &key, cert_path, key_path)
                    .map_err(in_context)?;
                Some(((certs, cert_path.to_path_buf()), key))
            }
            (None, None) => None,
            (None, Some(_)) => bail!(
                "context {name:?}: --key needs --cert, since the context holds no client certificate to pair it with"
            ),
            (Some(_), None) => bail!("context {name:?}: --cert and --key go together; give both"),
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
        let stored = |path: Option<PathBuf>| -> Result<Option<Certs>> {
            let Some(path) = path else {
                return Ok(None);
            };
            Ok(Some((
                tls::pem::read_certificates(&path, "stored certificate")?,
                path,
            )))
        };
        let ca = match &self.ca {
            Some(ca) => Some(ca.clone()),
            None => stored(before.and_then(|b| app.store.ca_file(b)))?,
        };
        let client = match &self.client {
            Some((certs, _)) => Some(certs.clone()),
            None => stored(before.and_then(|b| app.store.client_cert_file(b)))?,
        };
        let Some((certs, cert_path)) = client else {
            return Ok(None);
        };
        let ca = ca.as_ref().map(|(c, p)| (c.as_slice(), p.as_path()));
        let not_after = tls::checks::check_client_certificate(&certs, &cert_path, ca)
            .with_context(|| format!("context {name:?}"))?;
        if let Some(warning) = tls::expiry::expiry_warning(name, not_after) {
            warn(&warning);
        }
        Ok(Some(not_after))
    }
}

/// Deletes the original key file once the key is in the keychain, as asked.
fn remove_key_file(name: &str, key: &Path, keychain: &Keychain) -> Result<()> {
    key_file_removable(name, key)?;
    std::fs::remove_file(key).map_err(|e| {
        anyhow!(
            "context {name:?} was added, but its key file {} could not be removed: {e}; remove it yourself",
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

/// Removing a symlink, or one of several hard links, would leave the key on disk while
/// nomadctx said it is gone; such a key file is left to the user, and said so before
/// anything is added.
fn key_file_removable(name: &str, key: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(key).with_context(|| {
        format!(
            "context {name:?}: could not inspect key file {}",
            key.display()
        )
    })?;
    if meta.file_type().is_symlink() {
        let target = std::fs::canonicalize(key).map_or_else(
            |_| "a file it names".to_owned(),
            |t| t.display().to_string(),
        );
        bail!(
            "context {name:?}: --remove-key-file: {} is a symlink, and removing it would leave the key in {target}; give the file itself with --key, or drop --remove-key-file",
            key.display()
        );
    }
    if let Some(links) = crate::platform::link_count(&meta).filter(|n| *n > 1) {
        bail!(
            "context {name:?}: --remove-key-file: {} has {links} hard links, and the key would stay in the others; remove those yourself, or drop --remove-key-file",
            key.display(),
        );
    }
    Ok(())
}

/// An ACL token from stdin: surrounding whitespace dropped, and it must be one line of text.
fn read_token(name: &str) -> Result<Secret> {
    const MAX_TOKEN: usize = 64 * 1024;
    // Sized for the most that is read, so the buffer never moves and leaves a copy behind.
    let mut raw = Vec::with_capacity(MAX_TOKEN + 1);
    let read = std::io::stdin()
        .lock()
        .take(MAX_TOKEN as u64 + 1)
        .read_to_end(&mut raw);
    let raw = Secret::new(raw);
    read.map_err(|e| {
        anyhow!("context {name:?}: could not read the ACL token from standard input: {e}")
    })?;
    if raw.expose().len() > MAX_TOKEN {
        bail!(
            "context {name:?}: standard input holds more than {} KiB, too much for an ACL token; pipe in the token alone",
            MAX_TOKEN / 1024
        );
    }
    parse_token(raw.expose()).map_err(|problem| match problem {
        TokenProblem::Empty => anyhow!(
            "context {name:?}: --token-stdin read no token; pipe it in, e.g. `nomadctx add {name} ... --token-stdin < token.txt`"
        ),
        TokenProblem::NotOneLine => anyhow!(
            "context {name:?}: the ACL token read from standard input {problem}; pipe in the token alone"
        ),
    })
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
    validate_address(&context.address).with_context(|| format!("context {name:?}"))?;
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
