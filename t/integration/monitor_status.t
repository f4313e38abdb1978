#!/usr/bin/env python3
# monitor_status - status, status detail, hoststatus, tophosts, dnsstatus
# and resetcounters against traffic whose outcome the test knows: mail the
# sink accepts, rejects (5XX) and keeps deferring (until it expires), and
# the DSNs those failures generate.  Checks the numbers, the counter
# identities, the rate arithmetic (events per hour over 1, 5 and 15
# minutes), that --json carries the same numbers as the text, and that
# Lifetime and the Reset baseline survive a restart while Uptime does not.
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *

sc = scratch()
sink = Sink(scratch_dir=sc)
port = free_port()
gw = Gateway(sc, base_config(port, sink.port, scratch_dir=sc))
gw.start()
t0 = time.monotonic()

OK, REJECT, TEMP = 5, 2, 1
for i in range(OK):
    is_(send_mail(port, 'q@client.test', ['ok%d@dest.example' % i],
                  b'Subject: ok %d\r\n\r\nbody\r\n' % i).code, 250, 'message %d accepted' % i)
for i in range(REJECT):
    send_mail(port, 'q@client.test', ['reject%d@bad.example' % i], b'Subject: rej\r\n\r\nx\r\n')
for i in range(TEMP):
    send_mail(port, 'q@client.test', ['tempfail%d@slow.example' % i], b'Subject: tmp\r\n\r\nx\r\n')
n_msgs = OK + REJECT + TEMP
n_dsn = REJECT + TEMP          # one DSN per failed message, to q@client.test


def status(*args):
    return gw.sallyctl('status', *args, json=True)


def counters(j):
    return {k: (v['reset'], v['uptime'], v['lifetime']) for k, v in j['counters'].items()}


def settled():
    j = status()
    c = counters(j)
    return (j['gauges']['Active Recipients'] == 0 and
            c['Completed Recipients'][1] == n_msgs + n_dsn) and j
j = wait_until(settled, 60, 'every recipient completed (the deferred one expires)')
elapsed = time.monotonic() - t0
c = counters(j)
up = {k: v[1] for k, v in c.items()}
is_(up['Messages Received'], n_msgs, 'Messages Received counts the messages sent')
is_(up['Recipients Received'], n_msgs, 'Recipients Received')
is_(up['Gen. Bounce Recipients'], n_dsn, 'Gen. Bounce Recipients: one DSN per failed message')
is_(up['5XX Hard Bounces'], REJECT, '5XX Hard Bounces: the rejected recipients')
is_(up['Expired Hard Bounces'], TEMP, 'Expired Hard Bounces: the recipient deferred until max_attempts')
ok(up['Soft Bounced Events'] >= 4 * TEMP, 'Soft Bounced Events counts every deferral (%d)' % up['Soft Bounced Events'])
is_(up['Delivered Recipients'], OK + n_dsn, 'Delivered Recipients: the good mail and the DSNs')
is_(up['Completed Recipients'], up['Hard Bounced Recipients'] + up['Delivered Recipients'] +
    up['Deleted Recipients'], 'identity: Completed = Hard Bounced + Delivered + Deleted')
is_(up['Hard Bounced Recipients'], up['DNS Hard Bounces'] + up['5XX Hard Bounces'] +
    up['Expired Hard Bounces'] + up['Filter Hard Bounces'] + up['Other Hard Bounces'],
    'identity: Hard Bounced = DNS + 5XX + Expired + Filter + Other')
ok(all(v[0] == v[2] for v in c.values()), 'never reset: Reset equals Lifetime')
sink.wait_messages(OK + n_dsn, timeout=20)
is_(sink.count(), OK + n_dsn, 'the sink got the good mail and the DSNs')

# Rates: events per hour over 1, 5 and 15 minutes.
j = status('detail')
r = j['rates']
is_(r['Messages Received']['m15'], n_msgs * 4, '15-minute rate of Messages Received = count x 4 per hour')
is_(r['Messages Received']['m5'], n_msgs * 12, '5-minute rate = count x 12 per hour')
if time.monotonic() - t0 < 50:
    is_(r['Messages Received']['m1'], n_msgs * 60, '1-minute rate = count x 60 per hour')
else:
    ok(True, '# skip 1-minute rate: the test ran longer than a minute')
