//! Living in the shell: TAB completion, `init` (use without eval), `use -`, the prompt, the
//! picker and `nomadctx shell`, driven through a real terminal in bash, zsh and fish.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::harness::{OutputExt, Step, World, pki, require_tool};

use Step::{Expect, Send};

/// Two production contexts with distinct addresses, and a staging one.
fn three_contexts() -> World {
    let world = World::new();
    let id = pki().identity("ec");
    for (name, address) in [
        ("prod-eu", "https://eu.example:4646"),
        ("prod-us", "https://us.example:4646"),
        ("staging", "https://staging.example:4646"),
    ] {
        world
            .cmd()
            .args(["add", name, "--address", address])
            .identity(&id)
            .succeeds();
    }
    world
}

fn completions(shell: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("completions/nomadctx.{shell}"))
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// What a user types in every shell, and what the prompt must show after each line: TAB
/// completes a context (both for a unique prefix and after `--context`), `use` switches
/// without eval, `use -` goes back, the variables are really set, and `--unset` clears.
fn the_story() -> Vec<Step<'static>> {
    vec![
        Expect("ctx<none>"),
        Send("nomadctx use prod-e\t\r"),
        Expect("ctx<prod-eu>"),
        Send("nomadctx use prod-u\t\r"),
        Expect("ctx<prod-us>"),
        Send("nomadctx use -\r"),
        Expect("ctx<prod-eu>"),
        Send("echo \"addr=$NOMAD_ADDR\" \"key=$NOMAD_CLIENT_KEY\"\r"),
        // The key file is named after the shell: key-PID-START-PIDNS-CONTEXT-….
        Expect(r"addr=https://eu\.example:4646 key=/\S+/key-\d+-\d+-\d+-prod-eu-"),
        Send("nomadctx use -\r"),
        Expect("ctx<prod-us>"),
        Send("nomadctx use --unset\r"),
        Expect("ctx<none>"),
        Send("echo \"addr=[$NOMAD_ADDR]\"\r"),
        Expect(r"addr=\[\]"),
        Send("nomadctx use -\r"),
        Expect("ctx<prod-us>"),
        Send("nomadctx --context stag\t\t"),
        Send("show\r"),
        Expect(r"https://staging\.example:4646"),
        Send("exit\r"),
    ]
}

