//! Issue 22's M1 and M2: a setuid program of a second local account, run from the user's
//! session, gets nothing of the kernel keys nomadctx keeps (the file store's unlock cache, the
//! `keyutils` backend's keys and tokens): possession grants nothing, and nobody may change a
//! key's timeout or link it elsewhere.

use std::path::PathBuf;

use crate::harness::*;

const PASS: &str = "correct horse battery staple";
const TOKEN: &str = "5f3b7a6e-2c1d-4e8f-9a0b-c4d2e6f8a1b3";

/// The shell function the attack scripts use: `attack NAME COMMAND...` prints one line,
/// `NAME exit=N OUTPUT` (stdout and stderr, newlines as spaces), whatever COMMAND does.
const ATTACK_FN: &str = r#"
attack() {
    name=$1; shift
    if out=$("$@" 2>&1); then rc=0; else rc=$?; fi
    printf '%s exit=%s %s\n' "$name" "$rc" "$(printf '%s' "$out" | tr '\n' ' ')"
}
"#;

/// A world with no D-Bus, the second account, its setuid copy of `keyctl`, and a user
/// namespace shared by both whose kernel keyrings the commands use.
struct Scene {
    world: World,
    other: OtherAccount,
    keys: SharedKeyrings,
    attacker: PathBuf,
}

impl Scene {
    fn new() -> Self {
        let world = World::headless();
        let other = OtherAccount::new();
        let keys = other.shared_keyrings();
        let attacker = other.setuid_copy("keyctl");
        Self {
            world,
            other,
            keys,
            attacker,
        }
    }

    /// nomadctx in a session keyring of its own, in the shared namespace.
    fn cmd(&self) -> Run {
        self.keys.session(&self.world, bin())
    }

    /// `script` run by bash in one new session keyring of the shared namespace, with
    /// [`ATTACK_FN`], `$ATTACKER` (the setuid keyctl), `$PASS` and `$STORE` (the store id).
    fn script(&self, script: &str) -> std::process::Output {
        let store = self.world.config().store.expect("a store id");
        self.keys
            .session(&self.world, "bash")
            .args(["-c", &format!("set -u\n{ATTACK_FN}\n{script}")])
            .env("ATTACKER", &self.attacker)
            .env("PASS", PASS)
            .env("STORE", store)
            .succeeds()
    }

    /// Context `prod` with a key and the token.
    fn add_prod(&self, id: &Identity) {
        add_args(self.cmd(), "prod", id)
            .arg("--token-stdin")
            .stdin(TOKEN)
            .succeeds();
    }
}

/// The lines `attack` printed, as (name, exit status, output).
fn attacks(out: &std::process::Output) -> Vec<(String, i32, String)> {
    out.stdout_text()
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.split_once(" exit=")?;
            let (code, output) = rest.split_once(' ').unwrap_or((rest, ""));
            Some((name.to_owned(), code.parse().ok()?, output.to_owned()))
        })
        .collect()
}

/// The line `NAME: VALUE` the script printed.
fn reported(out: &std::process::Output, name: &str) -> String {
    let prefix = format!("{name}: ");
    out.stdout_text()
        .lines()
        .find_map(|line| line.strip_prefix(&prefix).map(str::to_owned))
        .unwrap_or_else(|| panic!("the script did not report {name}:\n{}", out.stdout_text()))
}

