//! A small client of the freedesktop.org Secret Service API (GNOME Keyring, KWallet,
//! KeePassXC) over libdbus: one private connection per run, one encrypted session (see
//! `session`), and every call bounded by the keychain timeout, so no thread is needed to cut
//! off a service that never answers.
//!
//! Items are the ones nomadctx has always written: attributes `service` and `username` (the
//! account), a label, in the default collection.

mod session;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use dbus::arg::{RefArg, Variant};
use dbus::channel::Channel;
use dbus::message::MessageType;
use dbus::{Message, Path};

use crate::secret::Secret;
use session::{Cipher, KeyPair, SessionError};

const BUS: &str = "org.freedesktop.DBus";
const SERVICE_NAME: &str = "org.freedesktop.secrets";
const SERVICE_PATH: &str = "/org/freedesktop/secrets";
const SERVICE_IFACE: &str = "org.freedesktop.Secret.Service";
const COLLECTION_IFACE: &str = "org.freedesktop.Secret.Collection";
const ITEM_IFACE: &str = "org.freedesktop.Secret.Item";
const PROMPT_IFACE: &str = "org.freedesktop.Secret.Prompt";
const CONTENT_TYPE: &str = "application/octet-stream";

/// How long a person has to answer the keychain's own prompt (unlock, confirm), where one
/// can appear: a graphical session. Elsewhere (ssh, cron) nobody will, and the keychain
/// timeout applies.
const PROMPT_WAIT: Duration = Duration::from_secs(120);

/// Set to `plain` to let secrets cross the session bus unencrypted (README: Keychains).
pub const SESSION_VAR: &str = "NOMADCTX_SECRET_SERVICE_SESSION";

/// What went wrong, in terms a caller can act on.
#[derive(Debug)]
pub enum Error {
    /// No session bus to talk to; the reason.
    NoBus(String),
    /// The bus has no Secret Service on it.
    NoService,
    /// The service (or the bus) did not answer in time.
    TimedOut,
    /// The collection is locked and its unlock prompt was dismissed (or is unanswered).
    Locked,
    /// The service's prompt to do this was dismissed or not answered.
    Dismissed(&'static str),
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
            Self::NoService => f.write_str("no Secret Service runs on this session's D-Bus"),
            Self::TimedOut => f.write_str("no answer"),
            Self::Locked => f.write_str(
                "the keychain is locked and its unlock prompt was dismissed or not answered",
            ),
            Self::NoEncryption(why) => write!(
                f,
                "the Secret Service does not offer the encrypted session ({}: {why}); to let secrets cross the session bus unencrypted, set {SESSION_VAR}=plain (README: Keychains)",
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

type Result<T> = std::result::Result<T, Error>;

/// A connection to the Secret Service with an open session, for the items of one service
/// (the `service` attribute: nomadctx's).
pub struct SecretService {
    channel: Channel,
    service: &'static str,
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
            session: Path::from("/"),
            cipher: Cipher::Plain,
            timeout,
        };
        if let Some(ours) = ours {
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
        } else {
            let reply =
                service.call(service_call("OpenSession").append2(session::PLAIN, Variant("")))?;
            service.session = read_path(&reply, 1)?;
        }
        Ok(service)
    }

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

    /// Shows the service's prompt and waits for its answer: whether it was dismissed (or not
    /// answered in time, when it is dismissed here), and the object path it returned, if any.
    fn prompt(&self, prompt: &Path) -> Result<(bool, Option<Path<'static>>)> {
        let rule = format!(
            "type='signal',sender='{SERVICE_NAME}',interface='{PROMPT_IFACE}',member='Completed',path='{prompt}'"
        );
        self.call(bus_call("AddMatch").append1(rule.as_str()))?;
        self.call(method(prompt, PROMPT_IFACE, "Prompt").append1(""))?;
        let graphical = ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()));
        let wait = if graphical {
            PROMPT_WAIT.max(self.timeout)
        } else {
            self.timeout
        };
        let deadline = Instant::now() + wait;
        let answer = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let _ = self.call(method(prompt, PROMPT_IFACE, "Dismiss"));
                break Ok((true, None));
            }
            let Some(message) = self.channel.blocking_pop_message(left)? else {
                continue;
            };
            if message.msg_type() == MessageType::Signal
                && message.path().as_ref() == Some(prompt)
                && message.interface().as_deref() == Some(PROMPT_IFACE)
                && message.member().as_deref() == Some("Completed")
            {
                let (dismissed, result): (bool, Variant<Box<dyn RefArg>>) =
                    message.read2().map_err(mismatch)?;
                let path = dbus::arg::cast::<Path>(&result.0).map(|p| p.clone().into_static());
                break Ok((dismissed, path));
            }
        };
        let _ = self.call(bus_call("RemoveMatch").append1(rule.as_str()));
        answer
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
/// than libdbus so that the wait for it is bounded too).
fn register(address: &Address, timeout: Duration) -> Result<Channel> {
    let channel = Channel::open_private(&address.value).map_err(|e| {
        // libdbus says "Failed to connect to socket PATH: REASON"; the reason is what helps.
        let message = e.message().unwrap_or("no reason given").trim_end();
        let reason = message.rsplit(": ").next().unwrap_or(message);
        Error::NoBus(format!(
            "the bus {} names does not answer ({reason})",
            address.from
        ))
    })?;
    channel.send_with_reply_and_block(bus_call("Hello"), timeout)?;
    Ok(channel)
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

fn mismatch(e: dbus::arg::TypeMismatchError) -> Error {
    Error::Failed(format!(
        "the Secret Service answered in an unexpected form: {e}"
    ))
}

/// Where the session bus is, and who said so.
struct Address {
    value: String,
    from: &'static str,
}

/// The session bus: DBUS_SESSION_BUS_ADDRESS, else the runtime dir's `bus` socket as systemd
/// sessions have it. Never X11 autolaunch, which would start a bus of its own.
fn bus_address() -> Result<Address> {
    match std::env::var("DBUS_SESSION_BUS_ADDRESS") {
        Ok(value) if !value.is_empty() => Ok(Address {
            value,
            from: "DBUS_SESSION_BUS_ADDRESS",
        }),
        _ => std::env::var_os("XDG_RUNTIME_DIR")
            .map(|dir| std::path::Path::new(&dir).join("bus"))
            .filter(|socket| {
                use std::os::unix::fs::FileTypeExt;
                socket
                    .symlink_metadata()
                    .is_ok_and(|m| m.file_type().is_socket())
            })
            .map(|socket| Address {
                value: format!(
                    "unix:path={}",
                    escape(socket.as_os_str().as_encoded_bytes())
                ),
                from: "XDG_RUNTIME_DIR/bus",
            })
            .ok_or_else(|| {
                Error::NoBus(
                    "this session has no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set"
                        .to_owned(),
                )
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

    #[test]
    fn bus_addresses_are_escaped() {
        assert_eq!(escape(b"/run/user/1000/bus"), "/run/user/1000/bus");
        assert_eq!(escape(b"/tmp/a b,c=d;%"), "/tmp/a%20b%2cc%3dd%3b%25");
    }
}
