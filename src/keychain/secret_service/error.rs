//! What can go wrong talking to the Secret Service, and how D-Bus errors map onto it.

use super::session::{self, SessionError};
use super::{ITEM_IFACE, SESSION_VAR};

/// What went wrong, in terms a caller can act on.
#[derive(Debug)]
pub enum Error {
    /// No session bus to talk to; the reason.
    NoBus(String),
    /// The bus at `address` (which `from` names) is run by another account (`owner`, when
    /// the kernel could say) than the user's: nothing was sent to it.
    ForeignBus {
        address: String,
        from: &'static str,
        owner: Option<u32>,
        user: u32,
    },
    /// The bus has no Secret Service on it.
    NoService,
    /// The service (or the bus) did not answer in time.
    TimedOut,
    /// The collection is locked and its unlock prompt was dismissed (or is unanswered).
    Locked,
    /// The service's prompt to do this was dismissed or not answered.
    Dismissed(&'static str),
    /// The service left the bus (stopped or crashed) before it answered.
    Gone,
    /// The service offers no encrypted session.
    NoEncryption(String),
    /// Several items claim one account: how many, and the account.
    Ambiguous(usize, String),
    /// An item found by a search was deleted before it was read (a `set` in another process
    /// retired it): it is simply gone.
    Vanished,
    Session(SessionError),
    /// Anything else the service or bus said.
    Failed(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoBus(why) => f.write_str(why),
            Self::ForeignBus {
                address,
                from,
                owner,
                user,
            } => {
                let whose = match owner {
                    Some(owner) => format!("user id {owner}, not to you ({user})"),
                    None => format!("an account the kernel cannot name, not to you ({user})"),
                };
                let remedy = if *from == "DBUS_SESSION_BUS_ADDRESS" {
                    "a stale address from a session that has ended (tmux, nohup and screen keep them) can be taken over by any local account: unset DBUS_SESSION_BUS_ADDRESS, or start a shell in your own session (log in again, or `dbus-run-session -- $SHELL`)"
                } else {
                    "su keeps the previous user's XDG_RUNTIME_DIR: unset it, or use `su -` (or ssh) to get a session of your own"
                };
                write!(
                    f,
                    "the session bus at {address} (from {from}) belongs to {whose}, so it could hand your keys and tokens to that account; nothing was sent to it. {remedy}"
                )
            }
            Self::NoService => f.write_str("no Secret Service runs on this session's D-Bus"),
            Self::TimedOut => f.write_str("no answer"),
            Self::Locked if super::prompt::has_display() => f.write_str(
                "the keychain is locked and its unlock prompt was dismissed or not answered",
            ),
            Self::Locked => f.write_str(
                "the keychain is locked, and its unlock prompt needs a display this session does not have (no DISPLAY or WAYLAND_DISPLAY); unlock it from here instead, for GNOME Keyring with `read -rs pw; printf '%s' \"$pw\" | gnome-keyring-daemon --replace --unlock; unset pw`, or keep keys elsewhere with `nomadctx keychain use file --migrate`",
            ),
            Self::Gone => f.write_str(
                "the Secret Service left the bus before it answered (it stopped or crashed); start it again and run the command again",
            ),
            Self::NoEncryption(why) => write!(
                f,
                "the Secret Service does not offer the encrypted session ({}: {why}); to let secrets cross the session bus unencrypted, set {SESSION_VAR}=plain (docs/security.md)",
                session::DH
            ),
            Self::Dismissed(what) => write!(
                f,
                "the Secret Service asked for confirmation to {what} and got none (dismissed, or not answered in time)"
            ),
            Self::Ambiguous(n, account) => write!(
                f,
                "{n} items have the account {account}; keep one (`secret-tool search --all username {account}` lists them)"
            ),
            Self::Vanished => f.write_str("the item was deleted while it was being read"),
            Self::Session(e) => e.fmt(f),
            Self::Failed(why) => f.write_str(why),
        }
    }
}

impl From<dbus::Error> for Error {
    fn from(e: dbus::Error) -> Self {
        match e.name().unwrap_or_default() {
            "org.freedesktop.DBus.Error.NoReply" | "org.freedesktop.DBus.Error.Timeout" => {
                Self::TimedOut
            }
            "org.freedesktop.DBus.Error.ServiceUnknown"
            | "org.freedesktop.DBus.Error.NameHasNoOwner" => Self::NoService,
            "org.freedesktop.Secret.Error.IsLocked" => Self::Locked,
            "org.freedesktop.DBus.Error.UnknownObject"
            | "org.freedesktop.DBus.Error.UnknownInterface"
            | "org.freedesktop.Secret.Error.NoSuchObject" => Self::Vanished,
            // GLib services (GNOME Keyring) answer a deleted item's path with "No such
            // interface 'org.freedesktop.Secret.Item'".
            "org.freedesktop.DBus.Error.UnknownMethod"
                if e.message().is_some_and(|m| m.contains(ITEM_IFACE)) =>
            {
                Self::Vanished
            }
            name => Self::Failed(format!(
                "{} ({name})",
                e.message().unwrap_or("no message").trim_end()
            )),
        }
    }
}

impl From<SessionError> for Error {
    fn from(e: SessionError) -> Self {
        Self::Session(e)
    }
}

pub(super) type Result<T> = std::result::Result<T, Error>;

pub(super) fn mismatch(e: dbus::arg::TypeMismatchError) -> Error {
    Error::Failed(format!(
        "the Secret Service answered in an unexpected form: {e}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_deleted_between_search_and_read_is_gone_not_a_failure() {
        for (name, message) in [
            (
                "org.freedesktop.DBus.Error.UnknownMethod",
                "No such interface \u{201c}org.freedesktop.Secret.Item\u{201d} on object at path /org/freedesktop/secrets/collection/login/10",
            ),
            (
                "org.freedesktop.DBus.Error.UnknownObject",
                "Object does not exist at path \u{201c}/org/freedesktop/secrets/collection/login/6\u{201d}",
            ),
            ("org.freedesktop.Secret.Error.NoSuchObject", "No such item"),
        ] {
            let error = Error::from(dbus::Error::new_custom(name, message));
            assert!(matches!(error, Error::Vanished), "{name}: {error:?}");
        }
        let other = dbus::Error::new_custom("org.freedesktop.DBus.Error.UnknownMethod", "no Foo");
        assert!(matches!(Error::from(other), Error::Failed(_)));
    }
}
