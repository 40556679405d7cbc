//! What crosses a world's session bus, captured with dbus-monitor.

use super::*;

/// Everything that crosses the world's bus while it runs, as raw messages (pcap).
pub struct Monitor {
    child: Child,
    capture: PathBuf,
    bus_address: String,
}

impl Monitor {
    pub fn start(world: &World, name: &str) -> Self {
        let capture = world.tmp.path().join(format!("{name}.pcap"));
        let child = world
            .program(require_tool("dbus-monitor"))
            .args(["--session", "--pcap"])
            .cmd
            .stdout(std::fs::File::create(&capture).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let monitor = Self {
            child,
            capture,
            bus_address: world.bus_address.clone(),
        };
        // Listening once it has seen a message sent after it started.
        monitor.mark(&format!("nomadctx-test-start-{name}"));
        monitor
    }

    /// Sends a message naming `marker` until the capture has it: everything sent before it
    /// is in the capture too.
    fn mark(&self, marker: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !contains(&self.bytes(), marker.as_bytes()) {
            assert!(Instant::now() < deadline, "dbus-monitor never saw {marker}");
            let _ = Command::new(require_tool("dbus-send"))
                .env("DBUS_SESSION_BUS_ADDRESS", &self.bus_address)
                .args([
                    "--session",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                ])
                .arg(format!("string:{marker}"))
                .output();
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        std::fs::File::open(&self.capture)
            .unwrap()
            .read_to_end(&mut bytes)
            .unwrap();
        bytes
    }

    /// What it saw, once every message of the commands run so far is written.
    pub fn stop(mut self) -> Vec<u8> {
        self.mark("nomadctx-test-stop");
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.bytes()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

pub fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// Asserts that a capture shows a DH session and neither the token nor the key (its last 32
/// bytes: the private scalar of an EC key, the end of an RSA one) in clear.
pub fn assert_encrypted(seen: &[u8], key: &[u8], token: &str) {
    assert!(
        contains(seen, b"dh-ietf1024-sha256-aes128-cbc-pkcs7"),
        "no DH session was opened"
    );
    assert!(
        !contains(seen, token.as_bytes()),
        "the token crossed the bus in clear"
    );
    assert!(
        !contains(seen, &key[key.len() - 32..]),
        "the key crossed the bus in clear"
    );
}