is_(r['Completed Recipients']['m15'], (n_msgs + n_dsn) * 4, '15-minute rate of Completed Recipients')
is_(r['Delivered Recipients']['m15'], (OK + n_dsn) * 4, '15-minute rate of Delivered Recipients')
is_(r['Hard Bounced Recipients']['m15'], (REJECT + TEMP) * 4, '15-minute rate of Hard Bounced Recipients')

# status detail text: the spec's sections, and the same numbers as JSON.
rc, out, err = gw.sallyctl('status', 'detail')
is_(rc, 0, 'status detail exits 0')
for section in ('Counters:', 'Rates (Events Per Hour):', 'Gauges:'):
    like(out, r'\n%s' % re.escape(section), 'status detail has the %s section' % section)
like(out, r'\nRates \(Events Per Hour\): {8}1-Minute {4}5-Minutes {3}15-Minutes\n', 'rates header aligned as in the spec')
like(out, r'\n    RAM Utilization +\d+%\n', 'RAM Utilization gauge in percent')
like(out, r'\n      MGA +\d+%\n', 'CPU Utilization of the mail daemons')
ok(all(0 <= j['gauges']['CPU Utilization %s' % k] <= 100 for k in ('sallyportd', 'smtpd', 'qmgr', 'deliver')),
   'status detail --json: CPU by daemon kind')
ok(0 <= j['gauges']['RAM Utilization'] <= 100, 'RAM Utilization is a percentage')
like(out, r'\n    Destinations In Memory +4\n', 'four destinations in memory (three and the DSN sender\'s)')
text_counters = {}
for m in re.finditer(r'^ {4,6}(\S.*?\S) +([\d,]+) +([\d,]+) +([\d,]+)$', out.split('\nRates')[0], re.M):
    text_counters[m.group(1)] = tuple(int(x.replace(',', '')) for x in m.group(2, 3, 4))
jd = counters(j)
is_(text_counters, {k: jd[k] for k in text_counters}, 'text counters equal the JSON counters')
is_(len(text_counters), 16, 'all 16 counters of Table 1 in status detail')
for m in re.finditer(r'^ {4}(\S.*?\S) +([\d,]+) +([\d,]+) +([\d,]+)$', out.split('\nRates')[1].split('\nGauges')[0], re.M):
    is_(int(m.group(4).replace(',', '')), r[m.group(1)]['m15'], 'text rate of %s equals JSON' % m.group(1))
ok(all(len(l) <= 66 for l in out.split('\nRates')[1].split('\nGauges')[0].splitlines()), 'rates end on column 66')

# status (plain): only the spec's lines.
rc, out, err = gw.sallyctl('status')
unlike(out, r'Gen\. Bounce|Hard Bounced|Rates', 'plain status keeps to the spec example')
like(out, r'\n    Completed Recipients +%d +%d +%d\n' % ((n_msgs + n_dsn,) * 3), 'plain status counts completions')

# hoststatus: the 5XX from the sink, counters per destination.
rc, out, err = gw.sallyctl('hoststatus', 'bad.example')
is_(rc, 0, 'hoststatus exits 0')
like(out, r"^\nHost mail status for: 'bad\.example'\nStatus as of: {6}\S", 'hoststatus header')
like(out, r'\nHost up/down: {6}up\n', 'host answered in SMTP: up')
like(out, r'\n      5XX Hard Bounces {18}%d\n' % REJECT, 'hoststatus 5XX Hard Bounces')
like(out, r'\n    Hard Bounced Recipients {13}%d\n' % REJECT, 'hoststatus Hard Bounced')
like(out, r'\nLast 5XX Error:\n-----\n550 .*\n\(at .* GMT\) IP: 127\.0\.0\.1\n-----\n', 'Last 5XX Error block with the peer IP')
like(out, r'\nSMTP Routes for this host:\n  127\.0\.0\.1:%d\n' % sink.port, 'the SMTP route used for the host')
hj = gw.sallyctl('hoststatus', 'bad.example', json=True)
is_(hj['counters']['5XX Hard Bounces'], REJECT, 'hoststatus --json has the same counter')
rc, out, err = gw.sallyctl('hoststatus', 'slow.example')
like(out, r'\n      Expired Hard Bounces {14}%d\n' % TEMP, 'expired recipient counted for its host')
like(out, r'\n    Soft Bounced Events +[1-9]', 'soft bounces counted for its host')
unlike(out, r'Last 5XX', 'no 5XX block without a 5XX')
rc, out, err = gw.sallyctl('hoststatus', 'never.example')
like(out, r'\nHost up/down: {6}unknown\n', 'a host never tried is unknown')

