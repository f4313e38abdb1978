"""dnssec - DNSSEC-signed test zones served by ldns-testns, for the tests
of lib/dane.c (RFC 6698 / RFC 7672 TLSA lookups validated by us).

What it is for: an integration test builds a zone from zone-file lines,
signs it with ldns-keygen and ldns-signzone (one ECDSAP256SHA256 KSK and
one ZSK per zone, NSEC chain), and turns the signed zone into entries in
ldns-testns's data-file format, the one t/lib/sallyport.py's start_testns
serves:

    from dnssec import Zone, testns_data
    child = Zone(sc, 'dane.test.', ['dane.test. 3600 IN SOA ...', ...])
    parent = Zone(sc, 'test.', [... ] + child.ds_lines() + [NS lines])
    bad = child.tampered('_25._tcp.mx.dane.test.', 'TLSA', '3 1 1 00...')
    ns, port = start_testns(sc, testns_data([child, parent],
                                            nxdomain=['_25._tcp.mx2.dane.test.']))
    sc.write('anchors', parent.anchor_ds())          # or anchor_dnskey()

Each zone answers, in this order of entries: every RRset with its RRSIGs
(type-specific); the parent side of each delegation to a DS query (the DS
RRset, or NODATA with the NSEC that proves there is none); NODATA for every
other type at an existing name and at empty non-terminals (SOA, the
matching or covering NSEC, their RRSIGs); NXDOMAIN for each name listed in
`nxdomain` and its missing ancestors (SOA, the NSEC covering the name and
the NSECs covering the wildcards *.<ancestor>, their RRSIGs); and a final
REFUSED for anything else, so that an unexpected question fails fast
instead of timing out.  Zone(..., signed=False) gives an unsigned zone
(no RRSIG, no NSEC; the anchor methods raise).  Zone(..., expired=True)
signs with signatures that expired an hour ago.  zone.tampered() changes
records after signing (bogus), zone.stripped() drops their RRSIGs.

What it is not for: NSEC3 (denial entries are built for NSEC chains only),
wildcards, serving real referrals, or timing.  Names are plain ASCII
without escapes; the record lines must be fully qualified.
"""

import os
import subprocess
import time

__all__ = ['Zone', 'testns_data', 'canonical_key']


def _name(n):
    n = n.strip().lower()
    return n if n.endswith('.') else n + '.'


def _labels(n):
    n = _name(n)
    return [] if n == '.' else n[:-1].split('.')


def canonical_key(n):
    """Sort key for RFC 4034 6.1 canonical name order (plain ASCII)."""
    return [l.encode() for l in reversed(_labels(n))]


def _parent(n):
    ls = _labels(n)
    return '.' if len(ls) <= 1 else '.'.join(ls[1:]) + '.'


def _is_below_or_at(n, zone):
    """n equals zone or is a name below it."""
    zl, nl = _labels(zone), _labels(n)
    return len(nl) >= len(zl) and nl[len(nl) - len(zl):] == zl


def _parse(line):
    """'owner ttl class type rdata' -> [owner, ttl, class, type, rdata]."""
    f = line.strip().split(None, 4)
    if len(f) < 4:
        raise ValueError('record line needs owner ttl class type rdata: %r' % line)
    if len(f) == 4:
        f.append('')
    f[0] = _name(f[0])
    f[3] = f[3].upper()
    return f


def _line(r):
    return '%s %s %s %s %s' % tuple(r)


def _run(argv, cwd):
    p = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    if p.returncode != 0:
        raise RuntimeError('%s failed (%d): %s' % (argv[0], p.returncode, p.stderr.strip()))
    return p.stdout


