//! `use` output evaluated by real bash, zsh, sh and fish, with hostile values in every field.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::harness::{OutputExt, World, add_with, first_line, pki, require_tool, squash};

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
        world.cert_link("prod", "ca").to_str().unwrap(),
    );
    expect(
        "NOMAD_CLIENT_CERT",
        world.cert_link("prod", "client").to_str().unwrap(),
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
        .stderr_has("not one line of text")
        .stderr_has("--token-stdin");
    let dir = world.runtime_dir.join("nomadctx");
    let left = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "key files left in {}", dir.display());
}

/// Adds a second context to switch to.
fn with_staging(world: &World) {
    add_with(world, "staging", &pki().identity("ec"), &[]);
}

/// Runs a bash script in the world; it reports a broken expectation by failing.
fn bash_succeeds(world: &World, script: &str) -> String {
    world
        .program("bash")
        .args(["-c", script])
        .succeeds()
        .stdout_text()
}

/// The `key-*` files `use` left in the runtime directory.
fn per_shell_key_files(world: &World) -> Vec<PathBuf> {
    let dir = world.runtime_dir.join("nomadctx");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.file_name().unwrap().to_str().unwrap().starts_with("key-"));
    files.sort();
    files
}

#[test]
fn a_child_shell_or_subshell_leaves_the_parent_shells_key_file() {
    require_tool("zsh");
    require_tool("fish");
    let world = hostile_world();
    with_staging(&world);
    for child in [
        r#"bash -c 'eval "$(nomadctx use staging)"'"#,
        r#"bash -c 'eval "$(nomadctx use --unset)"'"#,
        r#"zsh -c 'eval "$(nomadctx use staging --shell zsh)"'"#,
        "fish -c 'nomadctx use staging --shell fish | source'",
        r#"( eval "$(nomadctx use staging)" )"#,
        r#"( eval "$(nomadctx use staging 2>/dev/null)" )"#,
    ] {
        bash_succeeds(
            &world,
            &format!(
                r#"eval "$(nomadctx use prod)"
parent=$NOMAD_CLIENT_KEY
{child}
test -r "$parent" || {{ echo "the child removed the parent's key file" >&2; exit 9; }}
eval "$(nomadctx use staging)"
test ! -e "$parent" || {{ echo "the parent's own next use left its previous key file" >&2; exit 8; }}
test -r "$NOMAD_CLIENT_KEY" || exit 7"#
            ),
        );
    }
    // Each parent's next `use` removed the files of the exited child and of the parent
    // before it; only the last parent's stays.
    let left = per_shell_key_files(&world);
    assert_eq!(
        left.len(),
        1,
        "key files of exited shells left behind: {left:?}"
    );
}