# tophosts: sorted by the chosen column.
rc, out, err = gw.sallyctl('tophosts', '3')
rows = re.findall(r'^(\d+) +(\S+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+)$', out, re.M)
is_(rows[0][1], 'dest.example', 'tophosts by delivered: dest.example first')
is_(int(rows[0][4]), OK, 'its delivered count')
like(out, r'\n {22}Active {3}Conn\. {3}Deliv\. {3}Soft {6}Hard\n#  Recipient Host {5}Recip {4}Out', 'tophosts header as in the spec')
rc, out, err = gw.sallyctl('tophosts', '5')
rows = re.findall(r'^(\d+) +(\S+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+)$', out, re.M)
is_(rows[0][1], 'bad.example', 'tophosts by hard bounced: bad.example first')

# dnsstatus: all routes are static here, so the layout with zero lookups.
rc, out, err = gw.sallyctl('dnsstatus')
like(out, r'^Status as of: .*\nCounters: {16}Reset {11}Uptime {8}Lifetime\n  DNS Requests +\d+ +\d+ +\d+\n', 'dnsstatus layout')
is_(len(re.findall(r'^  (DNS Requests|Network Requests|Cache Hits|Cache Misses|Cache Exceptions|Cache Expired) ', out, re.M)), 6,
    'dnsstatus has the six counters')
rc, out, err = gw.sallyctl('dnsflush')
like(out, r'DNS cache flushed\.', 'dnsflush')

# tcpservices lists the listener.
rc, out, err = gw.sallyctl('tcpservices')
like(out, r'\nsmtpd +\d+ +\S+ +tcp +127\.0\.0\.1:%d\n' % port, 'tcpservices lists the listening socket')

# Lifetime survives a restart, Uptime starts again.
life = {k: v[2] for k, v in counters(status()).items()}
is_(gw.stop(), 0, 'gateway stops')
gw.start()
c2 = counters(status())
is_({k: v[2] for k, v in c2.items()}, life, 'Lifetime kept across the restart')
ok(all(v[1] == 0 for v in c2.values()), 'Uptime starts again at 0')
ok(all(v[0] == v[2] for v in c2.values()), 'Reset still equals Lifetime')
j = status()
is_(j['ids']['Message ID (MID)'] >= n_msgs, True, 'Current IDs survive too')

# resetcounters: Reset goes to 0, and stays 0 across a restart.
rc, out, err = gw.sallyctl('resetcounters')
like(out, r'^Counters reset: \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n$', 'resetcounters prints the time as in the spec')
c3 = counters(status())
ok(all(v[0] == 0 for v in c3.values()), 'Reset column is 0 after resetcounters')
is_({k: v[2] for k, v in c3.items()}, life, 'Lifetime unchanged by resetcounters')
rc, out, err = gw.sallyctl('hoststatus', 'bad.example')
like(out, r'\n      5XX Hard Bounces {18}0\n', 'hoststatus data restarts from the reset')
send_mail(port, 'q@client.test', ['after@dest.example'], b'Subject: after\r\n\r\nx\r\n')
wait_until(lambda: counters(status())['Delivered Recipients'][0] == 1, 20, 'one delivery after the reset')
is_(gw.stop(), 0, 'gateway stops')
gw.start()
c4 = counters(status())
is_(c4['Delivered Recipients'], (1, 0, life['Delivered Recipients'] + 1), 'Reset baseline kept across a restart')
rc, out, err = gw.sallyctl('status')
unlike(out, r'Last counter reset: +Never', 'Last counter reset shows the reset time')
like(out, r'Oldest Message: +No Messages\n', 'nothing queued: No Messages')

# A message still being received counts for Oldest Message (spec 2.6).
s = raw_session(port)
s.expect(r'^220')
s.sendline('EHLO client.test')
s.expect(r'^250')
s.sendline('MAIL FROM:<q@client.test>')
s.expect(r'^250')
s.sendline('RCPT TO:<slowly@dest.example>')
s.expect(r'^250')
s.sendline('DATA')
s.expect(r'^354')
s.send(b'Subject: slow\r\n\r\nthe first part\r\n')
out = wait_until(lambda: (lambda o: 'No Messages' not in o and o)(gw.sallyctl('status')[1]), 10,
                 'Oldest Message counts the message being received')
like(out, r'\n    Active Recipients +0\n', 'while no recipient is queued yet')
s.send(b'.\r\n')
s.expect(r'^250')
s.close()
is_(gw.stop(), 0, 'gateway stops cleanly')
done()
