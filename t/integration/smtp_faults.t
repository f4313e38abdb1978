#!/usr/bin/env python3
# smtp_faults - hostile and broken clients: bare LF / bare CR in DATA,
# an over-long line, a NUL byte, size over the limit (announced and not),
# too many recipients, commands out of order, an unknown-command flood,
# a silent client (idle timeout), a client that drops mid-DATA.  Each
# gets its reply and nothing of it is queued.
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *

sc = scratch()
sink = Sink(scratch_dir=sc)
port = free_port()
gw = Gateway(sc, base_config(port, sink.port, scratch_dir=sc,
    policies='  RELAYED: { action: relay, max_message_size: 20k, max_rcpts_per_msg: 3 }\n'
             '  BLOCKED: { action: reject }\n',
    smtpd='{ idle_timeout: 2s, max_errors: 5 }'))
gw.start()

def session():
    s = raw_session(port)
    s.expect('220')
    s.sendline('EHLO client.test')
    s.expect('250')
    return s

def start_data(s, rcpts=('a@dest.example',)):
    s.sendline('MAIL FROM:<f@client.test>')
    s.expect('250')
    for r in rcpts:
        s.sendline('RCPT TO:<%s>' % r)
        s.expect('250')
    s.sendline('DATA')
    s.expect('354')

# Bare LF in DATA: 5xx and the connection is closed (no smuggling).
s = session()
start_data(s)
s.send(b'Subject: smuggle\r\n\r\nline\n.\nMAIL FROM:<evil@x>\r\n.\r\n')
r = s.read_reply()
ok(500 <= r.code < 600, 'bare LF in DATA refused with 5xx (%s)' % r)
ok(s.wait_closed(), 'connection closed after bare LF')

# Bare CR likewise.
s = session()
start_data(s)
s.send(b'Subject: cr\r\n\r\nline\rmore\r\n.\r\n')
r = s.read_reply()
ok(500 <= r.code < 600, 'bare CR in DATA refused with 5xx (%s)' % r)

# A line over 998 characters.
s = session()
start_data(s)
s.send(b'Subject: long\r\n\r\n' + b'y' * 1200 + b'\r\n.\r\n')
r = s.read_reply()
like(str(r), r'^554 5\.6\.0', 'line over 998 characters refused')
s.sendline('QUIT')

# A NUL byte.
s = session()
start_data(s)
s.send(b'Subject: nul\r\n\r\nab\x00cd\r\n.\r\n')
r = s.read_reply()
like(str(r), r'^554 5\.6\.0', 'NUL byte refused')
s.sendline('QUIT')

# Size: announced with SIZE, and not announced.
s = session()
s.sendline('MAIL FROM:<f@client.test> SIZE=999999')
like(str(s.read_reply()), r'^552 5\.3\.4', 'SIZE over the limit refused at MAIL')
s.sendline('QUIT')
s = session()
start_data(s)
s.send(b'Subject: big\r\n\r\n' + (b'z' * 78 + b'\r\n') * 400 + b'.\r\n')
like(str(s.read_reply()), r'^552 5\.3\.4', 'unannounced oversize message refused at end of DATA')
s.sendline('QUIT')

# Too many recipients.
s = session()
s.sendline('MAIL FROM:<f@client.test>')
s.expect('250')
codes = []
for i in range(5):
    s.sendline('RCPT TO:<r%d@dest.example>' % i)
    codes.append(s.read_reply().code)
is_(codes, [250, 250, 250, 452, 452], 'fourth and fifth recipients get 452')
s.sendline('QUIT')

# Commands out of order.
s = raw_session(port)
s.expect('220')
s.sendline('MAIL FROM:<f@client.test>')
like(str(s.read_reply()), r'^503', 'MAIL before EHLO: 503')
s.sendline('EHLO client.test')
s.expect('250')
s.sendline('RCPT TO:<a@dest.example>')
like(str(s.read_reply()), r'^503', 'RCPT before MAIL: 503')
s.sendline('DATA')
like(str(s.read_reply()), r'^503', 'DATA before MAIL: 503')
s.sendline('MAIL FROM:<f@client.test>')
s.expect('250')
s.sendline('MAIL FROM:<g@client.test>')
like(str(s.read_reply()), r'^503', 'nested MAIL: 503')
s.sendline('DATA')
like(str(s.read_reply()), r'^(503|554)', 'DATA without recipients refused')
s.sendline('QUIT')

# Unknown command flood: closed after max_errors.
s = session()
replies = []
try:
    for i in range(20):
        s.sendline('XYZZY%d' % i)
        replies.append(s.read_reply().code)
except (HarnessError, OSError):
    pass
ok(421 in replies, 'unknown-command flood ends with 421 (%s)' % replies)
ok(len(replies) <= 7, 'connection closed after the error limit (%d replies)' % len(replies))

# Silent client: idle timeout.
s = session()
r = s.read_reply(timeout=15)
like(str(r), r'^421 4\.4\.2', 'silent client gets 421 after the idle timeout')
ok(s.wait_closed(), 'and is disconnected')

# Client drops mid-DATA: nothing queued.
s = session()
start_data(s, ('dropped@dest.example',))
s.send(b'Subject: partial\r\n\r\nhalf a message')
s.close()
wait_until(lambda: re.search(r'lost connection during DATA', gw.log('smtpd')), 10, 'smtpd logs the drop')

# A good message afterwards still flows, and only it reaches the sink.
r = send_mail(port, 'good@client.test', ['good@dest.example'], b'Subject: good\r\n\r\nfine\r\n')
is_(r.code, 250, 'a good message is still accepted')
sink.wait_messages(1, timeout=20)
rc, out, err = gw.sallyctl('status')
like(out, r'\n    Messages Received +1 +1 +1\n', 'only the good message was queued')
is_([e['rcpts'] for e, _ in sink.messages()], [['good@dest.example']], 'only the good message was delivered')
is_(gw.stop(), 0, 'gateway stops cleanly')
done()
