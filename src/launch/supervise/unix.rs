//! Unix: posix_spawn, a wiped environment block, signals passed on and job control followed.

use std::cell::OnceCell;
use std::ffi::{CStr, CString, OsStr, OsString};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use anyhow::{Context as _, Result, bail};
use nix::errno::Errno;
use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags, posix_spawn};
use nix::sys::signal::{SigSet, Signal, kill, raise};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use signal_hook::iterator::Handle;
use signal_hook::low_level::emulate_default_handler;
use zeroize::Zeroizing;

use super::{KILLED_BY_SIGNAL, NOT_EXECUTABLE, NOT_FOUND};
use crate::launch::process_guard::with_user_core_limit;

/// Every signal nomadctx passes on to its command: all that a process can catch, except
/// those that report a fault of nomadctx's own (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP,
/// SIGSYS), SIGCHLD (the command's own state changes, which nomadctx waits for), SIGCONT
/// (nomadctx continues the command itself when it is continued), the real-time signals,
/// which `nix` cannot name, and SIGPIPE. SIGPIPE stays ignored, as Rust leaves it: signal
/// forwarding writes each signal to a socket, and once the forwarder has stopped that
/// write fails with EPIPE, which raises SIGPIPE, whose handler writes again: a caught
/// SIGPIPE made a late signal spin nomadctx at full CPU for ever (seen once in a benchmark).
const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGABRT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
    Signal::SIGTERM,
    Signal::SIGTSTP,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
    Signal::SIGURG,
    Signal::SIGXCPU,
    Signal::SIGXFSZ,
    Signal::SIGVTALRM,
    Signal::SIGPROF,
    Signal::SIGWINCH,
    Signal::SIGIO,
    #[cfg(target_os = "linux")]
    Signal::SIGPWR,
    #[cfg(target_os = "macos")]
    Signal::SIGINFO,
];

/// Where nomadctx is in running commands, as the signal forwarder sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No command yet, or between two (`exec --all` fetching the next context's secrets): a
    /// signal does what it does by default.
    Idle,
    Running(Pid),
    /// The command has ended and nomadctx is about to report it: signals are ignored, so
    /// that the Ctrl-C that killed the command does not kill nomadctx before it says so.
    Finished,
}

/// Runs commands one after another and forwards the signals nomadctx receives to the one
/// running, from its first command until it is dropped.
#[derive(Debug)]
pub struct Supervisor {
    state: Arc<Mutex<State>>,
    forwarder: OnceCell<Forwarder>,
}

#[derive(Debug)]
struct Forwarder {
    handle: Handle,
    thread: Option<JoinHandle<()>>,
}

impl Default for Supervisor {
    fn default() -> Self {
        Self {
            state: Arc::new(Mutex::new(State::Idle)),
            forwarder: OnceCell::new(),
        }
    }
}

impl Supervisor {
    /// Until the next command starts, signals act as if nomadctx had no command. Signals are
    /// caught from here on, before the key for the command is written anywhere, so that one
    /// arriving while the key is fetched removes the key file before nomadctx ends.
    pub fn idle(&self) -> Result<()> {
        self.set(State::Idle);
        if self.forwarder.get().is_none() {
            let _ = self
                .forwarder
                .set(Forwarder::start(Arc::clone(&self.state))?);
        }
        Ok(())
    }

