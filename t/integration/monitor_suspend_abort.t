#!/usr/bin/env python3
# monitor_suspend_abort - suspenddel's delay (spec 2.15.5): deliveries
# still running when it ends are closed abruptly; their recipients stay
# queued (one attempt counted) and go out after resumedel.
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *

sc = scratch()
sink = Sink('--stall-first', '1', scratch_dir=sc)   # the first delivery hangs after "."
port = free_port()
gw = Gateway(sc, base_config(port, sink.port, scratch_dir=sc))
gw.start()

r = send_mail(port, 'a@client.test', ['stuck@dest.example'], b'Subject: stuck\r\n\r\nx\r\n')
is_(r.code, 250, 'message accepted')
gw.wait_log('deliver', r'Delivery start DCID \d+ MID \d+ to RID \[0\]', timeout=20)
rc, out, err = gw.sallyctl('suspenddel', '1')
is_(rc, 0, 'suspenddel with a 1 second delay exits 0')
is_(out, 'Waiting for outgoing deliveries to finish...\nMail delivery suspended.\n',
    'prints what the spec shows')
gw.wait_log('deliver', r'delivery suspended for all domains: 1 delivery\(ies\) interrupted', timeout=10)
gw.wait_log('qmgr', r'<stuck@dest\.example> deferred \(attempt 1\).*delivery interrupted', timeout=10)
ok(True, 'the hanging delivery was cut off at the end of the delay and deferred')
rc, out, err = gw.sallyctl('showrecipients')
like(out, r'\[0\] +\[1\] +stuck@dest\.example', 'the recipient is still queued, one attempt counted')
is_(sink.count(), 0, 'nothing reached the sink yet')
gw.sallyctl('resumedel')
gw.sallyctl('delivernow')
sink.wait_messages(1, timeout=20)
ok(True, 'delivered after resumedel')
is_(gw.stop(), 0, 'gateway stops cleanly')
done()
