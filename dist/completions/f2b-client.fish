# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_f2b_client_global_optspecs
    string join \n c/conf= s/socket= p/pidfile= pname= loglevel= logtarget= syslogsocket= d dp t/test i v q x b f async timeout= str2sec= h/help V version
end

function __fish_f2b_client_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_f2b_client_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_f2b_client_using_subcommand
    set -l cmd (__fish_f2b_client_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c f2b-client -n "__fish_f2b_client_needs_command" -s c -l conf -d 'configuration directory' -r -f -a "(__fish_complete_directories)"
complete -c f2b-client -n "__fish_f2b_client_needs_command" -s s -l socket -d 'socket path' -r -F
complete -c f2b-client -n "__fish_f2b_client_needs_command" -s p -l pidfile -d 'pidfile path' -r -F
complete -c f2b-client -n "__fish_f2b_client_needs_command" -l pname -d 'name of the process (main thread) to identify instance (default fail2ban-server)' -r
complete -c f2b-client -n "__fish_f2b_client_needs_command" -l loglevel -d 'logging level' -r
complete -c f2b-client -n "__fish_f2b_client_needs_command" -l logtarget -d 'logging target, use file-name or stdout, stderr, syslog or sysout.' -r
complete -c f2b-client -n "__fish_f2b_client_needs_command" -l syslogsocket -d '' -r
complete -c f2b-client -n "__fish_f2b_client_needs_command" -l timeout -d 'timeout to wait for the server (for internal usage only, don\'t read configuration)' -r
complete -c f2b-client -n "__fish_f2b_client_needs_command" -l str2sec -d 'convert time abbreviation format to seconds' -r
complete -c f2b-client -n "__fish_f2b_client_needs_command" -s d -d 'dump configuration. For debugging'
complete -c f2b-client -n "__fish_f2b_client_needs_command" -l dp -d 'dump the configuration using more human readable representation'
complete -c f2b-client -n "__fish_f2b_client_needs_command" -s t -l test -d 'test configuration (can be also specified with start parameters)'
complete -c f2b-client -n "__fish_f2b_client_needs_command" -s i -d 'interactive mode'
complete -c f2b-client -n "__fish_f2b_client_needs_command" -s v -d 'increase verbosity'
complete -c f2b-client -n "__fish_f2b_client_needs_command" -s q -d 'decrease verbosity'
complete -c f2b-client -n "__fish_f2b_client_needs_command" -s x -d 'force execution of the server (remove socket file)'
complete -c f2b-client -n "__fish_f2b_client_needs_command" -s b -d 'start server in background (default)'
complete -c f2b-client -n "__fish_f2b_client_needs_command" -s f -d 'start server in foreground'
complete -c f2b-client -n "__fish_f2b_client_needs_command" -l async -d 'start server in async mode (for internal usage only, don\'t read configuration)'
complete -c f2b-client -n "__fish_f2b_client_needs_command" -s h -l help -d 'display this help message'
complete -c f2b-client -n "__fish_f2b_client_needs_command" -s V -d 'print the version (-V returns machine-readable short format)'
complete -c f2b-client -n "__fish_f2b_client_needs_command" -l version -d 'print the version (-V returns machine-readable short format)'
complete -c f2b-client -n "__fish_f2b_client_needs_command" -f -a "start" -d 'starts the server and the jails'
complete -c f2b-client -n "__fish_f2b_client_needs_command" -f -a "restart" -d 'restarts the server'
complete -c f2b-client -n "__fish_f2b_client_needs_command" -f -a "reload"
complete -c f2b-client -n "__fish_f2b_client_needs_command" -f -a "stop" -d 'stops all jails and terminate the server'
complete -c f2b-client -n "__fish_f2b_client_needs_command" -f -a "unban"
complete -c f2b-client -n "__fish_f2b_client_needs_command" -f -a "banned" -d 'return jails with banned IPs as dictionary'
complete -c f2b-client -n "__fish_f2b_client_needs_command" -f -a "status" -d 'gets the current status of the server'
complete -c f2b-client -n "__fish_f2b_client_needs_command" -f -a "ping" -d 'tests if the server is alive'
complete -c f2b-client -n "__fish_f2b_client_needs_command" -f -a "echo" -d 'for internal usage, returns back and outputs a given string'
complete -c f2b-client -n "__fish_f2b_client_needs_command" -f -a "help" -d 'return this output'
complete -c f2b-client -n "__fish_f2b_client_needs_command" -f -a "version" -d 'return the server version'
complete -c f2b-client -n "__fish_f2b_client_needs_command" -f -a "set"
complete -c f2b-client -n "__fish_f2b_client_needs_command" -f -a "get"
complete -c f2b-client -n "__fish_f2b_client_needs_command" -f -a "flushlogs" -d 'flushes the logtarget if a file and reopens it. For log rotation.'
complete -c f2b-client -n "__fish_f2b_client_needs_command" -f -a "add"
complete -c f2b-client -n "__fish_f2b_client_using_subcommand set; and not __fish_seen_subcommand_from loglevel logtarget syslogsocket dbfile dbmaxmatches dbpurgeage" -a "loglevel" -d 'sets logging level to <LEVEL>. Levels: CRITICAL, ERROR, WARNING, NOTICE, INFO, DEBUG, TRACEDEBUG, HEAVYDEBUG or corresponding numeric value (50-5)'
complete -c f2b-client -n "__fish_f2b_client_using_subcommand set; and not __fish_seen_subcommand_from loglevel logtarget syslogsocket dbfile dbmaxmatches dbpurgeage" -a "logtarget" -d 'sets logging target to <TARGET>. Can be STDOUT, STDERR, SYSLOG, SYSTEMD-JOURNAL or a file'
complete -c f2b-client -n "__fish_f2b_client_using_subcommand set; and not __fish_seen_subcommand_from loglevel logtarget syslogsocket dbfile dbmaxmatches dbpurgeage" -a "syslogsocket" -d 'sets the syslog socket path to auto or <SOCKET>. Only used if logtarget is SYSLOG'
complete -c f2b-client -n "__fish_f2b_client_using_subcommand set; and not __fish_seen_subcommand_from loglevel logtarget syslogsocket dbfile dbmaxmatches dbpurgeage" -a "dbfile" -d 'set the location of fail2ban persistent datastore. Set to "None" to disable'
complete -c f2b-client -n "__fish_f2b_client_using_subcommand set; and not __fish_seen_subcommand_from loglevel logtarget syslogsocket dbfile dbmaxmatches dbpurgeage" -a "dbmaxmatches" -d 'sets the max number of matches stored in database per ticket'
complete -c f2b-client -n "__fish_f2b_client_using_subcommand set; and not __fish_seen_subcommand_from loglevel logtarget syslogsocket dbfile dbmaxmatches dbpurgeage" -a "dbpurgeage" -d 'sets the max age in <SECONDS> that history of bans will be kept'
complete -c f2b-client -n "__fish_f2b_client_using_subcommand get; and not __fish_seen_subcommand_from loglevel logtarget syslogsocket dbfile dbmaxmatches dbpurgeage" -a "loglevel" -d 'gets the logging level'
complete -c f2b-client -n "__fish_f2b_client_using_subcommand get; and not __fish_seen_subcommand_from loglevel logtarget syslogsocket dbfile dbmaxmatches dbpurgeage" -a "logtarget" -d 'gets logging target'
complete -c f2b-client -n "__fish_f2b_client_using_subcommand get; and not __fish_seen_subcommand_from loglevel logtarget syslogsocket dbfile dbmaxmatches dbpurgeage" -a "syslogsocket" -d 'gets syslog socket path'
complete -c f2b-client -n "__fish_f2b_client_using_subcommand get; and not __fish_seen_subcommand_from loglevel logtarget syslogsocket dbfile dbmaxmatches dbpurgeage" -a "dbfile" -d 'get the location of fail2ban persistent datastore'
complete -c f2b-client -n "__fish_f2b_client_using_subcommand get; and not __fish_seen_subcommand_from loglevel logtarget syslogsocket dbfile dbmaxmatches dbpurgeage" -a "dbmaxmatches" -d 'gets the max number of matches stored in database per ticket'
complete -c f2b-client -n "__fish_f2b_client_using_subcommand get; and not __fish_seen_subcommand_from loglevel logtarget syslogsocket dbfile dbmaxmatches dbpurgeage" -a "dbpurgeage" -d 'gets the max age in seconds that history of bans will be kept'
