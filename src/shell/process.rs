//! Which shell process a `use` key file belongs to, and whether that shell still runs.

#[cfg(target_os = "linux")]
use std::os::unix::fs::MetadataExt;

/// A shell process, told apart from a later process that reuses its pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShellProcess {
    pub pid: u32,
    /// Start time in clock ticks since boot (/proc/PID/stat field 22) on Linux; 0 elsewhere
    /// or when it could not be read.
    pub start: u64,
    /// The pid namespace the pid is counted in (inode of /proc/self/ns/pid) on Linux; 0
    /// elsewhere. A container sharing the runtime directory counts pids differently.
    pub pid_ns: u64,
}

/// More hops than any wrapper chain between a shell and nomadctx; guards against a loop.
#[cfg(target_os = "linux")]
const MAX_HOPS: usize = 16;

impl ShellProcess {
    /// The shell that evaluates what `use` prints: the nearest ancestor whose standard output
    /// is not ours. Usually that is the parent, because `eval "$(nomadctx use …)"` runs
    /// nomadctx from a command substitution that execs it, and fish, PowerShell and nu start
    /// it directly. But a redirection inside the substitution, bash's ERR trap with errtrace,
    /// zsh's DEBUG trap or a wrapper such as `timeout` leave a short-lived process in between
    /// that writes into the same pipe as we do; the shell reads that pipe instead. Only a
    /// pipe is followed: /dev/null or a file may well be the shell's own output too.
    #[cfg(target_os = "linux")]
    pub fn calling() -> Self {
        let mut pid = crate::platform::parent_pid();
        let mut stat = ProcStat::read(pid);
        if let Some(ours) = stdout_file("self").filter(|f| f.is_pipe) {
            for _ in 0..MAX_HOPS {
                match &stat {
                    Some(s) if s.ppid > 1 && stdout_file(&pid.to_string()) == Some(ours) => {
                        pid = s.ppid;
                        stat = ProcStat::read(pid);
                    }
                    _ => break,
                }
            }
        }
        Self {
            pid,
            start: stat.map_or(0, |s| s.start),
            pid_ns: std::fs::metadata("/proc/self/ns/pid").map_or(0, |m| m.ino()),
        }
    }

    /// Elsewhere the parent, known by its pid alone.
    #[cfg(not(target_os = "linux"))]
    pub fn calling() -> Self {
        Self {
            pid: crate::platform::parent_pid(),
            start: 0,
            pid_ns: 0,
        }
    }

    /// Whether the process is certainly gone: no process has its pid, or the one that has
    /// started at another time. When that cannot be told, it is taken as running.
    #[cfg(target_os = "linux")]
    pub fn has_exited(&self) -> bool {
        match std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) {
            Ok(text) => {
                ProcStat::parse(&text).is_some_and(|s| self.start != 0 && s.start != self.start)
            }
            // Without /proc mounted every pid would look gone.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::path::Path::new("/proc/self/stat").exists()
            }
            Err(_) => false,
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub fn has_exited(&self) -> bool {
        // Pid 0 would ask about our own process group.
        self.pid > 0 && crate::platform::has_exited(self.pid)
    }
}

/// The fields of /proc/PID/stat that are needed here.
#[cfg(target_os = "linux")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ProcStat {
    ppid: u32,
    start: u64,
}

#[cfg(target_os = "linux")]
impl ProcStat {
    fn read(pid: u32) -> Option<Self> {
        Self::parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    /// The command name (field 2) is in parentheses and may itself hold spaces and `)`, so
    /// the fields are counted from the last `)`.
    fn parse(text: &str) -> Option<Self> {
        let rest = &text[text.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
        Some(Self {
            ppid: fields.get(1)?.parse().ok()?,
            start: fields.get(19)?.parse().ok()?,
        })
    }
}

/// What a process has as standard output, told apart by device and inode.
#[cfg(target_os = "linux")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OpenFile {
    dev: u64,
    ino: u64,
    is_pipe: bool,
}

/// The standard output of `self` or of a pid.
#[cfg(target_os = "linux")]
fn stdout_file(process: &str) -> Option<OpenFile> {
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::metadata(format!("/proc/{process}/fd/1")).ok()?;
    Some(OpenFile {
        dev: meta.dev(),
        ino: meta.ino(),
        is_pipe: meta.file_type().is_fifo(),
    })
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        let text = "4242 (we ) ird (1) 2 3) S 17 4242 4242 34816 4242 4194304 1 2 3 4 5 6 7 8 20 0 1 0 987654 1000 200\n";
        assert_eq!(
            ProcStat::parse(text),
            Some(ProcStat {
                ppid: 17,
                start: 987_654
            })
        );
        assert_eq!(ProcStat::parse("4242 (sh) S 17"), None);
        assert_eq!(ProcStat::parse(""), None);
    }

    #[test]
    fn a_process_has_exited_once_it_is_reaped_or_its_pid_is_reused() {
        let mut child = std::process::Command::new("cat")
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let process = ShellProcess {
            pid: child.id(),
            start: ProcStat::read(child.id()).unwrap().start,
            pid_ns: 0,
        };
        assert!(!process.has_exited());
        let reused = ShellProcess {
            start: process.start + 1,
            ..process
        };
        assert!(reused.has_exited());
        drop(child.stdin.take());
        child.wait().unwrap();
        assert!(process.has_exited());
    }
}
