#!/usr/bin/env python3
# monitor_queue - the queue commands do what they say, log each recipient,
# and count as the spec says: deleterecipients (Deleted Recipients),
# bouncerecipients (Other Hard Bounces, a DSN each), redirectrecipients
# (everything goes to another host, also after a restart), showmessage, oldmessage,
# removemessage, archivemessage (an mbox in the state directory, then
# removed), workqueue pause/resume (kept across a restart), findevent
# (by subject, sender, recipient and MID, following the DSN), and that a
# confirmation defaults to No.  Delivery stays suspended meanwhile, so
# nothing leaves before the test says so.
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *

sc = scratch()
sink = Sink(scratch_dir=sc)
sink2 = Sink(scratch_dir=sc, name='sink2')
port = free_port()
gw = Gateway(sc, base_config(port, sink.port, scratch_dir=sc,
             bounce_profiles='  default: { initial_retry: 1h, max_retry: 2h, '
                             'max_queue_time: 72h, max_attempts: 100 }\n'))
gw.start()

rc, out, err = gw.sallyctl('suspenddel', '0')
is_(rc, 0, 'suspenddel with a zero drain delay')
like(out, r'Waiting for outgoing deliveries to finish\.\.\.\nMail delivery suspended\.\n', 'suspenddel as in the spec')


def send(sender, rcpt, subject):
    r = send_mail(port, sender, [rcpt], b'Subject: ' + subject.encode() + b'\r\n\r\nbody\r\n')
    is_(r.code, 250, 'queued: %s -> %s' % (sender, rcpt))
    return int(re.search(r'Message (\d+) accepted', r.text).group(1))


keep = [send('a@client.test', 'k%d@keep.example' % i, 'keep %d' % i) for i in range(3)]
dele = [send('a@client.test', 'd%d@del.example' % i, 'del %d' % i) for i in range(2)]
bnc = [send('bouncer@client.test', 'b%d@bnc.example' % i, 'bounce %d' % i) for i in range(2)]
arch = send('a@client.test', 'arch@keep.example', 'archive me please')
remv = send('a@client.test', 'rm@keep.example', 'remove me')


def status():
    return gw.sallyctl('status', 'detail', json=True)


j = status()
is_(j['gauges']['Active Recipients'], 9, 'nine recipients active')
is_(j['gauges']['Unattempted Recipients'], 9, 'none attempted yet')

# A confirmation defaults to No.
rc, out, err = gw.sallyctl('deleterecipients', 'host', 'del.example', input='\n')
like(out, r'Are you sure you want to delete all messages being delivered to "del\.example"\? \[N\]> ',
     'deleterecipients asks as in the spec')
isnt(rc, 0, 'answering nothing cancels')
is_(status()['gauges']['Active Recipients'], 9, 'nothing deleted without a yes')

# deleterecipients by host.
mark = gw.log_mark('qmgr')
rc, out, err = gw.sallyctl('deleterecipients', 'host', 'del.example', input='y\n')
like(out, r'Deleting messages, please wait\.\n2 messages deleted\.\n$', 'deleterecipients: "2 messages deleted."')
log = gw.log('qmgr')[mark:]
for i, mid in enumerate(dele):
    like(log, r'MID %d RID \[0\] to <d%d@del\.example> deleted by the administrator' % (mid, i),
         'the deletion of MID %d is logged' % mid)
j = status()
is_(j['counters']['Deleted Recipients']['uptime'], 2, 'Deleted Recipients 2')
is_(j['gauges']['Active Recipients'], 7, 'seven left')

# bouncerecipients by sender: Other Hard Bounces, and a DSN each.
mark = gw.log_mark('qmgr')
rc, out, err = gw.sallyctl('--yes', 'bouncerecipients', 'from', 'bouncer@client.test')
like(out, r'Bouncing messages, please wait\.\n2 messages bounced\.\n$', 'bouncerecipients: "2 messages bounced."')
log = gw.wait_log('qmgr', r'queued for delivery \(DSN\)(.|\n)*queued for delivery \(DSN\)', since=mark)
log = gw.log('qmgr')[mark:]
for i, mid in enumerate(bnc):
    like(log, r'MID %d RID \[0\] to <b%d@bnc\.example> bounced by the administrator' % (mid, i),
         'the bounce of MID %d is logged' % mid)
dsn_mids = [int(x) for x in re.findall(r'generated DSN MID (\d+) to <bouncer@client\.test>', log)]
is_(len(dsn_mids), 2, 'one DSN per bounced message')
j = status()
c = {k: v['uptime'] for k, v in j['counters'].items()}
is_(c['Other Hard Bounces'], 2, 'bounced recipients count as Other Hard Bounces')
is_(c['Gen. Bounce Recipients'], 2, 'and generate bounce recipients')
is_(c['Completed Recipients'], c['Hard Bounced Recipients'] + c['Delivered Recipients'] + c['Deleted Recipients'],
    'identity: Completed = Hard Bounced + Delivered + Deleted')

# showmessage, oldmessage.
rc, out, err = gw.sallyctl('showmessage', arch)
like(out, r'^MID %d: .* old\n' % arch, 'showmessage: MID and age')
like(out, r'\nSubject: archive me please\n', 'showmessage shows the message')
rc, out, err = gw.sallyctl('oldmessage')
like(out, r'^MID %d: (\d+ secs?|\d+ mins?.*) old\nReceived: ' % keep[0], 'oldmessage: the oldest message, then its header')
unlike(out, r'\nbody\n', 'oldmessage shows the header only')
rc, out, err = gw.sallyctl('showmessage', '999999')
isnt(rc, 0, 'showmessage of an unknown MID fails')
like(err, r'MID 999999 is not in the queue', 'and says so')

