//! Shell quoting, proven: random strings made of the pieces that break naive quoting go into
//! every value a context can hold; after `use` is evaluated by real bash, zsh, fish and elvish, each
//! variable equals its input byte for byte and no injected command ran.

use std::collections::BTreeMap;

use crate::harness::{Rng, World, add_cmd, pki, require_tool};

const PIECES: &[&str] = &[
    "'",
    "\"",
    "\\",
    "$(touch PWNED)",
    "`touch PWNED`",
    ";",
    "*",
    "?",
    "[a-z]",
    "  ",
    "   ",
    " ",
    "é",
    "✓",
    "日本",
    "$HOME",
    "${PATH}",
    "$",
    "!",
    "!!",
    "#",
    "%s",
    "{a,b}",
    "~",
    "&",
    "|",
    "<",
    ">",
    "-",
    "--x",
    "=",
    "a",
    "Z9",
    "\\n",
    "\\x41",
    "$'x'",
    "\u{a0}",
    "\u{200b}",
    "'\"'",
    "\\'",
    "%",
    "^",
    "(",
    ")",
    "@",
    ".",
];

/// A value of 0 to 12 pieces (NOMADCTX_QUOTING_SEED picks another draw); `trim` for
/// tokens, which cannot start or end with blanks.
fn value(rng: &mut Rng, trim: bool) -> String {
    let mut value: String = (0..rng.below(13))
        .map(|_| PIECES[rng.below(PIECES.len())])
        .collect();
    if trim {
        value = value.trim().to_owned();
    }
    value
}

struct Case {
    name: String,
    region: String,
    namespace: String,
    server_name: String,
    token: String,
    certs: bool,
}

const CASES: usize = 48;

fn cases() -> Vec<Case> {
    let seed = std::env::var("NOMADCTX_QUOTING_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x6e6f_6d61_6463_7478);
    let mut rng = Rng(seed);
    (0..CASES)
        .map(|i| Case {
            name: format!("q{i}"),
            region: value(&mut rng, false),
            namespace: value(&mut rng, false),
            server_name: value(&mut rng, false),
            token: value(&mut rng, true),
            certs: i % 6 == 0,
        })
        .collect()
}

/// Each case's variables after `script` evaluated `use` for it, read back with `env -0`.
fn evaluated(world: &World, shell: &str, script: &str) -> Vec<BTreeMap<String, String>> {
    let out = world.program(shell).args(["-c", script]).succeeds();
    let text = String::from_utf8(out.stdout).unwrap();
    text.split("\0CASE\0")
        .skip(1)
        .map(|dump| {
            dump.split('\0')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

#[test]
fn random_hostile_values_survive_eval_in_bash_zsh_fish_and_elvish_byte_for_byte() {
    require_tool("zsh");
    require_tool("fish");
    require_tool("elvish");
    let world = World::new();
    let id = pki().identity("ec");
    let cases = cases();
    for case in &cases {
        let mut add = if case.certs {
            add_cmd(&world, &case.name, &id)
        } else {
            world
                .cmd()
                .args(["add", &case.name, "--address", "https://127.0.0.1:4646"])
        };
        // `--flag=value`: a value may start with `-`.
        add = add.args([
            format!("--region={}", case.region),
            format!("--namespace={}", case.namespace),
            format!("--tls-server-name={}", case.server_name),
        ]);
        if !case.token.is_empty() {
            add = add.arg("--token-stdin").stdin(case.token.clone());
        }
        add.succeeds();
    }
    let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    let list = names.join(" ");
    let dump = "printf '\\0CASE\\0'; env -0";
    let scripts = [
        (
            "bash",
            format!(
                "for n in {list}; do eval \"$(nomadctx use $n --shell bash)\" || exit 9; {dump}; done"
            ),
        ),
        (
            "zsh",
            // Unquoted, as people type it: nothing may split or expand.
            format!(
                "for n in {list}; do eval $(nomadctx use $n --shell zsh) || exit 9; {dump}; done"
            ),
        ),
        (
            "fish",
            format!(
                "for n in {list}; nomadctx use $n --shell fish | source; or exit 9; {dump}; end"
            ),
        ),
        (
            // A failed command raises an exception, which ends the script.
            "elvish",
            format!(
                "for n [{list}] {{ eval (nomadctx use $n --shell elvish | slurp); e:printf '\\0CASE\\0'; e:env -0 }}"
            ),
        ),
    ];
    for (shell, script) in scripts {
        let seen = evaluated(&world, shell, &script);
        assert_eq!(seen.len(), cases.len(), "{shell}");
        for (case, env) in cases.iter().zip(&seen) {
            let expect = |var: &str, value: &str| {
                let want = (!value.is_empty()).then_some(value);
                assert_eq!(
                    env.get(var).map(String::as_str),
                    want,
                    "{shell}, context {}: {var}",
                    case.name
                );
            };
            expect("NOMADCTX_CONTEXT", &case.name);
            expect("NOMAD_REGION", &case.region);
            expect("NOMAD_NAMESPACE", &case.namespace);
            expect("NOMAD_TLS_SERVER_NAME", &case.server_name);
            expect("NOMAD_TOKEN", &case.token);
            let ca = case
                .certs
                .then(|| world.cert_link(&case.name, "ca").display().to_string());
            expect("NOMAD_CACERT", ca.as_deref().unwrap_or_default());
            if case.certs {
                // The next `use` in the loop removed the file; its name is what is left.
                let key = &env["NOMAD_CLIENT_KEY"];
                let dir = world.runtime_dir.join("nomadctx");
                let file = key.strip_prefix(&format!("{}/", dir.display())).unwrap();
                // key-PID-START-PIDNS-NAME-…: after the shell, then the context.
                let mut fields = file.splitn(5, '-');
                assert_eq!(fields.next(), Some("key"), "{shell}: {key}");
                assert!(
                    fields.by_ref().take(3).all(|f| f.parse::<u64>().is_ok()),
                    "{shell}: {key}"
                );
                assert!(
                    fields
                        .next()
                        .is_some_and(|rest| rest.starts_with(&format!("{}-", case.name))),
                    "{shell}: {key}"
                );
            }
        }
        assert!(
            !world.home.join("PWNED").exists(),
            "{shell} ran an injected command"
        );
    }
}
