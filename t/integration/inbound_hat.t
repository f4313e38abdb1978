#!/usr/bin/env python3
# inbound_hat - sender groups of a public listener, one client address
# (127.0.0.x) per match kind: DNS list, forward-confirmed host name,
# .suffix, a PTR that does not confirm, single IP, range, partial
# address, CIDR, ALL; and each action: accept (custom banner), reject
# (custom reject banner, every command refused), tcprefuse (closed with no
# banner).  Reverse DNS and the DNS list come from ldns-testns on
# loopback, started here; never the internet.
import os
import re
import shutil
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *

if shutil.which('ldns-testns') is None:
    skip_all('ldns-testns is not installed (Debian: ldnsutils)')


sc = scratch()
data = ''.join([
    testns_entry('2.0.0.127.in-addr.arpa.', 'PTR', ['2.0.0.127.in-addr.arpa. 300 IN PTR good.example.test.']),
    testns_entry('good.example.test.', 'A', ['good.example.test. 300 IN A 127.0.0.2']),
    testns_entry('3.0.0.127.in-addr.arpa.', 'PTR', ['3.0.0.127.in-addr.arpa. 300 IN PTR liar.sub.example.test.']),
    testns_entry('liar.sub.example.test.', 'A', ['liar.sub.example.test. 300 IN A 127.0.0.99']),
    testns_entry('4.0.0.127.in-addr.arpa.', 'PTR', ['4.0.0.127.in-addr.arpa. 300 IN PTR h.sub.example.test.']),
    testns_entry('h.sub.example.test.', 'A', ['h.sub.example.test. 300 IN A 127.0.0.4']),
    testns_entry('5.0.0.127.bl.test.', 'A', ['5.0.0.127.bl.test. 300 IN A 127.0.0.2']),
    # A resolver that does not answer in time (the last test).
    'ENTRY_BEGIN\nMATCH opcode qtype qname\nADJUST copy_id sleep=8\nREPLY QR RD RA NOERROR\n'
    'SECTION QUESTION\n8.0.0.127.in-addr.arpa. IN PTR\nSECTION ANSWER\n'
    '8.0.0.127.in-addr.arpa. 300 IN PTR good.example.test.\nENTRY_END\n',
    # Everything else: NOERROR, no data.
    'ENTRY_BEGIN\nMATCH opcode\nADJUST copy_id copy_query\nREPLY QR RD RA NOERROR\nENTRY_END\n',
])
ns, nsport = start_testns(sc, data)

sink = Sink(scratch_dir=sc)
port = free_port()
listeners = (
    '  - name: In\n'
    '    type: public\n'
    '    address: 127.0.0.1\n'
    '    port: %d\n'
    '    hat:\n'
    '      - { group: BL, match: ["dnsbl:bl.test"], policy: BLOCKED }\n'
    '      - { group: REFUSE, match: ["127.0.0.6"], policy: REFUSED }\n'
    '      - { group: NAMED, match: [good.example.test], policy: NAMEDPOL }\n'
    '      - { group: SUFFIX, match: [.example.test], policy: SUFFIXPOL }\n'
    '      - { group: RANGE, match: ["127.0.0.10-20"], policy: RANGEPOL }\n'
    '      - { group: PARTIAL, match: ["127.0.1."], policy: PARTPOL }\n'
    '      - { group: CIDR, match: ["127.0.2.0/24"], policy: CIDRPOL }\n'
    '      - { group: SINGLE, match: ["127.0.0.3"], policy: IPPOL }\n'
    '      - { group: ALL, match: [ALL], policy: ACCEPTED }\n'
    '    rat:\n'
    '      - { match: dest.example, action: accept }\n' % port)
policies = (
    '  BLOCKED: { action: reject, reject_banner_code: 554, reject_banner_text: "5.7.1 listed in bl.test" }\n'
    '  REFUSED: { action: tcprefuse }\n'
    '  NAMEDPOL: { banner_text: "hello good host" }\n'
    '  SUFFIXPOL: { banner_text: "hello suffix" }\n'
    '  RANGEPOL: { banner_text: "hello range" }\n'
    '  PARTPOL: { banner_text: "hello partial" }\n'
    '  CIDRPOL: { banner_text: "hello cidr" }\n'
    '  IPPOL: { banner_text: "hello ip" }\n'
    '  ACCEPTED: { action: accept }\n')
gw = Gateway(sc, base_config(port, sink.port, scratch_dir=sc, listeners=listeners,
                             policies=policies,
                             dns='{ servers: ["127.0.0.1:%d"], timeout: 2s }' % nsport))
gw.start()


def banner(src):
    s = raw_session(port, source=src)
    return s, s.read_reply()


