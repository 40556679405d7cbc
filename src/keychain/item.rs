//! Which secret an item holds, and the keychain account that names it.

use super::Keychain;

/// Which secret of a context an item holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Item {
    ClientKey,
    Token,
}

impl Item {
    pub const ALL: [Item; 2] = [Item::ClientKey, Item::Token];

    pub fn suffix(self) -> &'static str {
        match self {
            Self::ClientKey => "client-key",
            Self::Token => "token",
        }
    }

    pub fn from_suffix(suffix: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|item| item.suffix() == suffix)
    }

    pub fn what(self) -> &'static str {
        match self {
            Self::ClientKey => "client key",
            Self::Token => "ACL token",
        }
    }
}

/// One secret of one context: its item's account is `STORE/CONTEXT/KIND/VERSION` (plus the
/// keychain's service, `nomadctx`), so names never appear in it and each change writes a
/// new version beside the live one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ItemRef {
    pub context: String,
    pub kind: Item,
    pub version: String,
}

impl ItemRef {
    pub fn new(context: &str, kind: Item, version: &str) -> Self {
        Self {
            context: context.to_owned(),
            kind,
            version: version.to_owned(),
        }
    }
}

/// The account of a context's item before store and context ids: `NAME/client-key`.
pub fn legacy_account(name: &str, item: Item) -> String {
    format!("{name}/{}", item.suffix())
}

impl Keychain {
    /// `STORE/CONTEXT/KIND/VERSION`.
    pub fn account(&self, item: &ItemRef) -> String {
        format!(
            "{}/{}/{}/{}",
            self.store_id,
            item.context,
            item.kind.suffix(),
            item.version
        )
    }

    /// The item an account names, if it is one of this store's.
    pub(super) fn parse_account(&self, account: &str) -> Option<ItemRef> {
        // Without a store id (a config that never stored anything) nothing is ours: an empty
        // prefix would claim any account that starts with '/'.
        if self.store_id.is_empty() {
            return None;
        }
        let rest = account.strip_prefix(&self.store_id)?.strip_prefix('/')?;
        let mut parts = rest.split('/');
        let (context, kind, version) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        Some(ItemRef::new(context, Item::from_suffix(kind)?, version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keychain::Backend;

    #[test]
    fn accounts_carry_the_store_and_context_ids_never_the_name() {
        let keychain = Keychain::new(Backend::SecretService, "s1");
        let item = ItemRef::new("c1", Item::ClientKey, "v1");
        assert_eq!(keychain.account(&item), "s1/c1/client-key/v1");
        assert_eq!(keychain.parse_account("s1/c1/client-key/v1"), Some(item));
        assert_eq!(
            keychain.parse_account("s1/c1/token/v2").unwrap().kind,
            Item::Token
        );
        for foreign in [
            "s2/c1/client-key/v1",
            "prod/client-key",
            "s1/c1/key/v1",
            "s1/c1/token/v1/x",
            "s10/c1/token/v1",
        ] {
            assert_eq!(keychain.parse_account(foreign), None, "{foreign}");
        }
        assert_eq!(legacy_account("prod", Item::Token), "prod/token");
    }
}
