#!/bin/sh
# f2b demo: start a server on a throw-away copy of the shipped config tree,
# feed it a few failed ssh logins, and show the resulting ban.
#
# The tree lives in a temporary directory with its own socket, pid file,
# database and server log; the "demo" jail (docs/demo/jail.local) bans with the
# dummy action, which writes to a file. No root, no firewall change.
#
#   docs/demo/run.sh                   binaries from target/release
#   F2B_BIN=/usr/local/bin docs/demo/run.sh
#   SERVER=fail2ban-server CLIENT=fail2ban-client docs/demo/run.sh
#                                      the same demo with fail2ban itself
#   KEEP=1 docs/demo/run.sh            keep the temporary tree afterwards
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=${F2B_BIN:-$repo/target/release}
server=${SERVER:-$bin/f2b-server}
client=${CLIENT:-$bin/f2b-client}

for program in "$server" "$client"; do
    if ! command -v "$program" >/dev/null 2>&1; then
        echo "$program not found: build with \`cargo build --release\` or set F2B_BIN" >&2
        exit 2
    fi
done

t=$(mktemp -d "${TMPDIR:-/tmp}/f2b-demo.XXXXXX")
pid=
cleanup() {
    if [ -n "$pid" ]; then
        "$client" -c "$t" stop >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    if [ -z "${KEEP:-}" ]; then rm -rf "$t"; else echo "tree kept in $t"; fi
}
trap cleanup EXIT INT TERM

# The shipped tree, our jail.local, and server files inside the tree.
cp "$repo/fail2ban.conf" "$repo/jail.conf" "$t/"
cp -R "$repo/filter.d" "$repo/action.d" "$t/"
mkdir "$t/jail.d"
cp "$here/jail.local" "$t/"
cat > "$t/fail2ban.local" <<LOCAL
[DEFAULT]
logtarget = $t/server.log
socket = $t/f2b.sock
pidfile = $t/f2b.pid
dbfile = $t/f2b.sqlite3
LOCAL
: > "$t/demo.log"

echo "\$ $server -xf -c $t start &"
"$server" -xf -c "$t" start >"$t/server.out" 2>&1 &
pid=$!

# Wait for the control socket to answer.
n=0
until "$client" -c "$t" ping >/dev/null 2>&1; do
    n=$((n + 1))
    if [ $n -gt 100 ]; then echo "the server did not come up:"; cat "$t/server.out" "$t/server.log" 2>/dev/null; exit 1; fi
    sleep 0.1
done

# Append the sample lines stamped with the current time, as sshd would.
now=$(date '+%b %e %H:%M:%S')
sed -e '/^#/d' -e "s/@NOW@/$now/" "$here/demo.log" >> "$t/demo.log"
echo "\$ tail $t/demo.log"
cat "$t/demo.log"

# Wait for the ban (three failures from 192.0.2.10 reach maxretry = 3).
n=0
until grep -q '^+192.0.2.10$' "$t/bans.txt" 2>/dev/null; do
    n=$((n + 1))
    if [ $n -gt 100 ]; then echo "no ban after 10 s; server log:"; cat "$t/server.log"; exit 1; fi
    sleep 0.1
done

echo "\$ $client -c $t status demo"
"$client" -c "$t" status demo
echo "\$ cat $t/bans.txt"
cat "$t/bans.txt"
