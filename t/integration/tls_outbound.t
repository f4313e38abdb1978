#!/usr/bin/env python3
# tls_outbound - outbound TLS in deliver against the fallback matrix of
# spec/tls-with-other-mtas.md 3.2 (rows: destination TLS modes; columns:
# what the peer does) and the identity rules of 3.3.
#
# Every mode (off, preferred, required, preferred-verify, required-verify,
# required-verify-hosted, and "default", which without a default entry is
# the built-in preferred) meets every kind of peer: no STARTTLS, STARTTLS
# refused with 454, a self-signed certificate, a certificate from a test CA
# on the custom CA list naming the recipient domain, one naming neither the
# domain nor the route host, a handshake failure after 220, no ESMTP, an
# expired certificate, a certificate whose CN is the recipient domain but
# whose SANs list other names, and two naming the route host (a name in
# smtp_routes, resolved by a test DNS server): in SAN and CN, in the CN of
# a certificate without SANs.
# Each cell is a destination domain <mode>.<peer>.test routed to a TlsSink
# of its own, so the peer's record of its connections belongs to that cell
# alone.  One gateway runs the whole matrix at once; per cell the message
# is delivered over TLS (with the verification result the log must show),
# delivered in clear (never asked for TLS, or fell back before 220 on the
# same connection), or deferred with 4.7.4/4.7.5: the log shows the
# deferral, the peer saw at least two attempts (the retry does not fall
# back to clear either) and got no MAIL.
#
# Also: hoststatus shows "Last TLS Error" with mode and reason; the
# required modes (never the preferred ones) log the TLS failure warning;
# tls.outbound.certificate is presented to a peer that asks for a client
# certificate, and a destination's own certificate overrides it.  A second
# gateway has both CA lists disabled (required-verify defers even with the
# good certificate; required does not verify and delivers), a default
# entry whose mode "tls: default" entries and unlisted domains inherit,
# and the failure warning turned off.
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *
from testpki import PKI
from tlspeer import TlsSink

require('sallyportd', 'smtpd', 'qmgr', 'deliver', 'sallyctl')
started = time.monotonic()

MODES = ('off', 'preferred', 'required', 'preferred-verify', 'required-verify',
         'required-verify-hosted', 'default')

# The contract, spec 3.2 and 3.3, one row per peer, one column per mode.
#   clear     delivered in clear, STARTTLS never sent
#   fallback  STARTTLS wanted, pre-220 failure: delivered in clear on the
#             same connection
#   tls       delivered over TLS, certificate not checked
#   tls+v     delivered over TLS, certificate verified
#   tls-v     delivered over TLS, verification failed (preferred-verify:
#             "deliver anyway over TLS (log that verification failed)")
#   4.7.4     deferred, TLS not available (pre-220 failure)
#   4.7.5     deferred, handshake or verification failed
# "default" is the built-in default, preferred (tls_policy.h).  Preferred
# (Verify) after a post-220 failure is "not stated" in the spec; its
# recommendation (as Preferred: no cleartext) is what is tested.
#             off      preferred   required  pref-verify  req-verify  req-verify-hosted  default
MATRIX = {
    'nostarttls': ('clear', 'fallback', '4.7.4', 'fallback', '4.7.4', '4.7.4', 'fallback'),
    'refused':    ('clear', 'fallback', '4.7.4', 'fallback', '4.7.4', '4.7.4', 'fallback'),
    'selfsigned': ('clear', 'tls',      'tls',   'tls-v',    '4.7.5', '4.7.5', 'tls'),
    'trusted':    ('clear', 'tls',      'tls',   'tls+v',    'tls+v', 'tls+v', 'tls'),
    'mismatch':   ('clear', 'tls',      'tls',   'tls-v',    '4.7.5', '4.7.5', 'tls'),
    'hsfail':     ('clear', '4.7.5',    '4.7.5', '4.7.5',    '4.7.5', '4.7.5', '4.7.5'),
    'noehlo':     ('clear', 'fallback', '4.7.4', 'fallback', '4.7.4', '4.7.4', 'fallback'),
    'expired':    ('clear', 'tls',      'tls',   'tls-v',    '4.7.5', '4.7.5', 'tls'),
    # Rule A passes on "CN == destination domain"; rule B ignores the CN
    # as soon as there is any dNSName SAN (RFC 6125 6.4.4).
    'cnonly':     ('clear', 'tls',      'tls',   'tls+v',    'tls+v', '4.7.5', 'tls'),
    # The route host is a REF-ID for rule A, and for rule B because it is
    # configured by the operator (smtp_routes), not learned from an MX.
    'routehost':  ('clear', 'tls',      'tls',   'tls+v',    'tls+v', 'tls+v', 'tls'),
    # The same name as the CN of a certificate without SANs (rule A "CN
    # == receiving host's DNS name"; rule B uses the CN when there is no
    # dNSName SAN at all).
    'routecn':    ('clear', 'tls',      'tls',   'tls+v',    'tls+v', 'tls+v', 'tls'),
}
ROUTE_HOST = 'mx.route.test'

