#!/usr/bin/env python3
"""Writes the starting corpus of each fuzz target into corpus/<target>/ (only into an empty
directory), from the repository's own config tree plus hand-written hostile samples."""
import glob
import os
import pickle
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

HOSTILE = [
    "root", "a'b", 'a"b', "$(touch /tmp/x)", "`id`", "a;id", "a|id", "a&&id", "a\nid", "~!id", "x\x00y",
    "${IFS}", "a b\tc", "*", "?", "[a]", "{a,b}", "<ip>", "<F-USER>", "%(x)s", "\\", "#c", "é ü 漢", "A" * 300,
    "user from 1.2.3.4 port 22", "\r\n", "-rf", "--", "$0", "$1", "'\"'\"'",
]


def filter_regexes():
    out = []
    for path in sorted(glob.glob(os.path.join(REPO, "filter.d", "*.conf"))):
        key = None
        for line in open(path, encoding="utf-8", errors="replace"):
            line = line.rstrip("\n")
            m = re.match(r"^(failregex|ignoreregex|prefregex|datepattern|_\w+|__\w+)\s*=\s*(.*)$", line)
            if m:
                key = m.group(1)
                if m.group(2).strip():
                    out.append((key, m.group(2).strip()))
            elif key and line[:1] in (" ", "\t") and line.strip() and not line.strip().startswith("#"):
                out.append((key, line.strip()))
            else:
                key = None
    return out


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def empty(target):
    d = os.path.join(HERE, "corpus", target)
    return not os.path.isdir(d) or not os.listdir(d)


def no_slash(text):
    return "\n".join(l for l in text.splitlines() if "/" not in l) + "\n"


def main(targets):
    regexes = filter_regexes()
    lines = [
        "2005-08-14 12:00:00 host sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2",
        "Aug 14 11:59:59 host sshd[1]: Invalid user $(id) from 198.51.100.7 port 4 ssh2",
        "Jan  1 00:00:00 host kernel: [12345.678901] [UFW BLOCK] IN= OUT=eth0 SRC=10.0.0.1 DST=192.0.2.2 PROTO=TCP SPT=1 DPT=443",
        "@4000000037c219bf2ef02e94 host: failure from 2001:db8::1",
        "1124013600.5 fail from 192.0.2.9",
        "[14/Aug/2005:12:00:00 +0200] GET / from ::ffff:192.0.2.3",
        "user root from 1.2.3.4 port 22 from 5.6.7.8",
    ]
    if "config_ini" in targets and empty("config_ini"):
        conf = lambda p: no_slash(open(os.path.join(REPO, p), encoding="utf-8").read())
        write("config_ini", "minimal", "[f]\nenabled = true\n")
        write("config_ini", "tags", "[f]\nenabled = true\naction = a[name=%(__name__)s, port=\"1,2\"]\n\0"
              "[Definition]\nfailregex = <x> from <HOST>\n[Init]\nx = <y>\ny = user\n\0"
              "[Definition]\nactionban = echo <name> <port> <ip>\nactionunban = <actionban>\n")
        for p in sorted(glob.glob(os.path.join(REPO, "filter.d", "*.conf"))):
            write("config_ini", "filter-" + os.path.basename(p), "[f]\nenabled = true\n\0" + conf(p))
        for p in sorted(glob.glob(os.path.join(REPO, "action.d", "*.conf"))):
            write("config_ini", "action-" + os.path.basename(p), "[f]\nenabled = true\n\0\0" + conf(p))
        write("config_ini", "jail.conf", "\0\0\0" + conf("jail.conf"))
        write("config_ini", "fail2ban.conf", "\0\0\0\0" + conf("fail2ban.conf"))
    if "pyre_translate" in targets and empty("pyre_translate"):
        for i, (_, rx) in enumerate(regexes):
            write("pyre_translate", "filter-%03d" % i, rx)
        for i, rx in enumerate([r"(?P<a>x)(?P=a)", r"(?i)a(?#c)b", r"(?<=a)b(?!c)", r"[^\]\w-]+?", r"(a)?(?(1)b|c)",
                                r"\Z\A\b\B\d{2,}", r"(?x) a # c", r"[\u00e9-\U0001F600]", r"(?:a|b)*+", r"^(a+)+$"]):
            write("pyre_translate", "syntax-%02d" % i, rx)
    if "filter_line" in targets and empty("filter_line"):
        fails = [rx for k, rx in regexes if k == "failregex"]
        for i, rx in enumerate(fails + [r"^user <F-USER>\S+</F-USER> id <F-ID>\d+</F-ID> from <HOST>"]):
            write("filter_line", "rx-%03d" % i, bytes([i % 256]) + ("\n".join([rx] + lines)).encode())
        for i, h in enumerate(HOSTILE):
            write("filter_line", "hostile-%02d" % i, b"\x00" + ("^x\nuser %s from 192.0.2.%d" % (h, i)).encode("utf-8", "surrogateescape"))
    if "date_detector" in targets and empty("date_detector"):
        pats = ["", "{^LN-BEG}", "%%Y-%%m-%%d %%H:%%M:%%S", "^%%b %%d %%H:%%M:%%S", "EPOCH", "LEPOCH", "TAI64N",
                "{DATE}", "{NONE}", "%%d/%%b/%%Y:%%H:%%M:%%S %%z", "%%ExY%%Exm%%Exd", "%%a %%b %%e %%H:%%M:%%S %%Y",
                "{^LN-BEG}%%ExH:%%ExM:%%ExS", "%%s", "%%j %%y %%I %%p %%Z %%f"]
        for i, p in enumerate(pats):
            write("date_detector", "pat-%02d" % i, "\n".join([p] + lines))
    if "action_tags" in targets and empty("action_tags"):
        for i, h in enumerate(HOSTILE):
            write("action_tags", "value-%02d" % i, h + "\x01<name> <port> <ip>\x01<x?family=inet6>")
        for p in sorted(glob.glob(os.path.join(REPO, "action.d", "*.conf"))):
            write("action_tags", "action-" + os.path.basename(p), "192.0.2.1\x01" + open(p, encoding="utf-8").read())
    if "protocol_decode" in targets and empty("protocol_decode"):
        cmds = [["ping"], ["status"], ["status", "sshd", "--all"], ["set", "sshd", "banip", "192.0.2.1"],
                ["get", "sshd", "banip", "--with-time"], ["echo", "é", b"bytes", 1, 2.5, None, True, (1, 2), {"k": [1]}]]
        n = 0
        for c in cmds:
            for proto in range(0, pickle.HIGHEST_PROTOCOL + 1):
                write("protocol_decode", "cmd-%03d" % n, pickle.dumps(c, protocol=proto) + b"<F2B_END_COMMAND>")
                write("protocol_decode", "reply-%03d" % n, pickle.dumps((0, c), protocol=proto))
                n += 1
        write("protocol_decode", "close", b"<F2B_CLOSE_COMMAND><F2B_END_COMMAND>")
        write("protocol_decode", "exception", pickle.dumps((1, ValueError("x")), protocol=2))
        write("protocol_decode", "reduce", b"cos\nsystem\n(S'touch /tmp/pwned'\ntR.")


if __name__ == "__main__":
    main(sys.argv[1:])