    /// Starts the command at `path` with posix_spawn (SIGPIPE back to default, which Rust
    /// ignores; signals the user ignored, as nohup does, still ignored; an empty signal mask;
    /// and the user's core size limit), wipes the environment block, and waits for the
    /// command. It returns the command's exit code, 128+N when signal N killed it, and 126
    /// or 127 (as a shell does) when it could not be started. `program` is the command's
    /// argv[0], as the user named it.
    ///
    /// Job control follows the command: when it stops, nomadctx stops too, and when nomadctx
    /// is continued, it continues the command (see [`stop_with`]).
    pub fn run(
        &self,
        path: &Path,
        program: &OsStr,
        args: &[OsString],
        env: ChildEnv,
    ) -> Result<u8> {
        self.idle()?;
        let argv = std::iter::once(program)
            .chain(args.iter().map(OsString::as_os_str))
            .map(|arg| CString::new(arg.as_encoded_bytes()))
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| {
                format!(
                    "an argument of {program:?} holds a NUL byte; NUL cannot be passed to a program"
                )
            })?;
        let mut attr = PosixSpawnAttr::init()
            .with_context(|| format!("could not prepare to start {program:?}"))?;
        // Rust ignores SIGPIPE for itself; the command gets the default back. Signals the
        // user ignored (nohup, `trap '' HUP`) stay ignored, as exec leaves them; the ones
        // nomadctx catches go back to default by themselves.
        let mut own = SigSet::empty();
        own.add(Signal::SIGPIPE);
        attr.set_sigdefault(&own)
            .and_then(|()| attr.set_sigmask(&SigSet::empty()))
            .and_then(|()| {
                attr.set_flags(
                    PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF
                        | PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK,
                )
            })
            .with_context(|| format!("could not prepare to start {program:?}"))?;
        let actions = PosixSpawnFileActions::init()
            .with_context(|| format!("could not prepare to start {program:?}"))?;
        // The state stays locked until the command's pid is in it: a signal that arrives
        // meanwhile waits for the command rather than acting on nomadctx alone.
        let spawned = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let spawned =
                with_user_core_limit(|| posix_spawn(path, &actions, &attr, &argv, &env.0));
            if let Ok(pid) = spawned {
                *state = State::Running(pid);
            }
            spawned
        };
        drop(env);
        let pid = match spawned {
            Ok(pid) => pid,
            Err(errno) => {
                eprintln!("nomadctx: could not run {program:?}: {}", errno.desc());
                return Ok(if errno == Errno::EACCES {
                    NOT_EXECUTABLE
                } else {
                    NOT_FOUND
                });
            }
        };
        let status = wait_following_job_control(pid);
        self.set(State::Finished);
        status
    }

    fn set(&self, state: State) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = state;
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        if let Some(mut forwarder) = self.forwarder.take() {
            forwarder.handle.close();
            if let Some(thread) = forwarder.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

/// The command's environment: `NAME=value` entries, NUL-terminated, in buffers wiped when
/// dropped (the token is among them, and std's `Command` would keep unwiped copies).
#[derive(Debug, Default)]
pub struct ChildEnv(Vec<EnvEntry>);

impl ChildEnv {
    pub fn push(&mut self, var: &OsStr, value: &OsStr) -> Result<()> {
        let (var, value) = (var.as_encoded_bytes(), value.as_encoded_bytes());
        if var.contains(&0) || value.contains(&0) {
            bail!(
                "the environment variable {} holds a NUL byte",
                String::from_utf8_lossy(var)
            );
        }
        let mut entry = Zeroizing::new(Vec::with_capacity(var.len() + value.len() + 2));
        entry.extend_from_slice(var);
        entry.push(b'=');
        entry.extend_from_slice(value);
        entry.push(0);
        self.0.push(EnvEntry(entry));
        Ok(())
    }
}

#[derive(Debug)]
struct EnvEntry(Zeroizing<Vec<u8>>);

impl AsRef<CStr> for EnvEntry {
    fn as_ref(&self) -> &CStr {
        CStr::from_bytes_with_nul(&self.0).expect("checked for NUL bytes in ChildEnv::push")
    }
}

/// Who sent a signal, as far as nomadctx can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    not(target_os = "linux"),
    expect(dead_code, reason = "only Linux's siginfo names the sender")
)]
enum Sender {
    /// The kernel: a terminal's keys (Ctrl-C, Ctrl-Z, Ctrl-\), a hang-up, a resize. These
    /// go to the whole foreground process group, the command included.
    Kernel,
    Process(u32),
    /// Not known: only Linux tells (siginfo's si_code and si_pid; macOS leaves si_code 0).
    Unknown,
}