sc = scratch()
pki = PKI(sc.mkdir('pki'))
ca = pki.ca()


def domain(peer, mode):
    return '%s.%s.test' % (mode, peer)


def column(peer):
    return [domain(peer, m) for m in MODES]


# Certificates, made for this run.  The names of "selfsigned", "trusted"
# and "expired" match every recipient domain of their column, so only the
# chain (self-signed, expiry) can fail; "refused" and "hsfail" offer
# STARTTLS and need one, but never get to show it.
certs = {
    'selfsigned': pki.leaf('selfsigned', cn='mx.selfsigned.test', sans=column('selfsigned')),
    'trusted': pki.leaf('trusted', cn='mx.trusted.test', sans=column('trusted'), ca=ca),
    'mismatch': pki.leaf('mismatch', cn='mx.elsewhere.test', sans=['mx.elsewhere.test'], ca=ca),
    'expired': pki.leaf('expired', cn='mx.expired.test', sans=column('expired'), ca=ca,
                        expired=True),
    'routehost': pki.leaf('routehost', cn=ROUTE_HOST, sans=[ROUTE_HOST], ca=ca),
    'routecn': pki.leaf('routecn', cn=ROUTE_HOST, sans=[], ca=ca),
}
certs['refused'] = certs['hsfail'] = certs['trusted']
client = pki.leaf('client', cn='client.gw.test', ca=ca)
client2 = pki.leaf('client2', cn='client2.gw.test', ca=ca)

SINK_MODE = {'nostarttls': 'no-starttls', 'refused': 'starttls-refuse',
             'hsfail': 'handshake-fail', 'noehlo': 'no-ehlo'}

have_dns = shutil.which('ldns-testns') is not None
peers = [p for p in MATRIX if not p.startswith('route') or have_dns]
if not have_dns:
    note('ldns-testns is not installed (Debian: ldnsutils): no route-host cases')

# One TlsSink per cell.
sinks = {}
for p in peers:
    for m in MODES:
        if p == 'cnonly':
            c = pki.leaf('cnonly-' + m, cn=domain(p, m), sans=['mx.elsewhere.test'], ca=ca)
        else:
            c = certs.get(p)
        if p in ('nostarttls', 'noehlo'):
            c = None    # nothing to offer
        sinks[(p, m)] = TlsSink(sc, cert=c and c.chain, key=c and c.key,
                                mode=SINK_MODE.get(p, 'normal'), name='%s.%s' % (p, m)).start()
# Client certificates: the global one, and a destination's own.
cc_sink = TlsSink(sc, cert=certs['trusted'].chain, key=certs['trusted'].key,
                  require_client_cert=ca.cert, name='clientcert').start()
cc2_sink = TlsSink(sc, cert=certs['trusted'].chain, key=certs['trusted'].key,
                   require_client_cert=ca.cert, name='clientcert2').start()
catchall = TlsSink(sc, name='catchall').start()

dns = None
if have_dns:
    ns, nsport = start_testns(sc, ''.join([
        testns_entry(ROUTE_HOST + '.', 'A', ['%s. 3600 IN A 127.0.0.1' % ROUTE_HOST]),
        'ENTRY_BEGIN\nMATCH opcode\nADJUST copy_id copy_query\nREPLY QR RD RA NOERROR\nENTRY_END\n',
    ]))
    dns = '  servers: ["127.0.0.1:%d"]\n' % nsport

