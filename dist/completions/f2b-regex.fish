complete -c f2b-regex -s c -l config -d 'set alternate config directory' -r
complete -c f2b-regex -s d -l datepattern -d 'set custom pattern used to match date/times' -r
complete -c f2b-regex -l timezone -l TZ -d 'set time-zone used by convert time format' -r
complete -c f2b-regex -s e -l encoding -d 'File encoding. Default: system locale' -r
complete -c f2b-regex -l usedns -d 'DNS specified replacement of tags <HOST> in regexp (\'yes\', \'no\', \'warn\', \'raw\')' -r
complete -c f2b-regex -s L -l maxlines -d 'maxlines for multi-line regex' -r
complete -c f2b-regex -s m -l journalmatch -d 'journalctl style matches overriding filter file. "systemd-journal" only' -r
complete -c f2b-regex -s l -l log-level -d 'Log level for the Fail2Ban logger to use' -r
complete -c f2b-regex -l verbosity -d 'Set numerical level of verbosity (0..4)' -r
complete -c f2b-regex -s o -l out -d 'Set token to print failure information only (row, id, ip, msg, host, ip4, ip6, dns, matches, ...)' -r
complete -c f2b-regex -s r -l raw -d 'Raw hosts, don\'t resolve dns'
complete -c f2b-regex -s V -d 'get version in machine-readable short format'
complete -c f2b-regex -l version -d 'show program\'s version number and exit'
complete -c f2b-regex -s v -l verbose -d 'Increase verbosity'
complete -c f2b-regex -l verbose-date -l VD -d 'Verbose date patterns/regex in output'
complete -c f2b-regex -s D -l debuggex -d 'Produce debuggex.com urls for debugging there'
complete -c f2b-regex -l no-check-all -d 'Disable check for all regex\'s'
complete -c f2b-regex -l print-no-missed -d 'Do not print any missed lines'
complete -c f2b-regex -l print-no-ignored -d 'Do not print any ignored lines'
complete -c f2b-regex -l print-all-matched -d 'Print all matched lines'
complete -c f2b-regex -l print-all-missed -d 'Print all missed lines, no matter how many'
complete -c f2b-regex -l print-all-ignored -d 'Print all ignored lines, no matter how many'
complete -c f2b-regex -s t -l log-traceback -d 'Enrich log-messages with compressed tracebacks'
complete -c f2b-regex -l full-traceback -d 'Either to make the tracebacks full, not compressed (as by default)'
complete -c f2b-regex -s h -l help -d 'Print help (see more with \'--help\')'
