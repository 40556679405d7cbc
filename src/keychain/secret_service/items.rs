//! The items nomadctx keeps: search, read, write and delete them by account.
//!
//! Items are the ones nomadctx has always written: attributes `service` and `username` (the
//! account), a label, in the default collection.

use std::collections::HashMap;

use dbus::arg::{RefArg, Variant};
use dbus::{Message, Path};

use super::{
    COLLECTION_IFACE, CONTENT_TYPE, Error, ITEM_IFACE, Result, SERVICE_NAME, SecretService,
    is_none, method, mismatch, read_path, service_call,
};
use crate::secret::Secret;

impl SecretService {
    /// The secrets of `accounts`, in order, each `None` when there is no such item: a search
    /// per account and then one GetSecrets for all of them.
    pub fn get_all(&self, accounts: &[&str]) -> Result<Vec<Option<Secret>>> {
        let mut paths = Vec::with_capacity(accounts.len());
        for account in accounts {
            paths.push(match self.search(&self.item(account))?.as_slice() {
                [] => None,
                [one] => Some(one.clone()),
                many => return Err(Error::Ambiguous(many.len(), (*account).to_owned())),
            });
        }
        let wanted: Vec<Path> = paths.iter().flatten().cloned().collect();
        let mut secrets = match self.secrets(wanted) {
            // Retired since the search: the caller reads the config again and asks for the
            // items it names now.
            Err(Error::Vanished) => HashMap::new(),
            other => other?,
        };
        Ok(paths
            .iter()
            .map(|path| path.as_ref().and_then(|p| secrets.remove(p)))
            .collect())
    }

    /// Stores `secret` under `account`, replacing the item there.
    pub fn set(&self, account: &str, label: &str, secret: &Secret) -> Result<()> {
        let collection = self.default_collection()?;
        let (parameters, value) = self.cipher.encrypt(secret.expose())?;
        let attributes: HashMap<String, String> = self
            .item(account)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let properties: HashMap<&str, Variant<Box<dyn RefArg>>> = HashMap::from([
            (
                "org.freedesktop.Secret.Item.Label",
                Variant(Box::new(label.to_owned()) as Box<dyn RefArg>),
            ),
            (
                "org.freedesktop.Secret.Item.Attributes",
                Variant(Box::new(attributes) as Box<dyn RefArg>),
            ),
        ]);
        let call = method(&collection, COLLECTION_IFACE, "CreateItem").append3(
            properties,
            (
                self.session.clone(),
                parameters,
                value.as_slice(),
                CONTENT_TYPE,
            ),
            true,
        );
        let reply = self.call(call)?;
        let (item, prompt) = (read_path(&reply, 0)?, read_path(&reply, 1)?);
        if is_none(&item) {
            // Some services (KeePassXC) always ask first; the item is made once answered.
            match self.prompt(&prompt)? {
                (false, Some(made)) if !is_none(&made) => {}
                _ => return Err(Error::Dismissed("store the item")),
            }
        }
        Ok(())
    }

    /// Removes the item of `account`; `false` when there was none.
    pub fn delete(&self, account: &str) -> Result<bool> {
        let items = self.search(&self.item(account))?;
        for item in &items {
            let reply = self.call(method(item, ITEM_IFACE, "Delete"))?;
            let prompt = read_path(&reply, 0)?;
            if !is_none(&prompt) && self.prompt(&prompt)?.0 {
                return Err(Error::Dismissed("delete the item"));
            }
        }
        Ok(!items.is_empty())
    }

    /// The accounts of every item of the service.
    pub fn accounts(&self) -> Result<Vec<String>> {
        let mut accounts = Vec::new();
        for item in self.search(&[("service", self.service)])? {
            let attributes = match self.attributes(&item) {
                Err(Error::Vanished) => continue,
                other => other?,
            };
            if attributes.get("service").map(String::as_str) == Some(self.service)
                && let Some(account) = attributes.get("username")
            {
                accounts.push(account.clone());
            }
        }
        Ok(accounts)
    }

