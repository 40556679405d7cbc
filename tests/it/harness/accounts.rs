//! The second local account, the attacker of the attack tests: programs run under its uid,
//! a home of its own, and setuid programs it owns that the user runs. The tests act for it
//! as root, or through passwordless sudo when run as another user; without either they fail
//! and say so, never skip.

use super::*;

/// The second account's login name. It is made once per machine (a system account without
/// a home or a shell): dbus-daemon, like most programs, wants a passwd entry for its uid.
const ACCOUNT: &str = "nomadctx-other";

/// A test's view of the second account: a directory the user can traverse but not list,
/// holding the account's home (0700, its own) and its setuid programs. Goes when dropped.
pub struct OtherAccount {
    uid: u32,
    dir: PathBuf,
    pub home: PathBuf,
    /// The daemons it runs for a test, reaped when it is dropped.
    children: std::sync::Mutex<Vec<Child>>,
}

impl OtherAccount {
    pub fn new() -> Self {
        require_tool("setpriv");
        let uid = account_uid();
        let dir = tempfile::Builder::new()
            .prefix("nomadctx-test-other")
            .tempdir()
            .unwrap()
            .keep();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711)).unwrap();
        let home = dir.join("home");
        std::fs::create_dir(&home).unwrap();
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
        as_root(["chown", "-R", &format!("{uid}:{uid}")])
            .arg(&home)
            .status()
            .map(|status| {
                assert!(
                    status.success(),
                    "could not give {home:?} to the second account"
                )
            })
            .unwrap();
        Self {
            uid,
            dir,
            home,
            children: Default::default(),
        }
    }

    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// `program` run as the second account, with nothing of the user's environment but PATH,
    /// and its own HOME.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        self.command_env(&[], program)
    }

    /// As [`OtherAccount::command`], with the variables `env` set as well.
    pub fn command_env(
        &self,
        env: &[(&str, &str)],
        program: impl AsRef<std::ffi::OsStr>,
    ) -> Command {
        let uid = self.uid.to_string();
        let mut cmd = as_root([
            "setpriv",
            "--reuid",
            &uid,
            "--regid",
            &uid,
            "--clear-groups",
            "--",
            "env",
            "-i",
        ]);
        cmd.arg(format!("PATH={}", std::env::var("PATH").unwrap()))
            .arg(format!("HOME={}", self.home.display()))
            .args(env.iter().map(|(name, value)| format!("{name}={value}")))
            .arg(program);
        cmd
    }

    /// The account's own session bus listening on `listen` (a D-Bus address), open to every
    /// local user as an attacker would make it, with the account's GNOME Keyring on it,
    /// unlocked. Returns the bus's address; both run until the account is dropped.
    pub fn serve_secret_service(&self, listen: &str) -> String {
        require_tool("dbus-daemon");
        require_tool("gnome-keyring-daemon");
        let config = self.dir.join("bus.conf");
        std::fs::write(&config, open_bus_config(listen)).unwrap();
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut bus = self
            .command("dbus-daemon")
            .args(["--nofork", "--print-address=1"])
            .arg(format!("--config-file={}", config.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the second account's dbus-daemon");
        let address = first_line(bus.stdout.take().unwrap()).trim().to_owned();
        assert!(
            !address.is_empty(),
            "the second account's bus printed no address"
        );
        let env = [("DBUS_SESSION_BUS_ADDRESS", address.as_str())];
        let mut keyring = self
            .command_env(&env, "gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets", "--foreground"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the second account's gnome-keyring-daemon");
        keyring
            .stdin
            .take()
            .unwrap()
            .write_all(b"other-password")
            .unwrap();
        self.children.lock().unwrap().extend([bus, keyring]);
        // Ready once it stores and returns an item.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut store = self
                .command_env(&env, "secret-tool")
                .args(["store", "--label=probe", "nomadctx-test", "probe"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            store.stdin.take().unwrap().write_all(b"ready").unwrap();
            let stored = store.wait_with_output().unwrap();
            let read = self.secret_tool(&address, &["lookup", "nomadctx-test", "probe"]);
            if stored.status.success() && read == "ready" {
                self.secret_tool(&address, &["clear", "nomadctx-test", "probe"]);
                return address;
            }
            assert!(
                Instant::now() < deadline,
                "the second account's Secret Service did not answer within 60 s: {}",
                String::from_utf8_lossy(&stored.stderr)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What `secret-tool ARGS` prints (stdout and stderr) run by the second account against
    /// its bus at `address`.
    pub fn secret_tool(&self, address: &str, args: &[&str]) -> String {
        let out = self
            .command_env(&[("DBUS_SESSION_BUS_ADDRESS", address)], "secret-tool")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// A copy of the program at `path` in a directory the account may run from but not write
    /// to, as /usr/local/bin is to a normal user.
    pub fn installed_copy(&self, path: &Path) -> PathBuf {
        let bin = self.dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let copy = bin.join(path.file_name().unwrap());
        std::fs::copy(path, &copy).unwrap();
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
        copy
    }

    /// A copy of `tool` owned by the second account and setuid: run by the user, it runs with
    /// the account's effective uid and the user's real uid, session keyring and environment.
    pub fn setuid_copy(&self, tool: &str) -> PathBuf {
        let copy = self.dir.join(format!("setuid-{tool}"));
        // Its group is the account's too: a user namespace honours a setuid bit only when
        // the file's owner and group are both mapped in it (see `shared_keyrings`).
        let uid = self.uid.to_string();
        let status = as_root(["install", "-o", &uid, "-g", &uid, "-m", "4755"])
            .arg(require_tool(tool))
            .arg(&copy)
            .status()
            .unwrap();
        assert!(status.success(), "could not make {copy:?}");
        copy
    }
}

impl OtherAccount {
    /// A user namespace where the user and this account both have their own uid and gid, so
    /// that the account's setuid programs are setuid there too, and whose kernel keyrings
    /// (user, persistent) are the namespace's: never those of the user running the tests.
    pub fn shared_keyrings(&self) -> SharedKeyrings {
        require_tool("unshare");
        require_tool("nsenter");
        require_tool("keyctl");
        let mut holder = Command::new("unshare")
            .args(["--user", "sh", "-c", "echo ready; exec cat"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start unshare");
        // Only once it says so is the holder in its namespace.
        let line = first_line(holder.stdout.take().unwrap());
        let keys = SharedKeyrings { holder };
        assert_eq!(line, "ready\n", "unshare --user did not start");
        let me = std::fs::metadata("/proc/self").unwrap();
        let (uid, gid) = (
            std::os::unix::fs::MetadataExt::uid(&me),
            std::os::unix::fs::MetadataExt::gid(&me),
        );
        let other = self.uid;
        let proc_dir = PathBuf::from(format!("/proc/{}", keys.holder.id()));
        // Each map is taken in one write, and only from a writer with CAP_SETUID (CAP_SETGID)
        // over the parent namespace when it maps more than the writer's own id.
        write_as_root(
            &proc_dir.join("uid_map"),
            &format!("{uid} {uid} 1\n{other} {other} 1\n"),
        );
        write_as_root(
            &proc_dir.join("gid_map"),
            &format!("{gid} {gid} 1\n{other} {other} 1\n"),
        );
        keys
    }
}

/// The namespace [`OtherAccount::shared_keyrings`] makes, kept while this lives.
pub struct SharedKeyrings {
    holder: Child,
}

impl SharedKeyrings {
    /// `program` with the world's environment, in the namespace, under a new kernel session
    /// keyring of its own: every program one call starts shares that session keyring, as
    /// the programs of a login session do.
    pub fn session(&self, world: &World, program: impl AsRef<std::ffi::OsStr>) -> Run {
        world
            .program("nsenter")
            .args(["--user", "--preserve-credentials", "-t"])
            .arg(self.holder.id().to_string())
            .args(["keyctl", "session", "-"])
            .arg(program)
    }
}

impl Drop for SharedKeyrings {
    fn drop(&mut self) {
        drop(self.holder.stdin.take());
        let _ = self.holder.wait();
    }
}

/// Writes `text` into `path` in a single write, as root.
fn write_as_root(path: &Path, text: &str) {
    if is_root() {
        std::fs::write(path, text).unwrap_or_else(|e| panic!("could not write {path:?}: {e}"));
        return;
    }
    let mut tee = as_root(["tee"])
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    tee.stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    assert!(tee.wait().unwrap().success(), "could not write {path:?}");
}

impl Drop for OtherAccount {
    fn drop(&mut self) {
        // What the account runs for this test goes first (other tests may be running
        // programs of the same account). Under sudo the child is sudo, the daemon its child.
        for mut child in self.children.lock().unwrap().drain(..) {
            let _ = as_root(["pkill", "-KILL", "-P", &child.id().to_string()]).status();
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = as_root(["rm", "-rf"]).arg(&self.dir).status();
    }
}

/// The second account's uid, made on first use.
fn account_uid() -> u32 {
    static UID: OnceLock<u32> = OnceLock::new();
    *UID.get_or_init(|| {
        let lookup = || {
            Command::new("id")
                .args(["-u", ACCOUNT])
                .stderr(Stdio::null())
                .output()
                .ok()
                .filter(|out| out.status.success())
                .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
        };
        if let Some(uid) = lookup() {
            return uid;
        }
        // useradd (in Debian's essential passwd) is in /usr/sbin, on root's PATH and sudo's.
        // Another test process may make it at the same moment: whoever loses looks it up.
        let _ = as_root([
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            "--comment",
            "nomadctx tests, the second local account",
            ACCOUNT,
        ])
        .status();
        lookup().unwrap_or_else(|| panic!("could not make the test account {ACCOUNT} (useradd)"))
    })
}

/// A session bus on `listen` that lets any local user connect and call anything.
fn open_bus_config(listen: &str) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>{listen}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*"/>
    <allow own="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"#
    )
}

/// `argv` as root: directly when the tests run as root, else through `sudo -n`, which must
/// not ask for a password.
fn as_root<const N: usize>(argv: [&str; N]) -> Command {
    if is_root() {
        let mut cmd = Command::new(argv[0]);
        cmd.args(&argv[1..]);
        cmd
    } else {
        static SUDO: OnceLock<()> = OnceLock::new();
        SUDO.get_or_init(|| {
            let ok = Command::new("sudo")
                .args(["-n", "true"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success());
            assert!(
                ok,
                "the attack tests act as a second local account, which needs root \
                 or passwordless sudo (sudo -n); run the tests as root, or allow sudo without a password"
            );
        });
        let mut cmd = Command::new("sudo");
        cmd.arg("-n").args(argv);
        cmd
    }
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}
