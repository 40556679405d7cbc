//! The Secret Service's own prompts (unlock, confirm): showing one and waiting for its answer.

use std::time::{Duration, Instant};

use dbus::Path;
use dbus::arg::{RefArg, Variant};
use dbus::message::MessageType;

use super::{BUS, Error, Result, SERVICE_NAME, SecretService, bus_call, method, mismatch};

const PROMPT_IFACE: &str = "org.freedesktop.Secret.Prompt";

/// How long a person has to answer the keychain's own prompt (unlock, confirm), where one
/// can appear: a graphical session. Elsewhere (ssh, cron) nobody will, and the keychain
/// timeout applies.
const PROMPT_WAIT: Duration = Duration::from_secs(120);

impl SecretService {
    /// Shows the service's prompt and waits for its answer: whether it was dismissed (or not
    /// answered in time, when it is dismissed here), and the object path it returned, if any.
    pub(super) fn prompt(&self, prompt: &Path) -> Result<(bool, Option<Path<'static>>)> {
        let rule = format!(
            "type='signal',sender='{SERVICE_NAME}',interface='{PROMPT_IFACE}',member='Completed',path='{prompt}'"
        );
        // The bus says when the service's connection closes: a service that crashed while
        // its prompt was up has gone, not dismissed anything.
        let gone = format!(
            "type='signal',sender='{BUS}',interface='{BUS}',member='NameOwnerChanged',arg0='{}'",
            self.owner
        );
        self.call(bus_call("AddMatch").append1(rule.as_str()))?;
        self.call(bus_call("AddMatch").append1(gone.as_str()))?;
        self.call(method(prompt, PROMPT_IFACE, "Prompt").append1(""))?;
        let wait = if has_display() {
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
                && message.sender().as_deref() == Some(BUS)
                && message.member().as_deref() == Some("NameOwnerChanged")
                && message.get_items().get(2).and_then(|new| new.as_str()) == Some("")
            {
                break Err(Error::Gone);
            }
            if message.msg_type() == MessageType::Signal
                && message.sender().as_deref() == Some(self.owner.as_str())
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
        if !matches!(answer, Err(Error::Gone)) {
            let _ = self.call(bus_call("RemoveMatch").append1(rule.as_str()));
            let _ = self.call(bus_call("RemoveMatch").append1(gone.as_str()));
        }
        answer
    }
}

/// Whether a prompt can appear: a graphical session.
pub(super) fn has_display() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()))
}
