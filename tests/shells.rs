//! `use` output evaluated by real bash, zsh, sh and fish, with hostile values in every field.

mod harness;

use std::collections::BTreeMap;

use harness::{OutputExt, World, add_with, pki, require_tool, squash};

const HOSTILE: &str =
    "it's \"q\" $(touch pwned) `touch pwned2` \\ ; * ? [a] two  spaces é ✓ ${HOME} !x";
const TOKEN: &str = "tok'$(touch pwned3)\"`x` \\ é";

fn hostile_world() -> World {
    let world = World::new();
    add_with(
        &world,
        "prod",
        &pki().identity("ec"),
        &[
            "--region",
            HOSTILE,
            "--namespace",
            "ns $x",
            "--tls-server-name",
            "server.global.nomad",
        ],
    );
    world
        .cmd()
        .args(["set", "prod", "--token-stdin"])
        .stdin(TOKEN)
        .succeeds();
    world
}

/// The environment a shell ends up with after `script`, read back with `env -0`.
fn env_after(world: &World, shell: &str, script: &str) -> BTreeMap<String, String> {
    let out = world
        .program(shell)
        .args(["-c", &format!("{script}\nenv -0")])
        .env("NOMAD_CAPATH", "/stale/capath")
        .env("NOMAD_HTTP_AUTH", "stale:auth")
        .env("SHELL", format!("/bin/{shell}"))
        .succeeds();
    out.stdout
        .split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8(kv.to_vec()).ok()?;
            let (k, v) = kv.split_once('=')?;
            (k.starts_with("NOMAD_") || k == "NOMADCTX_CONTEXT")
                .then(|| (k.to_owned(), v.to_owned()))
        })
        .collect()
}

fn assert_prod(world: &World, env: &BTreeMap<String, String>, how: &str) {
    let expect =
        |k: &str, v: &str| assert_eq!(env.get(k).map(String::as_str), Some(v), "{how}: {k}");
    expect("NOMAD_ADDR", "https://127.0.0.1:4646");
    expect("NOMAD_REGION", HOSTILE);
    expect("NOMAD_NAMESPACE", "ns $x");
    expect("NOMAD_TLS_SERVER_NAME", "server.global.nomad");
    expect("NOMAD_TOKEN", TOKEN);
    expect(
        "NOMAD_CACERT",
        world.cert_file("prod", "ca").to_str().unwrap(),
    );
    expect(
        "NOMAD_CLIENT_CERT",
        world.cert_file("prod", "client").to_str().unwrap(),
    );
    expect("NOMADCTX_CONTEXT", "prod");
    for stale in ["NOMAD_CAPATH", "NOMAD_HTTP_AUTH", "NOMAD_SKIP_VERIFY"] {
        assert!(
            !env.contains_key(stale),
            "{how}: {stale} leaked from the previous environment"
        );
    }
    let key_path = env
        .get("NOMAD_CLIENT_KEY")
        .unwrap_or_else(|| panic!("{how}: no NOMAD_CLIENT_KEY"));
    assert!(
        key_path.starts_with(world.runtime_dir.join("nomadctx").to_str().unwrap()),
        "{how}: {key_path}"
    );
    assert_eq!(
        squash(&std::fs::read(key_path).unwrap()),
        squash(&pki().identity("ec").key_pem()),
        "{how}"
    );
    for pwned in ["pwned", "pwned2", "pwned3"] {
        assert!(
            !world.home.join(pwned).exists(),
            "{how}: a value was executed"
        );
    }
}

#[test]
fn bash_and_zsh_give_the_same_result_for_quoted_and_unquoted_eval() {
    require_tool("zsh");
    let world = hostile_world();
    for shell in ["bash", "zsh"] {
        let quoted = env_after(&world, shell, "eval \"$(nomadctx use prod)\"");
        assert_prod(&world, &quoted, &format!("{shell} quoted"));
        let unquoted = env_after(&world, shell, "eval $(nomadctx use prod)");
        assert_prod(&world, &unquoted, &format!("{shell} unquoted"));
        let strip_key = |m: &BTreeMap<String, String>| {
            let mut m = m.clone();
            m.remove("NOMAD_CLIENT_KEY");
            m
        };
        assert_eq!(strip_key(&quoted), strip_key(&unquoted), "{shell}");
    }
}

#[test]
fn posix_sh_with_quoted_eval() {
    let world = hostile_world();
    let env = env_after(&world, "sh", "eval \"$(nomadctx use prod --shell sh)\"");
    assert_prod(&world, &env, "sh");
}

#[test]
fn fish_with_eval_and_source() {
    require_tool("fish");
    let world = hostile_world();
    let evaluated = env_after(&world, "fish", "eval (nomadctx use prod)");
    assert_prod(&world, &evaluated, "fish eval");
    let sourced = env_after(&world, "fish", "nomadctx use prod | source");
    assert_prod(&world, &sourced, "fish source");
}

