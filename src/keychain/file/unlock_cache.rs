//! Where an unlocked file store's identity waits for the rest of the session: a "user" key in
//! the kernel's user keyring (Linux), readable by this user's processes only, dropped by the
//! kernel when its timeout runs out, at `nomadctx lock`, or at reboot. Elsewhere there is no cache.

use std::time::Duration;

use anyhow::Result;
use zeroize::Zeroizing;

/// The key's description: `nomadctx:STORE:identity`, so each configuration unlocks alone.
#[cfg(target_os = "linux")]
fn description(store_id: &str) -> String {
    format!("nomadctx:{store_id}:identity")
}

/// Whether this system has a cache for unlocked stores.
pub const AVAILABLE: bool = cfg!(target_os = "linux");

#[cfg(target_os = "linux")]
mod kernel {
    use super::*;
    use crate::keychain::kernel::{
        add_whole, check_owner, is_absent, is_unlinked, os_error, read_payload,
    };
    use anyhow::anyhow;
    use linux_keyutils::{KeyError, KeyRing, KeyRingIdentifier};

    fn refused(what: &str, err: KeyError) -> anyhow::Error {
        anyhow!(
            "could not {what} the kernel's user keyring: {}",
            os_error(err)
        )
    }

    fn user_keyring() -> Result<KeyRing> {
        KeyRing::from_special_id(KeyRingIdentifier::User, true).map_err(|e| refused("open", e))
    }

    /// The cached identity, if the store is unlocked.
    pub fn get(store_id: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
        let ring = user_keyring()?;
        // `lock` or a new `unlock` may replace the key between the search and the read.
        for _ in 0..3 {
            let key = match ring.search(&description(store_id)) {
                Ok(key) => key,
                Err(err) if is_absent(err) => return Ok(None),
                Err(err) => return Err(refused("search", err)),
            };
            // Another account's process that shares the user's session keyring can put a key
            // in the user keyring; what it holds is not this store's identity.
            check_owner(key).map_err(|owner| {
                anyhow!(
                    "the unlock cache in the kernel's user keyring holds a key that belongs to {owner}, not to you: another account whose program shares your session keyring (under `su`, or a setuid program of its own that you ran) put it there; `nomadctx lock` removes it"
                )
            })?;
            match read_payload(key) {
                Ok(identity) => return Ok(Some(identity)),
                Err(err) if is_absent(err) => continue,
                Err(err) => return Err(refused("read", err)),
            }
        }
        Ok(None)
    }

    /// Caches `identity` for `ttl`, in place of an earlier one in one step. Processes of the
    /// user can read it; no process of another account can, even one that possesses it
    /// through a session keyring that `su` or a setuid program inherited, and nobody can
    /// change its timeout or link it into another keyring (see `kernel_keyring::add_whole`).
    pub fn put(store_id: &str, identity: &[u8], ttl: Duration) -> Result<()> {
        add_whole(user_keyring()?, &description(store_id), identity, Some(ttl))
            .map(drop)
            .map_err(|e| refused("cache the identity in", e))
    }

    /// Drops the cached identity; `false` when there was none.
    pub fn forget(store_id: &str) -> Result<bool> {
        let ring = user_keyring()?;
        let key = match ring.search(&description(store_id)) {
            Ok(key) => key,
            Err(err) if is_absent(err) => return Ok(false),
            Err(err) => return Err(refused("search", err)),
        };
        if check_owner(key).is_err() {
            // Another account's key is not nomadctx's to invalidate: it only leaves the
            // user's keyring.
            return match ring.unlink_key(key) {
                Ok(()) => Ok(true),
                Err(err) if is_unlinked(err) => Ok(false),
                Err(err) => Err(refused("remove a foreign key from", err)),
            };
        }
        match key.invalidate() {
            Ok(()) => Ok(true),
            Err(err) if is_absent(err) => Ok(false),
            Err(err) => Err(refused("remove the identity from", err)),
        }
    }

    /// How long the cached identity has left, from /proc/keys (the only place the kernel
    /// tells a key's timeout), as a person reads it: `at least 7h`, `45s`, `no time limit`,
    /// or `None` when it cannot be told.
    pub fn time_left(store_id: &str) -> Option<String> {
        let wanted = description(store_id);
        // Another account's key under the same name is not the cache (see `get`).
        let me = nix::unistd::geteuid().as_raw().to_string();
        let keys = std::fs::read_to_string("/proc/keys").ok()?;
        keys.lines().find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let name = fields.get(8)?.trim_end_matches(':');
            (fields.get(7) == Some(&"user")
                && fields.get(5) == Some(&me.as_str())
                && name == wanted)
                .then(|| readable_timeout(fields[3]))
        })
    }
}

/// The kernel shows a timeout cut down to one unit (`7h` is anything from 7 to 8 hours, so
/// a second after an 8h unlock it says 7h, which reads as an hour gone): say it as the lower
/// bound it is.
#[cfg(target_os = "linux")]
fn readable_timeout(kernel: &str) -> String {
    if kernel == "perm" {
        return "no time limit".to_owned();
    }
    let (number, unit) = kernel.split_at(kernel.len().saturating_sub(1));
    match (number.parse::<u64>(), unit) {
        (Ok(n), "s") => format!("{n}s"),
        (Ok(n), "m" | "h" | "d" | "w") => format!("at least {n}{unit}"),
        _ => kernel.to_owned(),
    }
}

#[cfg(target_os = "linux")]
pub use kernel::{forget, get, put, time_left};

#[cfg(not(target_os = "linux"))]
pub fn get(_store_id: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
    Ok(None)
}

#[cfg(not(target_os = "linux"))]
pub fn put(_store_id: &str, _identity: &[u8], _ttl: Duration) -> Result<()> {
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn forget(_store_id: &str) -> Result<bool> {
    Ok(false)
}

#[cfg(not(target_os = "linux"))]
pub fn time_left(_store_id: &str) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn the_kernel_s_timeouts_read_as_the_bound_a_person_expects() {
        assert_eq!(readable_timeout("7h"), "at least 7h");
        assert_eq!(readable_timeout("59m"), "at least 59m");
        assert_eq!(readable_timeout("45s"), "45s");
        assert_eq!(readable_timeout("perm"), "no time limit");
        assert_eq!(readable_timeout("expd"), "expd");
    }

    #[test]
    fn each_store_has_its_own_cache_key() {
        assert_eq!(description("ab12"), "nomadctx:ab12:identity");
    }
}
