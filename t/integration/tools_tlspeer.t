#!/usr/bin/env python3
# tools_tlspeer.t - the TLS test tools themselves: testpki makes
# certificates that openssl judges as asked (valid, expired, self-signed,
# PKCS#12), and tlspeer's TlsSink takes mail over STARTTLS or in clear,
# records how it came, and misbehaves exactly as each mode promises.  The
# TLS delivery tests trust both, so they are tested first.  Needs only
# python3 and openssl, no build.
import json
import os
import re
import smtplib
import socket
import ssl
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *  # noqa: E402,F403
from testpki import PKI, PKIError  # noqa: E402
import tlspeer  # noqa: E402
from tlspeer import TlsSink  # noqa: E402

if subprocess.run(['sh', '-c', 'command -v openssl'], capture_output=True).returncode != 0:
    skip_all('openssl(1) is not installed')


def openssl(*args, input=None):
    r = subprocess.run(['openssl'] + list(args), input=input, capture_output=True, text=True,
                       errors='replace', timeout=scale(30))
    return r.returncode, r.stdout, r.stderr


def cert_text(path):
    return openssl('x509', '-in', path, '-noout', '-text')[1]


def client_context(ca_file, cert=None):
    ctx = ssl.create_default_context(cafile=ca_file)
    if cert is not None:
        ctx.load_cert_chain(cert.chain, cert.key)
    return ctx


def send_tls(port, ctx, body=b'Subject: tls\r\n\r\nover TLS\r\n', sender='a@client.test',
             rcpts=('b@peer.test',), helo='client.test'):
    """EHLO, STARTTLS, EHLO, one message, QUIT; returns the EHLO replies
    before and after TLS."""
    s = smtplib.SMTP('127.0.0.1', port, local_hostname=helo, timeout=scale(30))
    try:
        before = s.ehlo()
        s.starttls(context=ctx)
        after = s.ehlo()
        s.sendmail(sender, list(rcpts), body)
        s.quit()
        return before, after
    finally:
        s.close()


def slurp(path, mode='r'):
    with open(path, mode) as f:
        return f.read()


def threads_named(prefix):
    return [t.name for t in threading.enumerate() if t.name.startswith(prefix)]


sc = scratch()

# --- testpki ---------------------------------------------------------
pki = PKI(sc.mkdir('pki'))
ca = pki.ca()
mx = pki.leaf('mx', cn='mx.example.test', sans=['mx.example.test', '127.0.0.1'], ca=ca)
old = pki.leaf('old', cn='old.example.test', ca=ca, expired=True)
selfie = pki.leaf('selfie', cn='self.example.test')
rsa = pki.leaf('rsa', cn='rsa.example.test', ca=ca, key='rsa')
client = pki.leaf('client', cn='client.example.test', ca=ca)

rc, out, err = openssl('verify', '-CAfile', ca.cert, mx.cert)
is_((rc, out.strip()), (0, '%s: OK' % mx.cert), 'openssl verify accepts the CA-signed leaf')
rc, out, err = openssl('verify', '-CAfile', ca.cert, old.cert)
isnt(rc, 0, 'openssl verify rejects the expired leaf')
like(out + err, r'certificate has expired', 'because it has expired')
is_(openssl('x509', '-checkend', '0', '-noout', '-in', old.cert)[0], 1,
    'x509 -checkend 0: the expired leaf has expired')
is_(openssl('x509', '-checkend', '86400', '-noout', '-in', mx.cert)[0], 0,
    'x509 -checkend 86400: the valid leaf has a day left at least')
rc, out, err = openssl('verify', '-CAfile', ca.cert, selfie.cert)
isnt(rc, 0, 'a self-signed leaf does not verify against the test CA')
is_(openssl('verify', '-CAfile', selfie.cert, selfie.cert)[0], 0,
    'but against itself it does')
rc, out, err = openssl('verify', '-CAfile', ca.cert, '-purpose', 'sslclient', client.cert)
is_(rc, 0, 'a leaf verifies for purpose sslclient too', )

text = cert_text(ca.cert)
like(text, r'Basic Constraints: critical\s+CA:TRUE', 'CA: basicConstraints critical CA:TRUE')
like(text, r'Key Usage: critical\s+Certificate Sign, CRL Sign', 'CA: keyUsage keyCertSign, cRLSign')
text = cert_text(mx.cert)
like(text, r'Subject: CN = mx\.example\.test', 'leaf subject is its CN')
like(text, r'Issuer: CN = Test CA', 'leaf issuer is the CA')
like(text, r'DNS:mx\.example\.test, IP Address:127\.0\.0\.1', 'leaf has DNS and IP SANs')
like(text, r'TLS Web Server Authentication, TLS Web Client Authentication',
     'leaf has extendedKeyUsage serverAuth, clientAuth')
