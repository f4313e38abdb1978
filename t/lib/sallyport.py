"""sallyport - the harness every Sallyport integration test imports.

What it is for: t/integration/*.t are executable Python 3 scripts (stdlib
only) that print TAP and are run by `prove --exec ''`.  They find this
module through sys.path from their own location:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    '..', 'lib'))
    from sallyport import *

It gives them:
  - TAP without a plan: ok, is_, isnt, like, unlike, diag, note, skip_all,
    bail_out, done.  A failing check prints where it failed and why.
  - wait_until(predicate, timeout, what): polling, never a fixed sleep.
  - free_port(), Scratch / scratch(): a private directory per test.
  - Sink: build/smtpsink as the downstream MTA, its stored messages.
  - Gateway: build/sallyportd on a config in the scratch directory, its
    children, logs and sallyctl; base_config() writes the usual config.
  - send_mail() (smtplib) and raw_session() (hand-written dialogues).
  - Every process started here is killed at exit (normal exit, uncaught
    exception, SIGTERM/SIGINT/SIGHUP), by PID, with its descendants.

Programs come from the build directory: $SALLYPORT_BUILD, else
<repo>/build.  Timeouts are multiplied by $SALLYPORT_TIMEOUT_SCALE (for
slow sanitizer builds).  KEEP=1 keeps the scratch directories.

What it is not for: asserting timings (that is `make bench`), or
reimplementing the gateway's logic in Python.
"""

import atexit
import collections
import json as _json
import os
import re
import select
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time

__all__ = [
    'REPO', 'BUILD', 'HarnessError', 'Timeout',
    'ok', 'is_', 'isnt', 'like', 'unlike', 'diag', 'note', 'skip_all',
    'bail_out', 'done', 'failed_count',
    'wait_until', 'free_port', 'scale', 'tool', 'require',
    'Scratch', 'scratch', 'start_process', 'stop_process',
    'proc_children', 'proc_descendants', 'pid_alive',
    'Sink', 'Gateway', 'base_config', 'render_config', 'start_testns', 'testns_entry',
    'send_mail', 'MailResult', 'raw_session', 'RawSession', 'Reply',
]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get('SALLYPORT_BUILD') or os.path.join(REPO, 'build'))
_THIS = os.path.abspath(__file__).rstrip('c')


class HarnessError(Exception):
    """Something the harness was asked to do did not happen."""


class Timeout(HarnessError):
    """A wait_until() deadline passed."""


def scale(seconds):
    """A timeout, stretched by $SALLYPORT_TIMEOUT_SCALE (default 1)."""
    try:
        f = float(os.environ.get('SALLYPORT_TIMEOUT_SCALE', '1'))
    except ValueError:
        f = 1.0
    return seconds * max(f, 1.0)


# ---------------------------------------------------------------- TAP

_tap = {'n': 0, 'failed': 0, 'done': False}


def _out(line):
    sys.stdout.write(line + '\n')
    sys.stdout.flush()


def _caller():
    """file:line of the test code that called into the harness."""
    f = sys._getframe(1)
    while f is not None and os.path.abspath(f.f_code.co_filename).rstrip('c') == _THIS:
        f = f.f_back
    if f is None:
        return '?', 0
    return f.f_code.co_filename, f.f_lineno


def _diag(msg):
    """Diagnostics for humans, on stderr (shown by prove), '# '-prefixed."""
    sys.stdout.flush()
    for line in str(msg).splitlines() or ['']:
        sys.stderr.write('# ' + line + '\n')
    sys.stderr.flush()


diag = _diag


def note(msg):
    """Like diag, on stdout (shown by prove -v only)."""
    for line in str(msg).splitlines() or ['']:
        _out('# ' + line)


def ok(cond, name, diag=None):
    """One test: passes when cond is true.  diag is printed on failure; it
    may be a callable, called only then."""
    extra = diag
    _tap['n'] += 1
    name = str(name).replace('\n', ' ').replace('#', '\\#')
    if cond:
        _out('ok %d - %s' % (_tap['n'], name))
        return True
    _tap['failed'] += 1
    _out('not ok %d - %s' % (_tap['n'], name))
    fname, line = _caller()
    _diag("  Failed test '%s'\n  at %s line %d." % (name, fname, line))
    if extra is not None:
        if callable(extra):
            try:
                extra = extra()
            except Exception as e:  # a broken diagnostic must not hide the failure
                extra = 'diagnostic failed: %r' % (e,)
        _diag(extra)
    return False


def _show(v):
    s = repr(v)
    return s if len(s) <= 2000 else s[:2000] + '... (%d chars)' % len(s)


