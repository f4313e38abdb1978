#!/usr/bin/env python3
# tools_sink.t - the test peers themselves: smtpsink stores exactly what it
# is sent and fails on request; smtpload counts what it sends; the harness
# leaves no process behind.  Every other integration test and `make bench`
# trusts these tools, so they are tested first.
import os
import re
import smtplib
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *  # noqa: E402,F403

require('smtpsink', 'smtpload')


def smtpload(port, *args):
    r = subprocess.run([tool('smtpload'), '-H', '127.0.0.1', '-p', str(port)] + list(args),
                       capture_output=True, text=True, timeout=scale(120))
    return r.returncode, r.stdout, r.stderr


def load_json(port, *args):
    rc, out, err = smtpload(port, *(args + ('--json',)))
    import json
    try:
        return rc, json.loads(out), err
    except ValueError:
        return rc, None, 'not JSON: %r\n%s' % (out, err)


def no_temp_files(sink):
    return [f for f in os.listdir(sink.dir) if f.startswith('.tmp')]


# --- smtpload against smtpsink: counts and storage ---------------------
sink = Sink()
rc, res, err = load_json(sink.port, '-n', '4', '-m', '25', '-s', '2000',
                         '-f', 'bulk@load.test', '-t', 'rcpt@sink.test')
is_(rc, 0, 'smtpload exits 0 when every message is accepted')
ok(res is not None, 'smtpload --json prints one JSON object', diag=err)
res = res or {}
is_((res.get('sessions'), res.get('sent'), res.get('accepted'), res.get('failed'),
     res.get('connection_errors')), (4, 100, 100, 0, 0),
    'smtpload: 4 sessions, 100 sent, 100 accepted, none failed')
ok(res.get('accepted_per_s', 0) > 0 and res.get('p99_ms', -1) >= res.get('p50_ms', 0) >= 0,
   'smtpload reports a rate and p50 <= p99', diag=repr(res))
msgs = sink.wait_messages(100)
is_(len(msgs), 100, 'the sink stored 100 messages')
is_(sink.count(), 100, 'the count file has one line per message')
is_([m[0]['seq'] for m in msgs], list(range(1, 101)), 'seq numbers run 1..100')
ok(all(m[0]['from'] == 'bulk@load.test' and m[0]['rcpts'] == ['rcpt@sink.test'] for m in msgs),
   'every envelope is MAIL FROM:<bulk@load.test> RCPT TO:<rcpt@sink.test>',
   diag=lambda: repr([m[0] for m in msgs[:3]]))
sizes = sorted(len(m[1]) for m in msgs)
ok(1900 <= sizes[0] and sizes[-1] <= 2100, 'message sizes are about -s 2000', diag=repr(sizes[:3]))
body = msgs[0][1]
for h in ('From', 'To', 'Subject', 'Date', 'Message-ID'):
    like(body, (r'(?m)^%s: \S' % h).encode(), 'smtpload message has a %s header' % h)
ok(all(line == b'' or (len(line) <= 998 and not line.startswith(b'.'))
       for line in body.split(b'\r\n')), 'smtpload body lines are CRLF text, none starts with a dot')
ids = {re.search(rb'(?m)^Message-ID: (\S+)', m[1]).group(1) for m in msgs}
is_(len(ids), 100, 'every Message-ID is unique')
with open(sink.countfile) as f:
    first = f.readline()
like(first, r'^seq 1 from bulk@load\.test rcpts 1 bytes \d+\n$', 'count file line format')
is_(no_temp_files(sink), [], 'no temporary files left in the sink directory')

# --- byte-exact storage: dot-stuffing is undone, nothing else changes ---
exact = (b'From: a@client.test\r\nSubject: dots\r\n\r\n'
         b'.leading dot\r\n'
         b'..two dots\r\n'
         b'.\r\n'
         b' .space then dot\r\n'
         b'8bit: \xc3\xa9t\xc3\xa9\r\n'
         + b'x' * 1500 + b'\r\n'
         b'..\r\n'
         b'last line.\r\n')
r = send_mail(sink.port, 'a@client.test', ['b@sink.test', 'c@sink.test'], exact)
is_((r.code, r.refused), (250, {}), 'smtplib message accepted')
like(r.text, r'2\.0\.0 Ok: queued as 101', 'reply names the seq')
msgs = sink.wait_messages(101)
env, data = msgs[-1]
ok(data == exact, 'stored .eml is byte-for-byte what was sent (dots unstuffed)',
   diag=lambda: 'got %r' % data[:200])
