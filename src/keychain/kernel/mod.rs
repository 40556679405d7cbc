//! The `keyutils` backend: secrets as "user" keys directly in the user's persistent kernel keyring.
//!
//! Why the persistent keyring and nothing else: the kernel keeps one per user, so every session
//! of that user (each terminal, ssh login or cron job) sees the same items, and it hands it out
//! whether or not the calling process has a session keyring, so nomadctx behaves the same in a
//! login shell, under `su` or `sudo -u`, or in a service. It outlives logout: the kernel drops it
//! `/proc/sys/kernel/keys/persistent_keyring_expiry` seconds (3 days by default) after a process
//! last attached it, and every nomadctx run attaches it. It does not survive a reboot. It is
//! attached to the process keyring, not to the session keyring the previous store used, so that
//! the user's session keyring is left alone. Its keys count against the user's key quota
//! (`/proc/sys/kernel/keys/maxkeys` and `maxbytes`).
//!
//! Who can read an item: processes of the user, through the key's *user* permissions, and no
//! process of another account. Possession grants nothing, because it does not follow the uid:
//! a setuid program of another account that the user runs gets the user's persistent keyring
//! from KEYCTL_GET_PERSISTENT (which goes by the real uid) and keeps the user's session keyring,
//! as `su` without `-l` does; such a program keeps the user's groups too, so the group gets
//! nothing either.

mod error;
mod permissions;

use std::fmt;

use linux_keyutils::{Key, KeyError, KeyRing, KeyRingIdentifier, KeySerialId, KeyType};
use nix::errno::Errno;
use zeroize::Zeroizing;

pub use error::KernelError;
use error::attach_error;
pub(crate) use error::{is_absent, is_unlinked, os_error};
use permissions::describe;
#[cfg(test)]
use permissions::{POSSESSOR_BITS, item_permissions, making_permissions};
pub(crate) use permissions::{add_whole, check_owner};

/// The kernel's limit on the payload of a "user" key.
const MAX_SECRET_LEN: usize = 32767;

/// linux-keyutils reads a key's description (`type;uid;gid;perm;description`) into a 512-byte
/// buffer, so longer ones could not be listed back; this is what is left in the worst case.
const MAX_DESCRIPTION_LEN: usize = 512 - "user;4294967295;4294967295;3f010000;".len() - 1;

fn check_description(description: &str) -> Result<(), KernelError> {
    check_legacy_description(description)?;
    if description.contains(';') {
        // The kernel separates the fields of a key's description with ';', and linux-keyutils
        // cuts the name at the first one, so such a key could not be listed back.
        return Err(KernelError::invalid(
            "the key description contains ';', which the kernel keyring cannot list back",
        ));
    }
    if description.len() > MAX_DESCRIPTION_LEN {
        return Err(KernelError::invalid(
            "the key description is too long to be listed back from the kernel keyring",
        ));
    }
    Ok(())
}

fn check_legacy_description(description: &str) -> Result<(), KernelError> {
    if description.is_empty() {
        return Err(KernelError::invalid("the key description is empty"));
    }
    if description.contains('\0') {
        return Err(KernelError::invalid(
            "the key description contains a NUL byte",
        ));
    }
    Ok(())
}

fn check_secret(secret: &[u8]) -> Result<(), KernelError> {
    if secret.is_empty() {
        return Err(KernelError::invalid(
            "the kernel keyring cannot hold an empty secret",
        ));
    }
    if secret.len() > MAX_SECRET_LEN {
        return Err(KernelError::invalid(
            "the secret is larger than the 32767 bytes the kernel allows in a key",
        ));
    }
    Ok(())
}

/// The payload of a key. KEYCTL_READ answers with the full length and copies nothing when the
/// buffer is too small, so the read is repeated with the size the kernel gave; every buffer is
/// wiped when dropped.
pub(crate) fn read_payload(key: Key) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let mut size = 4096;
    // A concurrent update can make the payload grow between two reads; a few tries are plenty.
    for _ in 0..4 {
        let mut buffer = Zeroizing::new(vec![0u8; size]);
        let len = key.read(&mut *buffer)?;
        if len <= buffer.len() {
            buffer.truncate(len);
            return Ok(buffer);
        }
        size = len;
    }
    Err(KeyError::Unknown(Errno::EAGAIN as i32))
}

