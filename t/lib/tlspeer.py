#!/usr/bin/env python3
"""tlspeer - a STARTTLS SMTP server ("TLS sink") for TLS integration tests.

What it is for: the delivery peer of a test about outbound TLS (or any
SMTP client's TLS): it accepts mail in clear or after STARTTLS, records
for every message how it arrived (TLS version, cipher, client
certificate) and for every connection what the client tried (STARTTLS,
handshake, QUIT), and it can misbehave on request so that a test sees
how the client copes.  One thread per connection, stdlib `ssl`.

    from tlspeer import TlsSink
    with TlsSink(scratch(), cert=mx.chain, key=mx.key) as peer:
        ... deliver to peer.port ...
        msg = peer.wait_messages(1)[0]      # msg['tls'], msg['version'], ...

API
  TlsSink(scratch_dir=None, cert=None, key=None, mode='normal', port=0,
          require_client_cert=None, name='tlssink', context_setup=None)
      scratch_dir: a sallyport.Scratch or a path (default: scratch());
      the session log goes to <scratch>/<name>.log and every message to
      <scratch>/<name>/<seq>.eml plus <seq>.json (what messages() holds,
      without the data).  cert (a PEM file: the leaf, then its issuers,
      e.g. testpki's .chain) and key enable STARTTLS.  port=0: the OS
      picks one.  require_client_cert=CAFILE: the handshake requests a
      client certificate and fails unless one verifies against CAFILE.
      context_setup: called with the server SSLContext before use (to pin
      versions or ciphers).
  .start() -> self (listening when it returns), .stop() (closes the
      listener and every connection, joins every thread), .alive();
      `with TlsSink(...) as peer:` starts and stops it.
  .port, .addr ('127.0.0.1:PORT')
  .messages() -> [dict] in arrival order: mail_from, rcpts, data (bytes,
      dot-unstuffed), tls (bool), version, cipher (None in clear),
      client_cert (subject 'CN=...' or None), helo, seq, conn.
  .wait_messages(n, timeout=20) -> messages() once there are n; Timeout.
  .events() -> [dict], one per connection in accept order: conn, peer,
      starttls_seen, handshake_ok (None: not tried), handshake_error,
      tls, version, cipher, client_cert, helo, commands (verbs, in
      order), messages (count), quit, closed.
  .wait_event(pred, timeout=20) -> the first event for which pred(event)
      is true; Timeout listing the events otherwise.

Modes
  normal           EHLO offers PIPELINING, 8BITMIME, SIZE,
                   ENHANCEDSTATUSCODES and (with a cert, before TLS)
                   STARTTLS.  STARTTLS -> 220, handshake, then the client
                   must EHLO again.  Messages get "250 2.0.0 Ok: queued as N".
  no-starttls      never offers STARTTLS; it gets 502 5.5.1.
  starttls-refuse  offers STARTTLS, answers it 454 4.7.0; mail in clear works.
  handshake-fail   offers STARTTLS, answers 220, reads the ClientHello,
                   writes bytes that are not TLS and closes.
  no-ehlo          EHLO gets 502 5.5.2; HELO works (no ESMTP, no STARTTLS).

As a script:
    tlspeer.py [--port P] [--cert C --key K] [--mode M]
               [--require-client-cert CAFILE] [--dir D] [--name N]
  serves until SIGTERM or SIGINT (exit 0), after printing
  "listening on PORT" on stdout.  Messages are stored under D (default: a
  new temporary directory, named on stderr).

What it is not for: a model MTA.  No AUTH, no SMTPUTF8, no per-recipient
failures (build/smtpsink does those, without TLS); no IPv6; it trusts the
test that drives it and keeps everything in memory.
"""

import argparse
import json
import os
import select
import shutil
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sallyport import HarnessError, Timeout, scratch, wait_until  # noqa: E402

__all__ = ['TlsSink', 'MODES']

MODES = ('normal', 'no-starttls', 'starttls-refuse', 'handshake-fail', 'no-ehlo')

READ_TIMEOUT = 30           # seconds, for every read from a client
MAX_LINE = 4096             # a command line longer than this gets 500
MAX_MESSAGE = 64 << 20      # SIZE we advertise; a longer message gets 552
MAX_COMMANDS_KEPT = 1000    # verbs kept per connection in events()
NOT_TLS = b'\x00\x01this is not TLS, sorry\r\n' * 4

