#!/usr/bin/env python3
# monitor_shell - sallyctl with no command is an interactive shell on a
# terminal: the "<hostname>> " prompt, commands with their arguments,
# --json per line, help, history (the up arrow repeats a command, through
# libedit), tab completion of command names, the spec's prompts for a
# missing argument, and quit.
import os
import pty
import re
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *

sc = scratch()
sink = Sink(scratch_dir=sc)
port = free_port()
gw = Gateway(sc, base_config(port, sink.port, scratch_dir=sc))
gw.start()

master_fd, slave_fd = pty.openpty()
p = subprocess.Popen([tool('sallyctl'), '-c', gw.cfg], stdin=slave_fd, stdout=slave_fd,
                     stderr=slave_fd, close_fds=True, env=dict(os.environ, TERM='vt100'))
os.close(slave_fd)
buf = b''


def expect(regex, what, timeout=10):
    """Reads the terminal until regex matches what came since the last
    expect; returns that text."""
    global buf
    deadline = time.monotonic() + scale(timeout)
    while True:
        m = re.search(regex.encode(), buf)
        if m:
            text = buf[:m.end()].decode('utf-8', 'replace')
            buf = buf[m.end():]
            return text
        left = deadline - time.monotonic()
        if left <= 0:
            raise Timeout('waiting for %s; terminal shows %r' % (what, buf[-500:]))
        r, _, _ = select.select([master_fd], [], [], left)
        if r:
            try:
                chunk = os.read(master_fd, 4096)
            except OSError:
                chunk = b''
            if not chunk:
                raise Timeout('terminal closed waiting for %s; it showed %r' % (what, buf[-500:]))
            buf += chunk


def send(line):
    os.write(master_fd, line.encode())


expect(r'test\.example> ', 'the first prompt')
ok(True, 'the prompt is "<hostname>> "')
send('status\r')
out = expect(r'Kilobytes Free +[\d,]+\r?\n.*test\.example> ', 'status output', timeout=20)
like(out, r'Counters: +Reset +Uptime +Lifetime', 'status runs in the shell')
send('--json status detail\r')
out = expect(r'\}\r?\n.*test\.example> ', 'JSON', timeout=20)
like(out, r'"counters": \{"Messages Received"', '--json works per line')
send('version\r')
out = expect(r'test\.example> ', 'version')
like(out, r'Sallyport \d+\.\d+\.\d+', 'version')
send('\x1b[A\r')                       # up arrow: the last command again
out = expect(r'test\.example> ', 'history')
like(out, r'Sallyport \d+\.\d+\.\d+', 'the up arrow recalls the last command (history)')
send('versi\t\r')                    # tab completes the command name
out = expect(r'test\.example> ', 'completion')
like(out, r'Sallyport \d+\.\d+\.\d+', 'tab completes "versi" to "version"')
send('help\r')
out = expect(r'test\.example> ', 'help')
like(out, r'deleterecipients', 'help lists the commands')
send('hoststatus\r')
expect(r'Recipient host:\r?\n\[\]> ', 'the hoststatus prompt as in the spec')
ok(True, 'hoststatus without an argument asks "Recipient host:" with "[]>"')
send('dest.example\r')
out = expect(r'Pending Outbound Connections +\d+\r?\n(.|\r|\n)*?test\.example> ', 'hoststatus output')
like(out, r"Host mail status for: 'dest\.example'", 'and answers for the host given')
send('deleterecipients\r')
expect(r'\[1\]> ', 'the selection menu')
send('3\r')
expect(r'\(all active recipients\)\?\r?\n\[N\]> ', 'the confirmation')
send('\r')
out = expect(r'test\.example> ', 'the prompt after No')
unlike(out, r'deleted', 'Enter at a confirmation means No')
send('suspendlistener\r')
out = expect(r'\[1\]> ', 'the listener menu')
like(out, r'Choose the listener\(s\) you wish to suspend\.\r?\nSeparate multiple entries with commas\.\r?\n'
          r'1\. All\r?\n2\. Outbound\r?\n', 'suspendlistener menu as in the spec')
send('2\r')
expect(r'\[30\]> ', 'the drain delay prompt')
send('\r')
out = expect(r'test\.example> ', 'suspended')
like(out, r'Waiting for listeners to exit\.\.\.\r?\nReceiving suspended\.', 'suspendlistener as in the spec')
send('resumelistener\r')
expect(r'\[1\]> ', 'the listener menu')
send('1\r')
out = expect(r'test\.example> ', 'resumed')
like(out, r'Receiving resumed\.', 'resumelistener All')
send('nosuchcommand\r')
out = expect(r'test\.example> ', 'error')
like(out, r"unknown command 'nosuchcommand'", 'an unknown command is reported and the shell goes on')
send('quit\r')
p.wait(timeout=10)
is_(p.returncode is not None, True, 'quit leaves the shell')
os.close(master_fd)
is_(gw.stop(), 0, 'gateway stops cleanly')
done()