/// Every attack in `out` was refused and gave away none of `secrets`.
fn all_refused(out: &std::process::Output, expected: usize, secrets: &[&str]) {
    let attacks = attacks(out);
    assert_eq!(
        attacks.len(),
        expected,
        "attacks run:\n{}{}",
        out.stdout_text(),
        out.stderr_text()
    );
    for (name, code, output) in &attacks {
        assert_ne!(
            *code, 0,
            "the second account's setuid keyctl could {name}: {output}"
        );
        for secret in secrets {
            assert!(
                !output.contains(secret),
                "the second account's setuid keyctl got a secret through {name}: {output}"
            );
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_setuid_program_of_another_account_cannot_read_retime_or_link_the_unlock_cache() {
    let scene = Scene::new();
    scene
        .cmd()
        .args(["keychain", "use", "file", "--passphrase-stdin"])
        .stdin(format!("{PASS}\n"))
        .succeeds();
    scene.add_prod(&pki().identity("ec"));
    scene.cmd().arg("lock").succeeds();
    // The review's set-up: the user keyring linked into the session keyring, as a login does.
    let out = scene.script(
        r#"
keyctl link @u @s >/dev/null
printf '%s\n' "$PASS" | nomadctx unlock --for 1h --passphrase-stdin
key=$(keyctl search @u user "nomadctx:$STORE:identity")
attack read "$ATTACKER" print "$key"
attack pipe "$ATTACKER" pipe "$key"
attack search "$ATTACKER" search @u user "nomadctx:$STORE:identity"
attack timeout "$ATTACKER" timeout "$key" 0
attack setperm "$ATTACKER" setperm "$key" 0x3f3f3f3f
loot=$("$ATTACKER" newring loot @s)
[ -n "$loot" ] || { echo "the attacker could not make a keyring of its own" >&2; exit 1; }
attack link "$ATTACKER" link "$key" "$loot"
echo "timeout: $(awk -v k="nomadctx:$STORE:identity:" '$9 == k { print $4 }' /proc/keys)"
echo "token: $(nomadctx exec prod -- printenv NOMAD_TOKEN)"
echo "status: $(nomadctx keychain | grep locked:)"
nomadctx lock
if keyctl search @u user "nomadctx:$STORE:identity" >/dev/null 2>&1; then gone=no; else gone=yes; fi
echo "gone after lock: $gone"
"#,
    );
    all_refused(&out, 6, &["AGE-SECRET-KEY-"]);
    // The cache still works for the user, its timeout is the one `unlock` set, and `lock`
    // still removes it.
    let timeout = reported(&out, "timeout");
    assert!(
        ["1h", "59m"].contains(&timeout.as_str()),
        "timeout {timeout:?}, wanted the hour `unlock` set"
    );
    assert_eq!(reported(&out, "token"), TOKEN);
    assert!(
        reported(&out, "status").contains("no, unlocked"),
        "{}",
        out.stdout_text()
    );
    assert_eq!(reported(&out, "gone after lock"), "yes");
}

#[test]
fn a_setuid_program_of_another_account_cannot_read_the_keyutils_backends_key_or_token() {
    let scene = Scene::new();
    let id = pki().identity("ec");
    scene.cmd().args(["keychain", "use", "keyutils"]).succeeds();
    scene.add_prod(&id);
    let der = key_der(&id.key);
    let out = scene.script(
        r#"
ring=$("$ATTACKER" get_persistent @s)
n=0
for key in $(keyctl rlist "$ring"); do
    n=$((n + 1))
    desc=$(keyctl rdescribe "$key" | cut -d';' -f5-)
    attack "read-$n" "$ATTACKER" print "$key"
    attack "pipe-$n" "$ATTACKER" pipe "$key"
    attack "search-$n" "$ATTACKER" search "$ring" user "$desc"
    attack "describe-$n" "$ATTACKER" rdescribe "$key"
    attack "setperm-$n" "$ATTACKER" setperm "$key" 0x3f3f3f3f
    loot=$("$ATTACKER" newring "loot-$n" @s)
    [ -n "$loot" ] || { echo "the attacker could not make a keyring of its own" >&2; exit 1; }
    attack "link-$n" "$ATTACKER" link "$key" "$loot"
done
echo "items: $n"
echo "token: $(nomadctx exec prod -- printenv NOMAD_TOKEN)"
nomadctx exec prod -- sh -c 'cat "$NOMAD_CLIENT_KEY" > "$HOME/key.pem"'
"#,
    );
    assert_eq!(reported(&out, "items"), "2", "the key and the token");
    all_refused(&out, 12, &[TOKEN, &hex(&der[..32])]);
    // Under the new permissions the user still reads, lists, checks and removes them.
    assert_eq!(reported(&out, "token"), TOKEN);
    let handed = scene.world.home.join("key.pem");
    assert_eq!(key_der(&handed), der, "exec hands over the stored key");
    scene
        .cmd()
        .arg("keychain")
        .succeeds()
        .stdout_has("2 item(s) of this configuration, 2 in use");
    doctor_agrees(scene.cmd());
    scene.cmd().args(["remove", "prod"]).succeeds();
    let left = scene.script(r#"echo "left: $(keyctl rlist "$(keyctl get_persistent @s)")""#);
    assert_eq!(reported(&left, "left"), "", "remove left keys behind");
}

#[test]
fn a_key_another_account_plants_as_the_unlock_cache_is_not_taken_and_lock_removes_it() {
    let scene = Scene::new();
    scene
        .cmd()
        .args(["keychain", "use", "file", "--passphrase-stdin"])
        .stdin(format!("{PASS}\n"))
        .succeeds();
    scene.add_prod(&pki().identity("ec"));
    scene.cmd().arg("lock").succeeds();
    let out = scene.script(
        r#"
keyctl link @u @s >/dev/null
"$ATTACKER" add user "nomadctx:$STORE:identity" AGE-SECRET-KEY-1PLANTED @u >/dev/null
attack exec nomadctx exec prod -- true
attack lock nomadctx lock
if keyctl search @u user "nomadctx:$STORE:identity" >/dev/null 2>&1; then gone=no; else gone=yes; fi
echo "gone after lock: $gone"
printf '%s\n' "$PASS" | nomadctx unlock --for 1h --passphrase-stdin
echo "token: $(nomadctx exec prod -- printenv NOMAD_TOKEN)"
"#,
    );
    let attacks = attacks(&out);
    let (_, code, said) = &attacks[0];
    assert_eq!(*code, 1, "{said}");
    assert!(
        said.contains(&format!(
            "the unlock cache in the kernel's user keyring holds a key that belongs to uid {}, not to you",
            scene.other.uid()
        )),
        "{said}"
    );
    let (_, code, said) = &attacks[1];
    assert_eq!(*code, 0, "{said}");
    assert_eq!(reported(&out, "gone after lock"), "yes");
    assert_eq!(reported(&out, "token"), TOKEN);
}