is_(env, {'seq': 101, 'from': 'a@client.test', 'rcpts': ['b@sink.test', 'c@sink.test']},
    'envelope has the sender and both recipients')

r = send_mail(sink.port, '', ['d@sink.test'], b'Subject: null sender\r\n\r\nbounce\r\n')
is_(r.code, 250, 'null sender accepted')
with open(os.path.join(sink.dir, '102.env')) as f:
    is_(f.read(), 'MAIL FROM:<>\nRCPT TO:<d@sink.test>\n', '.env text for a null sender')

# DATA ends only at CRLF.CRLF: a dot line between bare LFs is data.
s = raw_session(sink.port)
s.expect('220')
s.sendline('EHLO raw.test')
ehlo = s.expect('250')
for ext in ('PIPELINING', '8BITMIME', 'SMTPUTF8', 'SIZE', 'ENHANCEDSTATUSCODES'):
    like(ehlo.text, r'(?m)^%s\b' % ext, 'EHLO advertises %s' % ext)
s.send('MAIL FROM:<p@client.test>\r\nRCPT TO:<q@sink.test>\r\nDATA\r\n')
replies = [s.read_reply().code for _ in range(3)]
is_(replies, [250, 250, 354], 'pipelined MAIL, RCPT, DATA get 250, 250, 354')
s.send(b'a\n.\nb\r\n.\r\n')
like(str(s.expect('250')), r'queued as 103', 'message with a bare-LF dot line accepted at CRLF.CRLF')
s.sendline('X' * 20000)
s.expect(r'500 5\.5\.2')
s.sendline('NOOP')
s.expect('250')
ok(True, 'a 20000-byte command line gets 500 and the session goes on')
s.sendline('QUIT')
s.expect('221')
ok(s.wait_closed(), 'sink closes after QUIT')
env, data = sink.wait_messages(103)[-1]
is_(data, b'a\n.\nb\r\n', 'bare-LF dot line stored as data, not taken as the end')

# --- failure behaviours chosen by the recipient ------------------------
n = sink.count()
r = send_mail(sink.port, 'a@client.test', ['tempfail1@sink.test', 'ok1@sink.test'], b'x\r\n')
is_((r.code, r.refused.get('tempfail1@sink.test', (0,))[0]), (250, 451),
    'tempfail* gets 451 at RCPT, the other recipient is delivered')
like(r.refused.get('tempfail1@sink.test', (0, ''))[1], r'4\.2\.0 try later', '451 text')
r = send_mail(sink.port, 'a@client.test', ['reject-me@sink.test', 'ok2@sink.test'], b'x\r\n')
is_((r.code, r.refused.get('reject-me@sink.test', (0,))[0]), (250, 550),
    'reject* gets 550 at RCPT')
like(r.refused.get('reject-me@sink.test', (0, ''))[1], r'5\.1\.1 no such user', '550 text')
msgs = sink.wait_messages(n + 2)
is_([m[0]['rcpts'] for m in msgs[-2:]], [['ok1@sink.test'], ['ok2@sink.test']],
    'only accepted recipients are in the .env')
r = send_mail(sink.port, 'a@client.test', ['Reject@sink.test'], b'x\r\n')
is_((r.code, list(r.refused)), (550, ['Reject@sink.test']),
    'all recipients refused: no DATA, the refusal is the result (case-insensitive match)')
r = send_mail(sink.port, 'a@client.test', ['datatempfail@sink.test'], b'x\r\n')
is_(r.code, 452, 'datatempfail* gets 452 after the data')
like(r.text, r'4\.3\.1 later', '452 text')
r = send_mail(sink.port, 'a@client.test', ['ok3@sink.test', 'datareject9@sink.test'], b'x\r\n')
is_(r.code, 554, 'datareject* gets 554 after the data')
like(r.text, r'5\.6\.0 rejected', '554 text')
is_(sink.count(), n + 2, 'refused messages are not stored')
rc, out, err = smtpload(sink.port, '-n', '2', '-m', '2', '-s', '500', '-t', 'reject@sink.test')
isnt(rc, 0, 'smtpload exits non-zero when messages are refused')
like(err, r'550 5\.1\.1', 'smtpload says why')
like(out, r'(?m)^accepted:\s+0$', 'smtpload text output counts 0 accepted')

