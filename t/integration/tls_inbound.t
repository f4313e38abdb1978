#!/usr/bin/env python3
# tls_inbound - inbound STARTTLS and SMTP AUTH with real clients (openssl
# s_client, swaks, Python smtplib): a listener's named certificate (made
# by testpki) and the generated 'default' one (CN = hostname); the policy
# modes tls off (not advertised, 502), preferred (mail in clear and over
# TLS) and required (530 in clear, mail after STARTTLS, the log line of a
# client that gave up); STARTTLS command injection (pipelined bytes are
# discarded); protocol, cipher and client certificate in the log; AUTH
# PLAIN and LOGIN against a users file (openssl passwd -6 hashes): success
# relays with ESMTPSA in Received:, 535, 421 after max_failures, 530 under
# auth required, 538 and no AUTH in EHLO before TLS; a failed handshake
# is logged and the gateway keeps serving; a bad certificate config makes
# `sallyportd -t` fail naming the certificate.
import base64
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *
from testpki import PKI

require('sallyportd', 'smtpd', 'qmgr', 'deliver', 'smtpsink')
if shutil.which('openssl') is None:
    skip_all('openssl(1) is not installed')
HAVE_SWAKS = shutil.which('swaks') is not None

sc = scratch()
pki = PKI(sc.mkdir('pki'))
ca = pki.ca()
mx = pki.leaf('mx', cn='mx.example.test', sans=['mx.example.test', '127.0.0.1'], ca=ca)
client = pki.leaf('client', cn='client.example.test', ca=ca)
other = pki.leaf('other', cn='other.example.test', ca=ca)


def passwd6(pw):
    r = subprocess.run(['openssl', 'passwd', '-6', '-stdin'], input=pw, capture_output=True,
                       text=True, timeout=scale(30), check=True)
    return r.stdout.strip()


USERS = {'alice': 'Wonder-land-42', 'bob': 'b0b s3cret'}
users_file = sc.write('etc/users', '# SMTP AUTH users\n' + ''.join(
    '%s:%s\n' % (u, passwd6(p)) for u, p in USERS.items()))

sink = Sink(scratch_dir=sc)
P = {name: free_port() for name in ('named', 'default', 'off', 'req', 'authreq')}


def listener(name, port, policy, cert=None):
    return ('  - name: %s\n'
            '    type: public\n'
            '    address: 127.0.0.1\n'
            '    port: %d\n%s'
            '    hat:\n'
            '      - { group: ALL, match: [ALL], policy: %s }\n'
            '    rat:\n'
            '      - { match: dest.example, action: accept }\n'
            '      - { match: ALL, action: reject }\n' % (
                name, port, '    certificate: %s\n' % cert if cert else '', policy))


def config(**extra):
    kw = dict(
        listeners=(listener('Named', P['named'], 'PREF', 'mxcert') +
                   listener('Default', P['default'], 'PREF') +
                   listener('Off', P['off'], 'OFF') +
                   listener('Req', P['req'], 'REQ') +
                   listener('AuthReq', P['authreq'], 'AREQ', 'mxcert')),
        policies=('  PREF: { action: accept, tls: preferred, auth: preferred }\n'
                  '  OFF: { action: accept, tls: off, auth: preferred }\n'
                  '  REQ: { action: accept, tls: required, auth: preferred }\n'
                  '  AREQ: { action: accept, tls: preferred, auth: required }\n'),
        certificates='  mxcert: { cert: %s, key: %s }\n' % (mx.chain, mx.key),
        auth='{ users_file: %s, max_failures: 2, max_failures_per_ip: 1000 }' % users_file,
    )
    kw.update(extra)
    return base_config(P['named'], sink.port, scratch_dir=sc, **kw)


gw = Gateway(sc, config())
gw.start()

NOVERIFY = ssl.create_default_context()
NOVERIFY.check_hostname = False
NOVERIFY.verify_mode = ssl.CERT_NONE


def ehlo_keywords(port):
    """The EHLO keywords a client sees in clear."""
    s = raw_session(port)
    s.expect('220')
    s.sendline('EHLO client.test')
    r = s.expect('250')
    s.sendline('QUIT')
    s.close()
    return [l[4:].split(' ')[0].upper() for l in r.lines[1:]]


