#!/usr/bin/env python3
# monitor_topin - `topin` (spec 2.11): one row per (remote IP, listener)
# with its open connections, summed over every smtpd process, sorted by
# connections; the host name column shows the IP when reverse DNS is not
# confirmed; --json carries the same rows.
import os
import re
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *

sc = scratch()
sink = Sink(scratch_dir=sc)
port = free_port()
gw = Gateway(sc, base_config(port, sink.port, scratch_dir=sc, processes='{ smtpd: 2, deliver: 1 }',
                             dns='  timeout: 0s\n'))
gw.start()

def session_from(ip):
    s = socket.create_connection(('127.0.0.1', port), timeout=10, source_address=(ip, 0))
    f = s.makefile('rb')
    line = f.readline()
    ok(line.startswith(b'220 '), 'banner for a client on %s' % ip)
    return s, f

open_sessions = [session_from('127.0.0.2') for _ in range(3)] + [session_from('127.0.0.3')]
rc, out, err = gw.sallyctl('topin')
is_(rc, 0, 'topin exits 0')
like(out, r'^\nStatus as of: {26}\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n', 'Status as of line as in the spec')
like(out, r'\n#   Remote hostname {10}Remote IP addr\.  listener {5}Conn\. In\n', 'column header as in the spec')
rows = re.findall(r'\n(\d+) +(\S+) +(\S+) +(\S+) +(\d+)(?=\n|$)', out)
is_(rows, [('1', '127.0.0.2', '127.0.0.2', 'Outbound', '3'), ('2', '127.0.0.3', '127.0.0.3', 'Outbound', '1')],
    'rows summed over both smtpd processes and sorted by connections')
j = gw.sallyctl('topin', json=True)
peers = [(r['ip'], r['conns']) for r in j['records'] if r.get('section') == 'peer']
is_(peers, [('127.0.0.2', '3'), ('127.0.0.3', '1')], '--json has the same rows')
for s, f in open_sessions:
    s.sendall(b'QUIT\r\n')
    f.readline()
    s.close()
wait_until(lambda: 'Outbound' not in gw.sallyctl('topin')[1], 10, 'no rows once the clients left')
is_(gw.stop(), 0, 'gateway stops cleanly')
done()