_SHORT_NAMES = {'commonName': 'CN', 'organizationName': 'O', 'organizationalUnitName': 'OU',
                'countryName': 'C', 'localityName': 'L', 'stateOrProvinceName': 'ST',
                'emailAddress': 'emailAddress', 'domainComponent': 'DC'}


class PeerClosed(Exception):
    """The client closed the connection, or a read timed out."""


def subject_string(peercert):
    """'CN=x' (RDNs in certificate order, comma-separated) from the dict
    SSLSocket.getpeercert() returns, or None."""
    if not peercert or not peercert.get('subject'):
        return None
    parts = []
    for rdn in peercert['subject']:
        parts.append('+'.join('%s=%s' % (_SHORT_NAMES.get(k, k), v) for k, v in rdn))
    return ','.join(parts)


class _Reader:
    """Buffered reads from a (possibly TLS) socket, bounded, with the
    socket's read timeout.  discard() forgets buffered input: after
    STARTTLS, anything the client sent in clear must not be read as if it
    came over TLS (RFC 3207, section 4.2)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b''

    def _fill(self):
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise PeerClosed('no input for %ds' % READ_TIMEOUT) from None
        except (OSError, ssl.SSLError) as e:
            raise PeerClosed('read failed: %s' % e) from None
        if not data:
            raise PeerClosed('client closed the connection')
        self.buf += data

    def discard(self):
        dropped, self.buf = self.buf, b''
        return dropped

    def readline(self):
        """(line without CR LF, too_long).  A bare LF ends a line too."""
        while True:
            nl = self.buf.find(b'\n')
            if nl >= 0:
                line, self.buf = self.buf[:nl], self.buf[nl + 1:]
                return line.rstrip(b'\r'), False
            if len(self.buf) > MAX_LINE:
                self._skip_line()
                return b'', True
            self._fill()

    def _skip_line(self):
        while True:
            nl = self.buf.find(b'\n')
            if nl >= 0:
                self.buf = self.buf[nl + 1:]
                return
            self.buf = b''
            self._fill()

    def read_data(self):
        """The message after DATA up to CRLF.CRLF, dot-unstuffed, or None
        when it was longer than MAX_MESSAGE (it is read and dropped)."""
        # The CRLF that ended the DATA command counts as the start of the
        # first line, so an empty message is just ".\r\n".
        data = bytearray(b'\r\n')
        scan = 0
        dropped = 0
        while True:
            data += self.buf
            self.buf = b''
            end = data.find(b'\r\n.\r\n', scan)
            if end >= 0:
                self.buf = bytes(data[end + 5:])
                if dropped or end > MAX_MESSAGE:
                    return None
                body = bytes(data[:end + 2]).replace(b'\r\n.', b'\r\n')
                return body[2:]
            if len(data) > MAX_MESSAGE:
                dropped += len(data) - 4
                del data[:-4]
            scan = max(0, len(data) - 4)
            self._fill()


class _Session:
    """One client connection: the SMTP dialogue of TlsSink's mode."""

    def __init__(self, sink, conn_id, sock, peer):
        self.sink = sink
        self.id = conn_id
        self.sock = sock
        self.reader = _Reader(sock)
        self.ev = sink._new_event(conn_id, peer)
        self.helo = None
        self.esmtp = False
        self.tls = None         # (version, cipher, client subject) once TLS is up
        self.reset()

    # --- plumbing -----------------------------------------------------

    def reset(self):
        self.mail_from = None
        self.rcpts = []

    def update(self, **kw):
        self.sink._update_event(self.id, **kw)

    def reply(self, text):
        self.sink._log(self.id, '> ' + text.replace('\r\n', ' | '))
        try:
            self.sock.sendall(text.encode('utf-8') + b'\r\n')
        except (OSError, ssl.SSLError) as e:
            raise PeerClosed('write failed: %s' % e) from None

    def run(self):
        try:
            self.reply('220 %s ESMTP tlspeer (%s)' % (self.sink.name, self.sink.mode))
            while self.command():
                pass
        except PeerClosed as e:
            self.sink._log(self.id, '- %s' % e)
        except Exception as e:  # a bug here must show, not kill the thread silently
            self.sink._log(self.id, '! %s: %s' % (type(e).__name__, e))
        finally:
            self.close()

    def close(self):
        if isinstance(self.sock, ssl.SSLSocket):
            # close_notify first, as a real MTA does: without it a strict
            # client reports a truncated session.
            try:
                self.sock.settimeout(2)
                self.sock.unwrap()
            except (OSError, ssl.SSLError, ValueError):
                pass
        try:
            self.sock.close()
        except OSError:
            pass
        self.update(closed=True)
        self.sink._log(self.id, '- closed')

    # --- commands -----------------------------------------------------

    def command(self):
        """Reads and answers one command; False when the session is over."""
        raw, too_long = self.reader.readline()
        if too_long:
            self.reply('500 5.5.2 Error: line too long')
            return True
        line = raw.decode('utf-8', 'replace')
        self.sink._log(self.id, '< ' + line)
        verb, _, arg = line.partition(' ')
        verb = verb.upper()
        self.sink._add_command(self.id, verb)
        handler = getattr(self, 'cmd_' + verb.lower(), None) if verb.isalpha() else None
        if handler is None:
            self.reply('500 5.5.2 Error: command not recognized')
            return True
        return handler(arg.strip()) is not False

    def cmd_ehlo(self, arg):
        if self.sink.mode == 'no-ehlo':
            self.reply('502 5.5.2 EHLO not supported')
            return
        if not arg:
            self.reply('501 5.5.4 Syntax: EHLO hostname')
            return
        self.greeted(arg, esmtp=True)
        lines = [self.sink.name, 'PIPELINING', '8BITMIME', 'SIZE %d' % MAX_MESSAGE,
                 'ENHANCEDSTATUSCODES']
        if self.offers_starttls():
            lines.append('STARTTLS')
        self.reply('\r\n'.join('250-' + l for l in lines[:-1]) + '\r\n250 ' + lines[-1])

    def cmd_helo(self, arg):
        if not arg:
            self.reply('501 5.5.4 Syntax: HELO hostname')
            return
        self.greeted(arg, esmtp=False)
        self.reply('250 %s' % self.sink.name)

    def greeted(self, name, esmtp):
        self.helo = name
        self.esmtp = esmtp
        self.reset()
        self.update(helo=name)

    def offers_starttls(self):
        return (self.sink.context is not None and self.tls is None
                and self.sink.mode in ('normal', 'starttls-refuse', 'handshake-fail'))

    def cmd_starttls(self, arg):
        self.update(starttls_seen=True)
        if arg:
            self.reply('501 5.5.4 Syntax: STARTTLS')
        elif self.tls is not None:
            self.reply('503 5.5.1 Error: TLS already active')
        elif not self.offers_starttls():
            self.reply('502 5.5.1 not implemented')
        elif self.sink.mode == 'starttls-refuse':
            self.reply('454 4.7.0 TLS not available due to temporary reason')
        elif self.sink.mode == 'handshake-fail':
            self.reply('220 2.0.0 Ready to start TLS')
            self.fail_handshake()
            return False
        else:
            self.reply('220 2.0.0 Ready to start TLS')
            return self.handshake()

    def handshake(self):
        """Wraps the socket; on success the client starts over with EHLO."""
        dropped = self.reader.discard()
        if dropped:
            self.sink._log(self.id, '- discarded %d bytes sent in clear after STARTTLS' % len(dropped))
        self.update(handshake_ok=None)
        try:
            tls = self.sink.context.wrap_socket(self.sock, server_side=True,
                                                do_handshake_on_connect=False)
            self.sock = tls
            self.sink._replace_socket(self.id, tls)
            if self.sink._stopping:     # stop() may have missed the new socket
                raise OSError('TlsSink stopping')
            tls.do_handshake()
        except (OSError, ssl.SSLError, ValueError) as e:
            err = 'timed out' if isinstance(e, socket.timeout) else str(e)
            self.update(handshake_ok=False, handshake_error=err)
            self.sink._log(self.id, '- TLS handshake failed: %s' % err)
            return False
        self.reader = _Reader(tls)
        self.tls = (tls.version(), tls.cipher()[0], subject_string(tls.getpeercert()))
        self.update(handshake_ok=True, tls=True, version=self.tls[0], cipher=self.tls[1],
                    client_cert=self.tls[2])
        self.sink._log(self.id, '- TLS %s %s client %s' % self.tls)
        self.helo = None
        self.esmtp = False
        self.reset()
        return True

    def fail_handshake(self):
        """handshake-fail mode: wait for the ClientHello, answer with bytes
        that are not TLS, close.  Reading first means the client gets our
        garbage rather than a reset for unread data."""
        try:
            self.sock.recv(16384)
            self.sock.sendall(NOT_TLS)
            self.sock.shutdown(socket.SHUT_WR)
            self.sock.settimeout(2)
            while self.sock.recv(16384):
                pass
        except OSError:
            pass
        self.update(handshake_ok=False, handshake_error='handshake-fail mode: sent bytes that are not TLS')

    def cmd_mail(self, arg):
        if self.helo is None:
            self.reply('503 5.5.1 Error: send HELO/EHLO first')
            return
        if self.mail_from is not None:
            self.reply('503 5.5.1 Error: nested MAIL command')
            return
        addr = _path_arg(arg, 'FROM:')
        if addr is None:
            self.reply('501 5.5.4 Syntax: MAIL FROM:<address>')
            return
        self.mail_from = addr
        self.reply('250 2.1.0 Ok')

    def cmd_rcpt(self, arg):
        if self.mail_from is None:
            self.reply('503 5.5.1 Error: need MAIL command')
            return
        addr = _path_arg(arg, 'TO:')
        if not addr:
            self.reply('501 5.5.4 Syntax: RCPT TO:<address>')
            return
        self.rcpts.append(addr)
        self.reply('250 2.1.5 Ok')

    def cmd_data(self, arg):
        if not self.rcpts:
            self.reply('503 5.5.1 Error: need RCPT command')
            return
        self.reply('354 End data with <CR><LF>.<CR><LF>')
        data = self.reader.read_data()
        if data is None:
            self.reply('552 5.3.4 Error: message too big')
        else:
            seq = self.sink._store(self.id, {
                'mail_from': self.mail_from, 'rcpts': list(self.rcpts), 'data': data,
                'tls': self.tls is not None,
                'version': self.tls[0] if self.tls else None,
                'cipher': self.tls[1] if self.tls else None,
                'client_cert': self.tls[2] if self.tls else None,
                'helo': self.helo})
            self.reply('250 2.0.0 Ok: queued as %d' % seq)
        self.reset()

    def cmd_rset(self, arg):
        self.reset()
        self.reply('250 2.0.0 Ok')

    def cmd_noop(self, arg):
        self.reply('250 2.0.0 Ok')

    def cmd_quit(self, arg):
        self.update(quit=True)
        self.reply('221 2.0.0 Bye')
        return False