routes = ['  ALL: ["127.0.0.1:%d"]\n' % catchall.port]
dests = []
for (p, m), s in sorted(sinks.items()):
    host = ROUTE_HOST if p.startswith('route') else '127.0.0.1'
    routes.append('  %s: ["%s:%d"]\n' % (domain(p, m), host, s.port))
    dests.append('  %s: { tls: %s, bounce_profile: fast }\n' % (domain(p, m), m))
routes.append('  clientcert.test: ["127.0.0.1:%d"]\n' % cc_sink.port)
routes.append('  clientcert2.test: ["127.0.0.1:%d"]\n' % cc2_sink.port)
dests.append('  clientcert.test: { tls: required }\n')
dests.append('  clientcert2.test: { tls: required, certificate: client2 }\n')

BOUNCE = ('  default: { initial_retry: 1s, max_retry: 1s, max_queue_time: 10m, max_attempts: 1000 }\n'
          '  fast: { initial_retry: 1s, max_retry: 1s, max_queue_time: 10m, max_attempts: 1000 }\n')
CERTS = ('  client: { cert: %s, key: %s }\n  client2: { cert: %s, key: %s }\n' % (
    client.cert, client.key, client2.cert, client2.key))

listen = free_port()
gw = Gateway(sc, base_config(
    listen, catchall.port, sc,
    smtp_routes=''.join(routes),
    destinations=''.join(dests),
    bounce_profiles=BOUNCE,
    dns=dns,
    certificates=CERTS,
    tls=('  alert_on_failure: true\n'
         '  outbound: { certificate: client }\n'
         '  trust: { system: false, custom: true, custom_file: %s }\n' % ca.cert)))
gw.start()


def mid_of(result, what):
    m = re.search(r'Message (\d+) accepted', result.text)
    if result.code != 250 or m is None:
        raise HarnessError('%s: not accepted: %r' % (what, result))
    return m.group(1)


mids = {}
for cell in sorted(sinks):
    rcpt = 'user@' + domain(*cell)
    mids[cell] = mid_of(send_mail(listen, 'sender@client.test', [rcpt],
                                  'Subject: %s\r\n\r\nto %s\r\n' % (rcpt, rcpt)), rcpt)
for d in ('clientcert.test', 'clientcert2.test'):
    mid_of(send_mail(listen, 'sender@client.test', ['user@' + d], 'Subject: %s\r\n\r\nx\r\n' % d), d)
ok(True, '%d messages accepted, one per cell of the matrix and two for client certificates'
   % (len(mids) + 2))


class DeliverLog:
    """deliver.log, parsed: what happened to a MID, connection by connection."""

    def __init__(self, text):
        self.text = text
        self.dcids = {}         # MID -> [DCID], in order
        for dcid, mid in re.findall(r'Delivery start DCID (\d+) MID (\d+) ', text):
            self.dcids.setdefault(mid, []).append(dcid)
        for dcid, mid in re.findall(r'Delayed: DCID (\d+) MID (\d+) ', text):
            if dcid not in self.dcids.setdefault(mid, []):
                self.dcids[mid].append(dcid)

    def lines(self, mid, regex):
        """Log lines of the connections that carried mid matching regex
        (which is searched after 'DCID <n> ')."""
        out = []
        for dcid in self.dcids.get(mid, []):
            out += [m.group(0) for m in re.finditer(r'^.*DCID %s %s.*$' % (dcid, regex),
                                                    self.text, re.M)]
        return out

    def delayed(self, mid):
        return re.findall(r'Delayed: DCID \d+ MID %s to RID \S+ - (\d\.\d\.\d) (.*)' % mid, self.text)

    def context(self, mid):
        keep = set(self.dcids.get(mid, []))
        return '\n'.join(l for l in self.text.splitlines()
                         if any(re.search(r'DCID %s\b' % d, l) for d in keep)
                         or re.search(r'MID %s\b' % mid, l))


def show(cell, s, dl):
    """What a failed check of a cell prints: the peer's first connections
    and messages, the start of deliver.log for the cell's message."""
    def text():
        evs = s.events()
        return 'peer events (%d, the first 3): %r\nmessages: %r\ndeliver.log for MID %s:\n%s' % (
            len(evs), evs[:3], [dict(m, data=None) for m in s.messages()], mids[cell],
            '\n'.join(dl().context(mids[cell]).splitlines()[:30]))
    return text