like(text, r'Basic Constraints: critical\s+CA:FALSE', 'leaf is not a CA')
like(text, r'id-ecPublicKey[\s\S]*P-256', 'EC P-256 key by default')
like(cert_text(rsa.cert), r'rsaEncryption[\s\S]*2048 bit', "key='rsa': RSA 2048")
like(cert_text(old.cert), r'Issuer: CN = Test CA', 'the expired leaf is CA-signed too')
is_(slurp(mx.chain), slurp(mx.cert) + slurp(ca.cert),
    '.chain is the leaf, then the CA')
is_(slurp(selfie.chain), slurp(selfie.cert), 'a self-signed .chain is the leaf alone')
is_(oct(os.stat(mx.key).st_mode & 0o777), '0o600', 'keys are mode 0600')

p12 = pki.p12(mx, 'pass phrase')
rc, out, err = openssl('pkcs12', '-in', p12, '-passin', 'pass:pass phrase', '-nodes')
is_(rc, 0, 'the PKCS#12 file opens with its passphrase', )
is_((out.count('BEGIN CERTIFICATE'), out.count('BEGIN PRIVATE KEY')), (2, 1),
    'it holds two certificates (leaf, CA) and the key')
isnt(openssl('pkcs12', '-in', p12, '-passin', 'pass:wrong', '-nodes')[0], 0,
     'a wrong passphrase does not open it')
try:
    pki.leaf('bad', key='dsa')
    ok(False, 'an unknown key type raises PKIError')
except PKIError as e:
    like(str(e), r"key must be 'ec' or 'rsa'", 'an unknown key type raises PKIError')

# --- normal mode: STARTTLS, and mail in clear -------------------------
peer = TlsSink(sc, cert=mx.chain, key=mx.key, name='normal').start()
like(peer.addr, r'^127\.0\.0\.1:\d+$', '.addr is 127.0.0.1:PORT')
body = (b'From: a@client.test\r\nSubject: dots\r\n\r\n.leading dot\r\n..two\r\n'
        b'.\r\n8bit: \xc3\xa9\r\nlast\r\n')
before, after = send_tls(peer.port, client_context(ca.cert), body=body,
                         rcpts=('b@peer.test', 'c@peer.test'))
like(before[1], rb'(?m)^STARTTLS$', 'EHLO in clear offers STARTTLS')
for ext in (b'PIPELINING', b'8BITMIME', b'SIZE'):
    like(before[1], rb'(?m)^' + ext + rb'\b', 'EHLO offers %s' % ext.decode())
unlike(after[1], rb'(?m)^STARTTLS', 'EHLO over TLS does not offer STARTTLS again')
m = peer.wait_messages(1)[0]
is_((m['mail_from'], m['rcpts'], m['helo']), ('a@client.test', ['b@peer.test', 'c@peer.test'],
                                              'client.test'),
    'envelope and HELO name recorded')
is_(m['data'], body, 'data is what was sent, dots unstuffed')
is_(m['tls'], True, 'message over STARTTLS: tls=True')
like(m['version'], r'^TLSv1\.[23]$', 'TLS version recorded')
ok(m['cipher'], 'cipher recorded: %s' % m['cipher'])
is_(m['client_cert'], None, 'no client certificate asked for, none recorded')
ok(os.path.exists(os.path.join(peer.dir, '1.eml')) and os.path.exists(os.path.join(peer.dir, '1.json')),
   'message stored as <seq>.eml and <seq>.json')

r = send_mail(peer.port, 'clear@client.test', ['d@peer.test'], b'Subject: clear\r\n\r\nplain\r\n')
is_(r.code, 250, 'mail in clear accepted')
like(r.text, r'2\.0\.0 Ok: queued as 2', 'reply names the seq')
m = peer.wait_messages(2)[1]
is_((m['tls'], m['version'], m['cipher'], m['mail_from']), (False, None, None, 'clear@client.test'),
    'message in clear: tls=False, no version or cipher')