    /// The one item of `account` whose attributes are the service and account alone (what
    /// older versions wrote, and what libsecret adds: `xdg:schema`); two such items are none.
    pub fn find_plain_item(&self, account: &str) -> Result<Option<Secret>> {
        let mut ours = Vec::new();
        for item in self.search(&self.item(account))? {
            let attributes = match self.attributes(&item) {
                Err(Error::Vanished) => continue,
                other => other?,
            };
            if attributes
                .keys()
                .all(|k| matches!(k.as_str(), "service" | "username" | "xdg:schema"))
            {
                ours.push(item);
            }
        }
        match ours.as_slice() {
            [one] => Ok(self.secrets(vec![one.clone()])?.remove(one)),
            _ => Ok(None),
        }
    }

    /// The attributes of the item of `account` (as every version has written them).
    fn item<'a>(&self, account: &'a str) -> [(&'static str, &'a str); 2] {
        [("service", self.service), ("username", account)]
    }

    /// The items whose attributes include `attributes`, unlocked (which may prompt).
    fn search(&self, attributes: &[(&str, &str)]) -> Result<Vec<Path<'static>>> {
        let query: HashMap<&str, &str> = attributes.iter().copied().collect();
        let reply = self.call(service_call("SearchItems").append1(query))?;
        let (unlocked, locked): (Vec<Path>, Vec<Path>) = reply.read2().map_err(mismatch)?;
        let mut items: Vec<Path<'static>> = unlocked.into_iter().map(Path::into_static).collect();
        let locked: Vec<Path<'static>> = locked.into_iter().map(Path::into_static).collect();
        if !locked.is_empty() {
            self.unlock(&locked)?;
            items.extend(locked);
        }
        Ok(items)
    }

    fn unlock(&self, objects: &[Path<'static>]) -> Result<()> {
        let reply = self.call(service_call("Unlock").append1(objects.to_vec()))?;
        let prompt = read_path(&reply, 1)?;
        if is_none(&prompt) {
            return Ok(());
        }
        if self.prompt(&prompt)?.0 {
            return Err(Error::Locked);
        }
        Ok(())
    }

    /// The decrypted secrets of `items`, by item.
    fn secrets(&self, items: Vec<Path<'static>>) -> Result<HashMap<Path<'static>, Secret>> {
        if items.is_empty() {
            return Ok(HashMap::new());
        }
        let reply = self.call(service_call("GetSecrets").append2(items, self.session.clone()))?;
        type Wire<'a> = HashMap<Path<'a>, (Path<'a>, Vec<u8>, Vec<u8>, String)>;
        let wire: Wire = reply.read1().map_err(mismatch)?;
        let mut secrets = HashMap::with_capacity(wire.len());
        for (item, (_, parameters, value, _)) in wire {
            let secret = self.cipher.decrypt(&parameters, value)?;
            secrets.insert(item.into_static(), secret);
        }
        Ok(secrets)
    }

    fn attributes(&self, item: &Path) -> Result<HashMap<String, String>> {
        let call = Message::method_call(
            &SERVICE_NAME.into(),
            item,
            &"org.freedesktop.DBus.Properties".into(),
            &"Get".into(),
        )
        .append2(ITEM_IFACE, "Attributes");
        let reply = self.call(call)?;
        let Variant(attributes) = reply.read1().map_err(mismatch)?;
        Ok(attributes)
    }

    /// The collection new items go to: the `default` alias, made (which may prompt) when the
    /// service has none yet, and unlocked.
    fn default_collection(&self) -> Result<Path<'static>> {
        let reply = self.call(service_call("ReadAlias").append1("default"))?;
        let mut collection = read_path(&reply, 0)?;
        if is_none(&collection) {
            let properties: HashMap<&str, Variant<Box<dyn RefArg>>> = HashMap::from([(
                "org.freedesktop.Secret.Collection.Label",
                Variant(Box::new("Login".to_owned()) as Box<dyn RefArg>),
            )]);
            let reply =
                self.call(service_call("CreateCollection").append2(properties, "default"))?;
            collection = read_path(&reply, 0)?;
            let prompt = read_path(&reply, 1)?;
            if is_none(&collection) {
                let (dismissed, result) = self.prompt(&prompt)?;
                collection = result.filter(|_| !dismissed).ok_or(Error::Failed(
                    "the Secret Service has no default collection and did not make one".to_owned(),
                ))?;
            }
        }
        self.unlock(std::slice::from_ref(&collection))?;
        Ok(collection)
    }
}