# Wait for every cell to reach an outcome: a message at the peer, or a
# deferral in the log and a second connection at the peer (the retry),
# the first one finished.  The checks below then say whether it is the
# outcome the matrix wants.
def settled(cell, dlog):
    s = sinks[cell]
    if s.messages():
        return True
    evs = s.events()
    return len(evs) >= 2 and evs[0]['closed'] and dlog.delayed(mids[cell])


def unsettled():
    dlog = DeliverLog(gw.log('deliver'))
    return ['.'.join(c) for c in sorted(sinks) if not settled(c, dlog)]


try:
    wait_until(lambda: not unsettled(), 30, lambda: 'every cell to settle; not yet: %s' % unsettled())
    ok(True, 'every cell settled')
except Timeout as e:
    ok(False, 'every cell settled', diag=str(e))

dlog = DeliverLog(gw.log('deliver'))
SUCCESS = r'TLS success protocol TLSv1\.[23] cipher \S+ peer .* verified (yes|no|not checked)$'
FALLBACK = r'TLS not available from \S+ \[127\.0\.0\.1\]: '


def outcome(cell):
    """What happened to a cell's message, in the words of MATRIX."""
    msgs, mid = sinks[cell].messages(), mids[cell]
    if msgs:
        if not msgs[0]['tls']:
            return 'fallback' if dlog.lines(mid, FALLBACK) else 'clear'
        verified = set(re.search(SUCCESS, l).group(1) for l in dlog.lines(mid, SUCCESS))
        return {'not checked': 'tls', 'yes': 'tls+v', 'no': 'tls-v'}.get(
            verified.pop() if len(verified) == 1 else None, 'tls, verified %s' % sorted(verified))
    codes = sorted(set(c for c, _ in dlog.delayed(mid)))
    return ' '.join(codes) if codes else 'nothing'


observed = {}
for cell in sorted(sinks):
    p, m = cell
    want = MATRIX[p][MODES.index(m)]
    s, mid = sinks[cell], mids[cell]
    name = '%s x %s: ' % (m, p)
    msgs, evs = s.messages(), s.events()
    why = show(cell, s, lambda: dlog)
    observed[cell] = outcome(cell)
    if not ok(observed[cell] == want, name + want,
              diag=lambda: 'observed: %s\n%s' % (observed[cell], why())):
        continue
    if want.startswith('4.'):
        ok(len(evs) >= 2 and not msgs and not any('MAIL' in e['commands'] for e in evs),
           name + 'the peer saw %d attempts, no MAIL, no message' % len(evs), diag=why)
        ok(dlog.lines(mid, r'TLS failed: domain %s host \S+ \[127\.0\.0\.1\] mode %s: \S' % (
            re.escape(domain(p, m)), 'preferred' if m == 'default' else re.escape(m))),
           name + 'deliver.log: TLS failed with domain, host and mode', diag=why)
        first = evs[0]
        if p == 'hsfail':
            ok(first['starttls_seen'] and first['handshake_ok'] is False and not first['quit'],
               name + 'STARTTLS, the handshake failed, nothing in clear after it', diag=why)
        elif want == '4.7.4':
            ok(first['quit'] and first['handshake_ok'] is None and first['starttls_seen'] == (p == 'refused'),
               name + 'QUIT%s' % (' after the refused STARTTLS' if p == 'refused' else ', no STARTTLS'),
               diag=why)
        else:
            ok(first['handshake_ok'] is True and first['closed'],
               name + 'TLS came up, then the client closed without a message', diag=why)
            ok(first['quit'], name + 'QUIT over the TLS session before the close', diag=why)
        continue
    msg = msgs[0]
    conn = evs[msg['conn'] - 1]
    ok(len(msgs) == 1 and msg['rcpts'] == ['user@' + domain(p, m)], name + 'one message, to its recipient',
       diag=why)
    if want.startswith('tls'):
        ok(msg['version'] in ('TLSv1.2', 'TLSv1.3'), name + 'protocol %s' % msg['version'])
        is_(len(dlog.lines(mid, r'TLS peer \S+ \[127\.0\.0\.1\] not verified: ')) > 0, want == 'tls-v',
            name + ('logged "TLS peer ... not verified"' if want == 'tls-v' else 'no "not verified" line'))
    elif want == 'clear':
        ok(not conn['starttls_seen'], name + 'STARTTLS never sent', diag=why)
    else:
        if p == 'refused':
            ok(conn['starttls_seen'] and conn['handshake_ok'] is None,
               name + 'the message went on the connection whose STARTTLS was refused', diag=why)
        if p == 'noehlo':
            ok(conn['commands'][:2] == ['EHLO', 'HELO'], name + 'EHLO refused, HELO, then the message',
               diag=why)