class Zone:
    """One test zone, signed (default) or not, in a directory of sc."""

    def __init__(self, sc, origin, lines, signed=True, expired=False, algorithm='ECDSAP256SHA256'):
        self.origin = _name(origin)
        self.signed = signed
        self.dir = sc.mkdir('zone-' + (self.origin.rstrip('.') or 'root'))
        self.ksk = self.zsk = None
        text = ''.join(l.rstrip('\n') + '\n' for l in lines)
        path = os.path.join(self.dir, 'zone')
        with open(path, 'w') as f:
            f.write('$ORIGIN %s\n$TTL 3600\n%s' % (self.origin, text))
        if not signed:
            self.records = [_parse(l) for l in lines if l.strip() and not l.lstrip().startswith(';')]
            return
        self.ksk = _run(['ldns-keygen', '-a', algorithm, '-k', self.origin], self.dir).strip()
        self.zsk = _run(['ldns-keygen', '-a', algorithm, self.origin], self.dir).strip()
        now = int(time.time())
        if expired:
            inception, expiration = now - 7200, now - 3600
        else:
            inception, expiration = now - 3600, now + 14 * 86400
        out = path + '.signed'
        _run(['ldns-signzone', '-o', self.origin, '-i', str(inception), '-e', str(expiration),
              '-f', out, path, self.ksk, self.zsk], self.dir)
        self.records = []
        with open(out) as f:
            for l in f:
                if l.strip() and not l.startswith(';'):
                    self.records.append(_parse(l))

    # -------------------------------------------------- trust anchors

    def _keyfile(self, ext):
        if not self.signed:
            raise ValueError('%s is not signed: it has no trust anchor' % self.origin)
        with open(os.path.join(self.dir, self.ksk + ext)) as f:
            return ''.join(l for l in f if l.strip() and not l.startswith(';'))

    def anchor_ds(self):
        """The KSK's DS record (SHA-256), zone-file text."""
        return self._keyfile('.ds')

    def anchor_dnskey(self):
        """The KSK's DNSKEY record, zone-file text."""
        return self._keyfile('.key')

    def ds_lines(self):
        """The DS record(s) for this zone, to be put in its parent zone."""
        return [l for l in self.anchor_ds().splitlines() if l.strip()]

    # -------------------------------------------------- variants

    def tampered(self, owner, rtype, new_rdata):
        """A copy whose (owner, rtype) records all get new_rdata after
        signing: their RRSIGs no longer match (a bogus answer)."""
        z = Zone.__new__(Zone)
        z.__dict__.update(self.__dict__)
        z.records = []
        hit = 0
        for r in self.records:
            r = list(r)
            if r[0] == _name(owner) and r[3] == rtype.upper():
                r[4] = new_rdata
                hit += 1
            z.records.append(r)
        if not hit:
            raise ValueError('no %s record at %s to tamper with' % (rtype, owner))
        return z

    def stripped(self, owner, rtype):
        """A copy without the RRSIGs over (owner, rtype): an answer whose
        signatures were removed on the way (must not pass as insecure)."""
        z = Zone.__new__(Zone)
        z.__dict__.update(self.__dict__)
        z.records = [list(r) for r in self.records
                     if not (r[0] == _name(owner) and r[3] == 'RRSIG' and
                             r[4].split()[0].upper() == rtype.upper())]
        if len(z.records) == len(self.records):
            raise ValueError('no RRSIG over %s %s to strip' % (owner, rtype))
        return z

    # -------------------------------------------------- testns entries

    def _cuts(self):
        return {r[0] for r in self.records if r[3] == 'NS' and r[0] != self.origin}

    def _below_cut(self, name, cuts):
        return any(name != c and _is_below_or_at(name, c) for c in cuts)

    def _sigs(self, owner, rtype):
        return [r for r in self.records
                if r[0] == owner and r[3] == 'RRSIG' and r[4].split()[0].upper() == rtype]

    def _rrset(self, owner, rtype):
        return [r for r in self.records if r[0] == owner and r[3] == rtype]

    def _nsecs(self):
        return sorted((r for r in self.records if r[3] == 'NSEC'), key=lambda r: canonical_key(r[0]))

    def _covering_nsec(self, name):
        """The NSEC whose owner sorts before name and whose next name after
        it (the last one wraps around to the apex)."""
        k = canonical_key(name)
        for r in self._nsecs():
            lo, hi = canonical_key(r[0]), canonical_key(r[4].split()[0])
            if (lo < k < hi) if lo < hi else (k > lo or k < hi):
                return r
        return None

    def _soa_auth(self):
        return self._rrset(self.origin, 'SOA') + self._sigs(self.origin, 'SOA')

    def _nsec_auth(self, nsecs):
        out, seen = [], set()
        for r in nsecs:
            if r is None or r[0] in seen:
                continue
            seen.add(r[0])
            out += [r] + self._sigs(r[0], 'NSEC')
        return out

    def _entries(self, nxdomain):
        """(type-specific entries, per-name fallback entries)."""
        cuts = self._cuts()
        owners = []
        for r in self.records:
            if r[0] not in owners:
                owners.append(r[0])
        specific, fallback = [], []
        for owner in owners:
            if self._below_cut(owner, cuts):
                continue       # glue
            types = []
            for r in self.records:
                if r[0] == owner and r[3] != 'RRSIG' and r[3] not in types:
                    types.append(r[3])
            for t in types:
                if owner in cuts and t not in ('DS', 'NSEC'):
                    continue   # the child answers for these
                specific.append(_entry(owner, t, answer=self._rrset(owner, t) + self._sigs(owner, t)))
            nodata = self._soa_auth() + self._nsec_auth(self._rrset(owner, 'NSEC'))
            if owner in cuts:
                if 'DS' not in types:
                    specific.append(_entry(owner, 'DS', authority=nodata))
            else:
                fallback.append(_entry(owner, None, authority=nodata))
        # Empty non-terminals: NODATA with the covering NSEC.
        ents = []
        for owner in owners:
            n = _parent(owner)
            while _is_below_or_at(n, self.origin) and n != self.origin:
                if n not in owners and n not in ents and not self._below_cut(n, cuts):
                    ents.append(n)
                n = _parent(n)
        for n in ents:
            fallback.append(_entry(n, None, authority=self._soa_auth() +
                                   self._nsec_auth([self._covering_nsec(n)] if self.signed else [])))
        # NXDOMAIN for the names asked for and their missing ancestors.
        done = set(owners) | set(ents)
        for name in nxdomain:
            name = _name(name)
            if not _is_below_or_at(name, self.origin) or self._below_cut(name, cuts):
                continue
            n = name
            while n not in done and _is_below_or_at(n, self.origin):
                done.add(n)
                auth = self._soa_auth()
                if self.signed:
                    nsecs = [self._covering_nsec(n)]
                    p = _parent(n)
                    while _is_below_or_at(p, self.origin):
                        nsecs.append(self._covering_nsec('*.' + p))
                        if p in owners or p in ents:
                            break  # the closest encloser
                        p = _parent(p)
                    auth += self._nsec_auth(nsecs)
                fallback.append(_entry(n, None, rcode='NXDOMAIN', authority=auth))
                n = _parent(n)
        return specific, fallback


