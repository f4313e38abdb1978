#!/usr/bin/env python3
# auth_forward - SMTP AUTH checked by another SMTP server (auth.forward):
# gateway A has no users file and asks gateway B (a second Sallyport with
# a users file) with AUTH PLAIN over STARTTLS.  B's answer is A's: 235
# relays, 535 refuses; a server that cannot be trusted (forward_tls:
# required-verify with a self-signed certificate) or cannot be reached
# gives 454 (try later), never a pass.  The password never crosses in
# clear: B's log shows the TLS session before the AUTH.
import os
import smtplib
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *

require('sallyportd', 'smtpd', 'qmgr', 'deliver')


def passwd(pw):
    return subprocess.run(['openssl', 'passwd', '-6', pw], check=True,
                          stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()


def client_ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


sink = Sink(scratch_dir=scratch())

# B: checks passwords from its users file; AUTH only under TLS.
scb = scratch()
scb.write('etc/users', 'alice:%s\n' % passwd('wonderland'))
pb = free_port()
cfg_b = base_config(pb, sink.port, scb,
                    policies='  RELAYED: { action: relay, tls: preferred, auth: preferred }\n'
                             '  BLOCKED: { action: reject }\n',
                    auth='{ users_file: %s }' % scb.join('etc/users'))
gb = Gateway(scb, cfg_b).start()


def gateway_a(forward_tls, port_b=pb):
    sca = scratch()
    pa = free_port()
    cfg = base_config(pa, sink.port, sca,
                      listeners='  - name: Submission\n    type: public\n    address: 127.0.0.1\n'
                                '    port: %d\n    hat:\n'
                                '      - { group: ALL, match: [ALL], policy: SUBMIT }\n'
                                '    rat:\n      - { match: ALL, action: reject }\n' % pa,
                      policies='  SUBMIT: { action: accept, tls: required, auth: required }\n',
                      auth='{ forward: "127.0.0.1:%d", forward_tls: %s }' % (port_b, forward_tls))
    return Gateway(sca, cfg).start(), pa


def login(port, user, pw):
    s = smtplib.SMTP('127.0.0.1', port, timeout=30)
    try:
        s.starttls(context=client_ctx())
        s.ehlo('client.test')
        try:
            code, text = s.login(user, pw)
        except smtplib.SMTPAuthenticationError as e:
            code, text = e.smtp_code, e.smtp_error
        except smtplib.SMTPResponseException as e:
            code, text = e.smtp_code, e.smtp_error
        if code == 235:
            s.sendmail('alice@client.test', ['friend@elsewhere.test'],
                       b'Subject: forwarded auth\r\n\r\nhello\r\n')
        return code
    finally:
        try:
            s.quit()
        except Exception:
            pass


ga, pa = gateway_a('required')
is_(login(pa, 'alice', 'wonderland'), 235, 'the right password, checked by B, is accepted')
sink.wait_messages(1)
ok(any('friend@elsewhere.test' in m[0]['rcpts'] for m in sink.messages()),
   'an authenticated client relays to any recipient (the RAT rejects all)')
is_(login(pa, 'alice', 'looking-glass'), 535, 'a wrong password is refused with 535')
is_(login(pa, 'mallory', 'wonderland'), 535, 'an unknown user is refused with 535')
blog = gb.log('smtpd')
like(blog, r'ICID \d+ TLS success protocol [^\n]*\n(?:[^\n]*\n)*?[^\n]*ICID \d+ AUTH success '
     r"user 'alice'", 'B saw TLS, then the AUTH of alice')
unlike(blog, r'wonderland|looking-glass', "B's log holds no password")
unlike(ga.log('smtpd'), r'wonderland|looking-glass', "A's log holds no password")
ga.stop()

# required-verify: B's certificate is the generated self-signed one.
ga, pa = gateway_a('required-verify')
is_(login(pa, 'alice', 'wonderland'), 454, 'an unverified forward server gives 454, not a pass')
like(ga.log('smtpd'), r'AUTH check for .alice. failed: auth\.forward: the server.s certificate '
     r'is not verified', 'and the reason is logged')
ga.stop()

# Nobody listening: temporary failure.
ga, pa = gateway_a('required', port_b=free_port())
is_(login(pa, 'alice', 'wonderland'), 454, 'an unreachable forward server gives 454')
ga.stop()

# The forward server must be an address (smtpd resolves no names).
sc = scratch()
bad = sc.write('bad.yaml', base_config(free_port(), sink.port, sc,
                                       auth='{ forward: "auth.example.test:25" }'))
p = subprocess.run([tool('sallyportd'), '-t', '-c', bad], stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, universal_newlines=True, timeout=scale(30))
isnt(p.returncode, 0, 'auth.forward with a host name is refused')
like(p.stderr, r'auth: invalid forward .auth\.example\.test:25.', 'with the key and value')

# A users file with a weak hash refuses the configuration at load.
sc.write('weak-users', 'alice:$6$ok$%s\nbob:$1$md5$old\n' % ('x' * 86))
bad = sc.write('weak.yaml', base_config(free_port(), sink.port, sc,
                                        auth='{ users_file: %s }' % sc.join('weak-users')))
p = subprocess.run([tool('sallyportd'), '-t', '-c', bad], stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, universal_newlines=True, timeout=scale(30))
isnt(p.returncode, 0, 'a users file with an MD5 hash is refused')
like(p.stderr, r'auth\.users_file: \S+weak-users: line 2: unsupported hash for .bob.',
     'naming the file, the line and the user')

gb.stop()
sink.stop()
done()
