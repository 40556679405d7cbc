//! Kernel keyring failures in words a user can act on, and the errno behind a `KeyError`.

use std::borrow::Cow;
use std::fmt;
use std::io;

use linux_keyutils::KeyError;
use nix::errno::Errno;

const QUOTA_FULL: &str =
    "the kernel's key quota for this user is full (see /proc/sys/kernel/keys/maxkeys and maxbytes)";

/// Why a kernel keyring operation failed, in words a user can act on. Never carries secret bytes.
#[derive(Debug)]
pub struct KernelError {
    what: Cow<'static, str>,
    /// The kernel's answer, when there was one.
    cause: Option<io::Error>,
}

impl KernelError {
    pub(super) fn invalid(what: &'static str) -> Self {
        Self {
            what: what.into(),
            cause: None,
        }
    }

    /// A key under nomadctx's name that `owner`, not the user, put in the user's keyring.
    pub(super) fn foreign(owner: String) -> Self {
        Self {
            what: format!(
                "the kernel keyring holds a key under nomadctx's name that belongs to {owner}, not to you, so nomadctx does not read it: another account whose program shares your session keyring (under `su`, or a setuid program of its own that you ran) put it there"
            )
            .into(),
            cause: None,
        }
    }

    pub(super) fn kernel(what: &'static str, err: KeyError) -> Self {
        let what = if err == KeyError::QuotaExceeded {
            QUOTA_FULL
        } else {
            what
        };
        Self {
            what: what.into(),
            cause: Some(os_error(err)),
        }
    }
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            Some(cause) => write!(f, "{}: {cause}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

// The cause is part of the text already, so it is not repeated as a source.
impl std::error::Error for KernelError {}

/// linux-keyutils folds errno into its own enum; turn it back so the text is the system's.
pub(crate) fn os_error(err: KeyError) -> io::Error {
    let errno = match err {
        KeyError::AccessDenied => Errno::EACCES,
        KeyError::PermissionDenied => Errno::EPERM,
        KeyError::QuotaExceeded => Errno::EDQUOT,
        KeyError::BadAddress => Errno::EFAULT,
        KeyError::InvalidArguments => Errno::EINVAL,
        KeyError::KeyExpired => Errno::EKEYEXPIRED,
        KeyError::KeyRevoked => Errno::EKEYREVOKED,
        KeyError::KeyRejected => Errno::EKEYREJECTED,
        KeyError::KeyringDoesNotExist | KeyError::KeyDoesNotExist => Errno::ENOKEY,
        KeyError::OutOfMemory => Errno::ENOMEM,
        KeyError::OperationNotSupported => Errno::EOPNOTSUPP,
        KeyError::MissingFileOrDirectory => Errno::ENOENT,
        KeyError::Unknown(code) => return io::Error::from_raw_os_error(code),
        KeyError::InvalidDescription => {
            return io::Error::new(io::ErrorKind::InvalidData, "unreadable key description");
        }
        KeyError::InvalidIdentifier => {
            return io::Error::new(io::ErrorKind::InvalidData, "invalid key serial number");
        }
        KeyError::WriteError => return io::Error::other("write failed"),
    };
    io::Error::from_raw_os_error(errno as i32)
}

/// Errors that only mean the key is not (or no longer) there.
pub(crate) fn is_absent(err: KeyError) -> bool {
    matches!(
        err,
        KeyError::KeyDoesNotExist | KeyError::KeyExpired | KeyError::KeyRevoked
    )
}

/// Errors of an unlink that only mean the link is already gone (the garbage collector removes
/// invalidated keys from every keyring on its own).
pub(crate) fn is_unlinked(err: KeyError) -> bool {
    matches!(
        err,
        KeyError::MissingFileOrDirectory | KeyError::KeyDoesNotExist
    )
}

pub(super) fn attach_error(err: KeyError) -> KernelError {
    let what = match err {
        KeyError::AccessDenied | KeyError::PermissionDenied => {
            "the kernel refused access to the persistent keyring"
        }
        KeyError::OperationNotSupported => {
            "this kernel has no persistent keyrings (CONFIG_PERSISTENT_KEYRINGS)"
        }
        _ => "could not attach the persistent keyring",
    };
    KernelError::kernel(what, err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_like_the_system() {
        let err = KernelError::kernel(
            "the kernel refused access to the persistent keyring",
            KeyError::AccessDenied,
        );
        assert_eq!(
            err.to_string(),
            "the kernel refused access to the persistent keyring: Permission denied (os error 13)"
        );
        let quota = KernelError::kernel("could not store", KeyError::QuotaExceeded).to_string();
        assert!(quota.starts_with(QUOTA_FULL), "{quota}");
        assert_eq!(
            os_error(KeyError::KeyDoesNotExist).raw_os_error(),
            Some(Errno::ENOKEY as i32)
        );
        assert_eq!(os_error(KeyError::Unknown(5)).raw_os_error(), Some(5));
    }
}