cases = [
    ('127.0.0.2', 'hello good host', 'NAMED', 'good.example.test', 'forward-confirmed host name'),
    ('127.0.0.4', 'hello suffix', 'SUFFIX', r'\.example\.test', '.suffix of a confirmed name'),
    ('127.0.0.3', 'hello ip', 'SINGLE', r'127\.0\.0\.3', 'PTR that does not confirm: no name match'),
    ('127.0.0.15', 'hello range', 'RANGE', r'127\.0\.0\.10-20', 'range'),
    ('127.0.1.7', 'hello partial', 'PARTIAL', r'127\.0\.1\.', 'partial address'),
    ('127.0.2.9', 'hello cidr', 'CIDR', r'127\.0\.2\.0/24', 'CIDR'),
    ('127.0.0.9', 'test.example ESMTP Sallyport', 'ALL', 'ALL', 'ALL'),
]
for src, text, group, match, what in cases:
    s, r = banner(src)
    is_(r.code, 220, '%s: 220 banner (%s)' % (what, src))
    like(r.text, re.escape(text), '%s: the group policy\'s banner text' % what)
    s.sendline('QUIT')
    s.expect('221')
    gw.wait_log('smtpd', r'ICID \d+ ACCEPT SG %s match %s SBRS None' % (group, match))
    ok(True, '%s: logged as SG %s' % (what, group))

like(gw.log('smtpd'), r'address 127\.0\.0\.2 reverse dns host good\.example\.test verified yes',
     'connection line: confirmed name')
like(gw.log('smtpd'), r'address 127\.0\.0\.3 reverse dns host liar\.sub\.example\.test verified no',
     'connection line: name that does not confirm')

# DNS list: reject with the policy's reject banner; every command refused.
s, r = banner('127.0.0.5')
like(str(r), r'^554 5\.7\.1 listed in bl\.test', 'listed client gets the reject banner')
s.sendline('EHLO client.test')
like(str(s.read_reply()), r'^554', 'EHLO refused for a rejected host')
s.sendline('MAIL FROM:<a@client.test>')
like(str(s.read_reply()), r'^554', 'MAIL refused for a rejected host')
s.sendline('QUIT')
s.expect('221')
gw.wait_log('smtpd', r'ICID \d+ REJECT SG BL match dnsbl:bl\.test SBRS None')
ok(True, 'DNS list match logged as REJECT SG BL')

# tcprefuse: the connection is closed without a single byte.
s = raw_session(port, source='127.0.0.6')
ok(s.wait_closed(10), 'tcprefuse: connection closed')
is_(s.buf, b'', 'tcprefuse: no banner at all')
gw.wait_log('smtpd', r'ICID \d+ TCPREFUSE SG REFUSE match 127\.0\.0\.6')
ok(True, 'tcprefuse logged')

# Accepted mail from a named host goes through (RAT accepts dest.example).
s, r = banner('127.0.0.2')
s.sendline('EHLO client.test')
s.expect('250')
s.sendline('MAIL FROM:<a@client.test>')
s.expect('250')
s.sendline('RCPT TO:<x@dest.example>')
s.expect('250')
s.sendline('RCPT TO:<x@other.example>')
like(str(s.read_reply()), r'^550 5\.7\.1', 'RAT: a domain it does not list gets 550 5.7.1')
s.sendline('DATA')
s.expect('354')
s.send(b'Subject: named\r\n\r\nbody\r\n.\r\n')
s.expect('250')
s.sendline('QUIT')
msgs = sink.wait_messages(1, timeout=30)
like(msgs[0][1].decode('utf-8', 'replace'),
     r'^Received: from client\.test \(good\.example\.test \[127\.0\.0\.2\]\)',
     'Received: names the forward-confirmed host')

# A second connection from the same host is answered from the DNS cache:
# the query count in the test server's log does not matter; what matters
# is the same verdict.
s, r = banner('127.0.0.2')
like(r.text, 'hello good host', 'same verdict on a second connection (cached answers)')
s.sendline('QUIT')

# A PTR lookup that does not answer within dns.timeout (2s; the server
# sleeps 8s): the session starts anyway, with no name, in group ALL.
s = raw_session(port, source='127.0.0.8', timeout=20)
r = s.read_reply()
is_(r.code, 220, 'DNS timeout: the client still gets its banner')
like(r.text, 'ESMTP Sallyport', 'and the ALL group (no name could match)')
s.sendline('QUIT')
like(gw.log('smtpd'), r'address 127\.0\.0\.8 reverse dns host unknown verified no',
     'logged without a name')

ok(gw.sanitizer_report() is None, 'no sanitizer report', diag=gw.sanitizer_report)
is_(gw.stop(), 0, 'gateway stops cleanly')
stop_process(ns)
done()
