#!/usr/bin/env python3
# destinations - the per-destination concurrency limit of `destinations`:
# with a backlog of 40 messages for one domain released at once, the sink
# never sees more connections than max_conns allows, and every message is
# delivered (several per connection: deliver reuses them).
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *

sc = scratch()
sink = Sink(scratch_dir=sc)
port = free_port()
gw = Gateway(sc, base_config(port, sink.port, scratch_dir=sc,
             destinations='  default: { max_conns: 2 }\n',
             processes='{ smtpd: 1, deliver: 2 }'))
gw.start()
gw.sallyctl('suspenddel')
p = subprocess.run([tool('smtpload'), '-H', '127.0.0.1', '-p', str(port), '-n', '8', '-m', '5',
                    '-s', '2048', '-t', 'bulk@dest.example'], capture_output=True, text=True, timeout=120)
is_(p.returncode, 0, 'smtpload queued 40 messages', )
rc, out, err = gw.sallyctl('status')
like(out, r'\n    Active Recipients +40\n', '40 recipients waiting for one destination')
gw.sallyctl('resumedel')
sink.wait_messages(40, timeout=60)
ok(True, 'all 40 delivered')
is_(gw.stop(), 0, 'gateway stops')
sink.stop()
ok(sink.peak_sessions is not None and 1 <= sink.peak_sessions <= 2,
   'at most max_conns (2) connections at once to the destination (peak %s)' % sink.peak_sessions)
done()
