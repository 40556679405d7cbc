//! Who may do what with a key nomadctx makes: the user's processes read it, possession grants
//! nothing, nobody retimes or relinks it once it is whole; and whose a key found is.

use std::panic;
use std::time::Duration;

use linux_keyutils::{
    Key, KeyError, KeyPermissions, KeyPermissionsBuilder, KeyRing, KeyRingIdentifier, KeyType,
    Permission,
};

use super::error::is_absent;

/// What a finished key grants: the user may view it (describe it, see it in /proc/keys), read
/// it, and search for it (which also lets nomadctx invalidate it at `lock` and `remove`); the
/// possessor, the group and others get nothing (see the module's notes), and nobody may change
/// its timeout or permissions (SETATTR) or link it into another keyring (LINK).
pub(super) fn item_permissions() -> KeyPermissions {
    KeyPermissionsBuilder::builder()
        .user(Permission::VIEW | Permission::READ | Permission::SEARCH)
        .build()
}

/// While nomadctx makes a key, the user may also set its timeout and link it where it belongs;
/// still nothing for the possessor, so nothing for another account.
pub(super) fn making_permissions() -> KeyPermissions {
    KeyPermissionsBuilder::builder()
        .user(
            Permission::VIEW
                | Permission::READ
                | Permission::SEARCH
                | Permission::LINK
                | Permission::SETATTR,
        )
        .build()
}

/// Adds a "user" key to `ring` with [`item_permissions`] and, when given, a timeout, in place
/// of a key with the same description there. The key is made whole in this process's own
/// keyring, which no other process possesses, and only then linked into `ring`, which replaces
/// an earlier key in one step: a reader sees the old key or the new, never one that another
/// account could read or one without its timeout.
pub(crate) fn add_whole(
    ring: KeyRing,
    description: &str,
    secret: &[u8],
    timeout: Option<Duration>,
) -> Result<Key, KeyError> {
    let private = KeyRing::from_special_id(KeyRingIdentifier::Process, true)?;
    let key = private.add_key(description, secret)?;
    let finish = || -> Result<(), KeyError> {
        // The kernel gives a new key possessor rights; they go before anything can reach it.
        key.set_perms(making_permissions())?;
        if let Some(timeout) = timeout {
            key.set_timeout(timeout.as_secs().max(1) as usize)?;
        }
        ring.link_key(key)?;
        key.set_perms(item_permissions())
    };
    let done = finish();
    let _ = private.unlink_key(key);
    if done.is_err() {
        let _ = key.invalidate();
    }
    done.map(|()| key)
}

/// Whether `key`, found in one of the user's keyrings, is the user's own; when it is not, the
/// error names its owner (`uid N`, or "another account" when it cannot even be described).
/// Another account whose process possesses the user's keyrings (see the module's notes) can put
/// keys into them, and nomadctx does not take such a key for its own. A key of the user's that
/// an earlier nomadctx made, with rights for its possessor, gets today's permissions.
pub(crate) fn check_owner(key: Key) -> Result<(), String> {
    // Keys belong to the file-system uid that made them, which is the effective uid.
    let me = nix::unistd::geteuid().as_raw();
    match describe(key) {
        Some(found) if found.uid == me => {
            // Only possessor rights mark an earlier version's key: a key that `add_whole` is
            // still making has none, and must keep the rights it needs to be finished.
            if found.perms & POSSESSOR_BITS != 0 {
                let _ = key.set_perms(item_permissions());
            }
            Ok(())
        }
        Some(found) => Err(format!("uid {}", found.uid)),
        // A key gone since it was found is for the read that follows to report.
        None => match panic::catch_unwind(move || key.metadata()) {
            Ok(Err(err)) if is_absent(err) => Ok(()),
            _ => Err("another account".to_owned()),
        },
    }
}

/// The possessor's byte of a key's permissions.
pub(super) const POSSESSOR_BITS: u32 = 0xff00_0000;

/// What the kernel tells about a key.
pub(super) struct Described {
    pub kind: KeyType,
    pub description: String,
    pub uid: u32,
    pub perms: u32,
}

/// The type, description and owner of a key, or `None` when it cannot be described (not ours
/// to see, already gone, of a type linux-keyutils does not know).
pub(super) fn describe(key: Key) -> Option<Described> {
    // linux-keyutils 0.2 slices its 512-byte describe buffer by the length the kernel reports and
    // panics when another program's key has a longer description; such a key is not ours, so it
    // is skipped rather than bringing nomadctx down.
    let metadata = panic::catch_unwind(move || key.metadata()).ok()?.ok()?;
    Some(Described {
        kind: metadata.get_type(),
        description: metadata.get_description().to_owned(),
        uid: metadata.get_uid(),
        perms: metadata.get_perms().bits(),
    })
}
