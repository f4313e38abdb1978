#!/usr/bin/env python3
# lib_dane - DANE TLSA lookups validated by lib/dane.c against signed test
# zones served by ldns-testns (built by t/lib/dnssec.py), through
# build/danelookup: validated TLSA records (secure), validated denial for
# a host without TLSA, NXDOMAIN and NODATA (secure-none), a record altered
# after signing, signatures stripped, signatures expired (bogus), an
# insecure delegation from a signed parent and a name under no anchor
# (insecure), a secure MX RRset, and no server at all (tempfail).  Two
# anchor set-ups: the parent test.'s DS (a chain of two zones) and the
# child dane.test.'s own DNSKEY (the anchor at the zone apex).
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *
from dnssec import Zone, testns_data

for prog in ('ldns-testns', 'ldns-keygen', 'ldns-signzone'):
    if shutil.which(prog) is None:
        skip_all('%s is not installed (Debian: ldnsutils)' % prog)
require('danelookup')

SOA = ' 3600 IN SOA ns.test. hostmaster.test. 1 7200 900 1209600 300'
EE = 'a1' * 32          # 3 1 1 digest
TA = '5c' * 32          # 2 0 1 digest

sc = scratch()


def child_lines(origin='dane.test.'):
    return [
        origin + SOA,
        origin + ' 3600 IN NS ns.test.',
        origin + ' 3600 IN MX 10 mx.' + origin,
        'mx.%s 3600 IN A 127.0.0.1' % origin,
        '_25._tcp.mx.%s 3600 IN TLSA 3 1 1 %s' % (origin, EE),
        '_25._tcp.mx.%s 3600 IN TLSA 2 0 1 %s' % (origin, TA),
        'mx2.%s 3600 IN A 127.0.0.2' % origin,
        'mx3.%s 3600 IN A 127.0.0.3' % origin,
        '_25._tcp.mx3.%s 3600 IN TXT "no TLSA here"' % origin,
    ]


child = Zone(sc, 'dane.test.', child_lines())
plain = Zone(sc, 'plain.test.', [
    'plain.test.' + SOA, 'plain.test. 3600 IN NS ns.test.',
    'mx.plain.test. 3600 IN A 127.0.0.4',
    '_25._tcp.mx.plain.test. 3600 IN TLSA 3 1 1 ' + EE], signed=False)
parent = Zone(sc, 'test.', [
    'test.' + SOA, 'test. 3600 IN NS ns.test.', 'ns.test. 3600 IN A 127.0.0.1',
    'dane.test. 3600 IN NS ns.test.', 'plain.test. 3600 IN NS ns.test.'] + child.ds_lines())
NX = ['_25._tcp.mx2.dane.test.']

parent_anchor = sc.write('anchor-parent', parent.anchor_ds())
child_anchor = sc.write('anchor-child', child.anchor_dnskey())


def serve(zones):
    return start_testns(Scratch(), testns_data(zones, nxdomain=NX))


def lookup(port, anchors, host, mx=None):
    argv = [tool('danelookup'), '--server', '127.0.0.1:%d' % port, '--anchors', anchors,
            '--host', host, '--timeout', '2']
    if mx:
        argv += ['--mx', mx]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=scale(60))
    out = {'rc': p.returncode, 'tlsa': [], 'stderr': p.stderr, 'text': p.stdout}
    for line in p.stdout.splitlines():
        key, _, rest = line.partition(' ')
        if key == 'tlsa':
            out['tlsa'].append(rest)
        else:
            out[key] = rest
    # Under SANITIZE=1 a leak or an error report makes the exit status non-zero.
    ok(p.returncode == 0 and not p.stderr.strip(),
       'danelookup --host %s ran cleanly%s' % (host, (': ' + p.stderr.strip()[:2000]) if p.stderr.strip() else ''))
    return out


good, good_port = serve([child, parent, plain])