def _path_arg(arg, keyword):
    """The address in 'FROM:<a@b> PARAMS' (keyword 'FROM:'), or None."""
    if arg[:len(keyword)].upper() != keyword:
        return None
    rest = arg[len(keyword):].strip()
    if not rest.startswith('<') or '>' not in rest:
        return None
    return rest[1:rest.index('>')]


class TlsSink:
    """A STARTTLS SMTP server on 127.0.0.1; see the module docstring."""

    def __init__(self, scratch_dir=None, cert=None, key=None, mode='normal', port=0,
                 require_client_cert=None, name='tlssink', context_setup=None):
        if mode not in MODES:
            raise HarnessError('TlsSink mode %r: not one of %s' % (mode, ', '.join(MODES)))
        if (cert is None) != (key is None):
            raise HarnessError('TlsSink: give both cert and key, or neither')
        if require_client_cert and cert is None:
            raise HarnessError('TlsSink: require_client_cert needs a server cert and key')
        if mode in ('starttls-refuse', 'handshake-fail') and cert is None:
            raise HarnessError('TlsSink mode %s offers STARTTLS: it needs cert and key' % mode)
        base = os.fspath(scratch_dir if scratch_dir is not None else scratch())
        self.name = name
        self.mode = mode
        self.port = port or None
        self.dir = os.path.join(base, name)
        self.logfile = os.path.join(base, name + '.log')
        os.makedirs(self.dir, exist_ok=True)
        self.context = _server_context(cert, key, require_client_cert, context_setup) if cert else None
        self._lock = threading.Lock()
        self._messages = []
        self._events = []
        self._socks = {}        # conn id -> live socket, for stop()
        self._threads = []
        self._listener = None
        self._wake_r = self._wake_w = None
        self._acceptor = None
        self._stopping = False

    @property
    def addr(self):
        return '127.0.0.1:%d' % self.port

    def alive(self):
        return self._acceptor is not None and self._acceptor.is_alive()

    def __enter__(self):
        if not self.alive():
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # --- life cycle -----------------------------------------------------

    def start(self):
        """Listens (on the same port again after a stop()); returns self."""
        if self.alive():
            raise HarnessError('TlsSink %s already running on port %d' % (self.name, self.port))
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            ls.bind(('127.0.0.1', self.port or 0))
        except OSError as e:
            ls.close()
            raise HarnessError('TlsSink %s: cannot listen on 127.0.0.1:%s: %s' % (
                self.name, self.port or 0, e)) from None
        ls.listen(64)
        self._listener = ls
        self.port = ls.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping = False
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True,
                                          name='%s-accept' % self.name)
        self._acceptor.start()
        self._log(0, '- listening on %s, mode %s, TLS %s' % (
            self.addr, self.mode, 'on' if self.context else 'off'))
        return self

    def stop(self, timeout=10):
        """Closes the listener and every connection; joins the threads.
        HarnessError if a thread would not end (it is a daemon thread, so it
        cannot keep the test alive)."""
        if self._acceptor is None:
            return
        self._stopping = True
        try:
            self._wake_w.send(b'x')
        except OSError:
            pass
        self._acceptor.join(timeout)
        with self._lock:
            socks = list(self._socks.values())
        for s in socks:
            # socket.socket.shutdown, not SSLSocket's: it only wakes the
            # reader, without pulling the TLS state from under its feet.
            try:
                socket.socket.shutdown(s, socket.SHUT_RDWR)
            except OSError:
                pass
        stuck = []
        deadline = time.monotonic() + timeout
        for t in self._threads + [self._acceptor]:
            t.join(max(0.0, deadline - time.monotonic()))
            if t.is_alive():
                stuck.append(t.name)
        for s in (self._listener, self._wake_r, self._wake_w):
            s.close()
        self._acceptor = None
        self._threads = []
        self._log(0, '- stopped')
        if stuck:
            raise HarnessError('TlsSink %s: threads did not end within %ss: %s' % (
                self.name, timeout, ', '.join(stuck)))

    def _accept_loop(self):
        n = 0
        while not self._stopping:
            try:
                ready, _, _ = select.select([self._listener, self._wake_r], [], [])
            except (OSError, ValueError):
                return
            if self._wake_r in ready or self._stopping:
                return
            try:
                sock, peer = self._listener.accept()
            except OSError:
                continue
            sock.settimeout(READ_TIMEOUT)
            with self._lock:
                n = len(self._events) + 1
                self._socks[n] = sock
            session = _Session(self, n, sock, '%s:%d' % peer)
            t = threading.Thread(target=self._serve, args=(session,), daemon=True,
                                 name='%s-conn%d' % (self.name, n))
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
            t.start()

    def _serve(self, session):
        try:
            session.run()
        finally:
            with self._lock:
                self._socks.pop(session.id, None)

    # --- the record -----------------------------------------------------

    def _new_event(self, conn_id, peer):
        ev = {'conn': conn_id, 'peer': peer, 'starttls_seen': False, 'handshake_ok': None,
              'handshake_error': None, 'tls': False, 'version': None, 'cipher': None,
              'client_cert': None, 'helo': None, 'commands': [], 'messages': 0,
              'quit': False, 'closed': False}
        with self._lock:
            self._events.append(ev)
        return ev

    def _update_event(self, conn_id, **kw):
        with self._lock:
            self._events[conn_id - 1].update(kw)

    def _add_command(self, conn_id, verb):
        with self._lock:
            cmds = self._events[conn_id - 1]['commands']
            if len(cmds) < MAX_COMMANDS_KEPT:
                cmds.append(verb[:20])

    def _replace_socket(self, conn_id, sock):
        with self._lock:
            if conn_id in self._socks:
                self._socks[conn_id] = sock

    def _store(self, conn_id, msg):
        """Records a message (memory and files); its seq number."""
        with self._lock:
            seq = len(self._messages) + 1
            msg = dict(msg, seq=seq, conn=conn_id)
            self._messages.append(msg)
            self._events[conn_id - 1]['messages'] += 1
        meta = dict(msg, data_bytes=len(msg['data']))
        del meta['data']
        _write_atomic(os.path.join(self.dir, '%d.eml' % seq), msg['data'])
        _write_atomic(os.path.join(self.dir, '%d.json' % seq),
                      (json.dumps(meta, indent=1, sort_keys=True) + '\n').encode())
        self._log(conn_id, '- stored message %d (%d bytes, %s)' % (
            seq, len(msg['data']), msg['version'] or 'clear'))
        return seq

    def _log(self, conn_id, text):
        line = '%s [%d] %s\n' % (time.strftime('%H:%M:%S'), conn_id, text[:500])
        with self._lock:
            with open(self.logfile, 'a', errors='replace') as f:
                f.write(line)

    def messages(self):
        with self._lock:
            return [dict(m, rcpts=list(m['rcpts'])) for m in self._messages]

    def events(self):
        with self._lock:
            return [dict(e, commands=list(e['commands'])) for e in self._events]

    def wait_messages(self, n, timeout=20):
        """Waits until n messages have arrived; returns messages()."""
        wait_until(lambda: len(self._messages) >= n, timeout,
                   lambda: '%d messages at TlsSink %s (have %d); connections: %s' % (
                       n, self.name, len(self._messages), self._describe_events()))
        return self.messages()

    def wait_event(self, pred, timeout=20):
        """Waits until pred(event) is true for a connection's event; returns it."""
        def find():
            for e in self.events():
                if pred(e):
                    return e
            return None
        return wait_until(find, timeout, lambda: 'a matching connection at TlsSink %s; have: %s' % (
            self.name, self._describe_events()))

    def _describe_events(self):
        evs = self.events()
        return '\n  '.join([''] + [repr(e) for e in evs]) if evs else '(none)'


