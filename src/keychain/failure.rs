//! What went wrong in a keychain, told as a message that says what to do.

use std::time::Duration;

use anyhow::anyhow;
#[cfg(not(target_os = "linux"))]
use keyring_core::Error as KeyringError;

use super::{Item, ItemRef, Keychain, SERVICE};
use crate::keychain::file::{FileError, LOCKED};
#[cfg(target_os = "linux")]
use crate::keychain::kernel::KernelError;
#[cfg(target_os = "linux")]
use crate::keychain::secret_service::Error as ServiceError;

pub(super) enum Failure {
    #[cfg(not(target_os = "linux"))]
    Keyring(KeyringError),
    File(FileError),
    #[cfg(target_os = "linux")]
    Service(ServiceError),
    #[cfg(target_os = "linux")]
    Kernel(KernelError),
    /// The backend does not exist on this operating system.
    Unavailable(String),
    TimedOut,
}

#[cfg(target_os = "linux")]
impl From<ServiceError> for Failure {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::TimedOut => Self::TimedOut,
            other => Self::Service(other),
        }
    }
}

/// What to do when there is no Secret Service to talk to (a server reached over ssh, su,
/// cron, a container): the choices, short, and where the manual explains them.
pub(super) const NO_SERVICE_CHOICES: &str = "Choose where this configuration keeps keys, then run the command again:
  nomadctx keychain use file       encrypted files: durable, a passphrase once per session
  nomadctx keychain use keyutils   the kernel keyring: no passphrase, but lost at reboot
  dbus-run-session -- $SHELL       a session bus to start a Secret Service in (gnome-keyring-daemon --unlock)
