#!/bin/sh
# f2b installer: binaries, man pages, shell completions (bash, zsh, fish),
# guides, systemd unit and (only when none exists) the config tree.
#
#   dist/install.sh [options]
#     --from DIR        where the built binaries are   (default: target/release)
#     --prefix DIR      install prefix                  (default: /usr/local)
#     --confdir DIR     configuration directory         (default: /etc/fail2ban)
#     --unitdir DIR     systemd unit directory          (default: /etc/systemd/system)
#     --compat-links    also make fail2ban-server, fail2ban-client and
#                       fail2ban-regex in PREFIX/bin point to the f2b programs
#     --no-unit         do not install the systemd unit
#   DESTDIR=/some/root  stage everything under that root (for packaging)
#
# Man pages go to PREFIX/share/man/man1, completions to
# PREFIX/share/bash-completion/completions, PREFIX/share/zsh/site-functions and
# PREFIX/share/fish/vendor_completions.d (they come from dist/man and
# dist/completions, which f2b-docgen generates).
#
# An existing configuration directory is never touched: a host moving from
# fail2ban keeps its own tree (see docs/migration.md). The unit is installed but
# not enabled or started.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
from=$repo/target/release
prefix=/usr/local
confdir=/etc/fail2ban
unitdir=/etc/systemd/system
links=
unit=yes
destdir=${DESTDIR:-}

while [ $# -gt 0 ]; do
    case $1 in
        --from) from=$2; shift 2 ;;
        --prefix) prefix=$2; shift 2 ;;
        --confdir) confdir=$2; shift 2 ;;
        --unitdir) unitdir=$2; shift 2 ;;
        --compat-links) links=yes; shift ;;
        --no-unit) unit=; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

programs="f2b-server f2b-client f2b-regex"
for p in $programs; do
    if [ ! -x "$from/$p" ]; then
        echo "install.sh: $from/$p is missing: run \`cargo build --release\` first (or pass --from)" >&2
        exit 1
    fi
done

bindir=$destdir$prefix/bin
mkdir -p "$bindir"
for p in $programs; do
    install -m 0755 "$from/$p" "$bindir/$p"
    echo "installed $prefix/bin/$p"
done

mandir=$destdir$prefix/share/man/man1
mkdir -p "$mandir"
for p in $programs; do
    install -m 0644 "$here/man/$p.1" "$mandir/$p.1"
done
echo "installed the man pages in $prefix/share/man/man1"

# Each shell looks for a completion under its own name and place.
bashdir=$destdir$prefix/share/bash-completion/completions
zshdir=$destdir$prefix/share/zsh/site-functions
fishdir=$destdir$prefix/share/fish/vendor_completions.d
mkdir -p "$bashdir" "$zshdir" "$fishdir"
for p in $programs; do
    install -m 0644 "$here/completions/$p.bash" "$bashdir/$p"
    install -m 0644 "$here/completions/_$p" "$zshdir/_$p"
    install -m 0644 "$here/completions/$p.fish" "$fishdir/$p.fish"
done
echo "installed the bash, zsh and fish completions under $prefix/share"

docdir=$destdir$prefix/share/doc/f2b
mkdir -p "$docdir"
for f in "$repo"/docs/*.md; do
    [ -e "$f" ] && install -m 0644 "$f" "$docdir/"
done
echo "installed the guides in $prefix/share/doc/f2b"

if [ -n "$links" ]; then
    for p in server client regex; do
        link=$bindir/fail2ban-$p
        # Never replace a real program (an installed fail2ban, say) with a link.
        if [ -e "$link" ] && [ ! -L "$link" ]; then
            echo "install.sh: $prefix/bin/fail2ban-$p exists and is not a link; left alone" >&2
            continue
        fi
        ln -sfn "f2b-$p" "$link"
        echo "linked $prefix/bin/fail2ban-$p -> f2b-$p"
    done
fi

if [ -n "$unit" ]; then
    mkdir -p "$destdir$unitdir"
    # The unit names /usr/local; follow another prefix.
    sed "s#/usr/local/#$prefix/#g" "$here/f2b.service" > "$destdir$unitdir/f2b.service"
    chmod 0644 "$destdir$unitdir/f2b.service"
    echo "installed $unitdir/f2b.service"
    if [ -z "$destdir" ] && [ "$unitdir" = /etc/systemd/system ] && [ -d /run/systemd/system ] &&
        command -v systemctl >/dev/null 2>&1; then
        systemctl daemon-reload || true
    fi
fi

conf=$destdir$confdir
if [ -e "$conf/jail.conf" ] || [ -e "$conf/fail2ban.conf" ]; then
    echo "kept the existing configuration in $confdir"
else
    mkdir -p "$conf"
    cp "$repo/fail2ban.conf" "$repo/jail.conf" "$conf/"
    for d in filter.d action.d jail.d; do
        mkdir -p "$conf/$d"
        cp -R "$repo/$d/." "$conf/$d/"
    done
    mkdir -p "$conf/fail2ban.d"
    find "$conf" -type d -exec chmod 0755 {} +
    find "$conf" -type f -exec chmod 0644 {} +
    echo "installed the configuration tree in $confdir"
fi

if [ -n "$unit" ] && [ -z "$destdir" ] && [ "$unitdir" = /etc/systemd/system ]; then
    echo "next: systemctl disable --now fail2ban 2>/dev/null; systemctl enable --now f2b"
fi
