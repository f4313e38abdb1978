#!/usr/bin/env python3
# tls_dane - destinations with `tls: dane` (RFC 7672): deliver looks up the
# TLSA records of the host it connects to, validates them with DNSSEC
# against dns.trust_anchors, and then:
#   validated usable TLSA, matching certificate  -> delivered over TLS
#   validated usable TLSA, certificate mismatch  -> deferred (4.7.5)
#   validated usable TLSA, no STARTTLS           -> deferred (4.7.4)
#   validated TLSA that are all unusable (PKIX)  -> TLS required, not
#                                                   authenticated
#   validated denial (no TLSA)                   -> opportunistic TLS,
#                                                   clear when no STARTTLS
#   unsigned zone (insecure)                     -> opportunistic
#   TLSA altered after signing (bogus)           -> deferred, never clear
# The zones are signed with ldns-signzone and served by ldns-testns on a
# loopback port (t/lib/dnssec.py); the peers are t/lib/tlspeer.py sinks
# whose certificates are made during the test.
import collections
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *
from dnssec import Zone, testns_data
from testpki import PKI
from tlspeer import TlsSink

for prog in ('ldns-testns', 'ldns-keygen', 'ldns-signzone', 'openssl'):
    if shutil.which(prog) is None:
        skip_all('%s is not installed (Debian: ldnsutils, openssl)' % prog)
require('sallyportd', 'smtpd', 'qmgr', 'deliver', 'sallyctl')

sc = scratch()
pki = PKI(sc.mkdir('pki'))
leaf = pki.leaf('mx', cn='mx.dane.test')        # self-signed: DANE-EE needs no CA
other = pki.leaf('other', cn='other.test')


def spki_sha256(cert):
    """The 3 1 1 association data of a certificate (SHA-256 of its SPKI)."""
    pub = subprocess.run(['openssl', 'x509', '-in', cert, '-noout', '-pubkey'],
                         check=True, stdout=subprocess.PIPE).stdout
    der = subprocess.run(['openssl', 'pkey', '-pubin', '-outform', 'DER'], input=pub,
                         check=True, stdout=subprocess.PIPE).stdout
    dgst = subprocess.run(['openssl', 'dgst', '-sha256', '-r'], input=der, check=True,
                          stdout=subprocess.PIPE).stdout.decode()
    return dgst.split()[0]


good = TlsSink(sc, cert=leaf.cert, key=leaf.key, name='good').start()
clear = TlsSink(sc, mode='no-starttls', name='clear').start()
P, C = good.port, clear.port
DIGEST = spki_sha256(leaf.cert)
WRONG = spki_sha256(other.cert)
SOA = ' 3600 IN SOA ns.test. hostmaster.test. 1 7200 900 1209600 300'

dane = Zone(sc, 'dane.test.', [
    'dane.test.' + SOA, 'dane.test. 3600 IN NS ns.dane.test.',
    'ns.dane.test. 3600 IN A 127.0.0.1',
    'mx.dane.test. 3600 IN A 127.0.0.1',
    'mxbad.dane.test. 3600 IN A 127.0.0.1',
    'mxnone.dane.test. 3600 IN A 127.0.0.1',
    'mxpkix.dane.test. 3600 IN A 127.0.0.1',
    '_%d._tcp.mx.dane.test. 3600 IN TLSA 3 1 1 %s' % (P, DIGEST),
    '_%d._tcp.mx.dane.test. 3600 IN TLSA 3 1 1 %s' % (C, DIGEST),
    '_%d._tcp.mxbad.dane.test. 3600 IN TLSA 3 1 1 %s' % (P, WRONG),
    '_%d._tcp.mxpkix.dane.test. 3600 IN TLSA 1 1 1 %s' % (P, DIGEST),
    '_%d._tcp.mxpkix.dane.test. 3600 IN TLSA 1 1 1 %s' % (C, DIGEST),
])
bogus_src = Zone(sc, 'bogus.test.', [
    'bogus.test.' + SOA, 'bogus.test. 3600 IN NS ns.dane.test.',
    'mx.bogus.test. 3600 IN A 127.0.0.1',
    '_%d._tcp.mx.bogus.test. 3600 IN TLSA 3 1 1 %s' % (P, DIGEST),
    '_%d._tcp.mx.bogus.test. 3600 IN TLSA 3 1 1 %s' % (C, DIGEST),
])
bogus = bogus_src.tampered('_%d._tcp.mx.bogus.test.' % P, 'TLSA', '3 1 1 ' + WRONG)
bogus = bogus.tampered('_%d._tcp.mx.bogus.test.' % C, 'TLSA', '3 1 1 ' + WRONG)
plain = Zone(sc, 'plain.test.', [
    'plain.test.' + SOA, 'plain.test. 3600 IN NS ns.dane.test.',
    'mx.plain.test. 3600 IN A 127.0.0.1',
    '_%d._tcp.mx.plain.test. 3600 IN TLSA 3 1 1 %s' % (C, WRONG),
], signed=False)
NX = ['_%d._tcp.mxnone.dane.test.' % P, '_%d._tcp.mxnone.dane.test.' % C]
ns, ns_port = start_testns(sc, testns_data([dane, bogus, plain], nxdomain=NX))
anchors = sc.write('anchors', dane.anchor_dnskey() + bogus_src.anchor_dnskey())