# The dialogue rules a client must follow.
s = raw_session(peer.port)
s.expect('220')
s.sendline('MAIL FROM:<a@client.test>')
s.expect(r'503 5\.5\.1')
s.sendline('EHLO raw.test')
s.expect('250')
s.sendline('RCPT TO:<x@peer.test>')
s.expect(r'503 5\.5\.1')
s.sendline('MAIL FROM:<a@client.test>')
s.expect('250')
s.sendline('DATA')
s.expect(r'503 5\.5\.1')
s.sendline('X' * 10000)
s.expect(r'500 5\.5\.2')
s.sendline('NOOP')
s.expect('250')
s.sendline('STARTTLS')
s.expect(r'220 2\.0\.0 Ready to start TLS')
tls = client_context(ca.cert).wrap_socket(s.sock, server_hostname='mx.example.test')
s.sock = tls
s.sendline('MAIL FROM:<a@client.test>')
s.expect(r'503 5\.5\.1')
ok(True, 'MAIL before HELO, RCPT before MAIL, DATA before RCPT get 503; after STARTTLS, '
   'the client must EHLO again')
s.sendline('QUIT')
s.expect('221')
s.close()

# openssl s_client: a handshake, the leaf's subject, an orderly end.
rc, out, err = openssl('s_client', '-starttls', 'smtp', '-connect', peer.addr,
                       '-CAfile', ca.cert, '-ign_eof', input='QUIT\n')
is_(rc, 0, 'openssl s_client -starttls smtp exits 0', )
like(out, r'subject=CN = mx\.example\.test', 's_client sees the leaf', )
like(out, r'Verify return code: 0 \(ok\)', 's_client verifies it against the test CA')
like(out, r'221 2\.0\.0', 'QUIT over TLS gets 221')
ev = peer.wait_event(lambda e: e['closed'] and e['commands'] == ['EHLO', 'STARTTLS', 'QUIT'])
is_((ev['starttls_seen'], ev['handshake_ok'], ev['tls'], ev['quit'], ev['messages']),
    (True, True, True, True, 0), 's_client connection: STARTTLS, handshake, QUIT, no mail')

# A handshake that the client abandons: an untrusted server certificate.
try:
    send_tls(peer.port, client_context(pki.ca('Other CA').cert))
    ok(False, 'a client that does not trust the CA fails the handshake')
except ssl.SSLCertVerificationError as e:
    ok(True, 'a client that does not trust the CA fails the handshake (%s)' % e.verify_message)
ev = peer.wait_event(lambda e: e['starttls_seen'] and e['handshake_ok'] is False and e['closed'])
like(ev['handshake_error'] or '', r'(?i)alert|certificate',
     'the sink records the failed handshake and why: %s' % ev['handshake_error'])
is_(ev['messages'], 0, 'and no mail on that connection')

# A message larger than SIZE is read to its end and refused; the session goes on.
tlspeer.MAX_MESSAGE, saved_max = 1000, tlspeer.MAX_MESSAGE
try:
    s = raw_session(peer.port)
    s.expect('220')
    s.sendline('EHLO raw.test')
    like(s.expect('250').text, r'(?m)^SIZE 1000$', 'EHLO advertises the SIZE limit')
    s.send('MAIL FROM:<a@client.test>\r\nRCPT TO:<x@peer.test>\r\nDATA\r\n')
    is_([s.read_reply().code for _ in range(3)], [250, 250, 354], 'pipelined MAIL, RCPT, DATA')
    s.send(b'Subject: big\r\n\r\n' + b'y' * 5000 + b'\r\n.\r\n')
    like(str(s.expect('552')), r'^552 5\.3\.4', 'a message over SIZE gets 552 5.3.4')
    s.sendline('NOOP')
    s.expect('250')
    ok(True, 'and the session goes on')
    s.close()
finally:
    tlspeer.MAX_MESSAGE = saved_max
is_(len(peer.messages()), 2, 'the big message is not recorded')

# stop() ends idle connections too (in clear and over TLS), and the
# threads; start() again.
idle = raw_session(peer.port)
idle.expect('220')
peer.wait_event(lambda e: e['peer'].endswith(':%d' % idle.sock.getsockname()[1]))
idle_tls = smtplib.SMTP('127.0.0.1', peer.port, timeout=scale(30))
idle_tls.starttls(context=client_context(ca.cert))
peer.wait_event(lambda e: e['handshake_ok'] and not e['closed'])
peer.stop()
ok(idle.wait_closed(), 'stop() closes an idle connection')
try:
    idle_tls.noop()
    ok(False, 'stop() closes an idle TLS connection')
except (smtplib.SMTPServerDisconnected, OSError) as e:
    ok(True, 'stop() closes an idle TLS connection (%s)' % type(e).__name__)