def is_(got, expected, name):
    """Passes when got == expected; shows both otherwise."""
    return ok(got == expected, name,
              diag=lambda: '       got: %s\n  expected: %s' % (_show(got), _show(expected)))


def isnt(got, unexpected, name):
    return ok(got != unexpected, name,
              diag=lambda: '       got: %s\n  expected: anything else' % _show(got))


def like(text, regex, name):
    """Passes when re.search(regex, text) matches (text may be bytes)."""
    m = text is not None and re.search(regex, text)
    ok(bool(m), name,
       diag=lambda: '  %s\n  does not match %s' % (_show(text), _show(regex)))
    return m or None


def unlike(text, regex, name):
    m = text is not None and re.search(regex, text)
    return ok(not m, name,
              diag=lambda: '  %s\n  matches %s' % (_show(text), _show(regex)))


def failed_count():
    return _tap['failed']


def skip_all(reason):
    """The whole test is skipped: '1..0 # SKIP reason', exit 0."""
    _out('1..0 # SKIP %s' % reason)
    _tap['done'] = True
    sys.exit(0)


def bail_out(reason):
    """Stops the whole prove run (use for a broken environment)."""
    _out('Bail out!  %s' % reason)
    _tap['done'] = True
    sys.exit(255)


def done():
    """Prints the plan 1..N and exits: 0 if every test passed, else 1.
    First, every gateway this test ran must have left no sanitizer report
    (ASan, UBSan, LeakSanitizer) in its output: a daemon that aborted on
    one would otherwise just be restarted by master."""
    for gw in _gateways:
        report = gw.sanitizer_report()
        ok(report is None, 'no sanitizer report from the daemons (%s)' % gw.outfile,
           diag=report)
    _tap['done'] = True
    _out('1..%d' % _tap['n'])
    if _tap['failed']:
        diag('Looks like you failed %d test%s of %d.' % (
            _tap['failed'], '' if _tap['failed'] == 1 else 's', _tap['n']))
        if os.environ.get('KEEP') != '1':
            diag('(KEEP=1 keeps the scratch directory for a post-mortem)')
    sys.exit(1 if _tap['failed'] else 0)


# ------------------------------------------------------------ waiting

def wait_until(predicate, timeout=10, what='condition', interval=0.01):
    """Calls predicate until it returns something true, and returns that.
    Sleeps start at `interval` and grow to 0.1 s.  On the deadline (scaled
    by scale()) raises Timeout naming `what` (a string, or a callable giving
    one, so it can describe the state at the moment of failure)."""
    deadline = time.monotonic() + scale(timeout)
    delay = interval
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() >= deadline:
            desc = what() if callable(what) else what
            raise Timeout('timed out after %gs waiting for %s' % (scale(timeout), desc))
        time.sleep(delay)
        delay = min(delay * 1.5, 0.1)


def free_port(host='127.0.0.1'):
    """A TCP port on host that nobody listens on right now."""
    with socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def tool(name):
    """Path of a program in the build directory."""
    return os.path.join(BUILD, name)


def require(*names):
    """skip_all unless every named program has been built."""
    missing = [n for n in names if not os.access(tool(n), os.X_OK)]
    if missing:
        skip_all('not built in %s: %s' % (BUILD, ' '.join(missing)))


# ------------------------------------------------------------ scratch

_scratches = []
_default_scratch = []


class Scratch:
    """A temporary directory for one test: mode 0755 so that daemons that
    dropped privileges can traverse it when the test runs as root.  Removed
    at exit unless KEEP=1 (then its path is printed)."""

    def __init__(self, prefix='sp-'):
        self.path = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.path, 0o755)
        _scratches.append(self)

    def __fspath__(self):
        return self.path

    def __str__(self):
        return self.path

    def join(self, *parts):
        return os.path.join(self.path, *parts)

    def mkdir(self, *parts, mode=0o755):
        p = self.join(*parts)
        os.makedirs(p, exist_ok=True)
        os.chmod(p, mode)
        return p

    def write(self, rel, data, mode=0o644):
        p = self.join(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, 'wb' if isinstance(data, bytes) else 'w') as f:
            f.write(data)
        os.chmod(p, mode)
        return p

    def read(self, rel, binary=False):
        with open(self.join(rel), 'rb' if binary else 'r', errors=None if binary else 'replace') as f:
            return f.read()

    def _cleanup(self):
        if os.environ.get('KEEP') == '1':
            diag('KEEP=1: scratch directory kept: %s' % self.path)
        else:
            shutil.rmtree(self.path, ignore_errors=True)


