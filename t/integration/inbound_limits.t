#!/usr/bin/env python3
# inbound_limits - mail flow policy limits on a real gateway, each with its
# reply code, clients on their own loopback addresses: max_conns_per_ip,
# max_msgs_per_conn, max_rcpts_per_msg, max_message_size, the hourly
# recipient rate limit (custom text, RAT bypass), directory harvest
# prevention (connection dropped), RAT accept/reject with custom replies,
# verify_sender_domain against ldns-testns, and the counters (Rejected
# Recipients, DHAP Hits, Rate Limit Hits) in sallyctl status.
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
testns_data = ''.join([
    testns_entry('good.test.', 'MX', ['good.test. 300 IN MX 10 mx.good.test.']),
    testns_entry('mx.good.test.', 'A', ['mx.good.test. 300 IN A 127.0.0.50']),
    testns_entry('nx.test.', 'MX', rcode='NXDOMAIN'),
    'ENTRY_BEGIN\nMATCH opcode\nADJUST copy_id copy_query\nREPLY QR RD RA NOERROR\nENTRY_END\n',
])
ns, nsport = start_testns(sc, testns_data)
sink = Sink(scratch_dir=sc)
port = free_port()
listeners = (
    '  - name: In\n'
    '    type: public\n'
    '    address: 127.0.0.1\n'
    '    port: %d\n'
    '    default_policy: DEFAULTS\n'
    '    hat:\n'
    '      - { group: VERIFIED, match: ["127.0.0.9"], policy: VERIFY }\n'
    '      - { group: ALL, match: [ALL], policy: ACCEPTED }\n'
    '    rat:\n'
    '      - { match: vip.example, action: accept, bypass_rate_limit: true, reply: "250 2.1.5 VIP ok" }\n'
    '      - { match: nobody@dest.example, action: reject, reply: "550 5.1.1 No such user here" }\n'
    '      - { match: dest.example, action: accept }\n'
    '      - { match: ALL, action: reject }\n' % port)
policies = (
    '  DEFAULTS: { max_conns_per_ip: 2, max_msgs_per_conn: 2, max_rcpts_per_msg: 2, '
    'max_message_size: 20k, max_rcpts_per_hour: 5, max_rcpts_per_hour_text: "Hourly limit reached", '
    'dhap_max_invalid_rcpts_per_hour: 3 }\n'
    '  ACCEPTED: { action: accept }\n'
    '  VERIFY: { action: accept, verify_sender_domain: true, max_rcpts_per_hour: 0, '
    'max_conns_per_ip: 0 }\n')
gw = Gateway(sc, base_config(port, sink.port, scratch_dir=sc, listeners=listeners,
                             policies=policies,
                             dns='{ servers: ["127.0.0.1:%d"], timeout: 5s }' % nsport))
gw.start()


def session(src, helo=True):
    s = raw_session(port, source=src)
    s.expect('220')
    if helo:
        s.sendline('EHLO client.test')
        s.expect('250')
    return s


def cmd(s, line):
    s.sendline(line)
    return str(s.read_reply())


# max_conns_per_ip 2 (from the listener's default policy).
a, b = session('127.0.0.2', helo=False), session('127.0.0.2', helo=False)
c = raw_session(port, source='127.0.0.2')
like(str(c.read_reply()), r'^421 4\.7\.0 .*Too many connections from your host',
     'third concurrent connection from one address: 421 4.7.0')
ok(c.wait_closed(), 'and closed')
d = session('127.0.0.3', helo=False)
ok(True, 'another address still gets in')
for s in (a, b, d):
    s.sendline('QUIT')
    s.expect('221')

# max_rcpts_per_msg 2, max_message_size 20k, max_msgs_per_conn 2.
s = session('127.0.0.4')
like(cmd(s, 'MAIL FROM:<f@client.test> SIZE=30000'), r'^552 5\.3\.4', 'SIZE over max_message_size: 552')
like(cmd(s, 'MAIL FROM:<f@client.test>'), r'^250', 'MAIL')
like(cmd(s, 'RCPT TO:<r1@dest.example>'), r'^250', 'rcpt 1')
like(cmd(s, 'RCPT TO:<r2@dest.example>'), r'^250', 'rcpt 2')
like(cmd(s, 'RCPT TO:<r3@dest.example>'), r'^452 4\.5\.3', 'rcpt 3 over max_rcpts_per_msg: 452 4.5.3')
s.sendline('DATA')
s.expect('354')
s.send(b'Subject: one\r\n\r\nbody\r\n.\r\n')
like(str(s.read_reply()), r'^250 2\.0\.0 ok', 'message 1 accepted')
like(cmd(s, 'MAIL FROM:<f@client.test>'), r'^250', 'message 2 MAIL')
like(cmd(s, 'RCPT TO:<r4@dest.example>'), r'^250', 'message 2 rcpt')
s.sendline('DATA')
s.expect('354')
s.send(b'Subject: two\r\n\r\nbody\r\n.\r\n')
like(str(s.read_reply()), r'^250 2\.0\.0 ok', 'message 2 accepted')
like(cmd(s, 'MAIL FROM:<f@client.test>'), r'^421 4\.7\.0 .*Too many messages',
     'message 3 over max_msgs_per_conn: 421 4.7.0')