rc = sink.stop()
is_(rc, 0, 'SIGTERM: smtpsink exits 0')
is_(sink.received, sink.count(), 'it prints "received <n> messages" with the accepted count')
ok(not pid_alive(sink.pid), 'smtpsink is gone')
is_(no_temp_files(sink), [], 'no temporary files left behind')

# --- option-driven failures -----------------------------------------
drop = Sink('--drop-mid-data', '1', name='drop')
try:
    send_mail(drop.port, 'a@client.test', ['x@sink.test'], b'Subject: t\r\n\r\n' + b'y' * 5000 + b'\r\n')
    ok(False, '--drop-mid-data 1: first transaction is cut')
except (smtplib.SMTPServerDisconnected, ConnectionError) as e:
    ok(True, '--drop-mid-data 1: first transaction is cut (%s)' % type(e).__name__)
r = send_mail(drop.port, 'a@client.test', ['x@sink.test'], b'Subject: t\r\n\r\nsecond\r\n')
is_(r.code, 250, '--drop-mid-data 1: the second transaction is accepted')
is_([m[1] for m in drop.wait_messages(1)], [b'Subject: t\r\n\r\nsecond\r\n'],
    'only the second message is stored')
is_(no_temp_files(drop), [], 'the cut transaction left no temporary file')
rc, res, err = load_json(drop.port, '-n', '1', '-m', '1', '-s', '300')
is_((rc, (res or {}).get('accepted')), (0, 1), 'later transactions are not dropped')
drop.stop()

tf = Sink('--tempfail-first', '2', name='tempfail')
codes = [send_mail(tf.port, 'a@client.test', ['r%d@sink.test' % i], b'x\r\n').code for i in range(3)]
is_(codes, [451, 451, 250], '--tempfail-first 2: two 451s, then delivered')
is_(len(tf.wait_messages(1)), 1, 'the retried message is stored once')
tf.stop()

np = Sink('--no-pipelining', name='nopipe')
s = raw_session(np.port)
s.expect('220')
s.sendline('EHLO raw.test')
ehlo = s.expect('250')
unlike(ehlo.text, r'(?m)^PIPELINING', '--no-pipelining: not advertised')
like(ehlo.text, r'(?m)^ENHANCEDSTATUSCODES', '--no-pipelining: other extensions still there')
s.close()
rc, res, err = load_json(np.port, '-n', '2', '-m', '5', '-s', '1000')
is_((rc, (res or {}).get('accepted')), (0, 10), 'smtpload works without pipelining')
old_port = np.port
np.stop()
np.start()
is_(np.port, old_port, 'a restarted sink listens on the same port')
is_(send_mail(np.port, 'a@client.test', ['x@sink.test'], b'x\r\n').code, 250,
    'and accepts mail')
is_([m[0]['seq'] for m in np.wait_messages(11)][-2:], [10, 11],
    'its seq numbers go on after the stored messages')
np.stop()
is_(np.received, 1, '"received" counts the messages of the last run only')

b421 = Sink('--banner-code', '421', name='b421')
s = raw_session(b421.port)
like(str(s.expect('421')), r'421 4\.3\.2', '--banner-code 421: banner')
ok(s.wait_closed(), '--banner-code 421: connection closed')
try:
    send_mail(b421.port, 'a@client.test', ['x@sink.test'], b'x\r\n')
    ok(False, 'send_mail raises on a 421 banner')
except (smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected) as e:
    ok(True, 'send_mail raises on a 421 banner (%s)' % type(e).__name__)
rc, out, err = smtpload(b421.port, '-n', '1', '-m', '1', '-s', '300')
ok(rc != 0 and 'banner' in err, 'smtpload fails on a 421 banner and says so', diag=err)
b421.stop()

b554 = Sink('--banner-code', '554', name='b554')
s = raw_session(b554.port)
s.expect('554')
s.sendline('EHLO raw.test')
s.expect(r'503 5\.5\.1')
s.sendline('MAIL FROM:<a@client.test>')
s.expect('503')
s.sendline('QUIT')
s.expect('221')
ok(s.wait_closed(), '--banner-code 554: 503 to all but QUIT, then 221 and close')
b554.stop()

# --- nothing left running ---------------------------------------------
for k in (sink, drop, tf, np, b421, b554):
    ok(not k.alive(), 'sink %s stopped' % k.name)
is_(proc_descendants(os.getpid()), [], 'no child process of the test is left')

done()