for label, anchors in (('parent DS anchor', parent_anchor), ('child DNSKEY anchor', child_anchor)):
    r = lookup(good_port, anchors, 'mx.dane.test', mx='dane.test')
    is_(r.get('status'), 'secure', '%s: TLSA of mx.dane.test validated' % label)
    is_(sorted(r['tlsa']), sorted(['3 1 1 ' + EE, '2 0 1 ' + TA]), '%s: both records' % label)
    is_(r.get('mx'), 'secure 1', '%s: the MX RRset of dane.test is secure' % label)
    ok('error' not in r, '%s: no error (%s)' % (label, r.get('error')))
    r = lookup(good_port, anchors, 'mx2.dane.test')
    is_(r.get('status'), 'secure-none', '%s: no TLSA name (NXDOMAIN), denial validated' % label)
    is_(r['tlsa'], [], '%s: no records' % label)
    r = lookup(good_port, anchors, 'mx3.dane.test')
    is_(r.get('status'), 'secure-none', '%s: TLSA name without TLSA (NODATA), validated' % label)

r = lookup(good_port, parent_anchor, 'mx.plain.test')
is_(r.get('status'), 'insecure', 'insecure delegation from the signed parent: insecure')
like(r.get('error', ''), r'plain\.test is an insecure delegation', '... proven by the NSEC')
is_(r['tlsa'], [], '... and its TLSA records are not handed out')
r = lookup(good_port, child_anchor, 'mx.plain.test')
is_(r.get('status'), 'insecure', 'a name under no anchor: insecure')
like(r.get('error', ''), r'no trust anchor covers', '... saying so')

# A TLSA record altered after signing.
bad, bad_port = serve([child.tampered('_25._tcp.mx.dane.test.', 'TLSA', '3 1 1 ' + 'ee' * 32),
                       parent, plain])
for label, anchors in (('parent DS anchor', parent_anchor), ('child DNSKEY anchor', child_anchor)):
    r = lookup(bad_port, anchors, 'mx.dane.test')
    is_(r.get('status'), 'bogus', '%s: altered TLSA record: bogus' % label)
    like(r.get('error', ''), r'^TLSA _25\._tcp\.mx\.dane\.test: .*([Bb]ogus|signature)',
         '%s: the error names the record and the failure: %s' % (label, r.get('error')))
    is_(r['tlsa'], [], '%s: no records handed out' % label)

# The RRSIGs of the TLSA RRset removed: not a way to make it insecure.
stripped, stripped_port = serve([child.stripped('_25._tcp.mx.dane.test.', 'TLSA'), parent, plain])
r = lookup(stripped_port, parent_anchor, 'mx.dane.test')
is_(r.get('status'), 'bogus', 'TLSA without its RRSIGs in a signed zone: bogus')
like(r.get('error', ''), r'RRSIG|signature', '... no signature: %s' % r.get('error'))

# Signatures that expired an hour ago.
sc2 = Scratch()
old = Zone(sc2, 'dane.test.', child_lines(), expired=True)
old_anchor = sc2.write('anchor', old.anchor_dnskey())
expired, expired_port = serve([old])
r = lookup(expired_port, old_anchor, 'mx.dane.test')
is_(r.get('status'), 'bogus', 'expired signatures: bogus')
like(r.get('error', ''), r'expired', '... the error says expired: %s' % r.get('error'))

# Wrong anchor: the key of another signing of dane.test.
r = lookup(good_port, old_anchor, 'mx.dane.test')
is_(r.get('status'), 'bogus', 'an anchor matching no key of the zone: bogus')
like(r.get('error', ''), r'DNSKEY dane\.test: no key matches', '... saying so')

# No server any more: a temporary failure, not bogus.
for p in (good, bad, stripped, expired):
    stop_process(p)
wait_until(lambda: good.poll() is not None, 10, 'ldns-testns to stop')
r = lookup(good_port, parent_anchor, 'mx.dane.test', mx='dane.test')
is_(r.get('status'), 'tempfail', 'server gone: tempfail')
like(r.get('mx', ''), r'^tempfail 0$', '... and the MX lookup too')
done()
