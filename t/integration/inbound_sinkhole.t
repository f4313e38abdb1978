#!/usr/bin/env python3
# inbound_sinkhole - both kinds of sinkhole listener end to end: the
# non-queuing one runs the whole SMTP dialogue and discards the message
# (nothing reaches qmgr), the queuing one commits it, then qmgr drops it
# (never delivered); both count as Dropped Messages in sallyctl status.
# Also the alias table's /dev/null (a dropped message) on a normal listener.
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *

sc = scratch()
sink = Sink(scratch_dir=sc)
port, pnq, pq = free_port(), free_port(), free_port()
listeners = (
    '  - name: Outbound\n'
    '    type: private\n'
    '    address: 127.0.0.1\n'
    '    port: %d\n'
    '    hat:\n'
    '      - { group: RELAYLIST, match: ["127.0.0.0/8"], policy: RELAYED }\n'
    '  - name: Sink\n'
    '    type: sinkhole\n'
    '    address: 127.0.0.1\n'
    '    port: %d\n'
    '    hat:\n'
    '      - { group: ALL, match: [ALL], policy: ACCEPTED }\n'
    '  - name: SinkQ\n'
    '    type: sinkhole\n'
    '    sinkhole_queue: true\n'
    '    address: 127.0.0.1\n'
    '    port: %d\n'
    '    hat:\n'
    '      - { group: ALL, match: [ALL], policy: ACCEPTED }\n' % (port, pnq, pq))
gw = Gateway(sc, base_config(port, sink.port, scratch_dir=sc, listeners=listeners,
                             policies='  RELAYED: { action: relay }\n  ACCEPTED: { action: accept }\n',
                             aliases='  void@drop.example: /dev/null\n'))
gw.start()

def counters():
    j = gw.sallyctl('status', json=True)
    return {r['name']: r for r in j['records'] if r.get('section') == 'counter'}

# Non-queuing sinkhole: three messages, any recipients.
for i in range(3):
    r = send_mail(pnq, 's@client.test', ['a%d@anywhere.example' % i, 'b@else.example'],
                  'Subject: nq %d\r\n\r\nbody\r\n' % i)
    like('%d %s' % (r.code, r.text), r'^250 2\.0\.0 ok: Message \d+ accepted',
         'non-queuing sinkhole accepts message %d' % i)
like(gw.log('smtpd'), r'MID \d+ discarded by sinkhole listener Sink', 'smtpd logs the discard')
unlike(gw.log('qmgr'), r'queued for delivery', 'nothing reached the queue')

# Queuing sinkhole: committed, then dropped by qmgr.
for i in range(2):
    r = send_mail(pq, 's@client.test', ['q%d@anywhere.example' % i], 'Subject: q %d\r\n\r\nbody\r\n' % i)
    like('%d %s' % (r.code, r.text), r'^250 2\.0\.0 ok: Message \d+ accepted',
         'queuing sinkhole accepts message %d' % i)
gw.wait_log('qmgr', r'(?s)dropped \(sinkhole queuing listener\).*dropped \(sinkhole queuing listener\)')
ok(True, 'qmgr drops both after the commit')
like(gw.log('qmgr'), r'MID \d+ queued for delivery', 'the queuing sinkhole did commit')

# The alias table's /dev/null on the private listener.
r = send_mail(port, 's@client.test', ['void@drop.example'], 'Subject: void\r\n\r\nbody\r\n')
like('%d %s' % (r.code, r.text), r'^250 2\.0\.0 ok', 'message to a /dev/null alias accepted')
like(gw.log('smtpd'), r'dropped: every recipient aliased to /dev/null', 'and dropped')

wait_until(lambda: counters()['Dropped Messages']['lifetime'] == '6', 10,
           lambda: 'Dropped Messages = 6 (have %s)' % counters()['Dropped Messages']['lifetime'])
ok(True, 'Dropped Messages counts 3 non-queuing + 2 queuing + 1 alias drop')
cs = counters()
is_(cs['Messages Received']['lifetime'], '2', 'only the queuing sinkhole\'s messages were received')
rc, out, err = gw.sallyctl('showrecipients')
like(out, r'no messages in the delivery queue', 'nothing left in the queue')
is_(sink.count(), 0, 'nothing delivered downstream')
ok(gw.sanitizer_report() is None, 'no sanitizer report', diag=gw.sanitizer_report)
is_(gw.stop(), 0, 'gateway stops cleanly')
done()
