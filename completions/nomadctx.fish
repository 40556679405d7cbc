# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_nomadctx_global_optspecs
    string join \n context= h/help V/version
end

function __fish_nomadctx_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_nomadctx_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_nomadctx_using_subcommand
    set -l cmd (__fish_nomadctx_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c nomadctx -n "__fish_nomadctx_needs_command" -l context -d 'Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)' -r
complete -c nomadctx -n "__fish_nomadctx_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nomadctx -n "__fish_nomadctx_needs_command" -s V -l version -d 'Print version'
complete -c nomadctx -n "__fish_nomadctx_needs_command" -f -a "add" -d 'Create a context from an address and the CA, certificate and key files'
complete -c nomadctx -n "__fish_nomadctx_needs_command" -f -a "list" -d 'List contexts (`*` marks the one this shell uses)'
complete -c nomadctx -n "__fish_nomadctx_needs_command" -f -a "show" -d 'Show one context; key and token bytes are never printed'
complete -c nomadctx -n "__fish_nomadctx_needs_command" -f -a "set" -d 'Change an existing context; options as for `add`'
complete -c nomadctx -n "__fish_nomadctx_needs_command" -f -a "remove" -d 'Remove contexts, with their certificates and keychain items'
complete -c nomadctx -n "__fish_nomadctx_needs_command" -f -a "rm" -d 'Remove contexts, with their certificates and keychain items'
complete -c nomadctx -n "__fish_nomadctx_needs_command" -f -a "rename" -d 'Rename a context; its keychain items follow'
complete -c nomadctx -n "__fish_nomadctx_needs_command" -f -a "default" -d 'Show the default context, or set it'
complete -c nomadctx -n "__fish_nomadctx_needs_command" -f -a "current" -d 'Print the context this shell uses (--context, NOMADCTX_CONTEXT, then the default)'
complete -c nomadctx -n "__fish_nomadctx_needs_command" -f -a "use" -d 'Print shell statements that switch this shell to a context'
complete -c nomadctx -n "__fish_nomadctx_needs_command" -f -a "exec" -d 'Run a command with a context\'s NOMAD_* variables set'
complete -c nomadctx -n "__fish_nomadctx_needs_command" -f -a "check" -d 'Check a context: its certificates, then a live mutual-TLS request to the cluster'
complete -c nomadctx -n "__fish_nomadctx_needs_command" -f -a "export-p12" -d 'Write the client certificate, its chain and key as a PKCS#12 bundle for a browser'
complete -c nomadctx -n "__fish_nomadctx_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c nomadctx -n "__fish_nomadctx_needs_command" -f -a "man" -d 'Write man pages for nomadctx and each subcommand into DIR'
complete -c nomadctx -n "__fish_nomadctx_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand add" -l address -d 'Nomad HTTP API address, an http(s) URL (NOMAD_ADDR)' -r
complete -c nomadctx -n "__fish_nomadctx_using_subcommand add" -l ca -d 'CA certificate or bundle in PEM (NOMAD_CACERT), or a directory of them (NOMAD_CAPATH)' -r -F
complete -c nomadctx -n "__fish_nomadctx_using_subcommand add" -l cert -d 'Client certificate in PEM, optionally followed by intermediates (NOMAD_CLIENT_CERT)' -r -F
complete -c nomadctx -n "__fish_nomadctx_using_subcommand add" -l key -d 'Unencrypted private key of the client certificate in PEM; stored in the keychain' -r -F
complete -c nomadctx -n "__fish_nomadctx_using_subcommand add" -l region -d 'Nomad region (NOMAD_REGION); an empty value clears it' -r
complete -c nomadctx -n "__fish_nomadctx_using_subcommand add" -l namespace -d 'Nomad namespace (NOMAD_NAMESPACE); an empty value clears it' -r
complete -c nomadctx -n "__fish_nomadctx_using_subcommand add" -l tls-server-name -d 'Name to expect in the server certificate, e.g. server.global.nomad (NOMAD_TLS_SERVER_NAME); an empty value clears it' -r
complete -c nomadctx -n "__fish_nomadctx_using_subcommand add" -l skip-verify -d 'Skip verification of the server certificate (NOMAD_SKIP_VERIFY); insecure' -r -f -a "true\t''
false\t''"
complete -c nomadctx -n "__fish_nomadctx_using_subcommand add" -l from-dir -d 'Take the CA, CLI certificate and key from a directory made by the guide\'s cfssl commands (nomad-ca.pem, cli.pem, cli-key.pem) or by `nomad tls` (nomad-agent-ca.pem, REGION-cli-nomad.pem, REGION-cli-nomad-key.pem)' -r -F
complete -c nomadctx -n "__fish_nomadctx_using_subcommand add" -l context -d 'Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)' -r
complete -c nomadctx -n "__fish_nomadctx_using_subcommand add" -l token-stdin -d 'Read an ACL token (NOMAD_TOKEN) from standard input; stored in the keychain'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand add" -l from-env -d 'Take everything from the current NOMAD_* variables (NOMAD_ADDR, NOMAD_CACERT, NOMAD_CAPATH, NOMAD_CLIENT_CERT, NOMAD_CLIENT_KEY, NOMAD_REGION, NOMAD_NAMESPACE, NOMAD_TLS_SERVER_NAME, NOMAD_SKIP_VERIFY, NOMAD_TOKEN); options given too win'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand add" -l remove-key-file -d 'After the key is safely in the keychain, delete the key file it came from'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand add" -l force -d 'Replace an existing context of the same name'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand add" -s V -l version -d 'Print version'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand list" -l context -d 'Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)' -r
complete -c nomadctx -n "__fish_nomadctx_using_subcommand list" -l names -d 'Print one name a line, for scripts and completions'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand list" -l json -d 'Print JSON'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand list" -s V -l version -d 'Print version'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand show" -l context -d 'Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)' -r
complete -c nomadctx -n "__fish_nomadctx_using_subcommand show" -l json -d 'Print JSON'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand show" -s V -l version -d 'Print version'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand set" -l address -d 'Nomad HTTP API address, an http(s) URL (NOMAD_ADDR)' -r
complete -c nomadctx -n "__fish_nomadctx_using_subcommand set" -l ca -d 'CA certificate or bundle in PEM (NOMAD_CACERT), or a directory of them (NOMAD_CAPATH)' -r -F
complete -c nomadctx -n "__fish_nomadctx_using_subcommand set" -l cert -d 'Client certificate in PEM, optionally followed by intermediates (NOMAD_CLIENT_CERT)' -r -F
complete -c nomadctx -n "__fish_nomadctx_using_subcommand set" -l key -d 'Unencrypted private key of the client certificate in PEM; stored in the keychain' -r -F
complete -c nomadctx -n "__fish_nomadctx_using_subcommand set" -l region -d 'Nomad region (NOMAD_REGION); an empty value clears it' -r
complete -c nomadctx -n "__fish_nomadctx_using_subcommand set" -l namespace -d 'Nomad namespace (NOMAD_NAMESPACE); an empty value clears it' -r
complete -c nomadctx -n "__fish_nomadctx_using_subcommand set" -l tls-server-name -d 'Name to expect in the server certificate, e.g. server.global.nomad (NOMAD_TLS_SERVER_NAME); an empty value clears it' -r
complete -c nomadctx -n "__fish_nomadctx_using_subcommand set" -l skip-verify -d 'Skip verification of the server certificate (NOMAD_SKIP_VERIFY); insecure' -r -f -a "true\t''
false\t''"
complete -c nomadctx -n "__fish_nomadctx_using_subcommand set" -l context -d 'Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)' -r
complete -c nomadctx -n "__fish_nomadctx_using_subcommand set" -l token-stdin -d 'Read an ACL token (NOMAD_TOKEN) from standard input; stored in the keychain'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand set" -l clear-token -d 'Remove the stored ACL token'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand set" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand set" -s V -l version -d 'Print version'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand remove" -l context -d 'Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)' -r
complete -c nomadctx -n "__fish_nomadctx_using_subcommand remove" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand remove" -s V -l version -d 'Print version'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand rm" -l context -d 'Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)' -r
complete -c nomadctx -n "__fish_nomadctx_using_subcommand rm" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand rm" -s V -l version -d 'Print version'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand rename" -l context -d 'Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)' -r
complete -c nomadctx -n "__fish_nomadctx_using_subcommand rename" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand rename" -s V -l version -d 'Print version'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand default" -l context -d 'Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)' -r
complete -c nomadctx -n "__fish_nomadctx_using_subcommand default" -l clear -d 'Clear the default'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand default" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand default" -s V -l version -d 'Print version'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand current" -l context -d 'Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)' -r
complete -c nomadctx -n "__fish_nomadctx_using_subcommand current" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand current" -s V -l version -d 'Print version'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand use" -l shell -d 'Shell to print for (default: from $SHELL)' -r -f -a "bash\t''
zsh\t''
sh\t''
fish\t''
powershell\t''
nu\t''"
complete -c nomadctx -n "__fish_nomadctx_using_subcommand use" -l context -d 'Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)' -r
complete -c nomadctx -n "__fish_nomadctx_using_subcommand use" -l unset -d 'Unset every NOMAD_* variable and remove this shell\'s key file'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand use" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand use" -s V -l version -d 'Print version'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand exec" -l context -d 'Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)' -r
complete -c nomadctx -n "__fish_nomadctx_using_subcommand exec" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand exec" -s V -l version -d 'Print version'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand check" -l context -d 'Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)' -r
complete -c nomadctx -n "__fish_nomadctx_using_subcommand check" -l all -d 'Check every context and print a table'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand check" -s V -l version -d 'Print version'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand export-p12" -s o -l output -d 'File to write (mode 0600); without it the bundle goes to stdout, never to a terminal' -r -F
complete -c nomadctx -n "__fish_nomadctx_using_subcommand export-p12" -l context -d 'Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)' -r
complete -c nomadctx -n "__fish_nomadctx_using_subcommand export-p12" -l password-stdin -d 'Read the bundle\'s password from the first line of standard input'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand export-p12" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand export-p12" -s V -l version -d 'Print version'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand completions" -l context -d 'Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)' -r
complete -c nomadctx -n "__fish_nomadctx_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand completions" -s V -l version -d 'Print version'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand man" -l context -d 'Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default)' -r
complete -c nomadctx -n "__fish_nomadctx_using_subcommand man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand man" -s V -l version -d 'Print version'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand help; and not __fish_seen_subcommand_from add list show set remove rename default current use exec check export-p12 completions man help" -f -a "add" -d 'Create a context from an address and the CA, certificate and key files'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand help; and not __fish_seen_subcommand_from add list show set remove rename default current use exec check export-p12 completions man help" -f -a "list" -d 'List contexts (`*` marks the one this shell uses)'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand help; and not __fish_seen_subcommand_from add list show set remove rename default current use exec check export-p12 completions man help" -f -a "show" -d 'Show one context; key and token bytes are never printed'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand help; and not __fish_seen_subcommand_from add list show set remove rename default current use exec check export-p12 completions man help" -f -a "set" -d 'Change an existing context; options as for `add`'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand help; and not __fish_seen_subcommand_from add list show set remove rename default current use exec check export-p12 completions man help" -f -a "remove" -d 'Remove contexts, with their certificates and keychain items'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand help; and not __fish_seen_subcommand_from add list show set remove rename default current use exec check export-p12 completions man help" -f -a "rename" -d 'Rename a context; its keychain items follow'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand help; and not __fish_seen_subcommand_from add list show set remove rename default current use exec check export-p12 completions man help" -f -a "default" -d 'Show the default context, or set it'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand help; and not __fish_seen_subcommand_from add list show set remove rename default current use exec check export-p12 completions man help" -f -a "current" -d 'Print the context this shell uses (--context, NOMADCTX_CONTEXT, then the default)'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand help; and not __fish_seen_subcommand_from add list show set remove rename default current use exec check export-p12 completions man help" -f -a "use" -d 'Print shell statements that switch this shell to a context'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand help; and not __fish_seen_subcommand_from add list show set remove rename default current use exec check export-p12 completions man help" -f -a "exec" -d 'Run a command with a context\'s NOMAD_* variables set'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand help; and not __fish_seen_subcommand_from add list show set remove rename default current use exec check export-p12 completions man help" -f -a "check" -d 'Check a context: its certificates, then a live mutual-TLS request to the cluster'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand help; and not __fish_seen_subcommand_from add list show set remove rename default current use exec check export-p12 completions man help" -f -a "export-p12" -d 'Write the client certificate, its chain and key as a PKCS#12 bundle for a browser'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand help; and not __fish_seen_subcommand_from add list show set remove rename default current use exec check export-p12 completions man help" -f -a "completions" -d 'Print a shell completion script'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand help; and not __fish_seen_subcommand_from add list show set remove rename default current use exec check export-p12 completions man help" -f -a "man" -d 'Write man pages for nomadctx and each subcommand into DIR'
complete -c nomadctx -n "__fish_nomadctx_using_subcommand help; and not __fish_seen_subcommand_from add list show set remove rename default current use exec check export-p12 completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