def _entry(qname, qtype, answer=(), authority=(), rcode='NOERROR'):
    """One ldns-testns entry; qtype None matches every type."""
    match = 'opcode qtype qname' if qtype else 'opcode qname'
    return ('ENTRY_BEGIN\nMATCH %s\nADJUST copy_id copy_query\nREPLY QR RD RA %s\n'
            'SECTION QUESTION\n%s IN %s\nSECTION ANSWER\n%sSECTION AUTHORITY\n%sENTRY_END\n' % (
                match, rcode, qname, qtype or 'A',
                ''.join(_line(r) + '\n' for r in answer),
                ''.join(_line(r) + '\n' for r in authority)))


def testns_data(zones, nxdomain=()):
    """ldns-testns data answering for all zones (give child zones before
    their parents), names in nxdomain answered NXDOMAIN by the deepest
    zone holding them, everything else REFUSED."""
    specific, fallback = [], []
    deepest = sorted(zones, key=lambda z: -len(_labels(z.origin)))
    for z in zones:
        mine = [n for n in nxdomain
                if next((d for d in deepest if _is_below_or_at(_name(n), d.origin)), None) is z]
        s, f = z._entries(mine)
        specific += s
        fallback += f
    return ''.join(specific + fallback) + (
        'ENTRY_BEGIN\nMATCH opcode\nADJUST copy_id copy_query\nREPLY QR RD RA REFUSED\nENTRY_END\n')