is_(catchall.events(), [], 'nothing went to the catch-all route')

# The matrix as run: expected outcome, and what happened where it differs.
note('%-11s %s' % ('', ' '.join('%-22s' % m for m in MODES)))
for p in peers:
    note('%-11s %s' % (p, ' '.join('%-22s' % (MATRIX[p][i] if observed[(p, m)] == MATRIX[p][i] else
                                              '%s(got %s)' % (MATRIX[p][i], observed[(p, m)]))
                                    for i, m in enumerate(MODES))))

# ---- hoststatus: Last TLS Error, with the mode and the reason.
for dom, mode, reason in (
        (domain('nostarttls', 'required'), 'required', r'STARTTLS not offered'),
        (domain('refused', 'required-verify-hosted'), 'required-verify-hosted', r'STARTTLS refused'),
        (domain('mismatch', 'required-verify'), 'required-verify', r'name mismatch'),
        (domain('selfsigned', 'required-verify'), 'required-verify', r'not trusted'),
        (domain('hsfail', 'preferred'), 'preferred', r'handshake failed'),
        (domain('hsfail', 'default'), 'preferred', r'handshake failed')):
    rc, out, err = gw.sallyctl('hoststatus', dom)
    like(out, r'\nLast TLS Error: +%s\n-----\n[^\n]*%s[^\n]*\n\(at [^)]+\) IP: 127\.0\.0\.1\n-----\n' % (
        re.escape(mode), reason), 'hoststatus %s: Last TLS Error, mode %s, reason /%s/' % (dom, mode, reason))
rc, out, err = gw.sallyctl('hoststatus', domain('trusted', 'required-verify'))
unlike(out, r'Last TLS Error', 'hoststatus of a domain delivered over TLS: no Last TLS Error')

# ---- The TLS failure warning: the required modes only (spec 3.4).
log = gw.log('deliver')
for p, m in (('nostarttls', 'required'), ('refused', 'required-verify'), ('selfsigned', 'required-verify'),
             ('cnonly', 'required-verify-hosted'), ('hsfail', 'required')):
    if (p, m) in sinks:
        like(log, r'Warning: TLS negotiation failed for required-TLS destination %s \(host 127\.0\.0\.1 '
                  r'\[127\.0\.0\.1\]\): tls %s: ' % (re.escape(domain(p, m)), re.escape(m)),
             'TLS failure warning for %s' % domain(p, m))
for p, m in (('hsfail', 'preferred'), ('hsfail', 'preferred-verify'), ('hsfail', 'default'),
             ('nostarttls', 'preferred')):
    unlike(log, r'Warning: TLS negotiation failed for required-TLS destination %s ' % re.escape(domain(p, m)),
           'no TLS failure warning for %s (mode %s)' % (domain(p, m), m))

# ---- Client certificates.
for s, subject, what in ((cc_sink, 'CN=client.gw.test', 'tls.outbound.certificate'),
                         (cc2_sink, 'CN=client2.gw.test', "the destination's certificate")):
    try:
        msgs = s.wait_messages(1, timeout=15)
    except Timeout as e:
        msgs = []
        diag(str(e))
    ok(msgs and msgs[0]['tls'] and msgs[0]['client_cert'] == subject,
       '%s (%s) is presented to a peer that asks for one' % (what, subject),
       diag=lambda: 'messages: %r\nevents: %r' % ([dict(m, data=None) for m in s.messages()], s.events()))

is_(gw.stop(), 0, 'gateway stops')

# ---- Second gateway: no CA list at all, an inherited default, no warning.
sc2 = Scratch()
good = {}
for name in ('rv', 'req', 'pv'):
    good[name] = TlsSink(sc2, cert=certs['trusted'].chain, key=certs['trusted'].key,
                         name='good-' + name).start()
bare = {}
for name in ('inherit', 'unlisted'):
    bare[name] = TlsSink(sc2, mode='no-starttls', name='bare-' + name).start()
