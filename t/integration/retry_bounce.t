#!/usr/bin/env python3
# retry_bounce - a 4xx is retried then delivered; a 5xx bounces with an
# RFC 3464 DSN to the sender; a recipient that keeps failing with 4xx
# expires into a DSN; a failing message from the null sender makes no
# DSN; a downstream that drops mid-DATA is retried; counters agree.
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *

sc = scratch()
# The first 2 RCPTs of the run get 451, the first DATA is cut mid-way.
sink = Sink('--tempfail-first', '2', '--drop-mid-data', '1', scratch_dir=sc)
port = free_port()
gw = Gateway(sc, base_config(port, sink.port, scratch_dir=sc,
             bounce_profiles='  default: { initial_retry: 1s, max_retry: 1s, '
                             'max_queue_time: 8s, max_attempts: 5 }\n'))
gw.start()

# 1. Deferred twice (451), then delivered.
r = send_mail(port, 'retry@client.test', ['ok1@dest.example'], b'Subject: retry me\r\n\r\nbody\r\n')
is_(r.code, 250, 'message accepted')
sink.wait_messages(1, timeout=30)
msgs = sink.messages()
ok(any(e['rcpts'] == ['ok1@dest.example'] for e, _ in msgs), 'delivered after the 4xx retries')
like(gw.log('qmgr'), r'RID \[0\] to <ok1@dest\.example> deferred \(attempt 1\)', 'first deferral logged')
like(gw.log('deliver'), r'(Delayed|drop|lost|Response)', 'deliver logged the failed attempts')

# 2. 5xx: hard bounce, DSN to the sender (routed to the sink as well).
r = send_mail(port, 'bounceme@client.test', ['reject-x@dest.example'],
              b'Subject: will bounce\r\nMessage-ID: <b1@client.test>\r\n\r\nbody\r\n')
is_(r.code, 250, '5xx-bound message accepted')
def dsn_for(addr):
    for e, data in sink.messages():
        if e['from'] == '' and e['rcpts'] == [addr]:
            return data
    return None
wait_until(lambda: dsn_for('bounceme@client.test') is not None, 30, 'DSN delivered to the sender')
dsn = dsn_for('bounceme@client.test').decode('utf-8', 'replace')
like(dsn, r'Content-Type: multipart/report; report-type=delivery-status', 'DSN is a multipart/report')
like(dsn, r'Final-Recipient: rfc822; reject-x@dest\.example\r\nAction: failed\r\nStatus: 5\.1\.1', 'DSN names the recipient and status')
like(dsn, r'Diagnostic-Code: smtp; 550 5\.1\.1', 'DSN carries the remote reply')
like(dsn, r'Message-ID: <b1@client\.test>', 'DSN returns the original headers')

# 3. Always 4xx: expires (max_attempts 5 / max_queue_time 8s) into a DSN.
r = send_mail(port, 'expire@client.test', ['tempfail-x@dest.example'], b'Subject: expire\r\n\r\nx\r\n')
is_(r.code, 250, 'always-deferred message accepted')
wait_until(lambda: dsn_for('expire@client.test') is not None, 40, 'expiry DSN delivered')
like(dsn_for('expire@client.test').decode(), r'Status: 4\.2\.0', 'expiry DSN keeps the last 4xx status')
like(gw.log('qmgr'), r'tempfail-x@dest\.example> hard bounced: .*expired', 'expiry logged')

# 4. Null sender: no DSN for a DSN.
r = send_mail(port, '', ['reject-null@dest.example'], b'Subject: null sender\r\n\r\nx\r\n')
is_(r.code, 250, 'null-sender message accepted')
wait_until(lambda: re.search(r'no DSN for 1 failed recipient\(s\): null sender', gw.log('qmgr')), 20,
           'qmgr declines the DSN for a null sender')

rc, out, err = gw.sallyctl('status')
def counter(label):
    m = re.search(r'\n    %s +([\d,]+) ' % re.escape(label), out)
    return int(m.group(1).replace(',', '')) if m else -1
ok(counter('Soft Bounced Events') >= 3, 'soft bounce events counted (%d)' % counter('Soft Bounced Events'))
j = gw.sallyctl('status', json=True)
c = {r['name']: int(r['uptime']) for r in j['records'] if r.get('section') == 'counter'}
is_(c['Completed Recipients'], c['Hard Bounced Recipients'] + c['Delivered Recipients'] + c['Deleted Recipients'],
    'Completed = Hard Bounced + Delivered + Deleted')
is_(c['Hard Bounced Recipients'], c['DNS Hard Bounces'] + c['5XX Hard Bounces'] + c['Expired Hard Bounces'] +
    c['Filter Hard Bounces'] + c['Other Hard Bounces'], 'Hard Bounced = DNS + 5XX + Expired + Filter + Other')
ok(c['5XX Hard Bounces'] >= 2 and c['Expired Hard Bounces'] >= 1, '5XX and expired bounces counted')
ok(c['Gen. Bounce Recipients'] >= 2, 'generated bounce recipients counted')
is_(gw.stop(), 0, 'gateway stops cleanly')
done()