/// The serial numbers linked directly in a keyring. Read by hand because linux-keyutils 0.2's
/// `KeyRing::get_links` sizes its buffer in entries where the kernel counts bytes, and trusts the
/// length the kernel reports even when the kernel copied nothing.
fn read_links(keyring: Key) -> Result<Vec<KeySerialId>, KeyError> {
    let mut size = 1024;
    for _ in 0..8 {
        let mut buffer = vec![0u8; size];
        let len = keyring.read(&mut buffer)?;
        if len <= buffer.len() {
            return Ok(buffer[..len]
                .chunks_exact(4)
                .map(|b| KeySerialId::new(i32::from_ne_bytes([b[0], b[1], b[2], b[3]])))
                .collect());
        }
        // Room for keys added meanwhile.
        size = len + len / 4;
    }
    Err(KeyError::Unknown(Errno::EAGAIN as i32))
}

/// The user's persistent keyring.
///
/// Every call attaches it again for the calling thread: the kernel keeps the process keyring in
/// each thread's credentials, so one that a thread creates is seen only by the threads it starts
/// afterwards, and a caller need not be on `open`'s thread. Attaching is one cheap system
/// call, and it restarts the keyring's expiry countdown.
pub struct KernelKeyring {
    /// As `open` attached it.
    opened: Attached,
}

impl fmt::Debug for KernelKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KernelKeyring")
            .field("persistent", &self.opened.serial.as_raw_id())
            .finish()
    }
}

impl KernelKeyring {
    /// Attaches the user's persistent keyring to this process's keyring.
    pub fn open() -> Result<Self, KernelError> {
        let opened = Attached::attach(None).map_err(attach_error)?;
        Ok(Self { opened })
    }

    /// The secret bytes of the "user" key with exactly this description directly in the
    /// persistent keyring, or None.
    pub fn get(&self, description: &str) -> Result<Option<Vec<u8>>, KernelError> {
        const WHAT: &str = "could not read the key from the persistent keyring";
        check_description(description)?;
        let attached = self.attach()?;
        let Some(key) = attached
            .find_direct(description)
            .map_err(|err| KernelError::kernel(WHAT, err))?
        else {
            return Ok(None);
        };
        check_owner(key).map_err(KernelError::foreign)?;
        match read_payload(key) {
            Ok(secret) => Ok(Some(secret.to_vec())),
            Err(err) if is_absent(err) => Ok(None),
            Err(err) => Err(KernelError::kernel(WHAT, err)),
        }
    }

    /// Adds (or replaces) a "user" key with this description in the persistent keyring, with
    /// [`item_permissions`]: processes of the user can read it, no process of another account
    /// can, not even one that possesses it.
    pub fn set(&self, description: &str, secret: &[u8]) -> Result<(), KernelError> {
        const WHAT: &str = "could not store the key in the persistent keyring";
        check_description(description)?;
        check_secret(secret)?;
        let attached = self.attach()?;
        add_whole(attached.ring, description, secret, None)
            .map(drop)
            .map_err(|err| KernelError::kernel(WHAT, err))
    }

    /// Removes the key (unlink from the persistent keyring, and invalidate it so no other link
    /// keeps it alive). Ok(false) when there was none.
    pub fn delete(&self, description: &str) -> Result<bool, KernelError> {
        const WHAT: &str = "could not remove the key from the persistent keyring";
        check_description(description)?;
        let attached = self.attach()?;
        let Some(key) = attached
            .find_direct(description)
            .map_err(|err| KernelError::kernel(WHAT, err))?
        else {
            return Ok(false);
        };
        let removed = match check_owner(key) {
            Ok(()) => remove(key, &[attached.ring]),
            // Another account's key is not nomadctx's to invalidate (nor could it): it only
            // leaves the user's keyring.
            Err(_) => unlink(key, attached.ring),
        };
        removed.map_err(|err| KernelError::kernel(WHAT, err))?;
        Ok(true)
    }