def scratch():
    """The test's default Scratch, created on first use."""
    if not _default_scratch:
        _default_scratch.append(Scratch())
    return _default_scratch[0]


# ---------------------------------------------------------- processes

_procs = []      # every Popen started here, killed at exit
_gateways = []
_sessions = []


def _stat(pid):
    """(comm, state, ppid, starttime, session) of a process, or None."""
    try:
        with open('/proc/%d/stat' % pid, 'rb') as f:
            data = f.read().decode('utf-8', 'replace')
    except OSError:
        return None
    lp, rp = data.find('('), data.rfind(')')
    rest = data[rp + 2:].split()
    return data[lp + 1:rp], rest[0], int(rest[1]), int(rest[19]), int(rest[3])


def pid_alive(pid, starttime=None):
    """True if pid exists, is not a zombie and (if given) started at starttime."""
    st = _stat(pid)
    return bool(st) and st[1] != 'Z' and (starttime is None or st[3] == starttime)


def proc_children(ppid, name=None):
    """[(pid, comm, starttime)] of the live children of ppid (with comm == name)."""
    out = []
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        st = _stat(int(d))
        if st and st[2] == ppid and st[1] != 'Z' and (name is None or st[0] == name[:15]):
            out.append((int(d), st[0], st[3]))
    return sorted(out)


def proc_session(sid):
    """[(pid, comm, starttime)] of the live processes of session sid.  Every
    process start_process() starts leads a new session, and Linux keeps a
    session id from being reused while any member lives, so this finds all
    that it spawned, even those reparented to init after it died (unless
    they called setsid themselves)."""
    out = []
    for d in os.listdir('/proc'):
        if d.isdigit():
            st = _stat(int(d))
            if st and st[4] == sid and st[1] != 'Z':
                out.append((int(d), st[0], st[3]))
    return sorted(out)


def proc_descendants(pid):
    """[(pid, comm, starttime)] of every live descendant of pid."""
    found, todo = [], [pid]
    while todo:
        for c in proc_children(todo.pop()):
            found.append(c)
            todo.append(c[0])
    return found


def _kill(pid, sig, starttime=None):
    if starttime is not None and not pid_alive(pid, starttime):
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def start_process(argv, stdout=None, stderr=None, **kw):
    """Popen in its own session (terminal signals reach the harness, which
    cleans up), registered so it is killed at exit.  stdout/stderr may be
    file paths (appended to)."""
    files = []
    for key, target in (('stdout', stdout), ('stderr', stderr)):
        if isinstance(target, str):
            target = open(target, 'ab')
            files.append(target)
        if target is not None:
            kw[key] = target
    kw.setdefault('stdin', subprocess.DEVNULL)
    try:
        p = subprocess.Popen(argv, start_new_session=True, **kw)
    finally:
        for f in files:
            f.close()
    _procs.append(p)
    return p


def stop_process(p, timeout=10, sig=signal.SIGTERM, also=()):
    """sig, wait up to timeout, then SIGKILL it; then SIGKILL its
    descendants (and the (pid, comm, starttime) entries in `also`) that
    outlived it.  Returns (returncode, [those that outlived it])."""
    kids = set(also)
    if p.poll() is None:
        kids.update(proc_descendants(p.pid))
        _kill(p.pid, sig)
        try:
            p.wait(scale(timeout))
        except subprocess.TimeoutExpired:
            kids.update(proc_descendants(p.pid))
            _kill(p.pid, signal.SIGKILL)
            p.wait()
    kids.update(proc_session(p.pid))
    left = sorted(k for k in kids if pid_alive(k[0], k[2]) and k[0] != p.pid)
    if left:
        # Children must not outlive their supervisor; give them a moment
        # (they notice the closed channel), then kill what remains.
        try:
            wait_until(lambda: not any(pid_alive(k[0], k[2]) for k in left), 2, 'orphans')
        except Timeout:
            pass
        left = [k for k in left if pid_alive(k[0], k[2])]
        for k in left:
            _kill(k[0], signal.SIGKILL, k[2])
    return p.returncode, left


_cleaning = []


def _cleanup():
    if _cleaning:
        return
    _cleaning.append(1)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    for s in _sessions:
        s.close()
    for g in _gateways:
        try:
            g.stop(timeout=10)
        except Exception as e:
            diag('cleanup of gateway: %r' % (e,))
    for p in reversed(_procs):
        try:
            # Also for processes that already exited: their session may
            # still hold children they left behind.
            _, left = stop_process(p, timeout=5)
            if left:
                diag('killed processes left behind by pid %d: %s' % (p.pid, left))
        except Exception as e:
            diag('cleanup of pid %d: %r' % (p.pid, e))
    for s in _scratches:
        s._cleanup()
    if not _tap['done'] and _tap['n'] > 0:
        diag('test ended without done(): %d tests run' % _tap['n'])


