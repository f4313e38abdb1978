#!/usr/bin/env python3
# inbound_rescon_queue - resource conservation also watches the LMDB
# queue itself, which can fill before the disk: qmgr tells smtpd how full
# the queue is, and past queue_halt new mail gets 452 4.3.1 at MAIL FROM,
# before the map is actually full.
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *

sc = scratch()
meminfo = sc.write('meminfo', 'MemTotal:       1000000 kB\nMemFree:        1 kB\n'
                              'MemAvailable:    900000 kB\n')
sink = Sink(scratch_dir=sc)
port = free_port()


def config(qstart, qhalt):
    return base_config(port, sink.port, scratch_dir=sc,
                       queue='{ map_size: 2M, body_file_threshold: 1M }',
                       resource_conservation='{ memory_start: 45, memory_halt: 60, '
                                             'queue_start: %d, queue_halt: %d, '
                                             'max_delay: 1s, meminfo: %s }' % (qstart, qhalt, meminfo))


# smtpd also watches the spool's file system: the thresholds must sit
# above what the disk already uses, and below what the map will use.
st = os.statvfs(sc.path)
used = st.f_blocks - st.f_bfree
fs_pct = used * 100 // (used + st.f_bavail)
if fs_pct >= 60:
    skip_all('the disk is already %d%% full: no room for queue thresholds below it' % fs_pct)
qstart, qhalt = fs_pct + 2, 70

gw = Gateway(sc, config(99, 100))
gw.start()


def gauge():
    j = gw.sallyctl('status', json=True)
    for r in j['records']:
        if r.get('section') == 'gauge' and r.get('name') == 'Resource Conservation':
            return int(r['current'])
    return None


gw.sallyctl('suspenddel', '0')
body = b'Subject: fill\r\n\r\n' + (b'q' * 76 + b'\r\n') * 1200      # ~94 KB each
for i in range(16):
    r = send_mail(port, 'a@client.test', ['f%d@dest.example' % i], body)
    is_(r.code, 250, 'message %d accepted while the thresholds are high' % i)
is_(gauge(), 0, 'gauge 0 with thresholds at 99/100%')

# About three quarters of the 2 MiB map is used now: lower the
# thresholds below that.
gw.write_config(config(qstart, qhalt))
rc, out, err = gw.sallyctl('commit')
is_(rc, 0, 'new thresholds committed')
wait_until(lambda: gauge() == 999, 15, 'the gauge reaching 999 from the queue alone')
ok(True, 'queue past queue_halt: resource conservation mode (999)')
like(gw.log('smtpd'), r'resource conservation: .*queue \d+%', 'entry logged with the queue figure')
r = send_mail(port, 'a@client.test', ['late@dest.example'], b'Subject: late\r\n\r\nx\r\n')
is_(r.code, 452, 'new mail refused with 452 while the queue is too full')
like(r.text, r'4\.3\.1', 'with 4.3.1')

# Delivering empties the queue; the mode ends.
gw.sallyctl('resumedel')
sink.wait_messages(16, timeout=30)
wait_until(lambda: gauge() == 0, 20, 'the gauge back to 0 once the queue drained')
r = send_mail(port, 'a@client.test', ['again@dest.example'], b'Subject: again\r\n\r\nx\r\n')
is_(r.code, 250, 'mail accepted again')
is_(gw.stop(), 0, 'gateway stops cleanly')
done()
