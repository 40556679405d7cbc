#compdef nomadctx

autoload -U is-at-least

_nomadctx() {
    typeset -A opt_args
    typeset -a _arguments_options
    local ret=1

    if is-at-least 5.2; then
        _arguments_options=(-s -S -C)
    else
        _arguments_options=(-s -C)
    fi

    local context curcontext="$curcontext" state line
    _arguments "${_arguments_options[@]}" : \
'--context=[Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)]:NAME:_default' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_nomadctx_commands" \
"*::: :->nomadctx" \
&& ret=0
    case $state in
    (nomadctx)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:nomadctx-command-$line[1]:"
        case $line[1] in
            (add)
_arguments "${_arguments_options[@]}" : \
'--address=[Nomad HTTP API address, an http(s) URL (NOMAD_ADDR)]:URL:_default' \
'--ca=[CA certificate or bundle in PEM (NOMAD_CACERT), or a directory of them (NOMAD_CAPATH)]:FILE:_files' \
'--cert=[Client certificate in PEM, optionally followed by intermediates (NOMAD_CLIENT_CERT)]:FILE:_files' \
'--key=[Unencrypted private key of the client certificate in PEM; stored in the keychain]:FILE:_files' \
'--region=[Nomad region (NOMAD_REGION); an empty value clears it]:REGION:_default' \
'--namespace=[Nomad namespace (NOMAD_NAMESPACE); an empty value clears it]:NS:_default' \
'--tls-server-name=[Name to expect in the server certificate, e.g. server.global.nomad (NOMAD_TLS_SERVER_NAME); an empty value clears it]:NAME:_default' \
'--skip-verify=[Skip verification of the server certificate (NOMAD_SKIP_VERIFY); insecure]::BOOL:(true false)' \
'(--ca --cert --key --from-env)--from-dir=[Take the CA, CLI certificate and key from a directory made by the guide'\''s cfssl commands (nomad-ca.pem, cli.pem, cli-key.pem) or by \`nomad tls\` (nomad-agent-ca.pem, REGION-cli-nomad.pem, REGION-cli-nomad-key.pem)]:DIR:_files' \
'--context=[Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)]:NAME:_default' \
'--token-stdin[Read an ACL token (NOMAD_TOKEN) from standard input; stored in the keychain]' \
'--from-env[Take everything from the current NOMAD_* variables (NOMAD_ADDR, NOMAD_CACERT, NOMAD_CAPATH, NOMAD_CLIENT_CERT, NOMAD_CLIENT_KEY, NOMAD_REGION, NOMAD_NAMESPACE, NOMAD_TLS_SERVER_NAME, NOMAD_SKIP_VERIFY, NOMAD_TOKEN); options given too win]' \
'--remove-key-file[After the key is safely in the keychain, delete the key file it came from]' \
'--force[Replace an existing context of the same name]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
':name -- Name of the new context\: letters, digits, '\''.'\'', '\''_'\'' and '\''-'\'', at most 64:_default' \
&& ret=0
;;
(list)
_arguments "${_arguments_options[@]}" : \
'--context=[Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)]:NAME:_default' \
'(--json)--names[Print one name a line, for scripts and completions]' \
'--json[Print JSON]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(show)
_arguments "${_arguments_options[@]}" : \
'--context=[Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)]:NAME:_default' \
'--json[Print JSON]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
'::name -- Context to show (default\: the current one):_default' \
&& ret=0
;;
(set)
_arguments "${_arguments_options[@]}" : \
'--address=[Nomad HTTP API address, an http(s) URL (NOMAD_ADDR)]:URL:_default' \
'--ca=[CA certificate or bundle in PEM (NOMAD_CACERT), or a directory of them (NOMAD_CAPATH)]:FILE:_files' \
'--cert=[Client certificate in PEM, optionally followed by intermediates (NOMAD_CLIENT_CERT)]:FILE:_files' \
'--key=[Unencrypted private key of the client certificate in PEM; stored in the keychain]:FILE:_files' \
'--region=[Nomad region (NOMAD_REGION); an empty value clears it]:REGION:_default' \
'--namespace=[Nomad namespace (NOMAD_NAMESPACE); an empty value clears it]:NS:_default' \
'--tls-server-name=[Name to expect in the server certificate, e.g. server.global.nomad (NOMAD_TLS_SERVER_NAME); an empty value clears it]:NAME:_default' \
'--skip-verify=[Skip verification of the server certificate (NOMAD_SKIP_VERIFY); insecure]::BOOL:(true false)' \
'--context=[Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)]:NAME:_default' \
'--token-stdin[Read an ACL token (NOMAD_TOKEN) from standard input; stored in the keychain]' \
'(--token-stdin)--clear-token[Remove the stored ACL token]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
':name -- Context to change:_default' \
&& ret=0
;;
(remove)
_arguments "${_arguments_options[@]}" : \
'--context=[Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)]:NAME:_default' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
'*::names -- Contexts to remove:_default' \
&& ret=0
;;
(rm)
_arguments "${_arguments_options[@]}" : \
'--context=[Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)]:NAME:_default' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
'*::names -- Contexts to remove:_default' \
&& ret=0
;;
(rename)
_arguments "${_arguments_options[@]}" : \
'--context=[Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)]:NAME:_default' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
':old:_default' \
':new:_default' \
&& ret=0
;;
(default)
_arguments "${_arguments_options[@]}" : \
'--context=[Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)]:NAME:_default' \
'--clear[Clear the default]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
'::name -- Context to make the default:_default' \
&& ret=0
;;
(current)
_arguments "${_arguments_options[@]}" : \
'--context=[Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)]:NAME:_default' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(use)
_arguments "${_arguments_options[@]}" : \
'--shell=[Shell to print for (default\: from \$SHELL)]:SHELL:(bash zsh sh fish powershell nu)' \
'--context=[Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)]:NAME:_default' \
'()--unset[Unset every NOMAD_* variable and remove this shell'\''s key file]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
'::name -- Context to switch to:_default' \
&& ret=0
;;
(exec)
_arguments "${_arguments_options[@]}" : \
'--context=[Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)]:NAME:_default' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
'::name -- Context to run in (default\: --context, NOMADCTX_CONTEXT, then the default context):_default' \
'*::command -- The command and its arguments, after `--`:_default' \
&& ret=0
;;
(check)
_arguments "${_arguments_options[@]}" : \
'--context=[Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)]:NAME:_default' \
'--all[Check every context and print a table]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
'::name -- Context to check (default\: the current one):_default' \
&& ret=0
;;
(export-p12)
_arguments "${_arguments_options[@]}" : \
'-o+[File to write (mode 0600); without it the bundle goes to stdout, never to a terminal]:FILE:_files' \
'--output=[File to write (mode 0600); without it the bundle goes to stdout, never to a terminal]:FILE:_files' \
'--context=[Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)]:NAME:_default' \
'--password-stdin[Read the bundle'\''s password from the first line of standard input]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
'::name -- Context to export (default\: the current one):_default' \
&& ret=0
;;
(completions)
_arguments "${_arguments_options[@]}" : \
'--context=[Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)]:NAME:_default' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
':shell:(bash elvish fish powershell zsh)' \
&& ret=0
;;
(man)
_arguments "${_arguments_options[@]}" : \
'--context=[Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)]:NAME:_default' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
':dir -- Directory to write the pages into (created if missing):_files' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_nomadctx__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:nomadctx-help-command-$line[1]:"
        case $line[1] in
            (add)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(list)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(show)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(set)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(remove)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(rename)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(default)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(current)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(use)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(exec)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(check)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(export-p12)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(completions)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(man)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
}

(( $+functions[_nomadctx_commands] )) ||
_nomadctx_commands() {
    local commands; commands=(
'add:Create a context from an address and the CA, certificate and key files' \
'list:List contexts (\`*\` marks the one this shell uses)' \
'show:Show one context; key and token bytes are never printed' \
'set:Change an existing context; options as for \`add\`' \
'remove:Remove contexts, with their certificates and keychain items' \
'rm:Remove contexts, with their certificates and keychain items' \
'rename:Rename a context; its keychain items follow' \
'default:Show the default context, or set it' \
'current:Print the context this shell uses (--context, NOMADCTX_CONTEXT, then the default)' \
'use:Print shell statements that switch this shell to a context' \
'exec:Run a command with a context'\''s NOMAD_* variables set' \
'check:Check a context\: its certificates, then a live mutual-TLS request to the cluster' \
'export-p12:Write the client certificate, its chain and key as a PKCS#12 bundle for a browser' \
'completions:Print a shell completion script' \
'man:Write man pages for nomadctx and each subcommand into DIR' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'nomadctx commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__add_commands] )) ||
_nomadctx__subcmd__add_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx add commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__check_commands] )) ||
_nomadctx__subcmd__check_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx check commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__completions_commands] )) ||
_nomadctx__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx completions commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__current_commands] )) ||
_nomadctx__subcmd__current_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx current commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__default_commands] )) ||
_nomadctx__subcmd__default_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx default commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__exec_commands] )) ||
_nomadctx__subcmd__exec_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx exec commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__export-p12_commands] )) ||
_nomadctx__subcmd__export-p12_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx export-p12 commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__help_commands] )) ||
_nomadctx__subcmd__help_commands() {
    local commands; commands=(
'add:Create a context from an address and the CA, certificate and key files' \
'list:List contexts (\`*\` marks the one this shell uses)' \
'show:Show one context; key and token bytes are never printed' \
'set:Change an existing context; options as for \`add\`' \
'remove:Remove contexts, with their certificates and keychain items' \
'rename:Rename a context; its keychain items follow' \
'default:Show the default context, or set it' \
'current:Print the context this shell uses (--context, NOMADCTX_CONTEXT, then the default)' \
'use:Print shell statements that switch this shell to a context' \
'exec:Run a command with a context'\''s NOMAD_* variables set' \
'check:Check a context\: its certificates, then a live mutual-TLS request to the cluster' \
'export-p12:Write the client certificate, its chain and key as a PKCS#12 bundle for a browser' \
'completions:Print a shell completion script' \
'man:Write man pages for nomadctx and each subcommand into DIR' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'nomadctx help commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__help__subcmd__add_commands] )) ||
_nomadctx__subcmd__help__subcmd__add_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx help add commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__help__subcmd__check_commands] )) ||
_nomadctx__subcmd__help__subcmd__check_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx help check commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__help__subcmd__completions_commands] )) ||
_nomadctx__subcmd__help__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx help completions commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__help__subcmd__current_commands] )) ||
_nomadctx__subcmd__help__subcmd__current_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx help current commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__help__subcmd__default_commands] )) ||
_nomadctx__subcmd__help__subcmd__default_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx help default commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__help__subcmd__exec_commands] )) ||
_nomadctx__subcmd__help__subcmd__exec_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx help exec commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__help__subcmd__export-p12_commands] )) ||
_nomadctx__subcmd__help__subcmd__export-p12_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx help export-p12 commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__help__subcmd__help_commands] )) ||
_nomadctx__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx help help commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__help__subcmd__list_commands] )) ||
_nomadctx__subcmd__help__subcmd__list_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx help list commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__help__subcmd__man_commands] )) ||
_nomadctx__subcmd__help__subcmd__man_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx help man commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__help__subcmd__remove_commands] )) ||
_nomadctx__subcmd__help__subcmd__remove_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx help remove commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__help__subcmd__rename_commands] )) ||
_nomadctx__subcmd__help__subcmd__rename_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx help rename commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__help__subcmd__set_commands] )) ||
_nomadctx__subcmd__help__subcmd__set_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx help set commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__help__subcmd__show_commands] )) ||
_nomadctx__subcmd__help__subcmd__show_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx help show commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__help__subcmd__use_commands] )) ||
_nomadctx__subcmd__help__subcmd__use_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx help use commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__list_commands] )) ||
_nomadctx__subcmd__list_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx list commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__man_commands] )) ||
_nomadctx__subcmd__man_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx man commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__remove_commands] )) ||
_nomadctx__subcmd__remove_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx remove commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__rename_commands] )) ||
_nomadctx__subcmd__rename_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx rename commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__set_commands] )) ||
_nomadctx__subcmd__set_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx set commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__show_commands] )) ||
_nomadctx__subcmd__show_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx show commands' commands "$@"
}
(( $+functions[_nomadctx__subcmd__use_commands] )) ||
_nomadctx__subcmd__use_commands() {
    local commands; commands=()
    _describe -t commands 'nomadctx use commands' commands "$@"
}

if [ "$funcstack[1]" = "_nomadctx" ]; then
    _nomadctx "$@"
else
    compdef _nomadctx nomadctx
fi