def _on_signal(signum, frame):
    _out('# caught signal %d, cleaning up' % signum)
    raise SystemExit(128 + signum)


atexit.register(_cleanup)
for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


def _tail(path, lines=30):
    try:
        with open(path, 'r', errors='replace') as f:
            text = f.read()
    except OSError as e:
        return '(%s)' % e.strerror
    return '\n'.join(text.splitlines()[-lines:])


# --------------------------------------------------------------- sink

class Sink:
    """build/smtpsink on 127.0.0.1, a free port, storing into <scratch>/<name>/.

    Sink('--tempfail-first', '2')    extra options as positional arguments
    .port, .addr ("127.0.0.1:port"), .dir, .pid
    .messages()   [(envelope, bytes)] by seq; envelope is
                  {'seq': n, 'from': 'x', 'rcpts': ['y', ...]}
    .count()      messages accepted so far (from the -c count file)
    .wait_messages(n, timeout)  waits until n are stored, returns .messages()
    .stop()       SIGTERM; returns the exit status; .received is the count
                  the sink printed.
    .start()      after stop(): again on the same port and directory (seq
                  numbers go on), for "downstream down, then back" tests.
    store=False runs without -d (only counting: for benchmarks); port=N
    asks for a fixed port instead of a free one."""

    def __init__(self, *args, scratch_dir=None, name='sink', store=True, start=True, port=0):
        self.scratch = scratch_dir or scratch()
        self.name = name
        self.args = [str(a) for a in args]
        self.store = store
        self.dir = self.scratch.mkdir(name)
        self.portfile = self.scratch.join(name + '.port')
        self.countfile = self.scratch.join(name + '.count')
        self.outfile = self.scratch.join(name + '.out')
        self.errfile = self.scratch.join(name + '.err')
        self.proc = None
        self.port = port or None
        self.received = None
        if start:
            self.start()

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def addr(self):
        return '127.0.0.1:%d' % self.port

    def start(self, timeout=10):
        for f in (self.portfile,):
            if os.path.exists(f):
                os.unlink(f)
        if self.alive():
            raise HarnessError('smtpsink %s already running' % self.name)
        argv = [tool('smtpsink'), '-p', str(self.port or 0), '-P', self.portfile,
                '-c', self.countfile]
        if self.store:
            argv += ['-d', self.dir]
        self.proc = start_process(argv + self.args, stdout=self.outfile, stderr=self.errfile)

        def ready():
            if self.proc.poll() is not None:
                raise HarnessError('smtpsink exited with %s:\n%s' % (
                    self.proc.returncode, _tail(self.errfile)))
            try:
                with open(self.portfile) as f:
                    text = f.read().strip()
            except OSError:
                return None
            return int(text) if text.isdigit() else None
        self.port = wait_until(ready, timeout, 'smtpsink port file %s' % self.portfile)
        return self

    def _seqs(self):
        try:
            names = os.listdir(self.dir)
        except OSError:
            return []
        return sorted(int(n[:-4]) for n in names if n.endswith('.env') and n[:-4].isdigit())

    def messages(self):
        out = []
        for seq in self._seqs():
            env = {'seq': seq, 'from': None, 'rcpts': []}
            with open(os.path.join(self.dir, '%d.env' % seq), 'r', errors='surrogateescape') as f:
                for line in f:
                    line = line.rstrip('\n')
                    if line.startswith('MAIL FROM:<') and line.endswith('>'):
                        env['from'] = line[11:-1]
                    elif line.startswith('RCPT TO:<') and line.endswith('>'):
                        env['rcpts'].append(line[9:-1])
            with open(os.path.join(self.dir, '%d.eml' % seq), 'rb') as f:
                out.append((env, f.read()))
        return out

    def count(self):
        """Accepted messages so far (lines of the count file)."""
        try:
            with open(self.countfile, 'rb') as f:
                return f.read().count(b'\n')
        except OSError:
            return 0

    def stored(self):
        return len(self._seqs())

    def wait_messages(self, n, timeout=20):
        """Waits until at least n messages are stored; returns messages()."""
        if not self.store:
            wait_until(lambda: self.count() >= n, timeout,
                       lambda: '%d messages at sink %s (have %d)' % (n, self.name, self.count()))
            return []
        wait_until(lambda: self.stored() >= n, timeout,
                   lambda: '%d messages at sink %s (have %d)' % (n, self.name, self.stored()))
        return self.messages()

    def stop(self, timeout=10):
        if self.proc is None:
            return None
        rc, _ = stop_process(self.proc, timeout)
        m = re.findall(r'received (\d+) messages', _tail(self.outfile, 5))
        self.received = int(m[-1]) if m and rc == 0 else None
        m = re.findall(r'peak (\d+) concurrent sessions', _tail(self.outfile, 5))
        self.peak_sessions = int(m[-1]) if m and rc == 0 else None
        return rc

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