def s_client(port, extra=(), stdin='QUIT\n'):
    r = subprocess.run(['openssl', 's_client', '-starttls', 'smtp', '-connect',
                        '127.0.0.1:%d' % port, '-ign_eof', '-crlf'] + list(extra),
                       input=stdin, capture_output=True, text=True, timeout=scale(30))
    return r.returncode, r.stdout + r.stderr


def smtps(port, cert=None):
    """smtplib after STARTTLS (and EHLO again)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert is not None:
        ctx.load_cert_chain(cert.cert, cert.key)
    c = smtplib.SMTP('127.0.0.1', port, local_hostname='client.test', timeout=scale(20))
    c.ehlo()
    c.starttls(context=ctx)
    c.ehlo()
    return c


def b64(s):
    return base64.b64encode(s.encode()).decode()


def received(msg):
    """The first Received: header of a stored message, unfolded."""
    m = re.search(rb'(?ms)^Received: .*?(?=^\S)', msg)
    return re.sub(r'\r?\n\s+', ' ', m.group(0).decode()) if m else ''


# --- certificates ------------------------------------------------------
rc, out = s_client(P['named'])
like(out, r'subject=CN ?= ?mx\.example\.test', 'named certificate: s_client sees mx.example.test')
like(out, r'issuer=CN ?= ?Test CA', 'issued by the test CA')
like(out, r'(New, |Protocol\s*:\s*)TLSv1\.[23]', 's_client reports a TLS 1.2+ protocol')
like(out, r'221 ', 'QUIT answered over TLS')
mark = 0
m = gw.wait_log('smtpd', r'TLS success protocol (TLSv1\.[23]) cipher (\S+) client certificate none')
ok(m is not None, 'smtpd logs "TLS success protocol ... cipher ..."')

rc, out = s_client(P['default'])
like(out, r'subject=CN ?= ?test\.example',
     "no certificate named: the generated 'default' (CN = hostname)")
ok(os.path.exists(sc.join('state', 'certs', 'default.crt')), "'default' was made in <state>/certs")
like(gw.log('sallyportd') + open(gw.outfile, errors='replace').read(),
     r"generated a self-signed certificate 'default' for test\.example",
     'master says it generated it')

# --- tls off -------------------------------------------------------------
kw = ehlo_keywords(P['off'])
ok('STARTTLS' not in kw and 'AUTH' not in kw, 'tls off: neither STARTTLS nor AUTH advertised',
   diag=kw)
s = raw_session(P['off'])
s.expect('220')
s.sendline('EHLO client.test')
s.expect('250')
s.sendline('STARTTLS')
is_(s.read_reply().lines, ['502 5.5.1 Command not implemented'], 'tls off: STARTTLS 502')
s.close()
r = send_mail(P['off'], 'a@client.test', 'u@dest.example', 'Subject: off\r\n\r\nclear\r\n')
is_(r.code, 250, 'tls off: mail accepted in clear')

# --- tls preferred --------------------------------------------------------
kw = ehlo_keywords(P['named'])
ok('STARTTLS' in kw, 'preferred: STARTTLS advertised', diag=kw)
ok('AUTH' not in kw, 'AUTH not advertised before TLS', diag=kw)
r = send_mail(P['named'], 'a@client.test', 'u@dest.example', 'Subject: pref-clear\r\n\r\nclear\r\n')
is_(r.code, 250, 'preferred: mail accepted in clear')
c = smtps(P['named'])
ok(c.has_extn('auth') and not c.has_extn('starttls'), 'after TLS: AUTH offered, STARTTLS not')
c.sendmail('a@client.test', ['u@dest.example'], 'Subject: pref-tls\r\n\r\nover TLS\r\n')
c.quit()
msgs = sink.wait_messages(3)
bysubj = {re.search(rb'Subject: (\S+)', m).group(1).decode(): m for _, m in msgs}
like(received(bysubj.get('pref-tls', b'')),
     r'\(using TLSv1\.[23] with cipher \S+\) by test\.example \(Sallyport\) with ESMTPS id',
     'Received: ESMTPS with protocol and cipher')
like(received(bysubj.get('pref-clear', b'')), r'with ESMTP id', 'clear: Received: ESMTP')

# --- tls required ----------------------------------------------------------
mark = gw.log_mark('smtpd')
s = raw_session(P['req'])
s.expect('220')
s.sendline('EHLO client.test')
s.expect('250')
s.sendline('MAIL FROM:<a@client.test>')
is_(s.read_reply().lines, ['530 5.7.0 Must issue a STARTTLS command first'],
    'required: MAIL in clear 530')
s.sendline('NOOP')
s.expect('250')
s.sendline('QUIT')
s.expect('221')
s.close()
gw.wait_log('smtpd', r'TLS was required but the client did not start it', since=mark)
ok(True, 'required: a client that gives up is logged')
c = smtps(P['req'])
c.sendmail('a@client.test', ['u@dest.example'], 'Subject: req-tls\r\n\r\nrequired\r\n')
c.quit()
sink.wait_messages(4)
ok(True, 'required: mail accepted after STARTTLS')
if HAVE_SWAKS:
    r = subprocess.run(['swaks', '--server', '127.0.0.1:%d' % P['req'], '--tls',
                        '--from', 'a@client.test', '--to', 'u@dest.example',
                        '--helo', 'client.test', '--header', 'Subject: swaks-tls'],
                       capture_output=True, text=True, timeout=scale(60))
    is_(r.returncode, 0, 'swaks --tls to the required listener', )
    like(r.stdout, r'TLS started', 'swaks says TLS started')

# --- STARTTLS injection ------------------------------------------------------
mark = gw.log_mark('smtpd')
raw = socket.create_connection(('127.0.0.1', P['named']), timeout=scale(10))
f = raw.makefile('rb')


def line_reply(fh):
    lines = []
    while True:
        l = fh.readline()
        if not l:
            break
        lines.append(l.decode().rstrip('\r\n'))
        if not re.match(r'\d{3}-', lines[-1]):
            break
    return lines


line_reply(f)
raw.sendall(b'EHLO client.test\r\n')
line_reply(f)
raw.sendall(b'STARTTLS\r\nRSET\r\nMAIL FROM:<injected@client.test>\r\n')
first = line_reply(f)
is_(first, ['220 2.0.0 Ready to start TLS'], 'injection: 220 only')
tls = NOVERIFY.wrap_socket(raw, server_hostname=None)
tls.sendall(b'EHLO client.test\r\n')
tf = tls.makefile('rb')
r = line_reply(tf)
ok(r and r[0].startswith('250-'), 'the first reply over TLS answers EHLO, not the RSET', diag=r)
tls.sendall(b'RCPT TO:<u@dest.example>\r\n')
is_(line_reply(tf), ['503 5.5.1 Error: need MAIL command'], 'the injected MAIL was not executed')
tls.sendall(b'QUIT\r\n')
line_reply(tf)
tls.close()
gw.wait_log('smtpd', r'STARTTLS: discarded \d+ bytes sent before the TLS handshake', since=mark)
ok(True, 'discarded bytes logged')

# --- flow control under TLS ------------------------------------------------------
# Many pipelined commands in one TLS write (their replies pass SMTP_OUT_HIGH),
# then a large message in one write: every reply must come back.
def tls_raw(port):
    raw = socket.create_connection(('127.0.0.1', port), timeout=scale(30))
    fh = raw.makefile('rb')
    line_reply(fh)
    raw.sendall(b'EHLO client.test\r\n')
    line_reply(fh)
    raw.sendall(b'STARTTLS\r\n')
    line_reply(fh)
    t = NOVERIFY.wrap_socket(raw, server_hostname=None)
    return t, t.makefile('rb')


t, tf = tls_raw(P['named'])
t.sendall(b'EHLO client.test\r\n' + b'NOOP\r\n' * 6000)
line_reply(tf)
noops = sum(1 for _ in range(6000) if line_reply(tf) == ['250 2.0.0 Ok'])
is_(noops, 6000, 'TLS: 6000 pipelined NOOPs, 6000 replies')
body = b'Subject: big-tls\r\n\r\n' + (b'x' * 998 + b'\r\n') * 3000
t.sendall(b'MAIL FROM:<a@client.test>\r\nRCPT TO:<u@dest.example>\r\nDATA\r\n' + body +
          b'.\r\nQUIT\r\n')
got = [line_reply(tf) for _ in range(5)]
is_([g[0][:3] if g else None for g in got], ['250', '250', '354', '250', '221'],
    'TLS: a 3 MB message pipelined in one write is accepted', )
t.close()

# AUTH pipelined with the transaction (the check runs on the thread pool).
t, tf = tls_raw(P['named'])
t.sendall(b'EHLO client.test\r\n')
line_reply(tf)
t.sendall(('AUTH PLAIN %s\r\nMAIL FROM:<bob@client.test>\r\nRCPT TO:<x@elsewhere.example>\r\n'
           'DATA\r\n' % b64('\0bob\0' + USERS['bob'])).encode() +
          b'Subject: auth-pipelined\r\n\r\nhi\r\n.\r\nQUIT\r\n')
got = [line_reply(tf) for _ in range(6)]
is_([g[0][:3] if g else None for g in got], ['235', '250', '250', '354', '250', '221'],
    'TLS: AUTH pipelined with MAIL, RCPT (relayed), DATA', )
t.close()

# --- client certificate ---------------------------------------------------------
mark = gw.log_mark('smtpd')
c = smtps(P['named'], cert=client)
c.noop()
c.quit()
gw.wait_log('smtpd',
            r'TLS success protocol \S+ cipher \S+ client certificate CN=client\.example\.test',
            since=mark)
ok(True, 'a client certificate is logged')

# --- AUTH ---------------------------------------------------------------------------
mark = gw.log_mark('smtpd')
s = raw_session(P['named'])
s.expect('220')
s.sendline('EHLO client.test')
s.expect('250')
s.sendline('AUTH PLAIN ' + b64('\0alice\0' + USERS['alice']))
is_(s.read_reply().lines, ['538 5.7.11 Encryption required for requested authentication mechanism'],
    'AUTH before TLS: 538')
s.close()

c = smtps(P['named'])
c.login('alice', USERS['alice'])   # smtplib prefers PLAIN... or LOGIN; both offered
c.sendmail('alice@client.test', ['someone@elsewhere.example'],
           'Subject: auth-relay\r\n\r\nrelayed\r\n')
c.quit()
msgs = sink.wait_messages(7 + (1 if HAVE_SWAKS else 0))
bysubj = {re.search(rb'Subject: (\S+)', m).group(1).decode(): (e, m) for e, m in msgs}
env, msg = bysubj.get('auth-relay', ({}, b''))
is_(env.get('rcpts'), ['someone@elsewhere.example'], 'AUTH: relayed to a domain outside the RAT')
like(received(msg), r'with ESMTPSA id', 'Received: ESMTPSA')

# smtplib's login() would try the next mechanism after a 535: one
# command per attempt here.
c = smtps(P['named'])
code, text = c.docmd('AUTH', 'PLAIN ' + b64('\0alice\0wrong password'))
is_((code, text), (535, b'5.7.8 Authentication credentials invalid'), 'wrong password: 535')
code, text = c.docmd('AUTH', 'LOGIN ' + b64('bob'))
is_(code, 334, 'AUTH LOGIN: 334 for the password')
code, text = c.docmd(b64('also wrong'))
is_((code, text), (421, b'4.7.0 test.example Too many failed authentication attempts'),
    'second failure (auth.max_failures 2): 421')
c.close()

s = raw_session(P['named'])
s.expect('220')
s.sendline('EHLO c')
s.expect('250')
s.sendline('MAIL FROM:<a@client.test>')
s.expect('250')
s.sendline('RCPT TO:<x@elsewhere.example>')
like(str(s.read_reply()), r'^550 ', 'without AUTH: no relaying')
s.close()

if HAVE_SWAKS:
    for mech in ('PLAIN', 'LOGIN'):
        r = subprocess.run(['swaks', '--server', '127.0.0.1:%d' % P['named'], '--tls',
                            '--auth', mech, '--auth-user', 'bob', '--auth-password', USERS['bob'],
                            '--from', 'bob@client.test', '--to', 'x@elsewhere.example',
                            '--helo', 'client.test', '--header', 'Subject: swaks-%s' % mech],
                           capture_output=True, text=True, timeout=scale(60))
        is_(r.returncode, 0, 'swaks --tls --auth %s' % mech)
        like(r.stdout, r'235 2\.7\.0 Authentication successful', 'swaks %s: 235' % mech)

# auth required
s = raw_session(P['authreq'])
s.expect('220')
s.sendline('EHLO c')
s.expect('250')
s.sendline('MAIL FROM:<a@client.test>')
is_(s.read_reply().lines, ['530 5.7.0 Authentication required'], 'auth required: 530 before AUTH')
s.close()
c = smtps(P['authreq'])
code = c.mail('a@client.test')[0]
is_(code, 530, 'auth required: 530 over TLS before AUTH')
c.rset()
c.login('bob', USERS['bob'])
is_(c.mail('bob@client.test')[0], 250, 'auth required: MAIL after AUTH')
c.quit()

log = gw.log('smtpd')
for u, p in USERS.items():
    ok(p not in log, 'no password of %s in the log' % u)
    ok(b64('\0%s\0%s' % (u, p)) not in log and b64(p) not in log,
       'no base64 credentials of %s in the log' % u)
like(log, r"AUTH success user 'alice' mechanism (PLAIN|LOGIN) tls TLSv1\.[23]",
     'AUTH success logged')
like(log, r"AUTH failed user 'alice'", 'AUTH failure logged')

# --- a failed handshake ----------------------------------------------------------
mark = gw.log_mark('smtpd')
s = raw_session(P['named'])
s.expect('220')
s.sendline('EHLO c')
s.expect('250')
s.sendline('STARTTLS')
s.expect('220')
s.send(b'\x16\x03\x01\x00\x05garbage that is not a ClientHello\r\n' * 4)
ok(s.wait_closed(10), 'handshake garbage: the connection is closed')
gw.wait_log('smtpd', r'ICID \d+ TLS failed: ', since=mark)
ok(True, '"TLS failed" logged')
mark = gw.log_mark('smtpd')
s = raw_session(P['named'])
s.expect('220')
s.sendline('EHLO c')
s.expect('250')
s.sendline('STARTTLS')
s.expect('220')
s.close()
gw.wait_log('smtpd', r'TLS failed: the client closed the connection during the handshake',
            since=mark)
ok(True, 'a client that closes during the handshake is logged')
# A client that goes away while its password is being checked.
for i in range(5):
    t, tf = tls_raw(P['named'])
    t.sendall(b'EHLO client.test\r\n')
    line_reply(tf)
    t.sendall(('AUTH PLAIN %s\r\n' % b64('\0alice\0' + USERS['alice'])).encode())
    t.close()
r = send_mail(P['named'], 'a@client.test', 'u@dest.example', 'Subject: after\r\n\r\nstill here\r\n')
is_(r.code, 250, 'the gateway keeps serving')

gw.stop()

# --- bad certificate configs -------------------------------------------------------
def check_config(text):
    path = sc.write('etc/check.yaml', text)
    r = subprocess.run([tool('sallyportd'), '-t', '-c', path], capture_output=True, text=True,
                       timeout=scale(30))
    return r.returncode, r.stdout + r.stderr


rc, out = check_config(config())
is_(rc, 0, 'sallyportd -t accepts the good config')
rc, out = check_config(config(
    certificates='  mxcert: { cert: %s, key: %s }\n' % (mx.chain, other.key)))
isnt(rc, 0, 'key that does not match: refused')
like(out, r"certificate 'mxcert'.*does not match", 'the message names the certificate')
rc, out = check_config(config(certificates='  mxcert: { cert: %s, key: %s }\n' % (
    sc.join('pki', 'missing.crt'), mx.key)))
isnt(rc, 0, 'missing certificate file: refused')
like(out, r"certificate 'mxcert'.*missing\.crt", 'the message names the certificate and the file')

done()
