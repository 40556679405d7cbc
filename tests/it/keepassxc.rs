//! nomadctx against a second Secret Service, KeePassXC (headless, tests/support/keepassxc.sh):
//! a context's whole life from add to remove, and its secrets cross the bus encrypted.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use crate::harness::{
    Monitor, OutputExt, World, add_cmd, add_with, assert_encrypted, contains, doctor_is_happy,
    exec_sees, first_line, key_der, pki, require_tool,
};

const TOKEN: &str = "4a1f3c2e-9b7d-4e61-8f0a-5c3d2b1e0f9a";

/// Sources tests/support/keepassxc.sh, starts KeePassXC on the world's bus, says `ready` and
/// its pid, then waits for stdin to close (the guard's drop, or the end of the test process
/// however it ends) to stop it. A test process gone before `ready` is read must not cut the
/// stop short: SIGPIPE is ignored, and stdout goes to stderr after it. A KeePassXC that is
/// gone by then crashed during the test: exit 3, saying so.
const HOLD: &str = r#". "$1" && start_keepassxc "$2" "$3" || exit 1
trap '' PIPE
echo "ready $kpx_pid"
exec >&2
read -r _
if ! kill -0 "$kpx_pid" 2>/dev/null; then
  wait "$kpx_pid"
  echo "KeePassXC crashed during the test (exit status $?); see keepassxc.log above"
  cat "$kpx_dir/keepassxc.log"
  stop_keepassxc
  exit 3
fi
stop_keepassxc"#;

/// A world whose Secret Service is KeePassXC, on the world's private bus; dropping it stops
/// KeePassXC, then the world (its bus and directory) goes.
struct KeePassXc {
    world: World,
    holder: Child,
    log: PathBuf,
    pid: u32,
}

