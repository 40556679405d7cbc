complete --keep-order --exclusive --command nomadctx --arguments "(NOMADCTX_COMPLETE=fish nomadctx -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