ok(s.wait_closed(), 'connection closed')

# Hourly rate limit 5 per sending IP (127.0.0.4 used 3 of them above).
s = session('127.0.0.4')
like(cmd(s, 'MAIL FROM:<f@client.test>'), r'^250', 'MAIL')
like(cmd(s, 'RCPT TO:<r5@dest.example>'), r'^250', '4th recipient this hour accepted')
like(cmd(s, 'RCPT TO:<r6@dest.example>'), r'^250', '5th recipient this hour accepted')
cmd(s, 'RSET')
like(cmd(s, 'MAIL FROM:<f@client.test>'), r'^250', 'MAIL')
like(cmd(s, 'RCPT TO:<r7@dest.example>'), r'^452 4\.7\.0 Hourly limit reached',
     '6th recipient this hour: 452 with the configured text')
like(cmd(s, 'RCPT TO:<boss@vip.example>'), r'^250 2\.1\.5 VIP ok',
     'RAT entry with bypass_rate_limit (and its custom reply) still accepted')
s.sendline('QUIT')
gw.wait_log('smtpd', r'ICID \d+ Rate limit: 5 recipients per hour from 127\.0\.0\.4 reached; answered 452')
ok(True, 'rate limit logged with the ICID')

# RAT reject with its custom reply; plain 550 5.7.1 otherwise; DHAP at 4.
s = session('127.0.0.5')
like(cmd(s, 'MAIL FROM:<f@client.test>'), r'^250', 'MAIL')
like(cmd(s, 'RCPT TO:<nobody@dest.example>'), r'^550 5\.1\.1 No such user here',
     'RAT reject entry: its custom reply')
like(cmd(s, 'RCPT TO:<x@other.example>'), r'^550 5\.7\.1', 'not in the RAT: 550 5.7.1')
like(cmd(s, 'RCPT TO:<y@other.example>'), r'^550 5\.7\.1', 'third invalid: still 550')
like(cmd(s, 'RCPT TO:<z@other.example>'), r'^421 4\.7\.0 .*Too many invalid recipients',
     'fourth invalid recipient this hour (limit 3): 421 and dropped')
ok(s.wait_closed(), 'DHAP closes the connection')
gw.wait_log('smtpd', r'ICID \d+ DHAP: 4 invalid recipients from 127\.0\.0\.5 in the last hour \(limit 3\)')
ok(True, 'DHAP logged with the ICID')

# verify_sender_domain (policy VERIFY for 127.0.0.9), DNS from ldns-testns.
s = session('127.0.0.9')
like(cmd(s, 'MAIL FROM:<a@good.test>'), r'^250 2\.1\.0', 'resolving sender domain accepted')
cmd(s, 'RSET')
like(cmd(s, 'MAIL FROM:<a@nx.test>'), r'^553 5\.1\.8 .*does not resolve',
     'non-existent sender domain: 553')
like(cmd(s, 'MAIL FROM:<a@localhost>'), r'^553 5\.1\.8 .*malformed', 'malformed sender domain: 553')
like(cmd(s, 'MAIL FROM:<>'), r'^250', 'null sender not checked')
s.sendline('QUIT')

# Counters reach sallyctl status.
def counters():
    j = gw.sallyctl('status', json=True)
    return {r['name']: r for r in j['records'] if r.get('section') == 'counter'}


wait_until(lambda: int(counters().get('DHAP Hits', {}).get('lifetime', 0)) >= 1, 10,
           'DHAP Hits counter')
cs = counters()
is_(cs['DHAP Hits']['lifetime'], '1', 'DHAP Hits: 1')
ok(int(cs['Rate Limit Hits']['lifetime']) >= 1, 'Rate Limit Hits counted')
ok(int(cs['Rejected Recipients']['lifetime']) >= 5, 'Rejected Recipients counted (%s)' %
   cs['Rejected Recipients']['lifetime'])
j = gw.sallyctl('status', json=True)
ok(any(r.get('section') == 'gauge' and r.get('name') == 'Resource Conservation'
       for r in j['records']), 'Resource Conservation gauge in status')

ok(gw.sanitizer_report() is None, 'no sanitizer report', diag=gw.sanitizer_report)
is_(gw.stop(), 0, 'gateway stops cleanly')
stop_process(ns)
done()