impl KeePassXc {
    fn start() -> Self {
        for tool in [
            "keepassxc",
            "keepassxc-cli",
            "dbus-daemon",
            "dbus-send",
            "secret-tool",
        ] {
            require_tool(tool);
        }
        let world = World::without_keychain();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/keepassxc.sh");
        let log = world.tmp.path().join("keepassxc.sh.log");
        let mut holder = world
            .program("bash")
            .args(["-c", HOLD, "keepassxc.sh"])
            .arg(script)
            .arg(world.tmp.path().join("kpx"))
            .arg("kpx test password")
            .cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start bash");
        let ready = first_line(holder.stdout.take().unwrap());
        let pid = ready
            .trim()
            .strip_prefix("ready ")
            .and_then(|p| p.parse().ok());
        let Some(pid) = pid else {
            let _ = holder.wait();
            panic!(
                "KeePassXC did not start:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        Self {
            world,
            holder,
            log,
            pid,
        }
    }

    /// Stops KeePassXC; an error, with its log, if it had crashed before.
    fn stop(&mut self) -> Result<(), String> {
        drop(self.holder.stdin.take());
        let status = self.holder.wait().map_err(|e| e.to_string())?;
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        if status.code() == Some(3) {
            return Err(log);
        }
        // How long it took to be ready, and any SIGKILL: shown when the test fails.
        eprint!("{log}");
        Ok(())
    }
}

impl Drop for KeePassXc {
    fn drop(&mut self) {
        if self.holder.stdin.is_none() {
            return;
        }
        // A crash is the failure, whatever the test saw: a crashed KeePassXC is never taken
        // for nomadctx's fault, nor passed over.
        if let Err(log) = self.stop() {
            if std::thread::panicking() {
                eprintln!("the failure above comes from KeePassXC, which crashed:\n{log}");
            } else {
                panic!("{log}");
            }
        }
    }
}

/// The key (DER) and token `exec prod` hands its command.
fn exec_secrets(world: &World) -> (Vec<u8>, String) {
    let out = world
        .cmd()
        .args(["exec", "prod", "--", "sh", "-c"])
        .arg("cat \"$NOMAD_CLIENT_KEY\"; echo; echo \"$NOMAD_TOKEN\"")
        .succeeds();
    use rustls_pki_types::pem::PemObject;
    let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(&out.stdout)
        .expect("a PEM key on stdout")
        .secret_der()
        .to_vec();
    let token = out
        .stdout_text()
        .trim_end()
        .lines()
        .last()
        .unwrap()
        .to_owned();
    (key, token)
}

#[test]
fn a_context_lives_and_dies_in_keepassxc() {
    let kpx = KeePassXc::start();
    let world = &kpx.world;
    let (ec, ec2) = (pki().identity("ec"), pki().identity("ec2"));

    // exec is the reader: KeePassXC keeps the items' content type (application/octet-stream),
    // and `secret-tool lookup` (World::secret) refuses those ("secret does not contain a
    // textual password"), where gnome-keyring answers text/plain for everything.
    add_with(world, "prod", &ec, &[]);
    world
        .cmd()
        .args(["set", "prod", "--token-stdin"])
        .stdin(TOKEN)
        .succeeds();
    assert_eq!(world.keychain_accounts(), ["prod/client-key", "prod/token"]);
    assert_eq!(exec_secrets(world), (key_der(&ec.key), TOKEN.to_owned()));

    // A new key is a new item (KeePassXC 2.7.4 cannot replace another connection's item
    // headless), and the old one goes.
    world
        .cmd()
        .args(["set", "prod", "--cert"])
        .arg(&ec2.cert)
        .arg("--key")
        .arg(&ec2.key)
        .succeeds();
    assert_eq!(exec_secrets(world), (key_der(&ec2.key), TOKEN.to_owned()));
    assert_eq!(world.keychain_accounts(), ["prod/client-key", "prod/token"]);

    world.cmd().arg("list").succeeds().stdout_has("prod");
    doctor_is_happy(world);

    world.cmd().args(["remove", "prod"]).succeeds();
    assert_eq!(world.raw_keychain_accounts(), Vec::<String>::new());
}

#[test]
fn secrets_cross_the_bus_to_keepassxc_encrypted() {
    let kpx = KeePassXc::start();
    let world = &kpx.world;
    let ec = pki().identity("ec");
    let key = key_der(&ec.key);

    let monitor = Monitor::start(world, "dh");
    add_cmd(world, "prod", &ec)
        .arg("--token-stdin")
        .stdin(TOKEN)
        .succeeds();
    assert_eq!(exec_secrets(world), (key.clone(), TOKEN.to_owned()));
    let seen = monitor.stop();
    assert_encrypted(&seen, &key, TOKEN);
    assert!(contains(&seen, b"CreateItem") && contains(&seen, b"GetSecrets"));

    // The monitor does see KeePassXC's answers: in a plain session, there is the token.
    let monitor = Monitor::start(world, "plain");
    let plain = world.cmd().env("NOMADCTX_SECRET_SERVICE_SESSION", "plain");
    assert_eq!(exec_sees(plain, "prod", "NOMAD_TOKEN"), TOKEN);
    assert!(contains(&monitor.stop(), TOKEN.as_bytes()));
}

#[test]
fn a_keepassxc_that_crashes_mid_test_is_said_to_have_crashed() {
    let mut kpx = KeePassXc::start();
    add_with(&kpx.world, "prod", &pki().identity("ec"), &[]);
    // As the segmentation fault under load did.
    let killed = std::process::Command::new("kill")
        .args(["-SEGV", &kpx.pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = kpx
        .world
        .cmd()
        .args(["set", "prod", "--token-stdin"])
        .stdin(TOKEN)
        .fails();
    assert!(
        !out.stderr_text().contains("confirmation"),
        "a crash read as a dismissed prompt: {}",
        out.stderr_text()
    );
    let crash = kpx
        .stop()
        .expect_err("the harness did not notice the crash");
    assert!(
        crash.contains("KeePassXC crashed during the test (exit status 139)"),
        "{crash}"
    );
}
