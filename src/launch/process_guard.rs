//! Keeps the key and token bytes nomadctx holds out of core dumps and out of other
//! processes' reach (debuggers, /proc/PID/mem).

#[cfg(unix)]
use std::sync::OnceLock;

#[cfg(unix)]
use nix::sys::resource::{Resource, getrlimit, rlim_t, setrlimit};

/// The soft core size limit nomadctx started with: the commands `exec` and `shell` start
/// get it back, so that the user's `ulimit -c` still holds for them.
#[cfg(unix)]
static USER_CORE_LIMIT: OnceLock<rlim_t> = OnceLock::new();

/// No core dump of nomadctx, whatever `ulimit -c` says: a dump holds every secret the
/// process has read. Only the soft limit goes to 0; the hard one stays, so that
/// [`with_user_core_limit`] can give a child the user's limit back. Best effort: lowering a
/// soft limit fails only where a sandbox forbids the call, and nomadctx runs on there.
#[cfg(unix)]
pub fn forbid_core_dumps() {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_CORE) else {
        return;
    };
    if setrlimit(Resource::RLIMIT_CORE, 0, hard).is_ok() {
        let _ = USER_CORE_LIMIT.set(soft);
    }
}

/// Also no core dump where a pipe (systemd-coredump, apport) ignores the size limit, and no
/// debugger, /proc/PID/mem or /proc/PID/environ for other processes of the user: Linux's
/// `PR_SET_DUMPABLE` 0. Not for commands that hand a child `/proc/<our pid>/fd/N` (`exec`,
/// `shell`): the kernel then refuses that path to everyone but root, the child included.
/// Best effort, as [`forbid_core_dumps`].
pub fn forbid_tracing() {
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_dumpable(false);
}

/// Runs `start`, which starts a child process, with the user's own soft core limit: the
/// child inherits the limit it has at its start. nomadctx's own limit is 0 again as soon as
/// `start` returns; in between it could dump only on a fault of its own or a signal that
/// cannot be caught (SIGSEGV sent with kill), since the others are forwarded by then.
#[cfg(unix)]
pub fn with_user_core_limit<T>(start: impl FnOnce() -> T) -> T {
    let hard = match (USER_CORE_LIMIT.get(), getrlimit(Resource::RLIMIT_CORE)) {
        (Some(&user), Ok((_, hard))) if user != 0 => {
            let _ = setrlimit(Resource::RLIMIT_CORE, user, hard);
            Some(hard)
        }
        _ => None,
    };
    let started = start();
    if let Some(hard) = hard {
        let _ = setrlimit(Resource::RLIMIT_CORE, 0, hard);
    }
    started
}

/// Windows has no core size limit: it writes a dump of a crashed process only where Windows
/// Error Reporting is set up to (LocalDumps), which is the administrator's choice.
#[cfg(windows)]
pub fn forbid_core_dumps() {}
