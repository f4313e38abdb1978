#!/usr/bin/env python3
# monitor_suspend - suspending delivery to one destination keeps its mail
# queued (also across a restart) while the rest flows, and resumedel
# delivers it; suspend/resume act on receiving and delivery together; and
# rate / hostrate print their rows with the spec's columns and deltas.
import os
import re
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *

sc = scratch()
sink = Sink(scratch_dir=sc)
port = free_port()
gw = Gateway(sc, base_config(port, sink.port, scratch_dir=sc))
gw.start()

rc, out, err = gw.sallyctl('suspenddel', '0', 'hold.example')
like(out, r'Mail delivery suspended\.', 'suspenddel for one domain')
for i in range(2):
    send_mail(port, 'q@client.test', ['h%d@hold.example' % i], b'Subject: held\r\n\r\nx\r\n')
    send_mail(port, 'q@client.test', ['g%d@go.example' % i], b'Subject: goes\r\n\r\nx\r\n')
sink.wait_messages(2, timeout=20)
is_(sorted(r for e, _ in sink.messages() for r in e['rcpts']), ['g0@go.example', 'g1@go.example'],
    'mail to other destinations is delivered')
rc, out, err = gw.sallyctl('hoststatus', 'hold.example')
like(out, r'\n    Active Recipients +2\n', 'the suspended destination keeps its two recipients')
like(out, r'\n    Unattempted Recipients +2\n', 'not even attempted')
rc, out, err = gw.sallyctl('status')
like(out, r'System status: +Online', 'one suspended domain leaves the system online')

is_(gw.stop(), 0, 'gateway stops with mail held')
gw.start()
gw.wait_log('qmgr', r'delivery suspended \(kept across restart\)')
ok(True, 'the suspension survives the restart')
is_(sink.count(), 2, 'still nothing delivered to the suspended destination')
rc, out, err = gw.sallyctl('resumedel', 'hold.example')
like(out, r'Mail delivery resumed\.', 'resumedel for the domain')
sink.wait_messages(4, timeout=20)
is_(sorted(r for e, _ in sink.messages() for r in e['rcpts'] if 'hold' in r), ['h0@hold.example', 'h1@hold.example'],
    'resumedel delivers the held mail')

# rate: the header, then rows with cumulative counts and deltas.
rc, out, err = gw.sallyctl('rate', '1', '3')
is_(rc, 0, 'rate with an interval and a count')
like(out, r'\nTime      Connections  Recipients          Recipients          Queue\n {12}In   Out     Received  Delta    Completed  Delta   K-Used\n',
     'rate header as in the spec')
rows = re.findall(r'^(\d\d:\d\d:\d\d) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+)$', out, re.M)
is_(len(rows), 3, 'three rows')
is_(int(rows[0][3]), 4, 'Recipients Received is the cumulative count (4)')
is_((int(rows[0][4]), int(rows[0][6])), (0, 0), 'the first row has zero deltas')
is_(int(rows[0][5]), 4, 'Recipients Completed (4)')
rc, out, err = gw.sallyctl('hostrate', 'hold.example', '1', '2')
like(out, r'^Hit Ctrl-C.*\n {4}Time {4}Host  CrtCncOut  ActvRcp  ActvRcp  DlvRcp  HrdBncRcp  SftBncEvt\n', 'hostrate header')
rows = re.findall(r'^(\d\d:\d\d:\d\d) +(up|down|unknown) +(\d+) +(\d+) +(-?\d+) +(\d+) +(\d+) +(\d+)$', out, re.M)
is_(len(rows), 2, 'two hostrate rows')
is_(rows[0][1], 'up', 'the destination answered since the restart: up')

# suspend: receiving and delivery; resume: both back.
rc, out, err = gw.sallyctl('suspend', '0')
like(out, r'Receiving suspended\.\n(.|\n)*Mail delivery suspended\.', 'suspend stops receiving and delivery')
rc, out, err = gw.sallyctl('status')
like(out, r'System status: +Offline', 'the system is offline')
rc, out, err = gw.sallyctl('resume')
is_(out, 'Receiving resumed.\nMail delivery resumed.\n', 'resume as in the spec')


def accepts():
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=2) as s:
            s.settimeout(2)
            return s.recv(100).startswith(b'220')
    except OSError:
        return False
wait_until(accepts, 20, 'receiving again after resume')
rc, out, err = gw.sallyctl('status')
like(out, r'System status: +Online', 'online again')
is_(gw.stop(), 0, 'gateway stops cleanly')
done()