See docs/headless.md (\"Headless servers\").";

impl Failure {
    /// Why there is no Secret Service at all, when that is the failure: D-Bus's own text
    /// (X11 autolaunch, socket paths) says little to someone on a server.
    pub(super) fn no_service(&self) -> Option<String> {
        match self {
            #[cfg(target_os = "linux")]
            Self::Service(e @ (ServiceError::NoBus(_) | ServiceError::NoService)) => {
                Some(e.to_string())
            }
            _ => None,
        }
    }

    pub(super) fn describe(&self) -> String {
        match self {
            #[cfg(not(target_os = "linux"))]
            Self::Keyring(err) => describe_error(err),
            Self::File(err) => err.to_string(),
            #[cfg(target_os = "linux")]
            Self::Service(err) => err.to_string(),
            #[cfg(target_os = "linux")]
            Self::Kernel(err) => err.to_string(),
            Self::Unavailable(why) => why.clone(),
            Self::TimedOut => "no answer".to_owned(),
        }
    }
}

impl Keychain {
    /// Why an item a context names is not there, and how to put it back.
    pub fn missing(&self, name: &str, item: &ItemRef) -> anyhow::Error {
        let again = match item.kind {
            _ if name.is_empty() => String::new(),
            Item::ClientKey => format!("; store it again with `nomadctx set {name} --key FILE`"),
            Item::Token => format!("; store it again with `nomadctx set {name} --token-stdin`"),
        };
        let why = if self.backend.is_durable() {
            format!("is missing from {}", self.backend.describe())
        } else {
            "is not in the kernel keyring, most likely lost at reboot (kernel keyring): it keeps keys until the machine restarts, or until nomadctx has not run for 3 days (persistent_keyring_expiry)".to_owned()
        };
        anyhow!(
            "the {} of {} {why} (item {SERVICE}/{}){again}",
            item.kind.what(),
            owner(name),
            self.account(item),
        )
    }

    pub(super) fn explain(
        &self,
        name: &str,
        item: Item,
        account: &str,
        verb: &str,
        failure: Failure,
    ) -> anyhow::Error {
        let backend = self.backend.describe();
        let what = item.what();
        let owner = owner(name);
        let remedy = self.backend.remedy();
        if let Some(reason) = failure.no_service() {
            return anyhow!(
                "could not {verb} the {what} of {owner}: there is no Secret Service here ({reason}).\n{NO_SERVICE_CHOICES}"
            );
        }
        match failure {
            #[cfg(target_os = "linux")]
            Failure::Service(foreign @ ServiceError::ForeignBus { .. }) => {
                anyhow!("could not {verb} the {what} of {owner}: {foreign}")
            }
            Failure::File(FileError::Locked) => {
                anyhow!("could not {verb} the {what} of {owner}: {LOCKED}")
            }
            Failure::File(FileError::Damaged { path, why }) => {
                let again = match item {
                    _ if name.is_empty() => String::new(),
                    Item::ClientKey => {
                        format!(", or store the key again with `nomadctx set {name} --key FILE`")
                    }
                    Item::Token => format!(
                        ", or store the token again with `nomadctx set {name} --token-stdin`"
                    ),
                };
                anyhow::Error::new(Refused(format!(
                    "the {what} of {owner} could not be read: its file {} is damaged or was changed ({why}); restore the file from a backup{again}",
                    path.display()
                )))
            }
            Failure::File(other) => {
                anyhow!("could not {verb} the {what} of {owner} in the file store: {other}")
            }
            Failure::TimedOut => anyhow::Error::new(NoAnswer(format!(
                "{backend} did not answer within {} when asked to {verb} the {what} of {owner} (item {SERVICE}/{account}); {remedy}",
                seconds(self.timeout)
            ))),
            other => anyhow!(
                "could not {verb} the {what} of {owner} in {backend} (item {SERVICE}/{account}): {}; {remedy}",
                other.describe()
            ),
        }
    }
}

/// A timeout as a person reads it: `10 seconds`, `0.5 seconds`.
pub(super) fn seconds(timeout: Duration) -> String {
    let secs = timeout.as_secs_f64();
    if secs == 1.0 {
        "1 second".to_owned()
    } else if secs.fract() == 0.0 {
        format!("{secs:.0} seconds")
    } else {
        format!("{secs:.1} seconds")
    }
}

/// Whose item an error is about: `context "prod"`, or, for `name` empty, an item that no
/// context names (an orphan, or one a change rolls back).
fn owner(name: &str) -> String {
    if name.is_empty() {
        "an item no context names".to_owned()
    } else {
        format!("context {name:?}")
    }
}

/// A secret's file that is there but is not what nomadctx wrote for it: damaged, or copied
/// or forged (`doctor` reports it rather than stopping).
#[derive(Debug)]
pub struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// A keychain call that got no answer in time, and so may still be carried out later.
#[derive(Debug)]
pub struct NoAnswer(String);

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NoAnswer {}

/// keyring-core errors can carry the secret bytes (BadEncoding, BadDataFormat), so their
/// text is rebuilt here from the kind and the platform's message only.
#[cfg(not(target_os = "linux"))]
fn describe_error(err: &KeyringError) -> String {
    match err {
        KeyringError::PlatformFailure(e) => format!("the keychain failed: {e}"),
        KeyringError::NoStorageAccess(e) => {
            format!("the keychain is locked or refused access: {e}")
        }
        KeyringError::NoEntry => "there is no such item".to_owned(),
        KeyringError::BadEncoding(_) | KeyringError::BadDataFormat(..) => {
            "the stored item is malformed".to_owned()
        }
        KeyringError::TooLong(attr, limit) => {
            format!("{attr} is longer than the keychain's limit of {limit}")
        }
        KeyringError::NotSupportedByStore(why) => format!("not supported: {why}"),
        KeyringError::NoDefaultStore => "no keychain is configured".to_owned(),
        KeyringError::Ambiguous(items) => {
            format!("{} items match; remove the duplicates", items.len())
        }
        // Variants added later may carry bytes, as BadDataFormat does: their text is not shown.
        _ => "the keychain failed".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[cfg(not(target_os = "linux"))]
    use super::*;

    #[cfg(not(target_os = "linux"))]
    #[test]
    fn malformed_item_errors_do_not_repeat_the_bytes() {
        let err = KeyringError::BadEncoding(b"s3cr3t".to_vec());
        assert!(!describe_error(&err).contains("s3cr3t"));
    }
}
