complete -c f2b-client -s c -l conf -d 'configuration directory' -r -f -a "(__fish_complete_directories)"
complete -c f2b-client -s s -l socket -d 'socket path' -r -F
complete -c f2b-client -s p -l pidfile -d 'pidfile path' -r -F
complete -c f2b-client -l pname -d 'name of the process (main thread) to identify instance (default fail2ban-server)' -r
complete -c f2b-client -l loglevel -d 'logging level' -r
complete -c f2b-client -l logtarget -d 'logging target, use file-name or stdout, stderr, syslog or sysout.' -r
complete -c f2b-client -l syslogsocket -d '' -r
complete -c f2b-client -l timeout -d 'timeout to wait for the server (for internal usage only, don\'t read configuration)' -r
complete -c f2b-client -l str2sec -d 'convert time abbreviation format to seconds' -r
complete -c f2b-client -s d -d 'dump configuration. For debugging'
complete -c f2b-client -l dp -d 'dump the configuration using more human readable representation'
complete -c f2b-client -s t -l test -d 'test configuration (can be also specified with start parameters)'
complete -c f2b-client -s i -d 'interactive mode'
complete -c f2b-client -s v -d 'increase verbosity'
complete -c f2b-client -s q -d 'decrease verbosity'
complete -c f2b-client -s x -d 'force execution of the server (remove socket file)'
complete -c f2b-client -s b -d 'start server in background (default)'
complete -c f2b-client -s f -d 'start server in foreground'
complete -c f2b-client -l async -d 'start server in async mode (for internal usage only, don\'t read configuration)'
complete -c f2b-client -s h -l help -d 'display this help message'
complete -c f2b-client -s V -d 'print the version (-V returns machine-readable short format)'
complete -c f2b-client -l version -d 'print the version (-V returns machine-readable short format)'
