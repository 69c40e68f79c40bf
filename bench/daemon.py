#!/usr/bin/env python3
"""bench/daemon.py: f2b-server and fail2ban-server measured side by side, in the same run.

    bench/daemon.py --work DIR [--quick] [--only PHASE[,PHASE...]] [--servers f2b,fail2ban]

Phases (each bounded by timeouts; every server runs on a throw-away tree, socket and database
under DIR, with a recording shell action instead of any firewall action):

  throughput  lines appended at rising rates to a file jail (portscan seed) and journal entries
              written by systemd-journal-remote for the tor-netscan jail (backend=systemd
              [journalfiles=...]); a rate is sustained when the "Total failed" counter of
              `status JAIL` catches up with what was written within max(0.3 s, 10 % of the
              writing time) after the writer stops. Also a burst (all lines at once) and the
              daemon's own CPU seconds per 100k lines (/proc/PID/stat utime+stime).
  latency     maxretry=1 jail: time from appending the deciding line to the action's first
              instruction (it writes `date +%s.%N`), p50/p99 over N bans.
  memory      RSS idle with 1 jail and after 1M lines from 100k addresses (no bans: the
              failure list holds them all).
  startup     start with 50 jails until `ping` answers and until `status` lists 50 jails;
              RSS, threads and idle CPU with 50 jails.
  restore     10k bans in the database, stop, start: time until all 10k actionban commands
              ran again, against the same 10k commands run back to back by xargs.

Prints tables with the ratio f2b vs fail2ban. Never passes or fails on absolute times.
"""
import argparse
import atexit
import os
import pickle
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.normpath(os.path.join(ROOT, '..', 'shared'))
GEN = os.path.join(SHARED, 'bench', 'gen.py')
SEEDS = os.path.join(SHARED, 'seeds')
BIN = os.environ.get('F2B_BIN_DIR', os.path.join(ROOT, 'target', 'release'))
JOURNAL_REMOTE = '/lib/systemd/systemd-journal-remote'
CLK = os.sysconf('SC_CLK_TCK')
END = b'<F2B_END_COMMAND>'
CLOSE = b'<F2B_CLOSE_COMMAND>'

LIVE = []  # Popen objects to kill on exit


def cleanup():
    for p in LIVE:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
    LIVE.clear()


def on_signal(sig, _frame):
    cleanup()
    sys.exit(128 + sig)


atexit.register(cleanup)
signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)


def now():
    return time.monotonic()