idle_tls.close()
is_(threads_named('normal-'), [], 'stop() joins every thread')
try:
    socket.create_connection(('127.0.0.1', peer.port), timeout=2).close()
    ok(False, 'nothing listens after stop()')
except OSError:
    ok(True, 'nothing listens after stop()')
old_port = peer.port
peer.start()
is_(peer.port, old_port, 'start() again listens on the same port')
is_(send_mail(peer.port, 'a@client.test', ['x@peer.test'], b'x\r\n').code, 250, 'and takes mail')
is_(peer.wait_messages(3)[2]['seq'], 3, 'seq numbers go on')
peer.stop()
try:
    peer.wait_messages(4, timeout=0.2)
    ok(False, 'wait_messages raises Timeout at its deadline')
except Timeout as e:
    like(str(e), r'4 messages at TlsSink normal \(have 3\)', 'wait_messages raises Timeout at its deadline')

# --- misbehaving modes -----------------------------------------------
with TlsSink(sc, cert=mx.chain, key=mx.key, mode='no-starttls', name='nostarttls') as p:
    s = raw_session(p.port)
    s.expect('220')
    s.sendline('EHLO raw.test')
    unlike(s.expect('250').text, r'(?m)^STARTTLS', 'no-starttls: EHLO does not offer STARTTLS')
    s.sendline('STARTTLS')
    like(str(s.expect('502')), r'^502 5\.5\.1 not implemented', 'no-starttls: STARTTLS gets 502 5.5.1')
    s.sendline('QUIT')
    s.expect('221')
    is_(send_mail(p.port, 'a@client.test', ['x@peer.test'], b'x\r\n').code, 250,
        'no-starttls: mail in clear works')
    is_(p.wait_messages(1)[0]['tls'], False, 'no-starttls: recorded tls=False')
is_(threads_named('nostarttls-'), [], 'the context manager stops the sink')

with TlsSink(sc, cert=mx.chain, key=mx.key, mode='starttls-refuse', name='refuse') as p:
    s = smtplib.SMTP('127.0.0.1', p.port, timeout=scale(30))
    s.ehlo('client.test')
    ok(s.has_extn('starttls'), 'starttls-refuse: EHLO offers STARTTLS')
    try:
        s.starttls(context=client_context(ca.cert))
        ok(False, 'starttls-refuse: STARTTLS is refused')
    except smtplib.SMTPResponseException as e:
        is_((e.smtp_code, e.smtp_error), (454, b'4.7.0 TLS not available due to temporary reason'),
            'starttls-refuse: STARTTLS is refused with 454 4.7.0')
    s.sendmail('a@client.test', ['x@peer.test'], b'x\r\n')
    s.quit()
    m = p.wait_messages(1)[0]
    is_(m['tls'], False, 'starttls-refuse: the session goes on in clear')
    ev = p.wait_event(lambda e: e['closed'])
    is_((ev['starttls_seen'], ev['handshake_ok']), (True, None),
        'starttls-refuse: STARTTLS seen, no handshake tried')

with TlsSink(sc, cert=mx.chain, key=mx.key, mode='handshake-fail', name='hsfail') as p:
    s = smtplib.SMTP('127.0.0.1', p.port, timeout=scale(30))
    s.ehlo('client.test')
    ok(s.has_extn('starttls'), 'handshake-fail: EHLO offers STARTTLS')
    try:
        s.starttls(context=client_context(ca.cert))
        ok(False, 'handshake-fail: the handshake fails')
    except (ssl.SSLError, OSError, smtplib.SMTPServerDisconnected) as e:
        ok(True, 'handshake-fail: the handshake fails after 220 (%s: %s)' % (type(e).__name__, e))
    s.close()
    ev = p.wait_event(lambda e: e['starttls_seen'] and e['closed'])
    is_((ev['handshake_ok'], ev['tls'], ev['messages'], ev['quit']), (False, False, 0, False),
        'handshake-fail: recorded as a failed handshake, no mail, no QUIT')
    # What a delivery test asserts: the client tried STARTTLS, then gave up.
    s = raw_session(p.port)
    s.expect('220')
    s.sendline('EHLO raw.test')
    s.expect('250')
    s.sendline('STARTTLS')
    s.expect('220')
    s.send(b'\x16\x03\x01\x00\x05hello')
    ok(s.wait_closed(), 'handshake-fail: closes after its garbage')
    s.close()
is_(p.messages(), [], 'handshake-fail: no message')

