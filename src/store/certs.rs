//! Certificate files in `certs/ID/`: the paths of each version, the `ca.pem` and
//! `client.pem` links to the live ones, and the checks before they are used.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::Store;
use crate::context::Context;
use crate::fs::trust::{MOVE_IT_AWAY, Private, SHARED_WRITE};
use crate::fs::{list_dir, remove_if_present, replace_link};
use crate::platform;

const CERT_FILE: Private = Private {
    what: "certificate file",
    forbidden: SHARED_WRITE,
    at_stake: "another user could swap the CA or certificate nomadctx hands to Nomad for their own",
    not_yours: MOVE_IT_AWAY,
};
const CERT_DIR: Private = Private {
    what: "certificate directory",
    forbidden: SHARED_WRITE,
    at_stake: "another user could swap the CA and certificates nomadctx hands to Nomad for their own",
    not_yours: MOVE_IT_AWAY,
};

/// The links in `certs/ID/` that name the live versions (see [`Store::cert_links`]).
pub const CA_LINK: &str = "ca.pem";
pub const CLIENT_LINK: &str = "client.pem";

impl Store {
    /// `certs/ID/`: a context's certificate files, whatever its name.
    pub fn cert_dir(&self, context_id: &str) -> PathBuf {
        self.root.join("certs").join(context_id)
    }

    /// Refuses the context's certificate directory (and certs/ above it) when another user
    /// could write there; run before its certificates or secrets are used.
    pub fn check_cert_dir(&self, ctx: &Context) -> Result<()> {
        // A missing directory is `require_cert_files`'s to report, naming the context.
        if (!ctx.has_ca() && !ctx.has_client()) || !self.cert_dir(ctx.id()).is_dir() {
            return Ok(());
        }
        // Entries of the config directory, whose path `load` checked all the way up.
        CERT_DIR.check_dir_itself(&self.root.join("certs"))?;
        CERT_DIR.check_dir_itself(&self.cert_dir(ctx.id()))?;
        [self.ca_file(ctx), self.client_cert_file(ctx)]
            .iter()
            .flatten()
            .try_for_each(|file| CERT_FILE.check_file_at(file))
    }

    /// Refuses a context whose certificate files are gone (deleted by hand, or by another
    /// program): Nomad would be handed a path that leads nowhere.
    pub fn require_cert_files(&self, name: &str, ctx: &Context) -> Result<()> {
        let files = [
            (self.ca_file(ctx), "CA file", "--ca FILE"),
            (
                self.client_cert_file(ctx),
                "client certificate",
                "--cert FILE --key FILE",
            ),
        ];
        for (path, what, option) in files {
            if let Some(path) = path.filter(|p| !p.exists()) {
                bail!(
                    "context {name:?}: its {what} {} is missing; put it back with `nomadctx set {name} {option}` (`nomadctx doctor` lists anything else missing)",
                    path.display()
                );
            }
        }
        Ok(())
    }

    pub fn ca_path(&self, context_id: &str, version: &str) -> PathBuf {
        self.cert_dir(context_id).join(format!("ca-{version}.pem"))
    }

    pub fn client_cert_path(&self, context_id: &str, version: &str) -> PathBuf {
        self.cert_dir(context_id)
            .join(format!("client-{version}.pem"))
    }

    /// The context's CA bundle file, if it has one.
    pub fn ca_file(&self, ctx: &Context) -> Option<PathBuf> {
        let version = ctx.ca_version.as_deref()?;
        Some(self.ca_path(ctx.id(), version))
    }

    /// The context's client certificate file, if it has one.
    pub fn client_cert_file(&self, ctx: &Context) -> Option<PathBuf> {
        let version = ctx.client_version.as_deref()?;
        Some(self.client_cert_path(ctx.id(), version))
    }

    /// `certs/ID/ca.pem` and `certs/ID/client.pem` for the pieces the context has: links to
    /// the live versions, the paths to hand to Nomad, so that a shell which ran `use` keeps
    /// working paths across `set`.
    pub fn cert_links(&self, ctx: &Context) -> (Option<PathBuf>, Option<PathBuf>) {
        let dir = self.cert_dir(ctx.id());
        (
            ctx.ca_version.as_ref().map(|_| dir.join(CA_LINK)),
            ctx.client_version.as_ref().map(|_| dir.join(CLIENT_LINK)),
        )
    }

    /// Whether the context's links name the versions `ctx` names (as they do but for a
    /// moment during a change, or after one cut short). A reader never writes a link.
    pub fn links_current(&self, ctx: &Context) -> bool {
        let names = |file: Option<PathBuf>, link: Option<PathBuf>| match (file, link) {
            (Some(file), Some(link)) => file
                .file_name()
                .is_some_and(|target| platform::links_to(&link, target)),
            _ => true,
        };
        let (ca, client) = self.cert_links(ctx);
        names(self.ca_file(ctx), ca) && names(self.client_cert_file(ctx), client)
    }

    /// Points the context's links at its live versions, and removes a link to a piece it no
    /// longer has. Writers call it, holding the lock, after the config is committed.
    pub fn link_certs(&self, ctx: &Context) -> Result<()> {
        if ctx.is_legacy() {
            return Ok(());
        }
        for (file, link) in [
            (self.ca_file(ctx), CA_LINK),
            (self.client_cert_file(ctx), CLIENT_LINK),
        ] {
            let link = self.cert_dir(ctx.id()).join(link);
            // A missing file (doctor reports it) gets no link.
            match file
                .filter(|f| f.is_file())
                .as_deref()
                .and_then(Path::file_name)
            {
                Some(target) => {
                    if !platform::links_to(&link, target) {
                        replace_link(Path::new(target), &link)?;
                    }
                }
                None => remove_if_present(&link)?,
            }
        }
        Ok(())
    }

    /// Before ids, certificates lived under `certs/NAME/`.
    pub fn legacy_cert_dir(&self, name: &str) -> PathBuf {
        self.root.join("certs").join(name)
    }

    /// The entries under certs/, whether or not a context has them.
    pub fn cert_dir_names(&self) -> Result<Vec<String>> {
        list_dir(&self.root.join("certs"))
    }
}
