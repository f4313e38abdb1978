#!/usr/bin/env python3
# inbound_rescon - resource conservation: smtpd reads memory use from a
# meminfo file (here a file the test writes in place, instead of
# /proc/meminfo); below memory_start the gauge is 0; between start and
# halt it runs 1-60 (new connections are slowed, mail still accepted);
# at halt it is 999 and MAIL FROM gets 452 4.3.1; back below start it
# is 0 again.  Then the queue side: the spool's file system use against
# queue thresholds lowered by a reload (the disk is surely over 2% full).
# Entry and exit are logged; the gauge is in sallyctl status.
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *

sc = scratch()
meminfo = sc.join('meminfo')


def set_used(pct):
    # In place (same inode): smtpd keeps the file open across its chroot.
    with open(meminfo, 'r+' if os.path.exists(meminfo) else 'w') as f:
        f.seek(0)
        f.write('MemTotal:       1000000 kB\nMemFree:        1 kB\nMemAvailable:   %7d kB\n'
                % (1000000 - pct * 10000))
        f.truncate()


set_used(10)
sink = Sink(scratch_dir=sc)
port = free_port()
def config(qstart, qhalt):
    return base_config(port, sink.port, scratch_dir=sc,
                       resource_conservation='{ memory_start: 45, memory_halt: 60, '
                                             'queue_start: %d, queue_halt: %d, '
                                             'max_delay: 1s, meminfo: %s }' % (qstart, qhalt, meminfo))


gw = Gateway(sc, config(99, 100))
gw.start()


def gauge():
    j = gw.sallyctl('status', json=True)
    for r in j['records']:
        if r.get('section') == 'gauge' and r.get('name') == 'Resource Conservation':
            return int(r['current'])
    return None


is_(gauge(), 0, 'gauge 0 at 10% memory')
r = send_mail(port, 'a@client.test', ['x@dest.example'], 'Subject: 1\r\n\r\nbody\r\n')
is_(r.code, 250, 'mail accepted at 10%')

set_used(50)
wait_until(lambda: gauge() == 20, 10, 'gauge 20 at 50% (45..60 -> 0..60)')
ok(True, 'gauge 20 at 50% memory')
like(gw.log('smtpd'), r'resource conservation: entering \(memory 50%, start 45%, halt 60%',
     'entry logged')
r = send_mail(port, 'a@client.test', ['x@dest.example'], 'Subject: 2\r\n\r\nbody\r\n')
is_(r.code, 250, 'mail still accepted while throttled (the banner waits)')

set_used(70)
wait_until(lambda: gauge() == 999, 10, 'gauge 999 at 70%')
ok(True, 'gauge 999 at 70% memory')
r = send_mail(port, 'a@client.test', ['x@dest.example'], 'Subject: 3\r\n\r\nbody\r\n')
is_(r.code, 452, 'MAIL FROM refused with 452 at the halt threshold')
like(r.text, r'4\.3\.1 Insufficient system resources', 'with 4.3.1 and a reason')
like(gw.log('smtpd'), r'new mail is refused with 452', 'halt logged')

set_used(20)
wait_until(lambda: gauge() == 0, 10, 'gauge back to 0')
ok(True, 'gauge back to 0 at 20%')
like(gw.log('smtpd'), r'resource conservation: leaving \(memory 20%', 'exit logged')
r = send_mail(port, 'a@client.test', ['x@dest.example'], 'Subject: 4\r\n\r\nbody\r\n')
is_(r.code, 250, 'mail accepted again')
sink.wait_messages(3, timeout=30)
ok(True, 'the three accepted messages were delivered')

# Queue side: thresholds 1%/2% of the spool's file system (as df counts).
st = os.statvfs(sc.join('spool'))
used = st.f_blocks - st.f_bfree
if used * 100 // max(used + st.f_bavail, 1) < 2:
    diag('spool file system under 2% used: queue side not tested')
    is_(gw.stop(), 0, 'gateway stops cleanly')
    done()
    sys.exit(0)
gw.write_config(config(1, 2))
gw.reload()
wait_until(lambda: gauge() == 999, 15, 'gauge 999 from the queue side')
ok(True, 'spool file system over queue_halt: gauge 999')
r = send_mail(port, 'a@client.test', ['x@dest.example'], 'Subject: 5\r\n\r\nbody\r\n')
is_(r.code, 452, 'MAIL FROM refused with 452')
like(gw.log('smtpd'), r'resource conservation: queue use at its halt threshold', 'logged as queue')
gw.write_config(config(99, 100))
gw.reload()
wait_until(lambda: gauge() == 0, 15, 'gauge 0 after raising the thresholds')
ok(True, 'back to 0')
ok(gw.sanitizer_report() is None, 'no sanitizer report', diag=gw.sanitizer_report)
is_(gw.stop(), 0, 'gateway stops cleanly')
done()