impl Forwarder {
    fn start(state: Arc<Mutex<State>>) -> Result<Self> {
        // A parent that ignores SIGCHLD passes that on, and the kernel would then reap the
        // command before nomadctx can wait for its status (ECHILD). Any handler undoes it.
        signal_hook::flag::register(
            signal_hook::consts::SIGCHLD,
            Arc::new(std::sync::atomic::AtomicBool::new(false)),
        )
        .context("could not set up waiting for the command")?;
        // A signal the user had nomadctx ignore (nohup) is not caught, so not passed on.
        let ignored = ignored_by_parent();
        let forwarded = FORWARDED
            .iter()
            .filter(|s| !ignored.contains(**s))
            .map(|s| *s as i32);
        // The state stays locked while a signal is acted on: a signal that ends nomadctx
        // while it is idle cannot race the start of the command (whose key it removes).
        let (handle, thread) = listen(forwarded, move |signal, sender| {
            let now = state.lock().unwrap_or_else(PoisonError::into_inner);
            act_on(signal, sender, *now);
        })?;
        Ok(Self {
            handle,
            thread: Some(thread),
        })
    }
}

/// Calls `act` on a thread of its own for each of `signals` that arrives, with its sender.
#[cfg(target_os = "linux")]
fn listen(
    signals: impl IntoIterator<Item = i32>,
    act: impl Fn(i32, Sender) + Send + 'static,
) -> Result<(Handle, JoinHandle<()>)> {
    use signal_hook::iterator::SignalsInfo;
    use signal_hook::iterator::exfiltrator::WithOrigin;
    use signal_hook::low_level::siginfo::Cause;
    let mut signals =
        SignalsInfo::<WithOrigin>::new(signals).context("could not set up signal forwarding")?;
    let handle = signals.handle();
    let thread = std::thread::spawn(move || {
        for origin in signals.forever() {
            let sender = match (origin.cause, &origin.process) {
                (Cause::Sent(_), Some(process)) => Sender::Process(process.pid.unsigned_abs()),
                (Cause::Sent(_), None) => Sender::Unknown,
                _ => Sender::Kernel,
            };
            act(origin.signal, sender);
        }
    });
    Ok((handle, thread))
}

/// Elsewhere the sender is not known.
#[cfg(not(target_os = "linux"))]
fn listen(
    signals: impl IntoIterator<Item = i32>,
    act: impl Fn(i32, Sender) + Send + 'static,
) -> Result<(Handle, JoinHandle<()>)> {
    let mut signals = signal_hook::iterator::Signals::new(signals)
        .context("could not set up signal forwarding")?;
    let handle = signals.handle();
    let thread = std::thread::spawn(move || {
        for signal in signals.forever() {
            act(signal, Sender::Unknown);
        }
    });
    Ok((handle, thread))
}

/// The signals nomadctx was started with ignored (`nohup`, `trap '' INT` in a script; also
/// SIGPIPE, which Rust ignores on its own and nomadctx does not forward).
fn ignored_by_parent() -> SigSet {
    let mut ignored = SigSet::empty();
    for signal in FORWARDED {
        if crate::platform::is_ignored(*signal as i32) {
            ignored.add(*signal);
        }
    }
    ignored
}

/// What a signal that reached nomadctx does, given who sent it and where nomadctx is.
fn act_on(raw: i32, sender: Sender, state: State) {
    let Ok(signal) = Signal::try_from(raw) else {
        return;
    };
    // nomadctx's own: abort(), which goes on to end the process by itself.
    if sender == Sender::Process(std::process::id()) {
        return;
    }
    match state {
        // nomadctx does as the signal says by default; if that ends it, without a key file
        // left behind.
        State::Idle => {
            #[cfg(not(target_os = "linux"))]
            if ends_the_process(signal) {
                crate::launch::child_key::remove_child_key_files();
            }
            let _ = emulate_default_handler(raw);
        }
        State::Running(child) if passes_on(signal, sender, child) => {
            let _ = kill(child, signal);
        }
        State::Running(_) => {}
        // Stopping still works once the command has ended: a background nomadctx that
        // writes to the terminal under `stty tostop` must stop, not retry forever.
        State::Finished
            if matches!(signal, Signal::SIGTSTP | Signal::SIGTTIN | Signal::SIGTTOU) =>
        {
            let _ = emulate_default_handler(raw);
        }
        State::Finished => {}
    }
}

/// Whether a signal's default action ends the process (rather than stopping it or doing
/// nothing).
#[cfg(not(target_os = "linux"))]
fn ends_the_process(signal: Signal) -> bool {
    !matches!(
        signal,
        Signal::SIGTSTP
            | Signal::SIGTTIN
            | Signal::SIGTTOU
            | Signal::SIGURG
            | Signal::SIGWINCH
            | Signal::SIGIO
            | Signal::SIGINFO
    )
}