def _server_context(cert, key, client_ca, setup):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(cert, key)
        if client_ca:
            ctx.load_verify_locations(cafile=client_ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as e:
        raise HarnessError('TlsSink: cannot load cert %s / key %s%s: %s' % (
            cert, key, ' / client CA %s' % client_ca if client_ca else '', e)) from None
    if setup is not None:
        setup(ctx)
    return ctx


def _write_atomic(path, data):
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(data)
    os.rename(tmp, path)


# ---------------------------------------------------------------- script

def main(argv=None):
    ap = argparse.ArgumentParser(description='STARTTLS SMTP test server (see the module docstring).')
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--cert')
    ap.add_argument('--key')
    ap.add_argument('--mode', default='normal', choices=MODES)
    ap.add_argument('--require-client-cert', metavar='CAFILE')
    ap.add_argument('--dir', help='where messages and the log go (default: a new temporary directory)')
    ap.add_argument('--name', default='tlssink')
    args = ap.parse_args(argv)
    base = args.dir or tempfile.mkdtemp(prefix='tlspeer-')
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    try:
        sink = TlsSink(base, cert=args.cert, key=args.key, mode=args.mode, port=args.port,
                       require_client_cert=args.require_client_cert, name=args.name).start()
    except HarnessError as e:
        sys.stderr.write('tlspeer: %s\n' % e)
        if args.dir is None:
            shutil.rmtree(base, ignore_errors=True)
        return 2
    if args.dir is None:
        sys.stderr.write('tlspeer: messages and log in %s\n' % base)
    sys.stdout.write('listening on %d\n' % sink.port)
    sys.stdout.flush()
    while not stop.wait(0.5):
        pass
    sink.stop()
    sys.stderr.write('tlspeer: stopped after %d messages\n' % len(sink.messages()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