def log(msg):
    print('   .. ' + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- control socket (fail2ban's protocol)

def request(sock, cmd, timeout=10.0):
    """One command over the control socket; returns (code, result). Raises OSError on failure."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock)
        s.sendall(pickle.dumps([str(c) for c in cmd], pickle.HIGHEST_PROTOCOL) + END)
        buf = b''
        while not buf.endswith(END):
            chunk = s.recv(1 << 16)
            if not chunk:
                raise OSError('connection closed')
            buf += chunk
        try:
            s.sendall(CLOSE + END)
        except OSError:
            pass
        try:
            return pickle.loads(buf[:-len(END)])
        except Exception as e:  # fail2ban pickles its own exception classes
            return 1, 'error: %s' % e
    finally:
        s.close()


def find_key(tree, key):
    if isinstance(tree, (list, tuple)):
        if len(tree) == 2 and tree[0] == key:
            return tree[1]
        for x in tree:
            r = find_key(x, key)
            if r is not None:
                return r
    return None


# ---------------------------------------------------------------- config trees

RECORD = """[Definition]
actionstart =
actionstop =
actioncheck =
actionban = echo '<ip>' >> <recfile>
actionunban =
[Init]
recfile = /dev/null
"""
# No command at all: bans cost only the server's own bookkeeping (used to fill a database quickly).
NONE = """[Definition]
actionstart =
actionstop =
actioncheck =
actionban =
actionunban =
[Init]
recfile = /dev/null
"""
# The ban's first instruction stamps the wall clock (fork+exec of date included, ~1 ms).
STAMP = """[Definition]
actionstart =
actionstop =
actioncheck =
actionban = echo "$(date +%%s.%%N) <ip>" >> <recfile>
actionunban =
[Init]
recfile = /dev/null
"""

# 50 stock filters for the many-jails tree (each gets an empty log of its own).
MANY_FILTERS = [
    'sshd', 'apache-auth', 'apache-badbots', 'apache-noscript', 'apache-overflows', 'apache-nohome',
    'apache-botsearch', 'apache-modsecurity', 'apache-shellshock', 'nginx-http-auth', 'nginx-limit-req',
    'nginx-botsearch', 'php-url-fopen', 'roundcube-auth', 'openhab-auth', 'drupal-auth', 'guacamole',
    'monit', 'webmin-auth', 'froxlor-auth', 'squid', '3proxy', 'proftpd', 'pure-ftpd', 'gssftpd',
    'wuftpd', 'vsftpd', 'assp', 'courier-smtp', 'postfix', 'sendmail-auth', 'sendmail-reject', 'qmail',
    'dovecot', 'sieve', 'solid-pop3d', 'exim', 'exim-spam', 'kerio', 'courier-auth', 'perdition',
    'squirrelmail', 'cyrus-imap', 'uwimap-auth', 'named-refused', 'nsd', 'asterisk', 'freeswitch',
    'mysqld-auth', 'mongodb-auth', 'selinux-ssh', 'pam-generic', 'xinetd-fail', 'stunnel',
    'ejabberd-auth', 'counter-strike', 'nagios', 'directadmin', 'portsentry', 'murmur',
    'haproxy-http-auth', 'slapd', 'domino-smtp', 'phpmyadmin-syslog', 'zoneminder', 'traefik-auth',
]


def make_tree(d, jails):
    """Stock /etc/fail2ban, jail.d emptied, the portscan and tor-netscan seeds' filters laid over it,
    our recording actions, server files inside d, and `jails` as jail.local."""
    if os.path.exists(d):
        shutil.rmtree(d)
    shutil.copytree('/etc/fail2ban', d)
    for f in os.listdir(os.path.join(d, 'jail.d')):
        os.remove(os.path.join(d, 'jail.d', f))
    for seed in ('portscan', 'tor-netscan'):
        shutil.copytree(os.path.join(SEEDS, seed), d, dirs_exist_ok=True)
    with open(os.path.join(d, 'action.d', 'bench-record.conf'), 'w') as f:
        f.write(RECORD)
    with open(os.path.join(d, 'action.d', 'bench-stamp.conf'), 'w') as f:
        f.write(STAMP)
    with open(os.path.join(d, 'action.d', 'bench-none.conf'), 'w') as f:
        f.write(NONE)
    with open(os.path.join(d, 'fail2ban.local'), 'w') as f:
        f.write('[DEFAULT]\nlogtarget = %s/server.log\nsocket = %s/s.sock\npidfile = %s/s.pid\n'
                'dbfile = %s/db.sqlite3\n' % (d, d, d, d))
    with open(os.path.join(d, 'jail.local'), 'w') as f:
        f.write(jails)
    return d


def jail(name, filt, logpath=None, action='bench-record', rec=None, **opts):
    lines = ['[%s]' % name, 'enabled = true', 'filter = %s' % filt,
             'action = %s[recfile="%s"]' % (action, rec or '/dev/null')]
    if logpath:
        lines.append('logpath = %s' % logpath)
    lines += ['%s = %s' % (k, v) for k, v in opts.items()]
    return '\n'.join(lines) + '\n\n'


# ---------------------------------------------------------------- servers

class Server:
    def __init__(self, kind, tree):
        self.kind, self.tree = kind, tree
        self.sock = os.path.join(tree, 's.sock')
        prog = os.path.join(BIN, 'f2b-server') if kind == 'f2b' else 'fail2ban-server'
        self.cmd = [prog, '-xf', '-c', tree, '-s', self.sock, '-p', os.path.join(tree, 's.pid'), 'start']
        self.proc = None

    def start(self):
        out = open(os.path.join(self.tree, 'server.out'), 'ab')
        self.t0 = now()
        self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        out.close()
        LIVE.append(self.proc)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cmd_(self, *c, timeout=10.0):
        return request(self.sock, c, timeout)

    def wait_ping(self, timeout=60.0, step=0.002):
        """Seconds from start until ping answers (None on timeout or death)."""
        end = now() + timeout
        while now() < end and self.alive():
            try:
                if self.cmd_('ping', timeout=2)[0] == 0:
                    return now() - self.t0
            except (OSError, EOFError, pickle.UnpicklingError):
                pass
            time.sleep(step)
        return None

    def ready(self, jails=1, timeout=60.0):
        """Seconds from start until ping answers and `jails` jails exist (None on timeout)."""
        end = now() + timeout
        if self.wait_ping(timeout) is None:
            return None
        while now() < end and self.alive():
            if self.jail_count() >= jails:
                return now() - self.t0
            time.sleep(0.005)
        return None

    def jail_count(self):
        try:
            return int(find_key(self.cmd_('status')[1], 'Number of jail') or 0)
        except (OSError, EOFError, ValueError, TypeError):
            return -1

    def total_failed(self, name):
        try:
            v = find_key(self.cmd_('status', name)[1], 'Total failed')
            return int(v) if v is not None else -1
        except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError):
            return -1

    def stat(self):
        """(cpu seconds of the server process itself, RSS MB, peak RSS MB, threads)."""
        pid = self.proc.pid
        try:
            with open('/proc/%d/stat' % pid) as f:
                fields = f.read().rsplit(')', 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / CLK
            st = {}
            with open('/proc/%d/status' % pid) as f:
                for ln in f:
                    k, _, v = ln.partition(':')
                    st[k] = v.strip()
            kb = lambda k: int(st.get(k, '0 kB').split()[0]) / 1024.0
            return cpu, kb('VmRSS'), kb('VmHWM'), int(st.get('Threads', 0))
        except (OSError, IndexError, ValueError):
            return None, None, None, None

    def stop(self, timeout=60.0):
        if not self.alive():
            return
        try:
            self.cmd_('stop', timeout=timeout)
        except (OSError, EOFError, pickle.UnpicklingError):
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log('%s did not stop in %.0f s: killed' % (self.kind, timeout))
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait(10)
        # its children (actions) share the session
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass


def server_log_tail(tree, n=5):
    out = []
    for name in ('server.out', 'server.log'):
        p = os.path.join(tree, name)
        if os.path.exists(p):
            with open(p, 'rb') as f:
                out += f.read().decode('utf-8', 'replace').splitlines()[-n:]
    return '\n'.join('      ' + x for x in out)


# ---------------------------------------------------------------- inputs

def gen(work, kind, n, ratio, name, extra=()):
    path = os.path.join(work, name)
    if not os.path.exists(path):
        log('generating %s (%d)' % (name, n))
        subprocess.check_call([sys.executable, GEN, kind, str(n), '7', str(ratio), '--start', 'now',
                               '--lps', '1000000', '-o', path + '.tmp'] + list(extra), stderr=subprocess.DEVNULL)
        os.rename(path + '.tmp', path)
    return path


def line_offsets(data, sep=b'\n'):
    """Offsets just past each separator."""
    offs, i, k = [0], 0, len(sep)
    while True:
        j = data.find(sep, i)
        if j < 0:
            break
        i = j + k
        offs.append(i)
    return offs


PORTSCAN_HIT = re.compile(rb'PORT DENIED: .* SRC=[0-9a-fA-F.:]+')
TOR_HIT = re.compile(rb'^MESSAGE=\[UFW (?:ALLOW|AUDIT(?: INVALID)?|BLOCK)\] IN= .*?DPT=(?:20|21|22|23|389|636|989|990|992)\b',
                     re.M)


def count_hits(chunk, kind):
    if kind == 'file':
        return sum(1 for ln in chunk.split(b'\n') if PORTSCAN_HIT.search(ln))
    return sum(1 for rec in chunk.split(b'\n\n') if b'\n_TRANSPORT=kernel\n' in b'\n' + rec and TOR_HIT.search(rec))


# ---------------------------------------------------------------- helpers

def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float('nan')
    k = (len(xs) - 1) * p / 100.0
    f = int(k)
    c = min(f + 1, len(xs) - 1)
    return xs[f] + (xs[c] - xs[f]) * (k - f)


def fmt_row(cols, widths):
    return '  '.join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(cols, widths)))


def ratio(a, b, inverse=False):
    """How many times better f2b (a) is than fail2ban (b) for a lower-is-better figure."""
    if a is None or b is None or not a or not b:
        return '-'
    return '%.1fx' % ((a / b) if inverse else (b / a))


def f(v, spec='%.3f'):
    return '-' if v is None else spec % v


def count_file_lines(path):
    try:
        with open(path, 'rb') as fh:
            return fh.read().count(b'\n')
    except OSError:
        return 0


def wait_counter(srv, jail_name, expected, deadline, stall=3.0, poll=0.025):
    """Poll Total failed until it reaches expected, stops moving for `stall` s, or deadline.
    Returns (count, monotonic time of the last change)."""
    last, t_last = -2, now()
    while now() < deadline and srv.alive():
        c = srv.total_failed(jail_name)
        t = now()
        if c != last:
            last, t_last = c, t
        if c >= expected:
            return c, t
        if t - t_last > stall:
            break
        time.sleep(poll)
    return last, t_last


# ---------------------------------------------------------------- phase: throughput

class JournalWriter:
    """systemd-journal-remote reading export records from a pipe, writing one journal file."""

    def __init__(self, path):
        self.path = path
        self.proc = subprocess.Popen([JOURNAL_REMOTE, '-o', path, '-'], stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        LIVE.append(self.proc)

    def write(self, b):
        self.proc.stdin.write(b)
        self.proc.stdin.flush()

    def prime(self, timeout=20.0):
        """One non-kernel entry so the file exists before a server opens it."""
        ts = int(time.time() * 1e6)
        self.write(b'__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=1\n_BOOT_ID=9ee94dde767ba7bc1e753cc407f3718c\n'
                   b'_TRANSPORT=syslog\nSYSLOG_IDENTIFIER=bench\nMESSAGE=bench start\n\n' % ts)
        end = now() + timeout
        while now() < end and not (os.path.exists(self.path) and os.path.getsize(self.path) > 0):
            time.sleep(0.02)
        time.sleep(0.2)

    def close(self, timeout=60.0):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


def feed(write, data, offs, n, rate, deadline):
    """Write lines/records [0, n) at `rate` per second (all at once when rate is None).
    Returns (start, end) monotonic times."""
    t0 = now()
    done = 0
    while done < n and now() < deadline:
        if rate is None:
            due = n
        else:
            due = min(n, int((now() - t0) * rate) + max(1, int(rate * 0.005)))
        if due > done:
            write(data[offs[done]:offs[due]])
            done = due
        else:
            time.sleep(0.002)
    return t0, now()


def throughput_tree(work, kind, srv_kind, logpath):
    d = os.path.join(work, 'tp-%s-%s' % (kind, srv_kind))
    if kind == 'file':
        j = jail('portscan', 'portscan', logpath, rec=os.path.join(d, 'bans.txt'),
                 maxretry=3, findtime='1d', bantime='1d', backend='auto')
    else:
        j = jail('tor-netscan', 'tor-netscan[DPT=(?:20|21|22|23|389|636|989|990|992)]', None,
                 rec=os.path.join(d, 'bans.txt'), maxretry=20, findtime='1d', bantime='15m',
                 backend='systemd[journalfiles="%s"]' % logpath, journalmatch='_TRANSPORT=kernel')
    return make_tree(d, j)


REALTIME = re.compile(rb'^(__REALTIME_TIMESTAMP|_SOURCE_REALTIME_TIMESTAMP)=(\d+)$', re.M)


def retime(chunk, first_us):
    """Journal records re-stamped so the first one is at first_us: both servers only follow entries
    newer than their start (a journal reader seeks by time), as on a live host."""
    m = REALTIME.search(chunk)
    if not m:
        return chunk
    delta = first_us - int(m.group(2))
    return REALTIME.sub(lambda x: b'%s=%d' % (x.group(1), int(x.group(2)) + delta), chunk)


def run_step(srv_kind, kind, work, data, offs, n, rate, timeout, startup_cpu=None):
    """One server, one input kind, one rate (None = burst). Returns a result dict or None.
    A journal burst is written before the server starts (it catches up from its start);
    its CPU is the server's total minus `startup_cpu`."""
    d = os.path.join(work, 'tp-%s-%s' % (kind, srv_kind))
    logpath = os.path.join(d + '.in', 'messages' if kind == 'file' else 'bench.journal')
    if os.path.exists(d + '.in'):
        shutil.rmtree(d + '.in')
    os.makedirs(d + '.in')
    jname = 'portscan' if kind == 'file' else 'tor-netscan'
    tree = throughput_tree(work, kind, srv_kind, logpath)
    writer = None
    if kind == 'file':
        open(logpath, 'wb').close()
        fh = open(logpath, 'ab', buffering=0)
        write = fh.write
    else:
        writer = JournalWriter(logpath)
        writer.prime()
        write = writer.write
    expected = count_hits(data[:offs[n]], kind)
    prewrite = kind == 'journal' and rate is None
    if kind == 'journal':
        data, offs = data[:offs[n]], offs[:n + 1]
    if prewrite:
        data = retime(data, int(time.time() * 1e6))
        feed(write, data, offs, n, None, now() + timeout)
        writer.close()
    srv = Server(srv_kind, tree).start()
    res = None
    try:
        if srv.ready() is None:
            log('%s did not come up:\n%s' % (srv_kind, server_log_tail(tree)))
            return None
        deadline = now() + timeout
        if prewrite:
            cpu0 = startup_cpu or 0.0
            t0 = t1 = srv.t0
        else:
            time.sleep(0.5)  # let the jail open its log
            if kind == 'journal':
                data = retime(data, int(time.time() * 1e6) + 100_000)
            cpu0 = srv.stat()[0]
            t0, t1 = feed(write, data, offs, n, rate, deadline)
        if writer:
            writer.close()
        if rate is not None:
            # a rate step needs no full catch-up to be judged: give up well past the threshold
            deadline = min(deadline, now() + max(5.0, 2 * (t1 - t0)))
        count, tc = wait_counter(srv, jname, expected, deadline)
        cpu1, rss, hwm, thr = srv.stat()
        lag = max(0.0, tc - t1)
        wrote_for = t1 - t0
        writer_rate = n / wrote_for if wrote_for > 0 else float('inf')
        if count < expected:
            lag = now() - t1  # still behind when we stopped looking
        ok = count >= expected and lag <= max(0.3, 0.1 * wrote_for)
        res = dict(n=n, rate=rate, expected=expected, count=count, lag=lag, write_s=wrote_for,
                   writer_rate=writer_rate, eff=n / max(1e-9, tc - t0), ok=ok,
                   cpu=(cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else None, rss=rss,
                   bans=count_file_lines(os.path.join(tree, 'bans.txt')), cpu0=cpu0)
        if rate is not None and writer_rate < 0.9 * rate:
            res['writer_limited'] = True
        return res
    finally:
        srv.stop(30)
        if writer:
            writer.close(5)
        if kind == 'file':
            fh.close()


def phase_throughput(work, quick, servers):
    rates = [1000, 10000, 100000, 500000]
    secs = 2 if quick else 5
    cap = {'file': 200_000 if quick else 500_000, 'journal': 30_000 if quick else 60_000}
    print('\n## Daemon throughput (lines appended at a fixed rate; sustained = counter caught up within '
          'max(0.3 s, 10%) of the writing time)\n')
    inputs = {}
    p = gen(work, 'portscan-syslog', cap['file'], 0.05, 'd-portscan-%d.log' % cap['file'])
    with open(p, 'rb') as fh:
        data = fh.read()
    inputs['file'] = (data, line_offsets(data))
    if os.path.exists(JOURNAL_REMOTE):
        p = gen(work, 'ufw-journal-export', cap['journal'], 0.05, 'd-ufw-%d.export' % cap['journal'])
        with open(p, 'rb') as fh:
            data = fh.read()
        inputs['journal'] = (data, line_offsets(data, b'\n\n'))
    else:
        print('(systemd-journal-remote not installed: journal rows skipped)')
    widths = [26, 9, 8, 10, 7, 9, 10, 9, 8, 6]
    print(fmt_row(['jail / rate', 'server', 'lines', 'failures', 'lag s', 'eff l/s', 'CPU/100k', 'l/s/core',
                   'RSS MB', 'ok'], widths))
    summary = {}
    for kind, label in (('file', 'portscan (file)'), ('journal', 'tor-netscan (journal)')):
        if kind not in inputs:
            continue
        data, offs = inputs[kind]
        total = len(offs) - 1
        failed = set()
        for rate in rates + [None]:
            n = total if rate is None else min(total, rate * secs)
            for sk in servers:
                if rate is not None and sk in failed:
                    continue
                s = summary.setdefault((kind, sk), {})
                r = run_step(sk, kind, work, data, offs, n, rate, timeout=90 if quick else 240,
                             startup_cpu=s.get('startup_cpu'))
                name = '%s %s' % (label, ('%dk/s' % (rate // 1000)) if rate else 'burst')
                if r is None:
                    print(fmt_row([name, sk, n, '-', '-', '-', '-', '-', '-', 'ERR'], widths), flush=True)
                    failed.add(sk)
                    continue
                cpu100k = r['cpu'] / n * 1e5 if r['cpu'] is not None else None
                ok = ('yes' if r['ok'] else 'NO') if rate else '-'
                if r.get('writer_limited'):
                    ok += ' (writer %.0f/s)' % r['writer_rate']
                print(fmt_row([name, sk, n, '%d/%d' % (r['count'], r['expected']), '%.2f' % r['lag'],
                               '%.0f' % r['eff'], f(cpu100k), f(1e5 / cpu100k if cpu100k else None, '%.0f'),
                               f(r['rss'], '%.1f'), ok], widths), flush=True)
                s.setdefault('startup_cpu', r['cpu0'])
                if rate is None:
                    s['burst'] = r['eff']
                    s['cpu100k'] = cpu100k
                elif r['ok'] and not r.get('writer_limited'):
                    s['max_rate'] = rate
                elif r['ok']:
                    s['max_rate_wl'] = max(s.get('max_rate_wl', 0), r['writer_rate'])
                if rate is not None and not r['ok']:
                    failed.add(sk)
    print('\nSummary (highest sustained rate; burst = all lines at once; CPU s of the server process per 100k lines)\n')
    widths2 = [22, 11, 11, 12, 12, 10, 10, 8]
    print(fmt_row(['jail', 'f2b max', 'ref max', 'f2b burst', 'ref burst', 'f2b CPU', 'ref CPU', 'x ref'], widths2))
    for kind, label in (('file', 'portscan (file)'), ('journal', 'tor-netscan (journal)')):
        a, b = summary.get((kind, 'f2b'), {}), summary.get((kind, 'fail2ban'), {})
        if not a and not b:
            continue

        def mx(s):
            if s.get('max_rate_wl', 0) > s.get('max_rate', 0):
                return '>=%.0f*' % s['max_rate_wl']
            if 'max_rate' in s:
                return '%d' % s['max_rate']
            return '<1000'
        print(fmt_row([label, mx(a), mx(b), f(a.get('burst'), '%.0f'), f(b.get('burst'), '%.0f'),
                       f(a.get('cpu100k')), f(b.get('cpu100k')), ratio(a.get('cpu100k'), b.get('cpu100k'))], widths2))
    print('(* every rate the writer could produce was sustained; the writer (systemd-journal-remote) was the limit)')


# ---------------------------------------------------------------- phase: latency

def syslog_now():
    return time.strftime('%b %d %H:%M:%S', time.localtime())


def phase_latency(work, quick, servers):
    n = 200
    gap = 0.05
    print('\n## Ban latency (maxretry=1 file jail: append of the deciding line -> actionban\'s first '
          'instruction; %d bans, one every %.0f ms)\n' % (n, gap * 1000))
    widths = [10, 6, 8, 9, 9, 9, 9]
    print(fmt_row(['server', 'bans', 'missing', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'], widths))
    # The action's own share: this script forking the same command directly.
    rec = os.path.join(work, 'lat-spawn.txt')
    open(rec, 'w').close()
    lat = []
    for i in range(50):
        t = time.time()
        subprocess.call(['/bin/sh', '-c', 'echo "$(date +%%s.%%N) x" >> %s' % rec])
        with open(rec) as fh:
            lat.append((float(fh.read().split()[-2]) - t) * 1000)
        time.sleep(0.02)
    print(fmt_row(['sh+date', 50, 0, f(pct(lat, 50), '%.1f'), f(pct(lat, 90), '%.1f'), f(pct(lat, 99), '%.1f'),
                   f(max(lat), '%.1f')], widths) + '   (the command alone, forked by this script)')
    res = {}
    for sk in servers:
        d = os.path.join(work, 'lat-' + sk)
        logpath = os.path.join(work, 'lat-%s.log' % sk)
        rec = os.path.join(d, 'stamps.txt')
        tree = make_tree(d, jail('lat', 'portscan', logpath, action='bench-stamp', rec=rec,
                                 maxretry=1, findtime='1d', bantime='1d', backend='auto'))
        open(logpath, 'wb').close()
        srv = Server(sk, tree).start()
        try:
            if srv.ready() is None:
                print(fmt_row([sk, '-', '-', '-', '-', '-', 'ERR'], widths))
                log(server_log_tail(tree))
                continue
            time.sleep(0.5)
            sent = {}
            with open(logpath, 'ab', buffering=0) as fh:
                for i in range(n):
                    ip = '10.77.%d.%d' % (i // 200, i % 200 + 1)
                    ln = ('%s relay01 kernel: [123456.%06d] PORT DENIED: IN=eth0 OUT= MAC=00:16:3e:00:00:01 '
                          'SRC=%s DST=198.51.100.7 LEN=44 TOS=0x00 PREC=0x00 TTL=50 ID=4321 PROTO=TCP SPT=40000 '
                          'DPT=23 WINDOW=1024 RES=0x00 SYN URGP=0\n' % (syslog_now(), i, ip)).encode()
                    fh.write(ln)
                    sent[ip] = time.time()
                    time.sleep(gap)
            end = now() + (30 if quick else 60)
            while now() < end and count_file_lines(rec) < n:
                time.sleep(0.1)
            lat = []
            with open(rec) as fh:
                for ln in fh:
                    parts = ln.split()
                    if len(parts) == 2 and parts[1] in sent:
                        lat.append((float(parts[0]) - sent.pop(parts[1])) * 1000)
            res[sk] = lat
            print(fmt_row([sk, len(lat), n - len(lat), f(pct(lat, 50), '%.1f'), f(pct(lat, 90), '%.1f'),
                           f(pct(lat, 99), '%.1f'), f(max(lat) if lat else None, '%.1f')], widths), flush=True)
        finally:
            srv.stop(30)
    if 'f2b' in res and 'fail2ban' in res and res['f2b'] and res['fail2ban']:
        print('p50 %s, p99 %s better than fail2ban' % (ratio(pct(res['f2b'], 50), pct(res['fail2ban'], 50)),
                                                       ratio(pct(res['f2b'], 99), pct(res['fail2ban'], 99))))


# ---------------------------------------------------------------- phase: memory

def phase_memory(work, quick, servers):
    n = 200_000 if quick else 1_000_000
    ips = 20_000 if quick else 100_000
    p = gen(work, 'portscan-syslog', n, 0.05, 'm-portscan-%d-%d-r05.log' % (n, ips), ['--ips', str(ips)])
    with open(p, 'rb') as fh:
        data = fh.read()
    expected = count_hits(data, 'file')
    distinct = len(set(re.findall(rb'PORT DENIED: .* SRC=([0-9a-fA-F.:]+)', data)))
    print('\n## Memory (1 jail, no bans: maxretry above the line count, maxmatches 3; RSS idle, then after %d lines with '
          '%d failures from %d distinct addresses appended at once)\n' % (n, expected, distinct))
    widths = [10, 12, 9, 12, 12, 12, 9]
    print(fmt_row(['server', 'idle RSS MB', 'threads', 'after RSS MB', 'peak RSS MB', 'failures', 'time s'], widths))
    res = {}
    for sk in servers:
        d = os.path.join(work, 'mem-' + sk)
        logpath = os.path.join(work, 'mem-%s.log' % sk)
        tree = make_tree(d, jail('mem', 'portscan', logpath, maxretry=10_000_000, maxmatches=3, findtime='1d',
                                backend='auto'))
        open(logpath, 'wb').close()
        srv = Server(sk, tree).start()
        try:
            if srv.ready() is None:
                print(fmt_row([sk, 'ERR'], widths))
                log(server_log_tail(tree))
                continue
            time.sleep(2)
            _, idle, _, thr = srv.stat()
            t0 = now()
            with open(logpath, 'ab') as fh:
                fh.write(data)
            c, tc = wait_counter(srv, 'mem', expected, now() + (120 if quick else 300), stall=5)
            _, rss, hwm, _ = srv.stat()
            res[sk] = (idle, rss, hwm)
            print(fmt_row([sk, f(idle, '%.1f'), thr, f(rss, '%.1f'), f(hwm, '%.1f'), '%d/%d' % (c, expected),
                           '%.1f' % (tc - t0)], widths), flush=True)
        finally:
            srv.stop(60)
    if len(res) == 2:
        a, b = res['f2b'], res['fail2ban']
        print('f2b uses %s less idle, %s less after the lines' % (ratio(a[0], b[0]), ratio(a[1], b[1])))


# ---------------------------------------------------------------- phase: start-up with 50 jails

def many_tree(work, sk, n):
    d = os.path.join(work, 'many%d-%s' % (n, sk))
    logs = os.path.join(work, 'many%d-logs' % n)
    os.makedirs(logs, exist_ok=True)
    avail = [x for x in MANY_FILTERS if os.path.exists(os.path.join('/etc/fail2ban/filter.d', x + '.conf'))]
    text = ''
    for i in range(n):
        filt = avail[i % len(avail)]
        lp = os.path.join(logs, 'j%02d.log' % i)
        open(lp, 'a').close()
        text += jail('j%02d-%s' % (i, filt), filt, lp, backend='auto')
    return make_tree(d, text)


def phase_startup(work, quick, servers):
    repeat = 3 if quick else 5
    print('\n## Start-up with 50 jails (stock filters, empty logs): start -> ping answers -> status lists 50 jails '
          '(median of %d); idle footprint after 5 s\n' % repeat)
    widths = [10, 9, 11, 9, 9, 12]
    print(fmt_row(['server', 'ping ms', '50 jails ms', 'RSS MB', 'threads', 'idle CPU %'], widths))
    res = {}
    for sk in servers:
        tree = many_tree(work, sk, 50)
        pings, ups, last = [], [], None
        for k in range(repeat):
            srv = Server(sk, tree).start()
            try:
                tp = srv.wait_ping(60, step=0.001)
                if tp is None:
                    log('%s did not come up:\n%s' % (sk, server_log_tail(tree)))
                    break
                up = None
                end = now() + 60
                while now() < end:
                    c = srv.jail_count()
                    if c >= 50:
                        up = now() - srv.t0
                        break
                    time.sleep(0.002)
                pings.append(tp * 1000)
                if up is not None:
                    ups.append(up * 1000)
                else:
                    log('%s: only %d jails up' % (sk, srv.jail_count()))
                if k == repeat - 1:
                    time.sleep(2)
                    c0 = srv.stat()[0]
                    time.sleep(5)
                    c1, rss, _, thr = srv.stat()
                    last = (rss, thr, (c1 - c0) / 5 * 100)
            finally:
                srv.stop(60)
        if not pings:
            print(fmt_row([sk, 'ERR'], widths))
            continue
        res[sk] = (statistics.median(pings), statistics.median(ups) if ups else None, last)
        print(fmt_row([sk, '%.0f' % res[sk][0], f(res[sk][1], '%.0f'), f(last and last[0], '%.1f'),
                       last[1] if last else '-', f(last and last[2], '%.2f')], widths), flush=True)
    if len(res) == 2:
        a, b = res['f2b'], res['fail2ban']
        print('f2b: ping %s, all jails %s sooner; RSS %s smaller' % (
            ratio(a[0], b[0]), ratio(a[1], b[1]), ratio(a[2] and a[2][0], b[2] and b[2][0])))


# ---------------------------------------------------------------- phase: restore bans

def phase_restore(work, quick, servers):
    n_all = 1000 if quick else 10_000
    # fail2ban runs about 4 ms of Python per restored ban: it gets a fifth of the bans in the full
    # run to keep the phase bounded; the per-ban column compares like with like.
    sizes = {'f2b': n_all, 'fail2ban': n_all if quick else 2000}
    ips = ['10.%d.%d.%d' % (20 + i // 62500, (i // 250) % 250, i % 250 + 1) for i in range(n_all)]
    print('\n## Restart with active bans restored (start -> every actionban command done), against the same '
          'commands run back to back by xargs (one `sh -c` each)\n')
    base_dir = os.path.join(work, 'restore-base')
    os.makedirs(base_dir, exist_ok=True)
    ipfile = os.path.join(base_dir, 'ips')
    with open(ipfile, 'w') as fh:
        fh.write('\n'.join(ips) + '\n')
    basetimes = []
    for _ in range(1 if quick else 2):
        rec = os.path.join(base_dir, 'rec')
        open(rec, 'w').close()
        t0 = now()
        subprocess.check_call(['xargs', '-a', ipfile, '-n1', '-P1', 'sh', '-c', 'echo "$0" >> ' + rec],
                              stdout=subprocess.DEVNULL)
        basetimes.append(now() - t0)
    base = statistics.median(basetimes)
    widths = [10, 7, 9, 8, 11, 10, 9, 12, 10]
    print(fmt_row(['server', 'bans', 'fill s', 'stop s', 'restore s', 'restored', 'start ms', 'ms per ban',
                   'vs xargs'], widths))
    print(fmt_row(['xargs', n_all, '-', '-', '%.2f' % base, n_all, '-', '%.2f' % (base / n_all * 1000), '1.00'],
                  widths))
    res = {}
    for sk in servers:
        n = sizes[sk]
        d = os.path.join(work, 'restore-' + sk)
        rec = os.path.join(d, 'bans.txt')
        logpath = os.path.join(work, 'restore-%s.log' % sk)
        open(logpath, 'w').close()
        # Filled through a jail whose action runs nothing; restarted with the recording action.
        keep = lambda action: jail('keep', 'portscan', logpath, action=action, rec=rec, maxretry=1, findtime='1d',
                                   bantime='1d', backend='auto')
        tree = make_tree(d, keep('bench-none'))
        srv = Server(sk, tree).start()
        try:
            if srv.ready() is None:
                print(fmt_row([sk, 'ERR'], widths))
                log(server_log_tail(tree))
                continue
            t0 = now()
            for i in range(0, n, 500):
                srv.cmd_('set', 'keep', 'banip', *ips[i:min(n, i + 500)], timeout=120)
            end = now() + (120 if quick else 300)
            banned = 0
            while now() < end:
                banned = int(find_key(srv.cmd_('status', 'keep')[1], 'Currently banned') or 0)
                if banned >= n:
                    break
                time.sleep(0.05)
            t_ban = now() - t0
            if banned < n:
                log('%s: only %d of %d bans' % (sk, banned, n))
            t0 = now()
            srv.stop(300)
            t_stop = now() - t0
        finally:
            srv.stop(30)
        with open(os.path.join(tree, 'jail.local'), 'w') as fh:
            fh.write(keep('bench-record'))
        srv = Server(sk, tree).start()
        try:
            tp = srv.ready()
            end = now() + (120 if quick else 300)
            while now() < end and count_file_lines(rec) < n and srv.alive():
                time.sleep(0.01)
            t_restore = now() - srv.t0
            got = count_file_lines(rec)
        finally:
            srv.stop(300)
        per = t_restore / max(1, got) * 1000
        res[sk] = per
        print(fmt_row([sk, n, '%.2f' % t_ban, '%.2f' % t_stop, '%.2f' % t_restore, got, f(tp and tp * 1000, '%.0f'),
                       '%.2f' % per, '%.2f' % (per / (base / n_all * 1000))], widths), flush=True)
    if len(res) == 2:
        print('f2b restores a ban %s faster than fail2ban' % ratio(res['f2b'], res['fail2ban']))


PHASES = {'throughput': phase_throughput, 'latency': phase_latency, 'memory': phase_memory,
          'startup': phase_startup, 'restore': phase_restore}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--work', required=True, help='generated inputs and server trees go here')
    ap.add_argument('--quick', action='store_true', help='smaller inputs, fewer repeats (a few minutes)')
    ap.add_argument('--only', help='comma list of phases: ' + ','.join(PHASES))
    ap.add_argument('--servers', default='f2b,fail2ban', help='comma list: f2b, fail2ban')
    a = ap.parse_args()
    servers = [s for s in a.servers.split(',') if s]
    if 'f2b' in servers and not os.path.isfile(os.path.join(BIN, 'f2b-server')):
        sys.exit('bench/daemon.py: %s/f2b-server not found (cargo build --release, or F2B_BIN_DIR)' % BIN)
    if 'fail2ban' in servers and not shutil.which('fail2ban-server'):
        print('(fail2ban-server not installed: apt-get install fail2ban python3-systemd python3-pyinotify '
              'for the reference rows)')
        servers.remove('fail2ban')
    if not os.path.isfile(GEN):
        sys.exit('bench/daemon.py: %s not found (../shared beside the repository)' % GEN)
    work = os.path.join(os.path.abspath(a.work), 'daemon')
    os.makedirs(work, exist_ok=True)
    phases = a.only.split(',') if a.only else list(PHASES)
    with open('/proc/loadavg') as fh:
        load = fh.read().split()[:3]
    print('\n# Daemon benchmarks (%s, %d cores, load %s, servers: %s)' % (
        time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), os.cpu_count(), ' '.join(load), ', '.join(servers)))
    for ph in phases:
        if ph not in PHASES:
            sys.exit('unknown phase %s' % ph)
        t0 = now()
        try:
            PHASES[ph](work, a.quick, servers)
        finally:
            cleanup()
        log('%s phase took %.0f s' % (ph, now() - t0))


if __name__ == '__main__':
    main()
