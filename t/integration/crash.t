#!/usr/bin/env python3
# crash - kill -9 of qmgr, smtpd and deliver while clients are sending:
# master restarts each, and every message that got its 250 is delivered
# (duplicates are tolerated, losses are not).
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *

sc = scratch()
sink = Sink(scratch_dir=sc)
port = free_port()
gw = Gateway(sc, base_config(port, sink.port, scratch_dir=sc))
gw.start()

acked = set()
lock = threading.Lock()
stop = threading.Event()
errors = []

def sender(t):
    n = 0
    while not stop.is_set():
        n += 1
        mid = '%d.%d@load.test' % (t, n)
        body = ('Subject: load %s\r\nMessage-ID: <%s>\r\n\r\n' % (mid, mid) + 'line\r\n' * 50).encode()
        try:
            r = send_mail(port, 'load@client.test', ['user%d@dest.example' % t], body, timeout=20)
            if r.code == 250:
                with lock:
                    acked.add(mid)
        except Exception as e:  # refused/reset while a daemon restarts
            errors.append(str(e))
            stop.wait(0.05)

threads = [threading.Thread(target=sender, args=(t,), daemon=True) for t in range(4)]
for t in threads:
    t.start()

def acked_count():
    with lock:
        return len(acked)

for victim in ('qmgr', 'smtpd', 'deliver'):
    base = acked_count()
    wait_until(lambda: acked_count() >= base + 20, 60, 'traffic flowing before killing %s' % victim)
    old = gw.kill_child(victim)
    wait_until(lambda: gw.child_pids(victim) and old not in gw.child_pids(victim), 20,
               'master restarting %s' % victim)
    ok(True, '%s (pid %d) killed with SIGKILL and restarted' % (victim, old))
    base = acked_count()
    wait_until(lambda: acked_count() >= base + 10, 60, 'mail accepted again after %s restart' % victim)

stop.set()
for t in threads:
    t.join(60)
like(gw.log('sallyportd'), r'qmgr 0 \(pid \d+\) killed by signal 9', 'master logs why qmgr died')
like(gw.log('sallyportd'), r'smtpd 0 \(pid \d+\) killed by signal 9', 'master logs why smtpd died')
like(gw.log('sallyportd'), r'deliver 0 \(pid \d+\) killed by signal 9', 'master logs why deliver died')

def delivered_ids():
    ids = set()
    for _, data in sink.messages():
        m = re.search(rb'Message-ID: <([^>]+)>', data)
        if m:
            ids.add(m.group(1).decode())
    return ids

with lock:
    want = set(acked)
note('%d messages acknowledged, %d client errors during restarts' % (len(want), len(errors)))
try:
    wait_until(lambda: want <= delivered_ids(), 90, 'every acknowledged message delivered')
except Timeout:
    pass
missing = want - delivered_ids()
ok(not missing, 'no acknowledged message lost (%d acknowledged, %d missing)' % (len(want), len(missing)),
   diag='missing: %s' % sorted(missing)[:10])
is_(gw.stop(), 0, 'gateway stops cleanly')
done()