/// Whether a signal nomadctx got while `child` runs is meant for the child. What the kernel
/// sent for a terminal (Ctrl-C, Ctrl-Z, Ctrl-\, a hang-up, a resize) went to the whole
/// foreground process group, the command included: passing it on would deliver it twice.
/// So would bouncing back what the command sent to us (`kill 0`, `kill $PPID`). Everything
/// else was meant for the command. Where the sender is not known (macOS), the rule of
/// `system(3)` and sudo applies: what a terminal sends (SIGINT, SIGQUIT, and the stop
/// signals, whose late copy could stop the command again after `fg`) is left to the
/// terminal, and so is SIGABRT, which nomadctx's own abort() raises; the rest is passed on
/// (a terminal's SIGHUP or SIGWINCH then reaches the command twice, which hangs it up or
/// redraws it no differently).
fn passes_on(signal: Signal, sender: Sender, child: Pid) -> bool {
    match sender {
        Sender::Kernel => false,
        Sender::Process(pid) => pid != child.as_raw().unsigned_abs(),
        Sender::Unknown => !matches!(
            signal,
            Signal::SIGINT
                | Signal::SIGQUIT
                | Signal::SIGTSTP
                | Signal::SIGTTIN
                | Signal::SIGTTOU
                | Signal::SIGABRT
        ),
    }
}

/// Waits for the command to end, stopping and continuing with it as job control asks.
fn wait_following_job_control(pid: Pid) -> Result<u8> {
    loop {
        match waitpid(pid, Some(WaitPidFlag::WUNTRACED)) {
            Err(Errno::EINTR) => continue,
            Ok(WaitStatus::Exited(_, code)) => return Ok(code as u8),
            Ok(WaitStatus::Signaled(_, signal, _)) => {
                return Ok(KILLED_BY_SIGNAL.saturating_add(signal as i32 as u8));
            }
            Ok(WaitStatus::Stopped(..)) => stop_with(pid),
            Ok(_) => continue,
            Err(e) => return Err(e).context("could not wait for the command to end"),
        }
    }
}

/// Stops nomadctx as its command has stopped (Ctrl-Z, a kill -TSTP passed on, a shell's
/// `suspend`), so that the shell that started nomadctx sees the job stop, and continues the
/// command once nomadctx is continued (fg, bg, kill -CONT).
fn stop_with(command: Pid) {
    // The default action of a stop signal, which nomadctx's handlers replaced; raise returns
    // once nomadctx is continued. (A shell reports the job as "Stopped (signal)".)
    let _ = raise(Signal::SIGSTOP);
    let _ = kill(command, Signal::SIGCONT);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_passed_on_depends_on_who_sent_it() {
        let child = Pid::from_raw(4242);
        // A terminal's signals went to the command already; its own come back to it not.
        assert!(!passes_on(Signal::SIGINT, Sender::Kernel, child));
        assert!(!passes_on(Signal::SIGTERM, Sender::Process(4242), child));
        assert!(passes_on(Signal::SIGINT, Sender::Process(1), child));
        assert!(passes_on(Signal::SIGTSTP, Sender::Process(1), child));
        // Without a sender (macOS), what a terminal sends and SIGABRT stay; the rest goes.
        for kept in [
            Signal::SIGINT,
            Signal::SIGQUIT,
            Signal::SIGTSTP,
            Signal::SIGTTIN,
            Signal::SIGTTOU,
            Signal::SIGABRT,
        ] {
            assert!(!passes_on(kept, Sender::Unknown, child), "{kept}");
        }
        for passed in [
            Signal::SIGTERM,
            Signal::SIGHUP,
            Signal::SIGUSR1,
            Signal::SIGWINCH,
        ] {
            assert!(passes_on(passed, Sender::Unknown, child), "{passed}");
        }
    }

    #[test]
    fn an_ignored_signal_is_told_from_a_caught_or_default_one() {
        // Rust's runtime ignores SIGPIPE; nothing in the test binary touches SIGXFSZ.
        assert!(crate::platform::is_ignored(Signal::SIGPIPE as i32));
        assert!(!crate::platform::is_ignored(Signal::SIGXFSZ as i32));
    }
}