/// No key file outlives the story: each switch removed the one before, `--unset` the last
/// but one, and the shell exited holding only the last.
fn key_files(world: &World) -> Vec<String> {
    let dir = world.runtime_dir.join("nomadctx");
    std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn bash_completes_switches_goes_back_and_shows_the_context_in_the_prompt() {
    let world = three_contexts();
    write(
        &world.home.join(".bashrc"),
        &format!(
            "eval \"$(nomadctx init bash)\"\nsource '{}'\nPS1='ctx<${{NOMADCTX_CONTEXT:-none}}>\\$ '\n",
            completions("bash").display()
        ),
    );
    world.terminal(&the_story(), &["bash", "-i"], &[]);
    assert_eq!(key_files(&world).len(), 1, "{:?}", key_files(&world));
}

#[test]
fn zsh_completes_switches_goes_back_and_shows_the_context_in_the_prompt() {
    require_tool("zsh");
    let world = three_contexts();
    write(
        &world.home.join(".zshrc"),
        &format!(
            "autoload -Uz compinit && compinit -u -d \"$HOME/.zcompdump\"\neval \"$(nomadctx init zsh)\"\nsource '{}'\nsetopt PROMPT_SUBST\nPROMPT='ctx<${{NOMADCTX_CONTEXT:-none}}>%# '\n",
            completions("zsh").display()
        ),
    );
    let home = world.home.display().to_string();
    world.terminal(
        &the_story(),
        &["zsh", "-i"],
        &[("ZDOTDIR", &home), ("SHELL", "/usr/bin/zsh")],
    );
    assert_eq!(key_files(&world).len(), 1, "{:?}", key_files(&world));
}

#[test]
fn fish_completes_switches_goes_back_and_shows_the_context_in_the_prompt() {
    require_tool("fish");
    let world = three_contexts();
    let config = world.home.join(".config");
    write(
        &config.join("fish/config.fish"),
        &format!(
            "set -g fish_greeting ''\nnomadctx init fish | source\nsource '{}'\nfunction fish_prompt\n    set -q NOMADCTX_CONTEXT; and printf 'ctx<%s>> ' $NOMADCTX_CONTEXT; or printf 'ctx<none>> '\nend\n",
            completions("fish").display()
        ),
    );
    let config = config.display().to_string();
    world.terminal(
        &the_story(),
        &["fish", "-i"],
        &[("XDG_CONFIG_HOME", &config), ("SHELL", "/usr/bin/fish")],
    );
    assert_eq!(key_files(&world).len(), 1, "{:?}", key_files(&world));
}

fn bash_with_init(world: &World) {
    write(
        &world.home.join(".bashrc"),
        "eval \"$(nomadctx init bash)\"\nPS1='ctx<${NOMADCTX_CONTEXT:-none}>\\$ '\n",
    );
}

#[test]
fn use_without_a_name_offers_a_numbered_menu_on_a_terminal() {
    let world = three_contexts();
    bash_with_init(&world);
    let screen = world.terminal(
        &[
            Expect("ctx<none>"),
            Send("nomadctx use\r"),
            Expect(r"2\) prod-us\s+https://us\.example:4646"),
            Expect("context number or name"),
            Send("7\r"),
            Expect("neither a number from 1 to 3 nor a context name"),
            Send("2\r"),
            Expect("ctx<prod-us>"),
            Send("nomadctx use\r"),
            Expect(r"prod-us\s+https://us\.example:4646  \(current\)"),
            Send("staging\r"),
            Expect("ctx<staging>"),
            Send("nomadctx use\r"),
            Expect("context number or name"),
            Send("\r"),
            Expect("no context picked"),
            Expect("ctx<staging>"),
            Send("exit\r"),
        ],
        &["bash", "-i"],
        &[("NOMADCTX_IGNORE_FZF", "1")],
    );
    assert!(!screen.contains("export NOMAD"), "{screen}");
}

#[test]
fn use_without_a_name_uses_fzf_when_it_is_installed() {
    require_tool("fzf");
    let world = three_contexts();
    bash_with_init(&world);
    world.terminal(
        &[
            Expect("ctx<none>"),
            Send("nomadctx use\r"),
            Expect("nomadctx> "),
            Send("stag"),
            Expect("1/3"),
            Send("\r"),
            Expect("ctx<staging>"),
            Send("nomadctx use\r"),
            Expect("nomadctx> "),
            Send("\x1b"),
            Expect("no context picked"),
            Expect("ctx<staging>"),
            Send("exit\r"),
        ],
        &["bash", "-i"],
        &[],
    );
}

#[test]
fn use_without_a_name_or_terminal_lists_the_contexts_on_stderr_and_fails() {
    let world = three_contexts();
    let out = world.cmd().args(["use"]).fails();
    assert!(out.stdout.is_empty(), "{}", out.stdout_text());
    out.stderr_has("  prod-eu\n  prod-us\n  staging\n")
        .stderr_has("no terminal to pick one on")
        .stderr_has("nomadctx use NAME");
}

#[test]
fn use_dash_without_a_previous_context_says_so() {
    let world = three_contexts();
    world
        .cmd()
        .args(["use", "-"])
        .fails()
        .stderr_has("this shell has no previous context");
    // A previous context that no longer exists is named, with the ones that do.
    world
        .cmd()
        .args(["use", "-"])
        .env("NOMADCTX_PREVIOUS", "gone")
        .fails()
        .stderr_has("the previous context \"gone\" (from NOMADCTX_PREVIOUS) no longer exists")
        .stderr_has("prod-eu, prod-us, staging");
}

#[test]
fn shell_starts_a_context_shell_with_the_key_in_memory_and_refuses_to_nest() {
    let world = three_contexts();
    let script = r#"
echo "ctx=$NOMADCTX_CONTEXT shell=$NOMADCTX_SHELL addr=$NOMAD_ADDR key=$NOMAD_CLIENT_KEY"
head -1 "$NOMAD_CLIENT_KEY"
nomadctx shell prod-us
echo "nested=$?"
echo 'echo "inner=$NOMADCTX_CONTEXT $NOMAD_ADDR"' | nomadctx shell --force prod-us
exit 7
"#;
    let out = world
        .cmd()
        .args(["shell", "prod-eu"])
        .stdin(script)
        .output();
    assert_eq!(out.code(), 7, "{}", out.stderr_text());
    out.stdout_has("ctx=prod-eu shell=prod-eu addr=https://eu.example:4646 key=/proc/")
        .stdout_has("-----BEGIN PRIVATE KEY-----")
        .stdout_has("nested=1")
        .stdout_has("inner=prod-us https://us.example:4646");
    out.stderr_has("already a nomadctx shell (context \"prod-eu\")")
        .stderr_has("--force");
    assert!(key_files(&world).is_empty(), "{:?}", key_files(&world));
}

#[test]
fn shell_runs_sh_when_shell_is_unset_and_fails_clearly_for_a_missing_shell() {
    let world = three_contexts();
    let out = world
        .cmd()
        .args(["shell", "staging"])
        .env_remove("SHELL")
        .stdin("echo \"ctx=$NOMADCTX_CONTEXT\"")
        .succeeds();
    out.stdout_has("ctx=staging");
    world
        .cmd()
        .args(["shell", "staging"])
        .env("SHELL", "/nonexistent/shell")
        .fails()
        .stderr_has("\"/nonexistent/shell\" from $SHELL for context \"staging\"");
}

/// Issue 11, case 6: a signal sent to `nomadctx shell` (here SIGUSR1, which used to kill
/// nomadctx and leave the shell running with a dead key path) reaches the shell.
#[test]
fn shell_passes_signals_on_to_its_shell() {
    let world = three_contexts();
    let shell = world.home.join("trapping-shell");
    write(
        &shell,
        "#!/bin/sh\ntrap 'echo got-USR1; exit 3' USR1\necho ready\nend=$(($(date +%s) + 30))\nwhile [ \"$(date +%s)\" -lt \"$end\" ]; do sleep 0.05; done\necho timed-out\n",
    );
    std::fs::set_permissions(&shell, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut nomadctx = world
        .cmd()
        .args(["shell", "prod-eu"])
        .env("SHELL", &shell)
        .cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(nomadctx.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    let sent = std::process::Command::new("kill")
        .args(["-USR1", &nomadctx.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    assert_eq!(lines.next().unwrap().unwrap(), "got-USR1");
    assert_eq!(nomadctx.wait().unwrap().code(), Some(3));
}

#[test]
fn interactive_context_shell_shows_its_context_and_exit_returns() {
    let world = three_contexts();
    bash_with_init(&world);
    world.terminal(
        &[
            Expect("ctx<none>"),
            Send("nomadctx shell prod-us\r"),
            Expect("ctx<prod-us>"),
            Send("nomadctx shell prod-eu\r"),
            Expect("already a nomadctx shell"),
            Send("exit\r"),
            Expect("ctx<none>"),
            Send("exit\r"),
        ],
        &["bash", "-i"],
        &[],
    );
}

/// Job control in a context shell: `suspend` stops the inner shell, nomadctx stops with it so
/// that the outer shell gets its prompt back (it used to wait for ever), and `fg` resumes the
/// context shell with its key path still readable.
#[test]
fn suspend_in_a_context_shell_returns_to_the_outer_shell_and_fg_resumes_it() {
    let world = three_contexts();
    bash_with_init(&world);
    world.terminal(
        &[
            Expect("ctx<none>"),
            Send("nomadctx shell prod-us\r"),
            Expect("ctx<prod-us>"),
            Send("suspend\r"),
            Expect("Stopped"),
            Expect("ctx<none>"),
            Send("fg\r"),
            Send("\r"),
            Expect("ctx<prod-us>"),
            Send("head -1 \"$NOMAD_CLIENT_KEY\"\r"),
            Expect("-----BEGIN PRIVATE KEY-----"),
            Send("exit\r"),
            Expect("ctx<none>"),
            Send("exit\r"),
        ],
        &["bash", "-i"],
        &[],
    );
}

const REPORT: &str = r#"echo "in $NOMADCTX_CONTEXT at $NOMAD_ADDR"; [ "$NOMADCTX_CONTEXT" = prod-us ] && exit 3; exit 0"#;

#[test]
fn exec_match_runs_once_per_matching_context_with_headers() {
    let world = three_contexts();
    let out = world
        .cmd()
        .args(["exec", "--match", "prod-*", "--", "sh", "-c", REPORT])
        .output();
    assert_eq!(out.code(), 3, "{}", out.stderr_text());
    assert_eq!(
        out.stdout_text(),
        "==> prod-eu <==\nin prod-eu at https://eu.example:4646\n\n==> prod-us <==\nin prod-us at https://us.example:4646\n"
    );
    let all = world
        .cmd()
        .args(["exec", "--all", "--no-headers", "--", "sh", "-c", REPORT])
        .output();
    assert_eq!(all.code(), 3);
    assert_eq!(
        all.stdout_text(),
        "in prod-eu at https://eu.example:4646\nin prod-us at https://us.example:4646\nin staging at https://staging.example:4646\n"
    );
    let ok = world
        .cmd()
        .args(["exec", "--match", "[s]tag*", "--", "sh", "-c", REPORT])
        .succeeds();
    ok.stdout_has("==> staging <==");
}

#[test]
fn exec_match_without_a_match_fails_and_a_killed_command_stops_the_run() {
    let world = three_contexts();
    world
        .cmd()
        .args(["exec", "--match", "dev-*", "--", "true"])
        .fails()
        .stderr_has("no context matches \"dev-*\"")
        .stderr_has("known contexts: prod-eu, prod-us, staging");
    let killed = world
        .cmd()
        .args([
            "exec",
            "--all",
            "--",
            "sh",
            "-c",
            "echo \"ran in $NOMADCTX_CONTEXT\"; kill -TERM $$",
        ])
        .output();
    assert_eq!(killed.code(), 128 + 15);
    killed.stdout_has("ran in prod-eu");
    assert!(!killed.stdout_text().contains("ran in prod-us"));
    killed
        .stderr_has("killed by signal 15")
        .stderr_has("not run in: prod-us, staging");
    world
        .cmd()
        .args(["exec", "prod-eu", "--all", "--", "true"])
        .fails()
        .stderr_has("cannot be used with");
}

/// Every place a context is expected, as the words typed so far (the last is completed).
const CONTEXT_POSITIONS: &[&str] = &[
    "nomadctx use pro",
    "nomadctx exec pro",
    "nomadctx shell pro",
    "nomadctx show pro",
    "nomadctx set pro",
    "nomadctx remove staging pro",
    "nomadctx rm pro",
    "nomadctx rename pro",
    "nomadctx default pro",
    "nomadctx check pro",
    "nomadctx export-p12 pro",
    "nomadctx --context pro",
    "nomadctx list --context pro",
];

/// The real completion functions, with the Secret Service out of reach: completion reads
/// the config file only.
#[test]
fn context_names_complete_everywhere_in_bash_and_fish_without_the_keychain() {
    require_tool("fish");
    let world = three_contexts();
    let no_bus = [("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")];
    for line in CONTEXT_POSITIONS {
        let words: Vec<&str> = line.split(' ').collect();
        let bash = format!(
            "source '{}'; COMP_WORDS=({line}); COMP_CWORD={}; _clap_complete_nomadctx nomadctx {} {}; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            completions("bash").display(),
            words.len() - 1,
            words[words.len() - 1],
            words[words.len() - 2],
        );
        let mut run = world.program("bash").args(["-c", &bash]);
        let mut fish = world.program("fish").args([
            "-c",
            &format!(
                "source '{}'; complete -C '{line}'",
                completions("fish").display()
            ),
        ]);
        for (k, v) in no_bus {
            run = run.env(k, v);
            fish = fish.env(k, v);
        }
        assert_eq!(
            run.succeeds().stdout_text(),
            "prod-eu\nprod-us\n",
            "bash: {line}"
        );
        assert_eq!(
            fish.succeeds().stdout_text(),
            "prod-eu\thttps://eu.example:4646\nprod-us\thttps://us.example:4646\n",
            "fish: {line}"
        );
    }
    // The new name of `rename` is not an existing context.
    let rename_new = format!(
        "source '{}'; COMP_WORDS=(nomadctx rename prod-eu pro); COMP_CWORD=3; _clap_complete_nomadctx nomadctx pro prod-eu; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        completions("bash").display()
    );
    let out = world.program("bash").args(["-c", &rename_new]).succeeds();
    assert!(
        !out.stdout_text().contains("prod-us"),
        "{}",
        out.stdout_text()
    );
}

/// The man pages a user installs answer the questions the README sends them to, found by
/// `man` with no MANPATH after `cargo install` and `nomadctx man`, as the README sets up.
#[test]
fn man_nomadctx_use_explains_switching_back_and_init() {
    require_tool("man");
    let world = World::without_keychain();
    // Where `cargo install` puts the binary; only this copy is on PATH.
    let bin = world.home.join(".cargo/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(crate::harness::bin(), bin.join("nomadctx")).unwrap();
    let path = format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display());
    world
        .program(bin.join("nomadctx"))
        .arg("man")
        .env("PATH", &path)
        .succeeds()
        .stderr_has(".cargo/share/man/man1");
    let page = world
        .program("man")
        .arg("nomadctx-use")
        .env("PATH", &path)
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_FORMATTING", "")
        .succeeds()
        .stdout_text();
    // Justified text: undo hyphenation at line ends and collapse runs of spaces.
    let page = page.replace("\u{2010}\n", "").replace("-\n", "-");
    let page = page.split_whitespace().collect::<Vec<_>>().join(" ");
    for needle in [
        "NOMADCTX-USE(1)",
        "switches back to the context this shell used before",
        "nomadctx init",
        "--unset",
        "eval \"$(nomadctx use prod)\"",
    ] {
        assert!(page.contains(needle), "{needle:?} not in:\n{page}");
    }
}

/// `mandoc -Tlint` and `man --warnings` find nothing in any committed page, and every
/// command's page carries an example.
#[test]
fn committed_man_pages_render_cleanly_with_examples() {
    require_tool("mandoc");
    require_tool("man");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pages.sort();
    assert!(pages.len() >= 17, "{pages:?}");
    let lint = std::process::Command::new("mandoc")
        .arg("-Tlint")
        .args(&pages)
        .output()
        .unwrap();
    assert!(
        lint.status.success() && lint.stdout.is_empty() && lint.stderr.is_empty(),
        "mandoc -Tlint:\n{}{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );
    for page in &pages {
        let out = std::process::Command::new("man")
            .args(["--warnings", "-l"])
            .arg(page)
            .env("MANWIDTH", "80")
            .output()
            .unwrap();
        assert!(out.status.success(), "man -l {}", page.display());
        assert!(
            out.stderr.is_empty(),
            "man --warnings -l {}:\n{}",
            page.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Example: "),
            "{} has no example",
            page.display()
        );
    }
}

/// direnv from Debian: `use nomadctx NAME` through the shipped lib function, and the plain
/// `eval "$(nomadctx use NAME)"` form, whatever $SHELL says. Re-entering the directory
/// reuses one key file instead of leaving one per `cd`.
#[test]
fn direnv_loads_a_context_with_use_nomadctx_and_with_eval() {
    require_tool("direnv");
    let world = three_contexts();
    let lib = world.home.join(".config/direnv/lib/use_nomadctx.sh");
    let function = world.cmd().args(["init", "direnv"]).succeeds().stdout;
    write(&lib, &String::from_utf8(function).unwrap());
    let with_use = world.home.join("with-use");
    let with_eval = world.home.join("with-eval");
    write(&with_use.join(".envrc"), "use nomadctx prod-us\n");
    write(
        &with_eval.join(".envrc"),
        "eval \"$(nomadctx use staging)\"\n",
    );
    let report = "echo \"$NOMADCTX_CONTEXT $NOMAD_ADDR\"; head -1 \"$NOMAD_CLIENT_KEY\"";
    for (dir, expected) in [
        (&with_use, "prod-us https://us.example:4646"),
        (&with_eval, "staging https://staging.example:4646"),
    ] {
        world.program("direnv").arg("allow").arg(dir).succeeds();
        for _ in 0..3 {
            let out = world
                .program("direnv")
                .arg("exec")
                .arg(dir)
                .args(["sh", "-c", report])
                .env("SHELL", "/usr/bin/fish")
                .succeeds();
            out.stdout_has(expected)
                .stdout_has("-----BEGIN PRIVATE KEY-----");
        }
    }
    let mut files = key_files(&world);
    files.sort();
    assert_eq!(files, ["shared-prod-us.pem", "shared-staging.pem"]);
    let bad = world.home.join("bad");
    write(&bad.join(".envrc"), "use nomadctx\n");
    world.program("direnv").arg("allow").arg(&bad).succeeds();
    world
        .program("direnv")
        .arg("exec")
        .arg(&bad)
        .arg("true")
        .output()
        .stderr_has("use nomadctx: name one context");
}