# ------------------------------------------------------------ gateway

def _yaml_scalar(text, key):
    """First value of `key:` anywhere in a (block or flow) YAML text."""
    m = re.search(r'(?m)(?:^|[\s{,])' + re.escape(key) + r'\s*:\s*("[^"]*"|\'[^\']*\'|[^\s,}#]+)', text)
    if not m:
        return None
    v = m.group(1)
    return v[1:-1] if v[:1] in '"\'' else v


def _yaml_listener_ports(text):
    """Values of every `port:` key (listener ports) in the YAML text."""
    return sorted({int(p) for p in re.findall(r'(?m)(?:^|[\s{,-])port\s*:\s*["\']?(\d+)', text)})


class Gateway:
    """build/sallyportd -f -c <scratch>/etc/sallyport.yaml.

    gw = Gateway(scratch(), base_config(listen, sink.port)); gw.start()
    .pid, .cfg, .run_dir, .log_dir, .ports (listener ports from the YAML)
    start(timeout=20)   waits for <run>/control.sock and every listener port
    stop(timeout=40)    SIGTERM, wait, SIGKILL; returns the exit status
                        (negative: killed by that signal); .leftover lists
                        children that outlived master (they were killed)
    kill_child(name)    SIGKILL one child daemon (smtpd/qmgr/deliver...);
                        returns its pid
    child_pids(name)    pids of live children with that name
    log(name)           text of <log>/<name>.log; log_mark + wait_log(since=)
    sallyctl(*args)     (status, stdout, stderr)
    sallyctl(*args, json=True)   the parsed JSON (status in .last_sallyctl)
    """

    def __init__(self, scratch_dir, yaml_text, ports=None):
        self.scratch = scratch_dir
        for d in ('etc', 'spool', 'state', 'run', 'log'):
            self.scratch.mkdir(d)
        self.cfg = self.scratch.join('etc', 'sallyport.yaml')
        self.outfile = self.scratch.join('sallyportd.out')
        self.proc = None
        self.leftover = []
        self.last_sallyctl = None
        self._seen = set()     # children ever seen: killed if they outlive master
        self.write_config(yaml_text, ports)
        _gateways.append(self)

    def write_config(self, yaml_text, ports=None):
        """(Re)writes the config file; run dirs and ports are read from it."""
        self.yaml = yaml_text
        self.scratch.write(os.path.relpath(self.cfg, self.scratch.path), yaml_text, 0o644)
        self.run_dir = _yaml_scalar(yaml_text, 'run') or self.scratch.join('run')
        self.log_dir = _yaml_scalar(yaml_text, 'log') or self.scratch.join('log')
        for key in ('spool', 'state', 'run', 'log'):
            p = _yaml_scalar(yaml_text, key)
            if p and p.startswith(self.scratch.path) and not os.path.isdir(p):
                os.makedirs(p, mode=0o755, exist_ok=True)
        self.ports = list(ports) if ports is not None else _yaml_listener_ports(yaml_text)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def control_socket(self):
        return os.path.join(self.run_dir, 'control.sock')

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    _SANITIZER_RE = re.compile(r'(ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: \w+Sanitizer)')

    def sanitizer_report(self):
        """The first lines of a sanitizer report in sallyportd's output
        (the daemons inherit its stderr), or None."""
        try:
            with open(self.outfile, 'r', errors='replace') as f:
                text = f.read()
        except OSError:
            return None
        m = self._SANITIZER_RE.search(text)
        if not m:
            return None
        start = text.rfind('\n', 0, m.start()) + 1
        return text[start:start + 3000]

    def diagnostics(self, lines=30):
        """Tail of sallyportd's output and of every daemon log."""
        parts = ['--- sallyportd.out ---', _tail(self.outfile, lines)]
        try:
            logs = sorted(f for f in os.listdir(self.log_dir) if f.endswith('.log'))
        except OSError:
            logs = []
        for f in logs:
            parts += ['--- %s ---' % f, _tail(os.path.join(self.log_dir, f), lines)]
        return '\n'.join(parts)

    @staticmethod
    def _accepts(port):
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=1):
                return True
        except OSError:
            return False

    def _control_accepts(self):
        """The control socket exists and is listening (a stale file left by
        a killed master does not count)."""
        if not os.path.exists(self.control_socket):
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            try:
                s.connect(self.control_socket)
                return True
            except OSError:
                return False

    def start(self, timeout=20, wait_ports=None):
        """Starts master and waits (deadline timeout) until its control
        socket accepts connections and every port in wait_ports (default:
        the listener ports of the config) accepts a TCP connection."""
        if self.alive():
            raise HarnessError('gateway already running (pid %d)' % self.pid)
        self.leftover = []
        self.proc = start_process([tool('sallyportd'), '-f', '-c', self.cfg],
                                  stdout=self.outfile, stderr=subprocess.STDOUT)
        ports = self.ports if wait_ports is None else list(wait_ports)
        pending = list(ports)

        def ready():
            if self.proc.poll() is not None:
                raise HarnessError('sallyportd exited with status %s during start-up\n%s' % (
                    self.proc.returncode, self.diagnostics()))
            if not self._control_accepts():
                return False
            while pending and self._accepts(pending[0]):
                pending.pop(0)
            return not pending
        try:
            wait_until(ready, timeout, lambda: 'sallyportd: %s' % (
                'listener ports %s' % pending if self._control_accepts()
                else 'control socket %s' % self.control_socket))
        except Timeout as e:
            raise Timeout('%s\n%s' % (e, self.diagnostics())) from None
        self.children()
        return self

    def stop(self, timeout=40):
        """SIGTERM to master, wait (deadline), SIGKILL.  The exit status."""
        if self.proc is None:
            return None
        self.children()
        rc, self.leftover = stop_process(self.proc, timeout, also=self._seen)
        self._seen = set()
        if self.leftover:
            diag('children outlived sallyportd and were killed: %s' % self.leftover)
        return rc

    def send_signal(self, sig):
        os.kill(self.proc.pid, sig)

    def reload(self):
        """SIGHUP: master re-reads the config file."""
        self.send_signal(signal.SIGHUP)

    def children(self, name=None):
        """[(pid, comm, starttime)] of master's live children."""
        if not self.alive():
            return []
        kids = proc_children(self.proc.pid)
        self._seen.update(kids)
        return [k for k in kids if name is None or k[1] == name[:15]]

    def child_pids(self, name=None):
        return [c[0] for c in self.children(name)]

    def kill_child(self, name, sig=signal.SIGKILL):
        kids = self.children(name)
        if not kids:
            raise HarnessError('no child %r of sallyportd (pid %s); children: %s' % (
                name, self.pid, self.children()))
        pid, _, start = kids[0]
        _kill(pid, sig, start)
        return pid

    def log_path(self, name):
        return os.path.join(self.log_dir, name + '.log')

    def log(self, name):
        try:
            with open(self.log_path(name), 'r', errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    def log_mark(self, name):
        """Current length of a log, for wait_log(..., since=mark)."""
        try:
            return os.path.getsize(self.log_path(name))
        except OSError:
            return 0

    def wait_log(self, name, regex, timeout=10, since=0):
        """Waits until regex matches <name>.log (from byte offset since on);
        returns the match."""
        def check():
            try:
                with open(self.log_path(name), 'rb') as f:
                    f.seek(since)
                    text = f.read().decode('utf-8', 'replace')
            except OSError:
                return None
            return re.search(regex, text, re.M)
        try:
            return wait_until(check, timeout, '/%s/ in %s.log' % (regex, name))
        except Timeout as e:
            raise Timeout('%s\n--- %s.log ---\n%s' % (e, name, _tail(self.log_path(name)))) from None

    def sallyctl(self, *args, json=False, input=None, timeout=60):
        """Runs build/sallyctl -c <cfg> [--json] args.  Returns (status,
        stdout, stderr); with json=True it returns the parsed JSON of stdout
        alone (HarnessError if stdout is not JSON).  Either way
        .last_sallyctl holds (status, stdout text, stderr)."""
        argv = [tool('sallyctl'), '-c', self.cfg] + (['--json'] if json else []) + [str(a) for a in args]
        r = subprocess.run(argv, input=input, capture_output=True, text=True,
                           timeout=scale(timeout), errors='replace')
        self.last_sallyctl = (r.returncode, r.stdout, r.stderr)
        if not json:
            return r.returncode, r.stdout, r.stderr
        try:
            return _json.loads(r.stdout)
        except ValueError as e:
            raise HarnessError('sallyctl %s: not JSON (%s), status %d:\n%s\nstderr: %s' % (
                ' '.join(argv[3:]), e, r.returncode, r.stdout, r.stderr)) from None


def _yaml_value(v, indent=''):
    """A Python value as a YAML fragment (strings verbatim, others JSON)."""
    if isinstance(v, str):
        return v
    return _json.dumps(v)


def render_config(sections):
    """YAML text from an ordered mapping key -> fragment.  A fragment that
    spans lines or starts indented is written as a block under its key."""
    out = []
    for key, frag in sections.items():
        if frag is None:
            continue
        frag = _yaml_value(frag)
        if frag.startswith((' ', '\n')) or '\n' in frag.strip('\n'):
            out.append('%s:\n%s' % (key, frag.strip('\n')))
        else:
            out.append('%s: %s' % (key, frag.strip()))
    return '\n'.join(out) + '\n'


def base_config(listen_port, sink_port, scratch_dir=None, **overrides):
    """The usual test config (YAML text): hostname test.example, every path
    under the scratch directory, one private listener "Outbound" on
    127.0.0.1:<listen_port> relaying for 127.0.0.0/8 and rejecting all
    else, every domain routed to 127.0.0.1:<sink_port>, fast retries.

    overrides replace (or add) top-level keys: a string is a YAML fragment
    (several lines make a block), other values are written as JSON (a
    subset of YAML), None removes the key.  Example:
        base_config(p, s, processes={'smtpd': 2, 'deliver': 1})"""
    sc = scratch_dir or scratch()
    sections = collections.OrderedDict()
    sections['hostname'] = 'test.example'
    sections['paths'] = ('  spool: %s\n  state: %s\n  run: %s\n  log: %s\n' % (
        sc.join('spool'), sc.join('state'), sc.join('run'), sc.join('log')))
    sections['processes'] = '{ smtpd: 1, deliver: 1 }'
    sections['drain_delay'] = '5s'
    sections['listeners'] = (
        '  - name: Outbound\n'
        '    type: private\n'
        '    address: 127.0.0.1\n'
        '    port: %d\n'
        '    hat:\n'
        '      - { group: RELAYLIST, match: ["127.0.0.0/8"], policy: RELAYED }\n'
        '      - { group: ALL, match: [ALL], policy: BLOCKED }\n' % listen_port)
    sections['policies'] = ('  RELAYED: { action: relay }\n'
                            '  BLOCKED: { action: reject }\n')
    sections['smtp_routes'] = '  ALL: ["127.0.0.1:%d"]\n' % sink_port
    sections['bounce_profiles'] = ('  default: { initial_retry: 1s, max_retry: 2s, '
                                   'max_queue_time: 30s, max_attempts: 5 }\n')
    for k, v in overrides.items():
        sections[k] = v
    return render_config(sections)


# ---------------------------------------------------------- DNS server

def testns_entry(qname, qtype, answers=(), rcode='NOERROR'):
    """One ldns-testns entry: the answer (records as zone-file lines, or
    an rcode) to a question for qname/qtype."""
    return ('ENTRY_BEGIN\nMATCH opcode qtype qname\nADJUST copy_id\nREPLY QR RD RA %s\n'
            'SECTION QUESTION\n%s IN %s\nSECTION ANSWER\n%sENTRY_END\n' % (
                rcode, qname, qtype, ''.join(a + '\n' for a in answers)))


def start_testns(sc, data, timeout=30):
    """ldns-testns (Debian's ldnsutils) serving `data` (its entry format)
    on a loopback port of its choosing; returns (process, port).  It
    sometimes fails to bind its random port and exits: it is started again,
    up to five times."""
    path = sc.write('testns.data', data)
    out = sc.join('testns.out')
    for attempt in range(5):
        p = start_process(['ldns-testns', '-r', path], stdout=out, stderr=subprocess.STDOUT)

        def port():
            try:
                with open(out) as f:
                    m = re.search(r'Listening on port (\d+)', f.read())
            except OSError:
                return None
            if m:
                return int(m.group(1))
            return -1 if p.poll() is not None else None
        got = wait_until(port, timeout, 'ldns-testns to report its port')
        if got > 0:
            return p, got
    raise HarnessError('ldns-testns would not start: %s' % _tail(out))


# ---------------------------------------------------------- SMTP clients

MailResult = collections.namedtuple('MailResult', 'code text refused')
MailResult.__doc__ = """Outcome of send_mail: code and text of the last reply
that decided the transaction (end of data, or DATA/MAIL/RCPT when it
stopped there), and refused = {rcpt: (code, text)}."""


def _s(b):
    return b.decode('utf-8', 'replace') if isinstance(b, bytes) else str(b)


def send_mail(port, sender, rcpts, body, helo='client.test', host='127.0.0.1',
              mail_options=(), rcpt_options=(), timeout=30):
    """One message over smtplib.  body (bytes, or str sent as UTF-8) goes
    out as given: smtplib only dot-stuffs it and adds CRLF if it does not
    end with one.  Returns MailResult(code, text, refused).  SMTP refusals
    are results; connection problems (refused connection, non-220 banner,
    a server that drops the connection) raise."""
    if isinstance(rcpts, str):
        rcpts = [rcpts]
    if isinstance(body, str):
        body = body.encode('utf-8')
    s = smtplib.SMTP(host, port, local_hostname=helo, timeout=scale(timeout))
    try:
        code, msg = s.ehlo(helo)
        if code != 250:
            code, msg = s.helo(helo)
        code, msg = s.mail(sender, list(mail_options))
        if code != 250:
            s.rset()
            return MailResult(code, _s(msg), {})
        refused = {}
        for r in rcpts:
            rc, rmsg = s.rcpt(r, list(rcpt_options))
            if rc not in (250, 251):
                refused[r] = (rc, _s(rmsg))
                code, msg = rc, rmsg
        if len(refused) == len(rcpts):
            s.rset()
            return MailResult(code, _s(msg), refused)
        try:
            code, msg = s.data(body)
        except smtplib.SMTPDataError as e:
            s.rset()
            return MailResult(e.smtp_code, _s(e.smtp_error), refused)
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            pass
        return MailResult(code, _s(msg), refused)
    finally:
        s.close()


class Reply:
    """One SMTP reply: .code (int), .lines (raw lines, no CRLF), .text (the
    text after the codes, '\\n'-joined)."""

    def __init__(self, lines):
        self.lines = lines
        self.code = int(lines[-1][:3])
        self.text = '\n'.join(l[4:] for l in lines)

    def __str__(self):
        return '\n'.join(self.lines)

    def __repr__(self):
        return 'Reply(%r)' % self.lines


class RawSession:
    """A plain socket to an SMTP server, for dialogues that smtplib would
    not write.  send(bytes|str) sends as is; sendline(s) adds CRLF;
    read_reply() reads one whole (multi-line) reply; expect(regex) does
    that and checks that its first line matches regex (re.match: '250',
    r'5\\d\\d', r'250 2\\.1\\.0'), raising HarnessError otherwise."""

    def __init__(self, port, host='127.0.0.1', timeout=10, source=None):
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=scale(timeout),
                                             source_address=(source, 0) if source else None)
        self.buf = b''
        self.eof = False
        _sessions.append(self)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode('utf-8')
        self.sock.sendall(data)

    def sendline(self, line):
        self.send((line.encode('utf-8') if isinstance(line, str) else line) + b'\r\n')

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise Timeout('no complete reply within %gs; have %r' % (self.timeout, self.buf))
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise Timeout('no complete reply within %gs; have %r' % (self.timeout, self.buf)) from None
        except ConnectionResetError:
            data = b''
        if not data:
            self.eof = True
        self.buf += data
        return bool(data)

    def read_reply(self, timeout=None):
        deadline = time.monotonic() + scale(timeout or self.timeout)
        lines = []
        while True:
            nl = self.buf.find(b'\n')
            if nl < 0:
                if self.eof or not self._fill(deadline):
                    raise HarnessError('connection closed; partial reply %r %r' % (lines, self.buf))
                continue
            raw, self.buf = self.buf[:nl], self.buf[nl + 1:]
            line = _s(raw.rstrip(b'\r'))
            lines.append(line)
            if not re.match(r'\d{3}-', line):
                return Reply(lines)

    def expect(self, code_regex, timeout=None):
        r = self.read_reply(timeout)
        if not re.match(code_regex, r.lines[0]):
            raise HarnessError('expected reply /%s/, got: %s' % (code_regex, r))
        return r

    def wait_closed(self, timeout=5):
        """True once the server has closed the connection (data read on
        the way is discarded), False if it is still open at the deadline."""
        deadline = time.monotonic() + scale(timeout)
        try:
            while not self.eof:
                self.buf = b''
                self._fill(deadline)
        except Timeout:
            return False
        except OSError:
            return True
        return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def raw_session(port, host='127.0.0.1', timeout=10, source=None):
    """source: the client's own address (127.0.0.x), for HAT tests."""
    return RawSession(port, host, timeout, source)
