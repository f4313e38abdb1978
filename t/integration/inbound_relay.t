#!/usr/bin/env python3
# inbound_relay - no open relay: clients that are not in a RELAY sender
# group try to relay through a public listener (whose RAT accepts only
# dest.example) and a private listener, with every address trick we know:
# user%other@, user!other@, @route:user@, quoted local parts holding an @,
# trailing dots, address literals, upper case, IDN look-alikes.  Every
# attempt is refused; the relay host (a RELAY group) and real local
# recipients still work, so the refusals are not an accident.
import os
import re
import socket
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
    '    hat:\n'
    '      - { group: RELAYLIST, match: ["127.0.0.2"], policy: RELAYED }\n'
    '      - { group: ALL, match: [ALL], policy: ACCEPTED }\n'
    '    rat:\n'
    '      - { match: dest.example, action: accept }\n'
    '      - { match: ALL, action: reject }\n'
    '  - name: Outbound\n'
    '    type: private\n'
    '    address: 127.0.0.1\n'
    '    port: %d\n'
    '    hat:\n'
    '      - { group: RELAYLIST, match: ["127.0.0.2"], policy: RELAYED }\n'
    '      - { group: ALL, match: [ALL], policy: ACCEPTED }\n' % (pub, priv))
gw = Gateway(sc, base_config(pub, sink.port, scratch_dir=sc, listeners=listeners,
                             policies='  RELAYED: { action: relay }\n  ACCEPTED: { action: accept }\n'),
             ports=[pub, priv])
gw.start()

tricks = [
    '<victim@other.example>',
    '<victim%other.example@dest.example>',
    '<victim!other.example@dest.example>',
    '<other.example!victim@dest.example>',
    '<@dest.example:victim@other.example>',
    '<@dest.example,@x.example:victim@other.example>',
    '<"victim@other.example"@dest.example>',
    '<"victim%other.example"@dest.example>',
    '<victim@other.example.>',
    '<victim@dest.example.other.example>',
    '<victim@other.example@dest.example>',
    '<victim@[127.0.0.1]>',
    '<victim@[IPv6:::1]>',
    '<victim@DEST.EXAMPLE.OTHER.EXAMPLE>',
    '<victim@dest.exampl\u0435>',           # Cyrillic e: a look-alike
    '<victim@xn--dest-9ua.example>',
    '<victim@b\u00fccher.example>',
    '<victim@dest-example>',
    '<victim>',
]
refused_total = 0
for src in ('127.0.0.3', '127.0.0.4'):
    for port, kind in ((pub, 'public'), (priv, 'private')):
        s = raw_session(port, source=src)
        s.expect('220')
        s.sendline('EHLO client.test')
        s.expect('250')
        s.sendline('MAIL FROM:<probe@client.test> SMTPUTF8')
        s.expect('250')
        for t in tricks:
            s.sendline('RCPT TO:' + t)
            r = s.read_reply()
            ok(r.code >= 500, '%s listener, %s: %s refused (%s)' % (kind, src, t, r))
            refused_total += 1
        s.sendline('DATA')
        like(str(s.read_reply()), r'^554', '%s listener, %s: DATA with no recipient refused' % (kind, src))
        s.sendline('QUIT')
        s.expect('221')

# The controls: local recipients on the public listener, relaying for the relay host.
s = raw_session(pub, source='127.0.0.3')
s.expect('220')
s.sendline('EHLO client.test')
s.expect('250')
s.sendline('MAIL FROM:<probe@client.test>')
s.expect('250')
for t in ('<user@dest.example>', '<User@DEST.Example.>'):
    s.sendline('RCPT TO:' + t)
    like(str(s.read_reply()), r'^250', 'public listener accepts its own domain: %s' % t)
s.sendline('QUIT')
for port, kind in ((pub, 'public'), (priv, 'private')):
    s = raw_session(port, source='127.0.0.2')
    s.expect('220')
    s.sendline('EHLO client.test')
    s.expect('250')
    s.sendline('MAIL FROM:<probe@client.test>')
    s.expect('250')
    s.sendline('RCPT TO:<someone@other.example>')
    like(str(s.read_reply()), r'^250', '%s listener relays for the RELAY group' % kind)
    s.sendline('QUIT')

j = gw.sallyctl('status', json=True)
cs = {r['name']: r for r in j['records'] if r.get('section') == 'counter'}
wait_until(lambda: int({r['name']: r for r in gw.sallyctl('status', json=True)['records']
                        if r.get('section') == 'counter'}['Rejected Recipients']['lifetime']) >= refused_total,
           10, 'Rejected Recipients >= %d' % refused_total)
ok(True, 'every refusal counted as a Rejected Recipient (%d)' % refused_total)
is_(sink.count(), 0, 'nothing was relayed')
ok(gw.sanitizer_report() is None, 'no sanitizer report', diag=gw.sanitizer_report)
is_(gw.stop(), 0, 'gateway stops cleanly')
done()