with TlsSink(sc, mode='no-ehlo', name='noehlo') as p:
    s = smtplib.SMTP('127.0.0.1', p.port, timeout=scale(30))
    code, text = s.ehlo('client.test')
    is_((code, text), (502, b'5.5.2 EHLO not supported'), 'no-ehlo: EHLO gets 502 5.5.2')
    is_(s.helo('client.test')[0], 250, 'no-ehlo: HELO works')
    s.close()
    r = send_mail(p.port, 'a@client.test', ['x@peer.test'], b'x\r\n', helo='old.client.test')
    is_(r.code, 250, 'no-ehlo: send_mail falls back to HELO and delivers')
    m = p.wait_messages(1)[0]
    is_((m['helo'], m['tls']), ('old.client.test', False), 'no-ehlo: HELO name recorded, in clear')
    s = raw_session(p.port)
    s.expect('220')
    s.sendline('STARTTLS')
    s.expect(r'502 5\.5\.1')
    ok(True, 'no-ehlo without a cert: STARTTLS gets 502')
    s.close()

# --- client certificates ---------------------------------------------
with TlsSink(sc, cert=mx.chain, key=mx.key, require_client_cert=ca.cert, name='ccert') as p:
    send_tls(p.port, client_context(ca.cert, cert=client))
    m = p.wait_messages(1)[0]
    is_((m['tls'], m['client_cert']), (True, 'CN=client.example.test'),
        'client certificate mode: the client subject is recorded')
    ev = p.wait_event(lambda e: e['closed'] and e['messages'] == 1)
    is_(ev['client_cert'], 'CN=client.example.test', 'and in the connection event')
    try:
        send_tls(p.port, client_context(ca.cert))
        ok(False, 'without a client certificate the session fails')
    except (ssl.SSLError, OSError, smtplib.SMTPException) as e:
        ok(True, 'without a client certificate the session fails (%s)' % type(e).__name__)
    ev = p.wait_event(lambda e: e['closed'] and e['handshake_ok'] is False)
    like(ev['handshake_error'] or '', r'(?i)certificate',
         'the refused handshake is recorded: %s' % ev['handshake_error'])
    is_(len(p.messages()), 1, 'no message without a client certificate')
    other = pki.ca('Client CA 2')
    stranger = pki.leaf('stranger', cn='stranger.example.test', ca=other)
    try:
        send_tls(p.port, client_context(ca.cert, cert=stranger))
        ok(False, 'a client certificate from another CA is refused')
    except (ssl.SSLError, OSError, smtplib.SMTPException) as e:
        ok(True, 'a client certificate from another CA is refused (%s)' % type(e).__name__)
    ev = p.wait_event(lambda e: e['closed'] and e['handshake_ok'] is False
                      and 'certificate verify failed' in (e['handshake_error'] or ''))
    ok(ev, 'the sink failed to verify it: %s' % ev['handshake_error'])
    is_(len(p.messages()), 1, 'and delivers nothing')

# --- as a script -----------------------------------------------------
script_dir = sc.mkdir('script')
out = sc.join('script.out')
proc = start_process([sys.executable, tlspeer.__file__, '--port', '0', '--cert', mx.chain,
                      '--key', mx.key, '--mode', 'normal', '--dir', script_dir],
                     stdout=out, stderr=sc.join('script.err'))


def script_port():
    if proc.poll() is not None:
        raise HarnessError('tlspeer.py exited with %s: %s' % (proc.returncode, sc.read('script.err')))
    m = re.search(r'listening on (\d+)', sc.read('script.out'))
    return int(m.group(1)) if m else None


port = wait_until(script_port, 20, 'tlspeer.py to print its port')
send_tls(port, client_context(ca.cert), body=b'Subject: script\r\n\r\nhi\r\n')
wait_until(lambda: os.path.exists(os.path.join(script_dir, 'tlssink', '1.json')), 20,
           'tlspeer.py to store a message')
meta = json.loads(slurp(os.path.join(script_dir, 'tlssink', '1.json')))
is_((meta['tls'], meta['mail_from']), (True, 'a@client.test'), 'script: message stored with its TLS facts')
is_(slurp(os.path.join(script_dir, 'tlssink', '1.eml'), 'rb'), b'Subject: script\r\n\r\nhi\r\n',
    'script: message data stored')
rc, _ = stop_process(proc, timeout=20)
is_(rc, 0, 'script: SIGTERM ends it with status 0')
like(sc.read('script.err'), r'stopped after 1 messages', 'script: says what it did')

is_(threads_named('normal-') + threads_named('ccert-') + threads_named('hsfail-'), [],
    'no TlsSink thread is left')
done()
