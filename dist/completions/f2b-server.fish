complete -c f2b-server -s c -l conf -d 'configuration directory' -r -f -a "(__fish_complete_directories)"
complete -c f2b-server -s s -l socket -d 'socket path' -r -F
complete -c f2b-server -s p -l pidfile -d 'pidfile path' -r -F
complete -c f2b-server -l pname -d 'accepted for compatibility, ignored' -r
complete -c f2b-server -l loglevel -d 'logging level' -r
complete -c f2b-server -l logtarget -d 'logging target: a file name, STDOUT, STDERR, SYSLOG or SYSTEMD-JOURNAL' -r
complete -c f2b-server -l syslogsocket -d '' -r
complete -c f2b-server -l timeout -d 'accepted for compatibility, ignored' -r
complete -c f2b-server -l str2sec -d 'convert time abbreviation format to seconds' -r
complete -c f2b-server -s t -l test -d 'test configuration and exit'
complete -c f2b-server -s v -d 'increase verbosity'
complete -c f2b-server -s q -d 'decrease verbosity'
complete -c f2b-server -s x -d 'force execution of the server (remove socket file)'
complete -c f2b-server -s b -d 'start server in background (default)'
complete -c f2b-server -s f -d 'start server in foreground'
complete -c f2b-server -l async -d 'accepted for compatibility, ignored'
complete -c f2b-server -s h -l help -d 'display this help message'
complete -c f2b-server -s V -l version -d 'print the version'