#[test]
fn unset_clears_everything_and_removes_the_key_file() {
    require_tool("zsh");
    let world = hostile_world();
    for shell in ["bash", "zsh"] {
        let env = env_after(
            &world,
            shell,
            "eval \"$(nomadctx use prod)\"\nkey=$NOMAD_CLIENT_KEY\neval \"$(nomadctx use --unset)\"\ntest ! -e \"$key\" || { echo key file left >&2; exit 9; }",
        );
        assert!(env.is_empty(), "{shell}: {env:?}");
    }
    let fish = env_after(
        &world,
        "fish",
        "nomadctx use prod | source; set key $NOMAD_CLIENT_KEY; nomadctx use --unset | source; test ! -e $key; or exit 9",
    );
    assert!(fish.is_empty(), "fish: {fish:?}");
    let left: Vec<_> = std::fs::read_dir(world.runtime_dir.join("nomadctx"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "key files left: {left:?}");
}

#[test]
fn switching_context_removes_the_previous_key_file_and_unsets_its_variables() {
    let world = hostile_world();
    world
        .cmd()
        .args(["add", "plain", "--address", "http://127.0.0.1:4646"])
        .succeeds();
    let env = env_after(
        &world,
        "bash",
        "eval \"$(nomadctx use prod)\"\nkey=$NOMAD_CLIENT_KEY\neval \"$(nomadctx use plain)\"\ntest ! -e \"$key\" || exit 9",
    );
    assert_eq!(
        env.get("NOMAD_ADDR").map(String::as_str),
        Some("http://127.0.0.1:4646")
    );
    assert_eq!(
        env.get("NOMADCTX_CONTEXT").map(String::as_str),
        Some("plain")
    );
    for gone in [
        "NOMAD_REGION",
        "NOMAD_TOKEN",
        "NOMAD_CLIENT_KEY",
        "NOMAD_CACERT",
        "NOMAD_NAMESPACE",
    ] {
        assert!(!env.contains_key(gone), "{gone} survived the switch");
    }
}

#[test]
fn key_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let world = hostile_world();
    let out = world
        .cmd()
        .args(["use", "prod", "--shell", "fish"])
        .succeeds();
    let text = out.stdout_text();
    let line = text
        .lines()
        .find(|l| l.starts_with("set -gx NOMAD_CLIENT_KEY"))
        .unwrap();
    let path = line.split('\'').nth(1).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(std::path::Path::new(path)), 0o600);
    assert_eq!(mode(&world.runtime_dir.join("nomadctx")), 0o700);
}

#[test]
fn runtime_dirs_open_to_others_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let world = hostile_world();
    let open = world.tmp.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    world
        .cmd()
        .args(["use", "prod"])
        .env("XDG_RUNTIME_DIR", &open)
        .fails()
        .stderr_has("XDG_RUNTIME_DIR")
        .stderr_has("open to other users");
    let mine = world.tmp.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::set_permissions(&mine, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::create_dir(mine.join("nomadctx")).unwrap();
    std::fs::set_permissions(
        mine.join("nomadctx"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    world
        .cmd()
        .args(["use", "prod"])
        .env("XDG_RUNTIME_DIR", &mine)
        .fails()
        .stderr_has("chmod 700");
    assert_eq!(
        std::fs::read_dir(mine.join("nomadctx")).unwrap().count(),
        0,
        "no key written"
    );
}

#[test]
fn powershell_and_nushell_output_shapes() {
    let world = hostile_world();
    let ps = world
        .cmd()
        .args(["use", "prod", "--shell", "powershell"])
        .succeeds();
    ps.stdout_has("$Env:NOMAD_ADDR='https://127.0.0.1:4646';")
        .stdout_has("Remove-Item -ErrorAction SilentlyContinue Env:NOMAD_CAPATH;");
    let nu = world
        .cmd()
        .args(["use", "prod", "--shell", "nu"])
        .succeeds();
    let json: serde_json::Value = serde_json::from_slice(&nu.stdout).unwrap();
    assert_eq!(json["NOMAD_REGION"], HOSTILE);
    assert_eq!(json["NOMAD_TOKEN"], TOKEN);
    assert_eq!(json["NOMAD_CAPATH"], "");
}

#[test]
fn unknown_or_missing_shell_is_a_clear_error() {
    let world = hostile_world();
    world
        .cmd()
        .args(["use", "prod"])
        .env_remove("SHELL")
        .fails()
        .stderr_has("--shell");
    world
        .cmd()
        .args(["use", "prod"])
        .env("SHELL", "/usr/bin/tcsh")
        .fails()
        .stderr_has("\"tcsh\"");
    world
        .cmd()
        .args(["use", "nope"])
        .fails()
        .stderr_has("no context named \"nope\"");
}

#[test]
fn a_failed_use_leaves_no_key_file() {
    let world = hostile_world();
    // A token that is not text (damaged outside nomadctx) makes `use` fail after it has
    // fetched the key: no key file may stay behind.
    let account = world.live_account("prod/token").unwrap();
    world
        .program("secret-tool")
        .args([
            "store",
            "--label=damaged",
            "service",
            "nomadctx",
            "username",
            &account,
        ])
        .stdin(vec![0xff, 0xfe, 0x00])
        .succeeds();
    world
        .cmd()
        .args(["use", "prod"])
        .fails()
        .stderr_has("not text")
        .stderr_has("--token-stdin");
    let dir = world.runtime_dir.join("nomadctx");
    let left = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "key files left in {}", dir.display());
}
