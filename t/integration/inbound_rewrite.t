#!/usr/bin/env python3
# inbound_rewrite - envelope rewriting end to end, in the trace order:
# default domain for bare local parts (sender and recipients), domain map
# (before the RAT, so a mapped domain is accepted), alias table (after the
# RAT: expansion to several recipients, /dev/null), and envelope sender
# masquerading on a private listener.  The sink sees the rewritten
# envelopes; smtpd logs each step with the ICID.
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *

sc = scratch()
sink = Sink(scratch_dir=sc)
pub, priv = free_port(), free_port()
listeners = (
    '  - name: Inbound\n'
    '    type: public\n'
    '    address: 127.0.0.1\n'
    '    port: %d\n'
    '    default_domain: example.com\n'
    '    domain_map: { old.example: example.com, .legacy.example: example.com }\n'
    '    hat:\n'
    '      - { group: ALL, match: [ALL], policy: ACCEPTED }\n'
    '    rat:\n'
    '      - { match: example.com, action: accept }\n'
    '      - { match: ALL, action: reject }\n'
    '  - name: Outbound\n'
    '    type: private\n'
    '    address: 127.0.0.1\n'
    '    port: %d\n'
    '    masquerade: { "@int.example": "@example.com", "boss@int.example": "ceo@example.com" }\n'
    '    hat:\n'
    '      - { group: RELAYLIST, match: ["127.0.0.0/8"], policy: RELAYED }\n' % (pub, priv))
gw = Gateway(sc, base_config(pub, sink.port, scratch_dir=sc, listeners=listeners,
                             policies='  RELAYED: { action: relay }\n  ACCEPTED: { action: accept }\n',
                             aliases='  team@example.com: [ann@example.com, bob@elsewhere.example]\n'
                                     '  void@example.com: /dev/null\n'),
             ports=[pub, priv])
gw.start()

s = raw_session(pub)
s.expect('220')
s.sendline('EHLO client.test')
s.expect('250')
s.sendline('MAIL FROM:<joe>')
s.expect('250')
for rcpt in ('<carl>', '<dan@old.example>', '<eve@x.legacy.example>', '<team@example.com>',
             '<void@example.com>'):
    s.sendline('RCPT TO:' + rcpt)
    like(str(s.read_reply()), r'^250', 'public listener accepts %s' % rcpt)
s.sendline('RCPT TO:<x@other.example>')
like(str(s.read_reply()), r'^550 5\.7\.1', 'an unmapped foreign domain is still refused')
s.sendline('DATA')
s.expect('354')
s.send(b'Subject: rewrite\r\n\r\nbody\r\n.\r\n')
s.expect('250')
s.sendline('QUIT')

for sender in ('boss@int.example', 'pat@int.example', 'kim@ext.example'):
    r = send_mail(priv, sender, ['out@far.example'], 'Subject: masq %s\r\n\r\nbody\r\n' % sender)
    is_(r.code, 250, 'private listener: message from %s' % sender)

# deliver splits a message by recipient domain: 2 deliveries + 3 masquerade tests.
msgs = sink.wait_messages(5, timeout=30)
inbound = [e for e, _ in msgs if e['rcpts'] != ['out@far.example']]
got = sorted(r for e in inbound for r in e['rcpts'])
is_(got, ['ann@example.com', 'bob@elsewhere.example', 'carl@example.com', 'dan@example.com',
          'eve@example.com'],
    'recipients rewritten: default domain, domain map, alias expanded, /dev/null gone')
is_(sorted(set(e['from'] for e in inbound)), ['joe@example.com'], 'sender got the default domain')
froms = sorted(e['from'] for e, _ in msgs if e['rcpts'] == ['out@far.example'])
is_(froms, ['ceo@example.com', 'kim@ext.example', 'pat@example.com'],
    'masquerading: whole address, domain, and an address it does not list')

log = gw.log('smtpd')
like(log, r'ICID \d+ recipient <carl> -> <carl@example\.com> \(default domain\)', 'default domain logged')
like(log, r'ICID \d+ recipient <dan@old\.example> -> <dan@example\.com> \(domain map\)', 'domain map logged')
like(log, r'ICID \d+ alias <team@example\.com> -> <ann@example\.com>', 'alias logged')
like(log, r'ICID \d+ alias <void@example\.com> -> /dev/null \(dropped\)', 'alias drop logged')
like(log, r'ICID \d+ sender <boss@int\.example> masqueraded as <ceo@example\.com>', 'masquerade logged')
ok(gw.sanitizer_report() is None, 'no sanitizer report', diag=gw.sanitizer_report)
is_(gw.stop(), 0, 'gateway stops cleanly')
done()