# Names that certs['trusted'] carries, so that only the missing CA list fails.
TRUSTED = {'rv': domain('trusted', 'required-verify'), 'req': domain('trusted', 'required'),
           'pv': domain('trusted', 'preferred-verify')}
listen2 = free_port()
gw2 = Gateway(sc2, base_config(
    listen2, catchall.port, sc2,
    smtp_routes=''.join(['  ALL: ["127.0.0.1:%d"]\n' % catchall.port] +
                        ['  %s: ["127.0.0.1:%d"]\n' % (TRUSTED[n], s.port) for n, s in good.items()] +
                        ['  %s.test: ["127.0.0.1:%d"]\n' % (n, s.port) for n, s in bare.items()]),
    destinations=('  default: { tls: required, bounce_profile: fast }\n'
                  '  %s: { tls: required-verify }\n'
                  '  %s: { tls: required }\n'
                  '  %s: { tls: preferred-verify }\n'
                  '  inherit.test: { tls: default }\n' % (TRUSTED['rv'], TRUSTED['req'], TRUSTED['pv'])),
    bounce_profiles=BOUNCE,
    tls=('  alert_on_failure: false\n'
         '  trust: { system: false, custom: false }\n')))
gw2.start()
mid2 = {}
for n in ('rv', 'req', 'pv'):
    mid2[n] = mid_of(send_mail(listen2, 'sender@client.test', ['user@' + TRUSTED[n]],
                               'Subject: %s\r\n\r\nx\r\n' % n), n)
for n in ('inherit', 'unlisted'):
    mid2[n] = mid_of(send_mail(listen2, 'sender@client.test', ['user@%s.test' % n],
                               'Subject: %s\r\n\r\nx\r\n' % n), n)


def delayed2(n):
    return DeliverLog(gw2.log('deliver')).delayed(mid2[n])


try:
    wait_until(lambda: good['req'].messages() and good['pv'].messages()
               and all(delayed2(n) and len(s.events()) >= 2
                       for n, s in (('rv', good['rv']), ('inherit', bare['inherit']),
                                    ('unlisted', bare['unlisted']))),
               30, 'the second gateway to deliver or defer all five')
except Timeout as e:
    diag(str(e))
d2 = DeliverLog(gw2.log('deliver'))
is_(sorted(set(c for c, _ in d2.delayed(mid2['rv']))), ['4.7.5'],
    'no CA list enabled: required-verify defers the good certificate with 4.7.5')
ok(any('certificate not trusted' in t for _, t in d2.delayed(mid2['rv'])),
   '... because the certificate is not trusted', diag=lambda: d2.context(mid2['rv']))
is_(good['rv'].messages(), [], '... and nothing reached the peer')
ok(good['req'].messages() and good['req'].messages()[0]['tls'],
   'no CA list enabled: required does not verify and delivers over TLS')
ok(good['pv'].messages() and good['pv'].messages()[0]['tls']
   and d2.lines(mid2['pv'], r'TLS success .* verified no$'),
   'no CA list enabled: preferred-verify delivers over TLS, verified no',
   diag=lambda: d2.context(mid2['pv']))
for n in ('inherit', 'unlisted'):
    is_(sorted(set(c for c, _ in d2.delayed(mid2[n]))), ['4.7.4'],
        '%s.test (%s) inherits the default entry\'s required: no STARTTLS, deferred with 4.7.4' % (
            n, 'tls: default' if n == 'inherit' else 'no entry'))
    is_(bare[n].messages(), [], '... nothing reached the peer')
    ok(d2.lines(mid2[n], r'TLS failed: domain %s\.test host \S+ \[127\.0\.0\.1\] mode required: ' % n),
       '... deliver.log names mode required', diag=lambda: d2.context(mid2[n]))
rc, out, err = gw2.sallyctl('hoststatus', 'inherit.test')
like(out, r'\nLast TLS Error: +required\n', 'hoststatus inherit.test: Last TLS Error, mode required')
unlike(gw2.log('deliver'), r'Warning: TLS negotiation failed',
       'alert_on_failure: false: no TLS failure warning')
is_(gw2.stop(), 0, 'second gateway stops')
is_(catchall.events(), [], 'still nothing at the catch-all route')

for s in list(sinks.values()) + [cc_sink, cc2_sink, catchall] + list(good.values()) + list(bare.values()):
    s.stop()
note('run time %.1fs' % (time.monotonic() - started))
done()