    /// Descriptions of the "user" keys directly in the persistent keyring that start with
    /// `prefix`, sorted.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, KernelError> {
        let attached = self.attach()?;
        let links = attached
            .links()
            .map_err(|err| KernelError::kernel("could not list the persistent keyring", err))?;
        let mut found: Vec<String> = links
            .into_iter()
            .map(Key::from_id)
            .filter_map(|key| match describe(key) {
                Some(found)
                    if found.kind == KeyType::User && found.description.starts_with(prefix) =>
                {
                    Some((key, found.description))
                }
                _ => None,
            })
            .filter(|(key, _)| check_owner(*key).is_ok())
            // linux-keyutils cuts a description at its first ';', so a name is only reported
            // when the kernel finds this very key under it.
            .filter(|(key, description)| {
                attached
                    .ring
                    .search(description)
                    .is_ok_and(|found| found == *key)
            })
            .map(|(_, description)| description)
            .collect();
        found.sort();
        found.dedup();
        Ok(found)
    }

    /// For migrating the previous layout: the secret of a "user" key with this description
    /// found by searching the calling process's session keyring tree (which is what the old
    /// store did: it added keys to the session keyring and linked them to the persistent one),
    /// falling back to the persistent keyring. None when absent.
    pub fn find_legacy(&self, description: &str) -> Result<Option<Vec<u8>>, KernelError> {
        const WHAT: &str = "could not read the old key from the kernel keyring";
        check_legacy_description(description)?;
        let attached = self.attach()?;
        let Some((key, _)) =
            find_legacy_key(attached, description).map_err(|err| KernelError::kernel(WHAT, err))?
        else {
            return Ok(None);
        };
        check_owner(key).map_err(KernelError::foreign)?;
        match read_payload(key) {
            Ok(secret) => Ok(Some(secret.to_vec())),
            Err(err) if is_absent(err) => Ok(None),
            Err(err) => Err(KernelError::kernel(WHAT, err)),
        }
    }

    fn attach(&self) -> Result<Attached, KernelError> {
        Attached::attach(Some(self.opened)).map_err(attach_error)
    }
}

/// The persistent keyring as linked into the calling thread's process keyring, which makes the
/// thread possess it and the keys directly in it.
#[derive(Clone, Copy)]
struct Attached {
    ring: KeyRing,
    /// Its serial number, to read its list of keys: linux-keyutils keeps a `KeyRing`'s to itself.
    serial: KeySerialId,
}

impl Attached {
    /// `known` is a keyring attached before, whose serial number still holds when the kernel
    /// hands out the same keyring (it makes a new one only after the old one expired).
    fn attach(known: Option<Attached>) -> Result<Self, KeyError> {
        let ring = KeyRing::get_persistent(KeyRingIdentifier::Process)?;
        match known {
            Some(known) if known.ring == ring => Ok(known),
            _ => Ok(Self {
                ring,
                serial: attached_serial(ring)?,
            }),
        }
    }

    fn links(self) -> Result<Vec<KeySerialId>, KeyError> {
        read_links(Key::from_id(self.serial))
    }

    /// The key with exactly this description linked directly in the persistent keyring.
    /// KEYCTL_SEARCH is recursive, but it looks at a keyring's own keys before the keyrings
    /// nested in it, so its answer is the direct key when there is one; the keyring's list of
    /// links tells whether it is.
    fn find_direct(self, description: &str) -> Result<Option<Key>, KeyError> {
        let key = match self.ring.search(description) {
            Ok(key) => key,
            Err(err) if is_absent(err) => return Ok(None),
            Err(err) => return Err(err),
        };
        Ok(self.links()?.contains(&key.get_id()).then_some(key))
    }
}