# recipient domain -> (route, expected outcome)
CASES = collections.OrderedDict([
    ('good.example', ('mx.dane.test:%d' % P, 'tls-verified')),
    ('mismatch.example', ('mxbad.dane.test:%d' % P, 'deferred')),
    ('nostarttls.example', ('mx.dane.test:%d' % C, 'deferred')),
    ('pkix.example', ('mxpkix.dane.test:%d' % P, 'tls')),
    ('pkixclear.example', ('mxpkix.dane.test:%d' % C, 'deferred')),
    ('none.example', ('mxnone.dane.test:%d' % P, 'tls')),
    ('noneclear.example', ('mxnone.dane.test:%d' % C, 'clear')),
    ('insecure.example', ('mx.plain.test:%d' % C, 'clear')),
    ('bogus.example', ('mx.bogus.test:%d' % P, 'deferred')),
    ('bogusclear.example', ('mx.bogus.test:%d' % C, 'deferred')),
])
routes = ''.join('  %s: ["%s"]\n' % (d, r) for d, (r, _) in CASES.items())
lp = free_port()
cfg = base_config(lp, good.port, sc,
                  smtp_routes=routes,
                  destinations='  default: { tls: dane }\n',
                  dns='  servers: ["127.0.0.1:%d"]\n  trust_anchors: %s\n' % (ns_port, anchors),
                  bounce_profiles='  default: { initial_retry: 1s, max_retry: 2s, '
                                  'max_queue_time: 1h, max_attempts: 100 }\n')
gw = Gateway(sc, cfg).start()

for dom in CASES:
    r = send_mail(lp, 'sender@client.test', ['user@' + dom], 'Subject: %s\r\n\r\nbody\r\n' % dom)
    is_(r.code, 250, 'message for %s accepted' % dom)


def delivered_to(sink, dom):
    return [m for m in sink.messages() if any(x.endswith('@' + dom) for x in m['rcpts'])]


def deferrals(dom):
    return len(re.findall(r'TLS failed: domain %s host [^\n]* mode dane' % re.escape(dom),
                          gw.log('deliver')))


# Positive outcomes first, so the negative ones are checked after every
# delivery that was going to happen has happened.
for dom, (route, want) in CASES.items():
    sink = clear if route.endswith(':%d' % C) else good
    if want == 'deferred':
        wait_until(lambda: deferrals(dom) >= 2, 30, 'two TLS deferrals for %s' % dom)
        ok(True, '%s: deferred twice (retried, never delivered in clear)' % dom)
        continue
    wait_until(lambda: delivered_to(sink, dom), 30, 'delivery for %s' % dom)
    m = delivered_to(sink, dom)[0]
    is_(m['tls'], want != 'clear', '%s: delivered %s' % (dom, 'in clear' if want == 'clear'
                                                        else 'over TLS'))

log = gw.log('deliver')
for dom, (route, want) in CASES.items():
    sink = clear if route.endswith(':%d' % C) else good
    if want == 'deferred':
        is_(len(delivered_to(sink, dom)), 0, '%s: nothing reached the peer' % dom)
        st, out, _ = gw.sallyctl('hoststatus', dom)
        like(out, r'Last TLS Error:\s+dane\n-----\n\S',
             '%s: hoststatus keeps the TLS failure' % dom)

like(log, r'DANE mx\.dane\.test port %d \(domain good\.example\): secure, 1 usable' % P,
     'good.example: validated TLSA, one usable record')
like(log, r'TLS success protocol \S+ cipher \S+ peer CN=mx\.dane\.test verified yes',
     'the matching certificate was verified by its TLSA record')
like(log, r'TLS failed: domain mismatch\.example [^\n]*no TLSA record matches',
     'mismatch.example: the certificate matched no TLSA record')
like(log, r'TLS failed: domain nostarttls\.example [^\n]*STARTTLS not offered',
     'nostarttls.example: usable TLSA make TLS mandatory')
like(log, r'DANE mxpkix\.dane\.test port %d \(domain pkix\.example\): secure, 0 usable' % P,
     'pkix.example: PKIX-EE records are not usable for SMTP')
like(log, r'DANE mxnone\.dane\.test port %d \(domain noneclear\.example\): secure-none' % C,
     'noneclear.example: a validated denial of TLSA')
like(log, r'DANE mx\.plain\.test port %d \(domain insecure\.example\): insecure' % C,
     'insecure.example: an unsigned zone is insecure')
like(log, r'DANE mx\.bogus\.test port %d \(domain bogus\.example\): bogus' % P,
     'bogus.example: altered TLSA records are bogus')
like(log, r'TLS failed: domain bogus\.example [^\n]*TLSA lookup failed',
     'bogus.example: deferred because the lookup failed, not downgraded')


# A broken anchors file refuses the configuration with a clear error.
sc.write('bad-anchors', 'this is not a DS record\n')
bad = sc.write('etc/bad.yaml', cfg.replace(anchors, sc.join('bad-anchors')))
p = subprocess.run([tool('sallyportd'), '-t', '-c', bad], stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, universal_newlines=True, timeout=scale(30))
isnt(p.returncode, 0, 'sallyportd -t refuses a bad trust anchor file')
like(p.stderr, r'dns\.trust_anchors', 'and names dns.trust_anchors')

gw.stop()
good.stop()
clear.stop()
stop_process(ns)
done()