# archivemessage: mbox in the state directory, message removed.
rc, out, err = gw.sallyctl('archivemessage', arch)
like(out, r'^MID %d has been saved in file oldmessage_%d\.mbox in the state directory\n' % (arch, arch),
     'archivemessage as in the spec')
mbox = sc.read('state/oldmessage_%d.mbox' % arch)
like(mbox, r'^From a@client\.test \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n', 'mbox From_ line')
like(mbox, r'\nSubject: archive me please\n\nbody\n', 'mbox holds the message')
rc, out, err = gw.sallyctl('removemessage', remv, input='y\n')
like(out, r'MID %d removed\.' % remv, 'removemessage')
rc, out, err = gw.sallyctl('showmessage', remv)
isnt(rc, 0, 'a removed message is gone')
j = status()
is_(j['counters']['Deleted Recipients']['uptime'], 4, 'removed and archived recipients count as deleted')
rc, out, err = gw.sallyctl('showrecipients')
unlike(out, r'arch@|rm@|del\.example|bnc\.example', 'gone from showrecipients')
is_(len(re.findall(r'\n\[0\] +\[0\] +k\d@keep\.example', out)), 3, 'the three kept recipients are listed')

# workqueue: pause with a reason, kept across a restart, resume.
rc, out, err = gw.sallyctl('--yes', 'workqueue', 'pause', 'checking LDAP server')
like(out, r'^Status as of: .* GMT\nStatus: Paused by admin: checking LDAP server\nMessages: 0\n$', 'workqueue pause')
like(gw.log('qmgr'), r'work queue paused, 0 msgs', 'the pause is logged')
is_(gw.stop(), 0, 'gateway stops with mail queued')
gw.start()
gw.wait_log('qmgr', r'work queue paused \(kept across restart\)')
rc, out, err = gw.sallyctl('workqueue')
like(out, r'\nStatus: Paused by admin: checking LDAP server\n', 'still paused after the restart')
rc, out, err = gw.sallyctl('workqueue', 'resume')
like(out, r'\nStatus: Operational\n', 'workqueue resume')
rc, out, err = gw.sallyctl('workqueue', 'rate')
like(out, r'\n  Messages In +\d+ +\d+ +\d+\n', 'workqueue rate')

# redirectrecipients: everything queued goes to the second sink.
rc, out, err = gw.sallyctl('redirectrecipients', '127.0.0.1:%d' % sink2.port, input='y\n')
like(out, r'^WARNING: redirecting recipients', 'redirectrecipients warns')
like(out, r'5 recipients redirected\.\n$', 'redirectrecipients: 3 kept and 2 DSNs')
# The redirection is part of the queue: it survives a restart.
is_(gw.stop(), 0, 'gateway stops with redirected mail queued')
gw.start()
gw.wait_log('qmgr', r'queue recovered: 5 message\(s\), 5 recipient\(s\)')
rc, out, err = gw.sallyctl('resumedel')
like(out, r'Mail delivery resumed\.', 'resumedel')
sink2.wait_messages(5, timeout=20)
is_(sorted(r for e, _ in sink2.messages() for r in e['rcpts']),
    ['bouncer@client.test', 'bouncer@client.test', 'k0@keep.example', 'k1@keep.example', 'k2@keep.example'],
    'the redirected recipients arrived at the other host')
is_(sink.count(), 0, 'nothing went to the usual route')
wait_until(lambda: status()['gauges']['Active Recipients'] == 0, 20, 'queue empty')

# findevent: by subject, sender, recipient and MID, following the DSN.
rc, out, err = gw.sallyctl('findevent', 'subject', 'bounce 0')
like(out, r'^The following matching message IDs were found\.\n1\. MID %d \(\S+\) bounce 0\n' % bnc[0],
     'findevent by subject lists the MID')
like(out, r'MID %d RID \[0\] to <b0@bnc\.example> bounced' % bnc[0], 'its log lines')
like(out, r'Message done DCID \d+ MID %d ' % dsn_mids[0], 'and those of its DSN (child MID)')
like(out, r'New SMTP ICID \d+', 'and of its inbound connection')
unlike(out, r'MID %d ' % bnc[1], 'not the other message')
fj = gw.sallyctl('findevent', 'from', r'^bouncer@', json=True)
is_(sorted(m['mid'] for m in fj['matches']), sorted(bnc), 'findevent by sender (regex) --json')
fj = gw.sallyctl('findevent', 'to', r'k1@keep', json=True)
is_([m['mid'] for m in fj['matches']], [keep[1]], 'findevent by recipient')
fj = gw.sallyctl('findevent', 'mid', str(keep[2]), 'all', json=True)
ok(any(re.search(r'Message finished MID %d done' % keep[2], l) for l in fj['lines']), 'findevent by MID over all logs')
rc, out, err = gw.sallyctl('findevent', 'subject', 'no such thing')
like(out, r'No matching message IDs were found', 'findevent without a match')

# --json output of the queue commands parses and matches.
rc, out, err = gw.sallyctl('--json', '--yes', 'deleterecipients', 'all')
j = json.loads(out)
is_((j['ok'], j['message'], j['records'][0]['messages']), (True, '0 messages deleted.', '0'),
    'deleterecipients --json: same message and count')
is_(gw.stop(), 0, 'gateway stops cleanly')
sink2.stop()
done()
