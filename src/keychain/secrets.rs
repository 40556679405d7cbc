//! A context's key and token read from the keychain consistently with the config: a change
//! that commits while they are read is followed, not mistaken for a missing item.

use anyhow::{Context as _, Result, anyhow};
use rustls_pki_types::PrivateKeyDer;
use zeroize::Zeroizing;

use super::{Item, ItemRef, Keychain};
use crate::context::Context;
use crate::secret::Secret;
use crate::store::Store;

/// The key and token a context needs, fetched from the keychain.
#[derive(Debug, Default)]
pub struct Secrets {
    /// The client key as stored: DER.
    pub key: Option<Secret>,
    pub token: Option<Secret>,
    /// Whether the context's certificate links named its versions when this was read.
    pub linked: bool,
}

impl Secrets {
    /// The secrets of context `name` as `ctx` names them, and the context they belong to:
    /// when an item is missing because a change committed since `ctx` was read (and removed
    /// the version it replaced), the context as the config now has it.
    pub fn fetch(
        store: &Store,
        keychain: &Keychain,
        name: &str,
        mut ctx: Context,
    ) -> Result<(Context, Self)> {
        // A few changes committing one after another while we read is plenty.
        let mut retries = 3;
        loop {
            store.check_cert_dir(&ctx)?;
            let (secrets, missing) = Self::read(keychain, name, &ctx)?;
            // Links that do not name ctx's certificates mean a change committed meanwhile
            // (or was cut short, when the config is as read).
            let linked = store.links_current(&ctx);
            if missing.is_none() && linked {
                store.require_cert_files(name, &ctx)?;
                return Ok((ctx, Self { linked, ..secrets }));
            }
            match store.load()?.contexts.remove(name) {
                Some(now) if now != ctx && retries > 0 => {
                    ctx = now;
                    retries -= 1;
                }
                _ => {
                    return match missing {
                        Some(missing) => Err(keychain.missing(name, &missing)),
                        None => store
                            .require_cert_files(name, &ctx)
                            .map(|()| (ctx, Self { linked, ..secrets })),
                    };
                }
            }
        }
    }

    /// What the keychain holds of `ctx`'s secrets, and the first item it lacks.
    fn read(keychain: &Keychain, name: &str, ctx: &Context) -> Result<(Self, Option<ItemRef>)> {
        let items: Vec<ItemRef> = [
            (Item::ClientKey, &ctx.client_version),
            (Item::Token, &ctx.token_version),
        ]
        .into_iter()
        .filter_map(|(kind, version)| Some(ItemRef::new(ctx.id(), kind, version.as_deref()?)))
        .collect();
        let mut secrets = Self::default();
        for (item, secret) in items.iter().zip(keychain.get_all(name, &items)?) {
            let Some(secret) = secret else {
                return Ok((secrets, Some(item.clone())));
            };
            match item.kind {
                Item::ClientKey => secrets.key = Some(secret),
                Item::Token => secrets.token = Some(secret),
            }
        }
        Ok((secrets, None))
    }

    /// The key as PEM, for the file (or memfd) Nomad reads.
    pub fn key_pem(&self, name: &str) -> Result<Option<Secret>> {
        self.key
            .as_ref()
            .map(|key| crate::tls::pem::key_to_pem(key).with_context(|| damaged_key(name)))
            .transpose()
    }

    /// The key as rustls takes it, for `check`; wiped when dropped.
    pub fn key_der(&self, name: &str) -> Result<Option<Zeroizing<PrivateKeyDer<'static>>>> {
        self.key
            .as_ref()
            .map(|key| {
                crate::tls::pem::private_key_der(key)
                    .map(|der| Zeroizing::new(der.clone_key()))
                    .ok_or_else(|| anyhow!(damaged_key(name)))
            })
            .transpose()
    }

    /// The token as text, held to the rule tokens from every source obey (a hand-stored
    /// item with a line break would add HTTP headers of its own).
    pub fn token_str(&self, name: &str) -> Result<Option<&str>> {
        self.token
            .as_ref()
            .map(|t| {
                crate::secret::parse_token(t.expose())
                    .ok()
                    .filter(|parsed| parsed == t)
                    .and_then(|_| t.expose_str())
                    .ok_or_else(|| {
                        anyhow!("the ACL token of context {name:?} in the keychain is not one line of text; store it again with `nomadctx set {name} --token-stdin`")
                    })
            })
            .transpose()
    }
}

fn damaged_key(name: &str) -> String {
    format!(
        "the client key of context {name:?} in the keychain is damaged; store it again with `nomadctx set {name} --key FILE`"
    )
}
