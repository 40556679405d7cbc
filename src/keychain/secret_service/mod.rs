//! A small client of the freedesktop.org Secret Service API (GNOME Keyring, KWallet,
//! KeePassXC) over libdbus: one private connection per run, one encrypted session (see
//! `session`), and every call bounded by the keychain timeout, so no thread is needed to cut
//! off a service that never answers.
//!
//! This file owns the connection and the calls; the items, the service's prompts and the
//! errors have a file each.

mod error;
mod items;
mod prompt;
mod session;

use std::time::{Duration, Instant};

use dbus::arg::{RefArg, Variant};
use dbus::channel::Channel;
use dbus::{Message, Path};

pub use error::Error;
use error::{Result, mismatch};
use session::{Cipher, KeyPair, SessionError};

const BUS: &str = "org.freedesktop.DBus";
const SERVICE_NAME: &str = "org.freedesktop.secrets";
const SERVICE_PATH: &str = "/org/freedesktop/secrets";
const SERVICE_IFACE: &str = "org.freedesktop.Secret.Service";
const COLLECTION_IFACE: &str = "org.freedesktop.Secret.Collection";
const ITEM_IFACE: &str = "org.freedesktop.Secret.Item";
const CONTENT_TYPE: &str = "application/octet-stream";

/// Set to `plain` to let secrets cross the session bus unencrypted (docs/security.md).
pub use crate::settings::SECRET_SERVICE_SESSION_VAR as SESSION_VAR;

/// A connection to the Secret Service with an open session, for the items of one service
/// (the `service` attribute: nomadctx's).
pub struct SecretService {
    channel: Channel,
    service: &'static str,
    /// The unique bus name of the Secret Service that answered OpenSession: only it may
    /// answer a prompt (any process of the user can send a signal to nomadctx).
    owner: String,
    session: Path<'static>,
    cipher: Cipher,
    timeout: Duration,
}

impl std::fmt::Debug for SecretService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretService")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl SecretService {
    /// Connects to the session bus and opens a session for the items of `service`: the DH
    /// one unless the user set `NOMADCTX_SECRET_SERVICE_SESSION=plain`.
    pub fn connect(service: &'static str, timeout: Duration) -> Result<Self> {
        let plain = match std::env::var(SESSION_VAR).as_deref() {
            Ok("plain") => true,
            Ok("" | "dh") | Err(_) => false,
            Ok(other) => {
                return Err(Error::Failed(format!(
                    "{SESSION_VAR}={other:?} is not a session nomadctx knows; use dh (the default) or plain"
                )));
            }
        };
        // libdbus waits without limit for a bus that accepts the connection and never
        // finishes the handshake, so the connection is made on a thread of its own that is
        // given up after the timeout; meanwhile this one makes our half of the key exchange.
        let address = bus_address()?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        std::thread::spawn(move || {
            let _ = tx.send(register(&address, timeout));
        });
        let ours = if plain {
            None
        } else {
            Some(KeyPair::generate()?)
        };
        let channel = rx.recv_timeout(timeout).unwrap_or(Err(Error::TimedOut))?;
        let mut service = Self {
            channel,
            service,
            owner: String::new(),
            session: Path::from("/"),
            cipher: Cipher::Plain,
            timeout,
        };
        let reply = if let Some(ours) = ours {
            let reply = service
                .call(service_call("OpenSession").append2(session::DH, Variant(ours.public())))
                .map_err(|e| match e {
                    Error::Failed(why) if why.contains("NotSupported") => Error::NoEncryption(why),
                    other => other,
                })?;
            let (output, path): (Variant<Box<dyn RefArg>>, Path) =
                reply.read2().map_err(mismatch)?;
            let theirs = dbus::arg::cast::<Vec<u8>>(&output.0)
                .ok_or(Error::Session(SessionError::BadPublicKey))?;
            service.cipher = Cipher::Aes(ours.aes_key(theirs)?);
            service.session = path.into_static();
            reply
        } else {
            let reply =
                service.call(service_call("OpenSession").append2(session::PLAIN, Variant("")))?;
            service.session = read_path(&reply, 1)?;
            reply
        };
        service.owner = reply
            .sender()
            .map(|name| name.to_string())
            .ok_or_else(|| Error::Failed("the Secret Service's answer names no sender".into()))?;
        Ok(service)
    }

    /// One method call, bounded by the timeout.
    fn call(&self, message: Message) -> Result<Message> {
        let started = Instant::now();
        self.channel
            .send_with_reply_and_block(message, self.timeout)
            .map_err(|e| match Error::from(e) {
                // libdbus says NoReply too when the service goes away mid-call.
                Error::TimedOut if started.elapsed() < self.timeout.mul_f64(0.9) => Error::Failed(
                    "the Secret Service closed the connection without answering (did it stop or crash?)"
                        .to_owned(),
                ),
                other => other,
            })
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        // The service forgets the session's key when asked (or when the connection closes).
        if !is_none(&self.session) {
            let _ = self.channel.send(method(
                &self.session.clone(),
                "org.freedesktop.Secret.Session",
                "Close",
            ));
            self.channel.flush();
        }
    }
}

