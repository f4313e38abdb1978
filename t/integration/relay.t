#!/usr/bin/env python3
# relay - mail flows end to end: smtplib and swaks relay through the
# gateway to a sink with byte-identical bodies (after our Received:
# header), the logs follow one MID through every daemon, and sallyctl
# status / showrecipients / --json report real numbers.
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *

sc = scratch()
sink = Sink(scratch_dir=sc)
port = free_port()
gw = Gateway(sc, base_config(port, sink.port, scratch_dir=sc))
gw.start()

bodies = [
    b'Subject: plain\r\nFrom: a@client.test\r\n\r\nHello.\r\n',
    b'Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nnot the end\r\n',
    b'Subject: 8bit\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'
    b'caf\xc3\xa9 na\xc3\xafve \xe2\x82\xac\r\n',
    b'Subject: long\r\n\r\n' + (b'x' * 990 + b'\r\n') * 300,
]
for i, body in enumerate(bodies):
    r = send_mail(port, 'sender%d@client.test' % i, ['rcpt%d@dest.example' % i], body,
                  mail_options=['BODY=8BITMIME'])
    like('%d %s' % (r.code, r.text), r'^250 2\.0\.0 ok: Message \d+ accepted',
         'message %d accepted with its MID' % i)

sink.wait_messages(len(bodies), timeout=30)
got = sink.messages()
is_(len(got), len(bodies), 'sink received every message')
for env, data in got:
    m = re.match(r'sender(\d+)@', env['from'])
    ok(m is not None, 'envelope sender kept (%s)' % env['from'])
    if not m:
        continue
    i = int(m.group(1))
    is_(env['rcpts'], ['rcpt%d@dest.example' % i], 'envelope recipient of message %d' % i)
    like(data.decode('utf-8', 'replace'), r'^Received: from client\.test \(unknown \[127\.0\.0\.1\]\)\r\n\tby test\.example',
         'message %d starts with our Received: header' % i)
    # The Received header ends at the first line that does not start
    # with whitespace after it began.
    lines = data.split(b'\r\n')
    k = 1
    while k < len(lines) and lines[k][:1] in (b' ', b'\t'):
        k += 1
    rest = b'\r\n'.join(lines[k:])
    ok(rest == bodies[i], 'message %d body byte-identical after the Received: header' % i,
       diag='sent %r...\ngot  %r...' % (bodies[i][:80], rest[:80]))

# swaks, a real client with its own dialogue.
if tool_path := (subprocess.run(['sh', '-c', 'command -v swaks'], capture_output=True, text=True).stdout.strip()):
    p = subprocess.run([tool_path, '--server', '127.0.0.1:%d' % port, '--from', 'sw@client.test',
                        '--to', 'swaks@dest.example', '--header', 'Subject: swaks test',
                        '--body', 'from swaks'], capture_output=True, text=True, timeout=60)
    is_(p.returncode, 0, 'swaks exits 0')
    like(p.stdout, r'<-\s+250 2\.0\.0 ok: Message \d+ accepted', 'swaks sees the 250 with the MID')
    sink.wait_messages(len(bodies) + 1, timeout=30)
    ok(any(e['rcpts'] == ['swaks@dest.example'] for e, _ in sink.messages()), 'swaks message delivered')
else:
    ok(False, 'swaks is installed (make deps installs it)')

# One grep on a MID follows the message through smtpd, qmgr and deliver.
def finished():
    return len(re.findall(r'Message finished MID \d+ done', gw.log('qmgr'))) >= len(bodies) + 1
wait_until(finished, 20, 'qmgr logging every message finished')
mid = re.search(r'Start MID (\d+) ICID (\d+)', gw.log('smtpd')).group(1)
like(gw.log('smtpd'), r'New SMTP ICID \d+ interface Outbound \(127\.0\.0\.1\) address 127\.0\.0\.1', 'smtpd logs the connection')
like(gw.log('smtpd'), r'ICID \d+ RELAY SG RELAYLIST match 127\.0\.0\.0/8', 'smtpd logs the HAT decision')
like(gw.log('smtpd'), r'MID %s ICID \d+ From: <sender0@client\.test>' % mid, 'smtpd logs From with the MID')
like(gw.log('smtpd'), r'MID %s ICID \d+ RID 0 To: <rcpt0@dest\.example>' % mid, 'smtpd logs To with the RID')
like(gw.log('qmgr'), r'MID %s queued for delivery' % mid, 'qmgr logs the commit')
like(gw.log('deliver'), r'Delivery start DCID \d+ MID %s to RID \[0\]' % mid, 'deliver logs the start')
like(gw.log('deliver'), r'Message done DCID \d+ MID %s to RID \[0\]' % mid, 'deliver logs the result')
like(gw.log('qmgr'), r'Message finished MID %s done' % mid, 'qmgr logs the end')

# status: real numbers in the spec's layout, and the same in JSON.
rc, out, err = gw.sallyctl('status')
is_(rc, 0, 'sallyctl status exits 0')
n = len(bodies) + 1
like(out, r'\n    Messages Received +%d +%d +%d\n' % (n, n, n), 'Messages Received counts every message')
like(out, r'\n    Completed Recipients +%d +%d +%d\n' % (n, n, n), 'Completed Recipients counts them')
like(out, r'\n    Message ID \(MID\) +\d+\n', 'Current IDs: MID')
like(out, r'\n  Connections\n    Current Inbound Conn\. +\d+\n    Current Outbound Conn\. +\d+\n', 'Connections gauges')
like(out, r'\n    Active Recipients +0\n', 'nothing left in the queue')
like(out, r'Counters: {25}Reset {8}Uptime {6}Lifetime\n', 'counter header aligned as in the spec')
j = gw.sallyctl('status', json=True)
recs = {r['name']: r for r in j['records'] if r.get('section') == 'counter'}
is_(recs['Messages Received']['lifetime'], str(n), 'JSON status carries the same counter')
is_(recs['Delivered Recipients']['uptime'], str(n), 'JSON: delivered recipients')
rc, out, err = gw.sallyctl('version')
like(out, r'^Sallyport \d+\.\d+\.\d+', 'sallyctl version')
rc, out, err = gw.sallyctl('showrecipients')
like(out, r'no messages in the delivery queue', 'showrecipients on an empty queue')

kids = gw.child_pids()
is_(len(kids), 3, 'three children running (qmgr, smtpd, deliver)')
is_(gw.stop(), 0, 'gateway stops cleanly on SIGTERM')
ok(not any(pid_alive(k) for k in kids), 'no child outlives the gateway')
done()
