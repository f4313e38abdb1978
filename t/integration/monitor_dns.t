#!/usr/bin/env python3
# monitor_dns - hoststatus shows what deliver's DNS cache holds (MX records
# with their TTL, the ordered IP addresses with their expiry), host down
# when no MX host answers, and dnsstatus counts requests, network
# requests, hits, misses and negative answers (Reset / Uptime / Lifetime,
# Lifetime kept across a restart); a non-existent domain is a DNS hard
# bounce; dnsflush empties the cache.  DNS answers come from ldns-testns;
# nothing listens on port 25 of the MX addresses, so delivery is deferred.
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *

if shutil.which('ldns-testns') is None:
    skip_all('ldns-testns is not installed (Debian: ldnsutils)')


sc = scratch()
ns, nsport = start_testns(sc, ''.join([
    testns_entry('mx.test.', 'MX', ['mx.test. 3600 IN MX 10 mail1.mx.test.', 'mx.test. 3600 IN MX 20 mail2.mx.test.']),
    testns_entry('mail1.mx.test.', 'A', ['mail1.mx.test. 3600 IN A 127.0.0.5', 'mail1.mx.test. 3600 IN A 127.0.0.6']),
    testns_entry('mail2.mx.test.', 'A', ['mail2.mx.test. 3600 IN A 127.0.0.7']),
    testns_entry('nx.test.', 'MX', [], rcode='NXDOMAIN'),
    testns_entry('nx.test.', 'A', [], rcode='NXDOMAIN'),
    testns_entry('nx.test.', 'AAAA', [], rcode='NXDOMAIN'),
    'ENTRY_BEGIN\nMATCH opcode\nADJUST copy_id copy_query\nREPLY QR RD RA NOERROR\nENTRY_END\n',
]))

sink = Sink(scratch_dir=sc)
port = free_port()
gw = Gateway(sc, base_config(port, sink.port, scratch_dir=sc, smtp_routes=None,
             dns='  servers: ["127.0.0.1:%d"]\n' % nsport,
             bounce_profiles='  default: { initial_retry: 1h, max_retry: 2h, '
                             'max_queue_time: 72h, max_attempts: 100 }\n'))
gw.start()

send_mail(port, 'q@client.test', ['a@mx.test'], b'Subject: mx\r\n\r\nx\r\n')
gw.wait_log('qmgr', r'<a@mx\.test> deferred \(attempt 1\)', timeout=30)
ok(True, 'the MX hosts do not answer: deferred')
rc, out, err = gw.sallyctl('hoststatus', 'mx.test')
is_(rc, 0, 'hoststatus exits 0')
like(out, r'\nHost up/down: {6}down\n', 'no MX host reachable: down')
like(out, r'\nOrdered IP addresses: \(expiring at \w{3} \w{3} \d\d \d\d:\d\d:\d\d \d{4}\)\n'
          r'  Preference  IPs\n  10          127\.0\.0\.5      127\.0\.0\.6\n  20          127\.0\.0\.7\n',
     'ordered IP addresses by MX preference, with the expiry')
like(out, r'\nMX Records:\n  Preference  TTL      Hostname\n  10          \d+m\d+s +mail1\.mx\.test\n'
          r'  20          \d+m\d+s +mail2\.mx\.test\n', 'MX records with the TTL left')
like(out, r'\n    Attempted Recipients +1\n', 'one attempted recipient')
unlike(out, r'SMTP Routes', 'no SMTP route for it')
hj = gw.sallyctl('hoststatus', 'mx.test', json=True)
is_([(r['pref'], r['addr']) for r in hj['ips']], [(10, '127.0.0.5'), (10, '127.0.0.6'), (20, '127.0.0.7')],
    'hoststatus --json lists the same addresses')

# A second message to the same domain: a cache hit.
send_mail(port, 'q@client.test', ['b@mx.test'], b'Subject: mx2\r\n\r\nx\r\n')
gw.wait_log('qmgr', r'<b@mx\.test> deferred \(attempt 1\)', timeout=30)
# A non-existent domain: DNS hard bounce, then a negative cache hit.
send_mail(port, 'q@client.test', ['c@nx.test'], b'Subject: nx\r\n\r\nx\r\n')
gw.wait_log('qmgr', r'<c@nx\.test> hard bounced', timeout=30)
send_mail(port, 'q@client.test', ['d@nx.test'], b'Subject: nx2\r\n\r\nx\r\n')
gw.wait_log('qmgr', r'<d@nx\.test> hard bounced', timeout=30)
# The two NXDOMAIN recipients, and their two DSNs: client.test has no MX
# and no address here either.  Then only the two mx.test ones are left.
wait_until(lambda: (lambda j: j['counters']['DNS Hard Bounces']['uptime'] == 4 and
                    j['gauges']['Active Recipients'] == 2)(gw.sallyctl('status', json=True)),
           30, 'the DSNs bounced too')
ok(True, 'NXDOMAIN / no-host recipients are DNS Hard Bounces')


def dns():
    return {k: (v['reset'], v['uptime'], v['lifetime'])
            for k, v in gw.sallyctl('dnsstatus', json=True)['counters'].items()}
d = wait_until(lambda: (lambda x: x['DNS Requests'][1] >= 4 and x)(dns()), 20, 'DNS counters reported')
ok(d['Network Requests'][1] >= 2, 'network requests counted (%d)' % d['Network Requests'][1])
ok(d['Cache Hits'][1] >= 2, 'cache hits counted (%d)' % d['Cache Hits'][1])
ok(d['Cache Misses'][1] >= 2, 'cache misses counted (%d)' % d['Cache Misses'][1])
ok(d['Cache Exceptions'][1] >= 1, 'a negative answer found in the cache is an exception (%d)' % d['Cache Exceptions'][1])
is_(d['DNS Requests'][1], d['Cache Hits'][1] + d['Cache Misses'][1], 'every request is a hit or a miss')
rc, out, err = gw.sallyctl('dnsstatus')
like(out, r'\n  Cache Hits +%d +%d +%d\n' % (d['Cache Hits'][0], d['Cache Hits'][1], d['Cache Hits'][2]),
     'dnsstatus text shows the same numbers')

rc, out, err = gw.sallyctl('dnsflush')
like(out, r'DNS cache flushed\.', 'dnsflush')
rc, out, err = gw.sallyctl('hoststatus', 'mx.test')
unlike(out, r'MX Records', 'the flushed cache holds no MX for the domain')
is_(dns()['Cache Expired'], d['Cache Expired'], 'a flush does not change Cache Expired')

life = {k: v[2] for k, v in dns().items()}
is_(gw.stop(), 0, 'gateway stops')
gw.start()
d2 = dns()
is_({k: v[2] for k, v in d2.items()}, life, 'DNS Lifetime kept across the restart')
ok(all(v[1] == 0 for v in d2.values()), 'DNS Uptime starts again at 0')
gw.sallyctl('resetcounters')
ok(all(v[0] == 0 for v in dns().values()), 'resetcounters resets the DNS Reset column')
is_(gw.stop(), 0, 'gateway stops cleanly')
stop_process(ns)
done()