/// A private connection to the bus at `address`, registered with Hello (sent by us rather
/// than libdbus so that the wait for it is bounded too). Nothing is sent before the kernel
/// has said who runs the bus: the user, or the connection is dropped.
fn register(address: &Address, timeout: Duration) -> Result<Channel> {
    let mut channel = Channel::open_private(&address.value).map_err(|e| {
        // libdbus says "Failed to connect to socket PATH: REASON"; the reason is what helps.
        let message = e.message().unwrap_or("no reason given").trim_end();
        let reason = message.rsplit(": ").next().unwrap_or(message);
        Error::NoBus(format!(
            "the bus {} names does not answer ({reason})",
            address.from
        ))
    })?;
    check_bus_owner(&mut channel, address)?;
    channel.send_with_reply_and_block(bus_call("Hello"), timeout)?;
    Ok(channel)
}

/// Refuses a bus that another account runs. Secrets cross the bus encrypted, but to whoever
/// answers, and an address is only a name: a stale `unix:abstract=` address whose session
/// has ended can be taken over by any local account. So the kernel is asked who is at the
/// other end of the socket (`SO_PEERCRED`, read when the connection was made), and it must be
/// the user: a bus root runs is not a normal user's, and root's own bus is root's.
fn check_bus_owner(channel: &mut Channel, address: &Address) -> Result<()> {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    use std::os::fd::BorrowedFd;
    let user = nix::unistd::getuid().as_raw();
    // The watch is how the dbus crate tells a connection's socket.
    channel.set_watch_enabled(true);
    let fd = channel.watch().fd;
    #[allow(unsafe_code)]
    // SAFETY: the descriptor is the channel's socket, which stays open while `channel` is
    // borrowed here.
    let socket = unsafe { BorrowedFd::borrow_raw(fd) };
    let owner = getsockopt(&socket, PeerCredentials)
        .ok()
        // A TCP bus has no credentials: the kernel reports pid 0 and the overflow id.
        .filter(|credentials| credentials.pid() != 0)
        .map(|credentials| credentials.uid());
    channel.set_watch_enabled(false);
    if owner == Some(user) {
        return Ok(());
    }
    Err(Error::ForeignBus {
        address: address.value.clone(),
        from: address.from,
        owner,
        user,
    })
}

/// A method call to the bus itself.
fn bus_call(member: &str) -> Message {
    Message::method_call(
        &BUS.into(),
        &"/org/freedesktop/DBus".into(),
        &BUS.into(),
        &member.into(),
    )
}

fn method(path: &Path, interface: &str, member: &str) -> Message {
    Message::method_call(
        &SERVICE_NAME.into(),
        path,
        &interface.into(),
        &member.into(),
    )
}

fn service_call(member: &str) -> Message {
    method(&SERVICE_PATH.into(), SERVICE_IFACE, member)
}

fn read_path(reply: &Message, index: usize) -> Result<Path<'static>> {
    let mut args = reply.iter_init();
    for _ in 0..index {
        args.next();
    }
    args.read::<Path>().map(Path::into_static).map_err(mismatch)
}

fn is_none(path: &Path) -> bool {
    &**path == "/"
}

/// Where the session bus is, and who said so.
struct Address {
    value: String,
    from: &'static str,
}

/// The session bus: DBUS_SESSION_BUS_ADDRESS, else the runtime dir's `bus` socket as systemd
/// sessions have it, when the runtime dir is the user's (`su` keeps the previous user's
/// XDG_RUNTIME_DIR). Never X11 autolaunch, which would start a bus of its own.
fn bus_address() -> Result<Address> {
    if let Ok(value) = std::env::var("DBUS_SESSION_BUS_ADDRESS")
        && !value.is_empty()
    {
        return Ok(Address {
            value,
            from: "DBUS_SESSION_BUS_ADDRESS",
        });
    }
    let no_bus = || {
        Error::NoBus(
            "this session has no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set".to_owned(),
        )
    };
    let dir = std::env::var_os("XDG_RUNTIME_DIR").ok_or_else(no_bus)?;
    let socket = std::path::Path::new(&dir).join("bus");
    let is_socket = {
        use std::os::unix::fs::FileTypeExt;
        socket
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_socket())
    };
    if !is_socket {
        return Err(no_bus());
    }
    let address = Address {
        value: format!(
            "unix:path={}",
            escape(socket.as_os_str().as_encoded_bytes())
        ),
        from: "XDG_RUNTIME_DIR/bus",
    };
    let user = nix::unistd::getuid().as_raw();
    match std::fs::metadata(&dir).map(|meta| std::os::unix::fs::MetadataExt::uid(&meta)) {
        Ok(owner) if owner == user => Ok(address),
        owner => Err(Error::ForeignBus {
            address: address.value,
            from: address.from,
            owner: owner.ok(),
            user,
        }),
    }
}

/// A D-Bus address value: bytes other than `[-0-9A-Za-z_/.\\*]` as `%XX`.
fn escape(value: &[u8]) -> String {
    value
        .iter()
        .map(|&b| match b {
            b'-' | b'_' | b'/' | b'.' | b'\\' | b'*' => (b as char).to_string(),
            _ if b.is_ascii_alphanumeric() => (b as char).to_string(),
            _ => format!("%{b:02x}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bus_addresses_are_escaped() {
        assert_eq!(escape(b"/run/user/1000/bus"), "/run/user/1000/bus");
        assert_eq!(escape(b"/tmp/a b,c=d;%"), "/tmp/a%20b%2cc%3dd%3b%25");
    }
}
