#!/usr/bin/env python3
# tls_verify - `sallyctl tlsverify DOMAIN [HOST[:PORT]]` (spec
# testing-trace-troubleshooting.md 2.5): a deliver process connects as
# delivery would (the domain's smtp_routes host when no host is given),
# checks the server as required-verify does, and prints each step in the
# spec's words; the exit status says whether TLS was verified.  Peers:
# a certificate from a test CA trusted through the custom CA list, a
# self-signed one, a name mismatch, no STARTTLS, nobody listening.
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *
from testpki import PKI
from tlspeer import TlsSink

require('sallyportd', 'smtpd', 'qmgr', 'deliver', 'sallyctl')

sc = scratch()
pki = PKI(sc.mkdir('pki'))
ca = pki.ca()
good = pki.leaf('mx', cn='mx.dest.test', sans=['mx.dest.test', 'dest.test'], ca=ca)
selfsigned = pki.leaf('self', cn='self.test')
other = pki.leaf('other', cn='mx.other.test', sans=['mx.other.test'], ca=ca)

peer = TlsSink(sc, cert=good.chain, key=good.key, name='good').start()
peer_self = TlsSink(sc, cert=selfsigned.cert, key=selfsigned.key, name='self').start()
peer_other = TlsSink(sc, cert=other.chain, key=other.key, name='other').start()
peer_clear = TlsSink(sc, mode='no-starttls', name='clear').start()
dead = free_port()

lp = free_port()
cfg = base_config(lp, peer.port, sc,
                  smtp_routes='  dest.test: ["127.0.0.1:%d"]\n'
                              '  self.test: ["127.0.0.1:%d"]\n'
                              '  ALL: ["127.0.0.1:%d"]\n' % (peer.port, peer_self.port,
                                                              peer.port),
                  tls='  trust: { system: false, custom: true, custom_file: %s }\n' % ca.cert)
gw = Gateway(sc, cfg).start()


def verify(*args):
    st, out, err = gw.sallyctl('tlsverify', *args)
    return st, out, err


# The domain's route, a trusted certificate naming the domain.
st, out, err = verify('dest.test')
is_(st, 0, 'dest.test: verified (exit 0)')
steps = [l for l in out.splitlines() if l.strip()]
expect = [
    r'^Using the SMTP route 127\.0\.0\.1\.$',
    r'^Connecting to 127\.0\.0\.1 on port %d\.$' % peer.port,
    r'^Connected to 127\.0\.0\.1 from interface 127\.0\.0\.1\.$',
    r'^Checking TLS connection\.$',
    r'^TLS connection established: protocol TLSv1\.[23], cipher \S+\.$',
    r'^Verifying peer certificate\.$',
    r'^Certificate chain verified\.',
    r'^TLS certificate match: subjectAltName DNS name dest\.test matches dest\.test',
    r'^TLS certificate verified\.$',
    r'^TLS connection to 127\.0\.0\.1 succeeded\.$',
    r'^TLS successfully connected to 127\.0\.0\.1\.$',
    r'^TLS verification completed\.$',
]
is_(len(steps), len(expect), 'dest.test: %d steps' % len(expect), )
for i, rx in enumerate(expect):
    like(steps[i] if i < len(steps) else '', rx, 'step %d: %s' % (i + 1, rx.strip('^$')))
is_(len(peer.messages()), 0, 'tlsverify sends no mail')
wait_until(lambda: any(e['quit'] for e in peer.events()), 10, 'the probe to say QUIT')
ok(any(e['tls'] and e['quit'] for e in peer.events()), 'the probe ends with QUIT over TLS')

# An explicit host:port overrides the route.
st, out, err = verify('dest.test', '127.0.0.1:%d' % peer.port)
is_(st, 0, 'an explicit host:port: verified')
like(out, r'^Connecting to 127\.0\.0\.1 on port %d\.' % peer.port, 'connects to the given port')
unlike(out, r'Using the SMTP route', 'without looking at the route')
like(out, r'TLS certificate match: subjectAltName DNS name dest\.test matches dest\.test',
     'and reports which name matched')

# A self-signed certificate: not trusted.
st, out, err = verify('self.test')
is_(st, 1, 'self.test: not verified (exit 1)')
like(out, r'Certificate chain not trusted: self-signed certificate\.', 'the chain is not trusted')
like(out, r'TLS connection to 127\.0\.0\.1 failed: .*not delivering', 'the connection is refused')
like(out, r'TLS verification failed\.\n*$', 'the last line says it failed')

# A trusted certificate for other names: a name mismatch.
st, out, err = verify('elsewhere.test', '127.0.0.1:%d' % peer_other.port)
is_(st, 1, 'a name mismatch: exit 1')
like(out, r'TLS certificate name mismatch: .*mx\.other\.test.*elsewhere\.test', 'names both sides')

# No STARTTLS.
st, out, err = verify('dest.test', '127.0.0.1:%d' % peer_clear.port)
is_(st, 1, 'no STARTTLS: exit 1')
like(out, r'STARTTLS not offered', 'says STARTTLS was not offered')
unlike(out, r'Checking TLS connection', 'and never tried it')

# Nobody listening.
st, out, err = verify('dest.test', '127.0.0.1:%d' % dead)
is_(st, 1, 'nobody listening: exit 1')
like(out, r'Connection to 127\.0\.0\.1 failed: connection refused\.', 'connection refused')

# Bad arguments.
st, out, err = verify('dest.test', '127.0.0.1:99999')
is_(st, 1, 'a bad port: exit 1')
like(err, r"tlsverify: '127\.0\.0\.1:99999' is not HOST or HOST:PORT", 'with a clear error')

# JSON: the same lines and the result.
res = gw.sallyctl('tlsverify', 'dest.test', json=True)
ok(isinstance(res, dict) and any(r.get('ok') == '1' for r in res.get('records', [])
                                 if r.get('section') == 'result'), '--json carries the result')
ok(any('TLS verification completed.' == r.get('text') for r in res.get('records', [])),
   '--json carries the lines')

like(gw.log('deliver'), r'tlsverify dest\.test: verified', "deliver logs each tlsverify")

gw.stop()
for p in (peer, peer_self, peer_other, peer_clear):
    p.stop()
done()