/// The key as the old store found it, with the session keyring to unlink it from.
fn find_legacy_key(
    attached: Attached,
    description: &str,
) -> Result<Option<(Key, Option<KeyRing>)>, KeyError> {
    // Without a session keyring the kernel hands out (and installs for this thread) the
    // user-session keyring, as it did for the old store.
    let session = KeyRing::from_special_id(KeyRingIdentifier::Session, false).ok();
    if let Some(session) = session {
        match session.search(description) {
            Ok(key) => return Ok(Some((key, Some(session)))),
            Err(err) if is_absent(err) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(attached.find_direct(description)?.map(|key| (key, session)))
}

/// Invalidates the key, which makes the kernel drop it from every keyring, then unlinks it
/// from these keyrings so that it is gone from them at once, before the garbage collector runs.
/// In that order because a key an earlier nomadctx made grants the user only "view" and can be
/// invalidated only while the thread possesses it, through a keyring that still links it.
fn remove(key: Key, keyrings: &[KeyRing]) -> Result<(), KeyError> {
    match key.invalidate() {
        Ok(()) => {}
        // Someone else removed it first.
        Err(err) if is_absent(err) => {}
        Err(err) => return Err(err),
    }
    for keyring in keyrings {
        unlink(key, *keyring)?;
    }
    Ok(())
}

/// Unlinks the key from `keyring`; a link already gone is no error.
fn unlink(key: Key, keyring: KeyRing) -> Result<(), KeyError> {
    match keyring.unlink_key(key) {
        Ok(()) => Ok(()),
        Err(err) if is_unlinked(err) => Ok(()),
        Err(err) => Err(err),
    }
}

/// The serial number of the persistent keyring just linked into the calling thread's process
/// keyring. Only nomadctx links anything there, and a keyring holds one keyring per description,
/// so the persistent keyring is the one with its description.
fn attached_serial(persistent: KeyRing) -> Result<KeySerialId, KeyError> {
    let wanted = persistent.metadata()?.get_description().to_owned();
    let process = Key::from_id(KeySerialId::new(KeyRingIdentifier::Process as i32));
    read_links(process)?
        .into_iter()
        .find(|&serial| {
            describe(Key::from_id(serial))
                .is_some_and(|found| found.kind == KeyType::KeyRing && found.description == wanted)
        })
        .ok_or(KeyError::KeyringDoesNotExist)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_must_be_listable() {
        assert!(check_description("nomadctx:s1/c1/client-key/v1").is_ok());
        assert!(check_description(&"x".repeat(MAX_DESCRIPTION_LEN)).is_ok());
        for bad in ["", "a\0b", "a;b"] {
            assert!(check_description(bad).is_err(), "{bad:?}");
        }
        assert!(check_description(&"x".repeat(MAX_DESCRIPTION_LEN + 1)).is_err());
        assert_eq!(MAX_DESCRIPTION_LEN, 475);
        // The old store's names only need to be searchable.
        assert!(check_legacy_description("prod/client-key@nomadctx").is_ok());
        assert!(check_legacy_description("odd;name").is_ok());
        assert!(check_legacy_description("").is_err());
    }

    #[test]
    fn secrets_must_fit_a_user_key() {
        assert!(check_secret(&[1; 3000]).is_ok());
        assert!(check_secret(&[1; MAX_SECRET_LEN]).is_ok());
        assert!(check_secret(&[]).is_err());
        assert!(check_secret(&[1; MAX_SECRET_LEN + 1]).is_err());
    }

    #[test]
    fn possession_grants_nothing_and_nobody_may_relink_or_retime() {
        // user view|read|search; possessor, group and other nothing.
        assert_eq!(item_permissions().bits(), 0x000b_0000);
        // While a key is made: user view|read|search|link|setattr.
        assert_eq!(making_permissions().bits(), 0x003b_0000);
        assert_eq!(item_permissions().bits() & POSSESSOR_BITS, 0);
        assert_eq!(making_permissions().bits() & POSSESSOR_BITS, 0);
    }

    #[test]
    fn secret_errors_do_not_carry_the_bytes() {
        let err = check_secret(&[b'k'; MAX_SECRET_LEN + 1])
            .unwrap_err()
            .to_string();
        assert!(!err.contains("kkkk"), "{err}");
    }
}