#[test]
fn a_shell_removes_its_own_previous_key_file_however_it_runs_use() {
    require_tool("zsh");
    let world = hostile_world();
    with_staging(&world);
    // Some of these put a process between the shell and nomadctx: a command substitution
    // that forks before it runs nomadctx (a redirection, bash's ERR trap with errtrace,
    // zsh's DEBUG trap), or a wrapper program.
    let check = r#"u prod
first=$NOMAD_CLIENT_KEY
u staging
test ! -e "$first" || { echo "the previous key file stayed" >&2; exit 8; }
bash -c 'eval "$(nomadctx use prod)"'
test -r "$NOMAD_CLIENT_KEY" || { echo "another shell's use removed this shell's key file" >&2; exit 9; }
u --unset
test -z "$NOMAD_CLIENT_KEY" || exit 7"#;
    for (shell, define) in [
        ("bash", r#"u() { eval "$(nomadctx use "$1")"; }"#),
        (
            "bash",
            r#"u() { eval "$(nomadctx use "$1" 2>/dev/null)"; }"#,
        ),
        (
            "bash",
            r#"eval "$(nomadctx init bash)"; u() { nomadctx use "$1"; }"#,
        ),
        (
            "bash",
            r#"set -E; trap : ERR; u() { eval "$(nomadctx use "$1")"; }"#,
        ),
        ("bash", r#"u() { eval "$(timeout 60 nomadctx use "$1")"; }"#),
        (
            "zsh",
            r#"trap : DEBUG; u() { eval "$(nomadctx use "$1")"; }"#,
        ),
        (
            "zsh",
            r#"eval "$(nomadctx init zsh)"; u() { nomadctx use "$1"; }"#,
        ),
    ] {
        let out = world
            .program(shell)
            .args(["-c", &format!("{define}\n{check}")])
            .env("SHELL", format!("/bin/{shell}"))
            .output();
        assert!(
            out.status.success(),
            "{shell}, {define}: exit {}: {}",
            out.code(),
            out.stderr_text()
        );
        let left = per_shell_key_files(&world);
        assert!(left.is_empty(), "{shell}, {define}: left {left:?}");
    }
}

#[test]
fn use_inside_direnv_leaves_the_outer_shells_key_file() {
    let world = hostile_world();
    with_staging(&world);
    // direnv evaluates an .envrc in a bash of its own that inherits the outer shell's
    // variables, and puts them back when the user leaves the directory.
    bash_succeeds(
        &world,
        r#"eval "$(nomadctx use prod)"
outer=$NOMAD_CLIENT_KEY
DIRENV_IN_ENVRC=1 bash -c 'eval "$(nomadctx use staging)"; echo "$NOMAD_CLIENT_KEY"' >envrc-plain || exit 6
DIRENV_IN_ENVRC=1 bash -c 'eval "$(nomadctx init direnv)"; use_nomadctx staging' || exit 5
test -r "$outer" || { echo "use in an .envrc removed the outer shell's key file" >&2; exit 9; }
eval "$(nomadctx use staging)"
test ! -e "$outer" || { echo "the outer shell's own next use left its key file" >&2; exit 8; }"#,
    );
    let shared = world
        .runtime_dir
        .join("nomadctx")
        .join("shared-staging.pem");
    assert_eq!(
        std::fs::read_to_string(world.home.join("envrc-plain")).unwrap(),
        format!("{}\n", shared.display())
    );
    assert!(shared.exists(), "the .envrc's shared key file");
}

#[test]
fn use_removes_the_key_files_of_shells_that_have_exited_and_no_others() {
    use std::process::Stdio;

    let world = hostile_world();
    let print_key = r#"eval "$(nomadctx use prod)"; echo "$NOMAD_CLIENT_KEY""#;
    // A shell that keeps running until its stdin is closed.
    let mut live = world
        .program("bash")
        .args(["-c", &format!("{print_key}; read -r _ || true")])
        .cmd;
    let mut live = live
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let line = first_line(live.stdout.take().unwrap());
    let live_key = PathBuf::from(line.trim_end());
    let shared = world.runtime_dir.join("nomadctx").join("shared-prod.pem");
    world
        .cmd()
        .args(["use", "prod", "--shared-key-file"])
        .succeeds();
    let exited_key = PathBuf::from(bash_succeeds(&world, print_key).trim_end());
    assert!(
        exited_key.exists() && live_key.exists(),
        "written: {exited_key:?}, {live_key:?}"
    );

    let another_key = PathBuf::from(bash_succeeds(&world, print_key).trim_end());
    assert!(!exited_key.exists(), "the exited shell's key file stayed");
    assert!(live_key.exists(), "a running shell's key file was removed");
    assert!(another_key.exists());
    assert!(shared.exists(), "a shared key file was removed");

    drop(live.stdin.take());
    assert!(live.wait().unwrap().success());
    world.cmd().args(["use", "--unset"]).succeeds();
    let left = per_shell_key_files(&world);
    assert!(left.is_empty(), "left: {left:?}");
    assert!(shared.exists(), "a shared key file was removed");
}

#[test]
fn with_the_init_function_both_forms_of_use_change_the_shell() {
    require_tool("zsh");
    require_tool("fish");
    let world = hostile_world();
    with_staging(&world);
    // Each form leaves this shell in a context, with a key file it can read; the last
    // check is the form `add` suggests, run in the shell itself with stdout redirected.
    let check = r#"eval "$(nomadctx use staging)"
test "$NOMADCTX_CONTEXT" = staging || { echo "eval \"\$(nomadctx use staging)\" changed nothing" >&2; exit 5; }
test -r "$NOMAD_CLIENT_KEY" || exit 6
nomadctx use prod
test "$NOMADCTX_CONTEXT" = prod || { echo "nomadctx use prod changed nothing" >&2; exit 7; }
nomadctx use staging > /dev/null
test "$NOMADCTX_CONTEXT" = staging || { echo "nomadctx use staging > /dev/null changed nothing" >&2; exit 8; }
test -r "$NOMAD_CLIENT_KEY" || exit 9"#;
    for shell in ["bash", "zsh"] {
        let out = world
            .program(shell)
            .args(["-c", &format!("eval \"$(nomadctx init {shell})\"\n{check}")])
            .env("SHELL", format!("/bin/{shell}"))
            .output();
        assert!(
            out.status.success(),
            "{shell}: exit {}: {}",
            out.code(),
            out.stderr_text()
        );
    }
    // fish: `| source`, the form fish users type, and the plain call.
    let out = world
        .program("fish")
        .args([
            "-c",
            "nomadctx init fish | source
nomadctx use staging | source
test \"$NOMADCTX_CONTEXT\" = staging; or exit 5
nomadctx use prod
test \"$NOMADCTX_CONTEXT\" = prod; or exit 7",
        ])
        .env("SHELL", "/usr/bin/fish")
        .output();
    assert!(
        out.status.success(),
        "fish: exit {}: {}",
        out.code(),
        out.stderr_text()
    );
    // Only the shell's own key file is left: none for a subshell that has gone.
    let left = per_shell_key_files(&world);
    assert!(
        left.len() <= 1,
        "key files of subshells left behind: {left:?}"
    );
}
