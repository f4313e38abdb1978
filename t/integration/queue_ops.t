#!/usr/bin/env python3
# queue_ops - the sallyctl queue and listener commands: suspenddel keeps
# mail queued (and survives a restart), showrecipients lists it in the
# spec's two-line layout, delivernow retries deferred mail at once,
# resumedel delivers; suspendlistener refuses connections (also after a
# restart) and resumelistener accepts again; status shows the system state.
import os
import re
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *

sc = scratch()
sink = Sink(scratch_dir=sc)
port = free_port()
# Long retry intervals: only delivernow can make a deferred recipient go soon.
gw = Gateway(sc, base_config(port, sink.port, scratch_dir=sc,
             bounce_profiles='  default: { initial_retry: 1h, max_retry: 2h, '
                             'max_queue_time: 72h, max_attempts: 100 }\n'))
gw.start()

rc, out, err = gw.sallyctl('suspenddel')
is_(rc, 0, 'suspenddel succeeds')
like(out, r'Mail delivery suspended\.', 'suspenddel says so')
for i in range(3):
    r = send_mail(port, 'q@client.test', ['held%d@dest.example' % i],
                  b'Subject: held %d\r\n\r\nbody\r\n' % i)
    is_(r.code, 250, 'message %d accepted while delivery is suspended' % i)
rc, out, err = gw.sallyctl('status')
like(out, r'System status: +Delivery Suspended', 'status shows delivery suspended')
like(out, r'\n    Active Recipients +3\n', 'three recipients active')
rc, out, err = gw.sallyctl('showrecipients')
like(out, r'^MID/ +Bytes/ +Sender/ +Subject\n\[RID\] +\[Atmps\] +Recipient\n', 'showrecipients header as in the spec')
is_(len(re.findall(r'\n\d+ +\d+ +q@client\.test +held \d\n\[0\] +\[0\] +held\d@dest\.example', out)), 3,
    'each recipient on two lines with MID, bytes, sender, subject, RID, attempts')
j = gw.sallyctl('showrecipients', json=True)
is_(sorted(r['recipient'] for r in j['records']), ['held0@dest.example', 'held1@dest.example', 'held2@dest.example'],
    'showrecipients --json has the same recipients')
rc, out, err = gw.sallyctl('showrecipients', 'host', 'nowhere.example')
like(out, r'no messages', 'showrecipients by host filters')

# Suspension is state: it survives a restart.
is_(gw.stop(), 0, 'gateway stops with mail queued')
gw.start()
gw.wait_log('qmgr', r'delivery suspended \(kept across restart\)')
ok(True, 'delivery still suspended after restart')
gw.wait_log('qmgr', r'queue recovered: 3 message\(s\), 3 recipient\(s\)')
ok(True, 'queue recovered after restart')
is_(sink.count(), 0, 'nothing delivered while suspended')
rc, out, err = gw.sallyctl('resumedel')
like(out, r'Mail delivery resumed\.', 'resumedel says so')
sink.wait_messages(3, timeout=20)
ok(True, 'all three delivered after resumedel')

# delivernow: a deferred recipient (retry in 1h) goes at once.
r = send_mail(port, 'q@client.test', ['tempfail-once@dest.example'], b'Subject: later\r\n\r\nx\r\n')
wait_until(lambda: re.search(r'tempfail-once@dest\.example> deferred \(attempt 1\), next try in 3600 s', gw.log('qmgr')),
           20, 'recipient deferred for an hour')
rc, out, err = gw.sallyctl('showrecipients')
like(out, r'\[0\] +\[1\] +tempfail-once@dest\.example', 'showrecipients shows one attempt')
mark = gw.log_mark('qmgr')
rc, out, err = gw.sallyctl('delivernow', 'dest.example')
like(out, r'Rescheduling all messages to dest\.example for immediate delivery\.', 'delivernow message as in the spec')
gw.wait_log('qmgr', r'tempfail-once@dest\.example> deferred \(attempt 2\)', since=mark)
ok(True, 'delivernow retried the recipient at once (it fails again at the sink by design)')

# Listeners: suspend refuses connections, also across a restart.
rc, out, err = gw.sallyctl('suspendlistener', 'Outbound')
like(out, r'Receiving suspended\.', 'suspendlistener says so')
def refused():
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=2) as s:
            s.settimeout(2)
            return s.recv(100) == b''
    except OSError:
        return True
wait_until(refused, 10, 'connections refused on the suspended listener')
rc, out, err = gw.sallyctl('status')
like(out, r'System status: +Receiving Suspended', 'status shows receiving suspended')
rc, out, err = gw.sallyctl('suspendlistener', 'NoSuchListener')
isnt(rc, 0, 'an unknown listener name is an error')
like(err, r"no listener named 'NoSuchListener'", 'and says which')
is_(gw.stop(), 0, 'gateway stops')
gw.start(wait_ports=[])
ok(refused(), 'listener still suspended after a restart')
rc, out, err = gw.sallyctl('resumelistener')
like(out, r'Receiving resumed\.', 'resumelistener says so')
wait_until(lambda: Gateway._accepts(port), 20, 'listener accepting again')
r = send_mail(port, 'q@client.test', ['after@dest.example'], b'Subject: after\r\n\r\nx\r\n')
is_(r.code, 250, 'mail accepted after resumelistener')
rc, out, err = gw.sallyctl('status')
like(out, r'System status: +Online', 'status back to Online')
is_(gw.stop(), 0, 'gateway stops cleanly')
done()
