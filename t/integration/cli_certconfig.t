#!/usr/bin/env python3
# cli_certconfig - `sallyctl certconfig`, the local command that manages
# certificate objects (<paths.state>/certs/<name>.crt/.key) and the CA
# lists (spec tls-with-other-mtas.md 2.2, 3.6, 3.7): generate (RSA, EC),
# list/show, CSR (checked by openssl req -verify), a CA signs it and the
# result is uploaded over the self-signed leaf, import PEM (+ key) and
# PKCS#12 (right and wrong passphrase), bad chains and keys refused with a
# reason, export PEM and PKCS#12 (and back), delete (refused while the
# config uses the certificate), and certauthority status/show/import/
# export with one good, one expired and one non-CA certificate.  The test
# CA and the other certificates are made here with the openssl CLI.  No
# gateway runs: certconfig works on files.
import datetime
import json
import os
import pty
import re
import select
import shutil
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *

require('sallyctl')
if shutil.which('openssl') is None:
    skip_all('the openssl command is not installed')

sc = scratch()
for d in ('etc', 'spool', 'state', 'run', 'log', 'pki', 'out'):
    sc.mkdir(d)
CERTS = sc.join('state', 'certs')
PKI = sc.join('pki')
OUT = sc.join('out')
REMINDER = "Run 'sallyctl commit' to apply."

# ---------------------------------------------------------------- openssl

OPENSSL_CNF = """\
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ ca ]
default_ca = tca
[ tca ]
database = {d}/index.txt
serial = {d}/serial
new_certs_dir = {d}/newcerts
default_md = sha256
policy = pany
unique_subject = no
copy_extensions = none
[ pany ]
commonName = supplied
"""

EXT = {
    'ca': 'basicConstraints = critical, CA:TRUE\n'
          'keyUsage = critical, keyCertSign, cRLSign\n'
          'subjectKeyIdentifier = hash\n',
    # An "intermediate" that is not marked CA (it can still sign).
    'notca': 'basicConstraints = critical, CA:FALSE\n'
             'keyUsage = critical, keyCertSign, digitalSignature\n'
             'subjectKeyIdentifier = hash\n',
    'leaf': 'basicConstraints = critical, CA:FALSE\n'
            'keyUsage = critical, digitalSignature, keyEncipherment\n'
            'extendedKeyUsage = serverAuth, clientAuth\n'
            'subjectAltName = {san}\n',
}
os.makedirs(os.path.join(PKI, 'newcerts'), exist_ok=True)
open(os.path.join(PKI, 'index.txt'), 'w').close()
with open(os.path.join(PKI, 'serial'), 'w') as f:
    f.write('1000\n')
CNF = os.path.join(PKI, 'openssl.cnf')
with open(CNF, 'w') as f:
    f.write(OPENSSL_CNF.format(d=PKI))


def openssl(*args, env=None):
    r = subprocess.run(['openssl'] + [str(a) for a in args], capture_output=True, text=True,
                       errors='replace', stdin=subprocess.DEVNULL, env=env, timeout=scale(60))
    if r.returncode != 0:
        bail_out('openssl %s failed: %s%s' % (' '.join(map(str, args)), r.stdout, r.stderr))
    return r.stdout


def pki(name):
    return os.path.join(PKI, name)


def asn1(dt):
    return dt.strftime('%Y%m%d%H%M%SZ')


def make_cert(name, cn, ext, issuer=None, start_days=-1, end_days=30, san=None):
    """<name>.key (RSA 2048) and <name>.crt signed by issuer (a name made
    here) or self-signed, valid from start_days to end_days from now, with
    the extensions EXT[ext]."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048',
            '-out', pki(name + '.key'))
    openssl('req', '-config', CNF, '-new', '-key', pki(name + '.key'), '-subj', '/CN=' + cn,
            '-out', pki(name + '.csr'))
    with open(pki(name + '.ext'), 'w') as f:
        f.write('[ x ]\n' + EXT[ext].format(san=san or 'DNS:' + cn))
    signer = (['-selfsign', '-keyfile', pki(name + '.key')] if issuer is None else
              ['-cert', pki(issuer + '.crt'), '-keyfile', pki(issuer + '.key')])
    openssl('ca', '-batch', '-config', CNF, '-notext', '-rand_serial', '-in', pki(name + '.csr'),
            '-out', pki(name + '.crt'), *signer,
            '-startdate', asn1(now + datetime.timedelta(days=start_days)),
            '-enddate', asn1(now + datetime.timedelta(days=end_days)),
            '-extfile', pki(name + '.ext'), '-extensions', 'x')
    return pki(name + '.crt')


def cat(out, *paths):
    with open(out, 'w') as f:
        for p in paths:
            with open(p) as src:
                f.write(src.read())
    return out


def fingerprint(pem_path):
    out = openssl('x509', '-in', pem_path, '-noout', '-fingerprint', '-sha256')
    return out.strip().split('=', 1)[1]


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# ---------------------------------------------------------------- sallyctl

stderrs = []


def ctl(*args, cfg=None, json_out=False, input=None):
    """sallyctl -c CFG [--json] certconfig ARGS: (status, stdout, stderr),
    stdout parsed when json_out.  stdin is /dev/null unless input is given,
    so nothing is ever asked on a terminal."""
    argv = [tool('sallyctl'), '-c', cfg or CFG] + (['--json'] if json_out else []) + \
        ['certconfig'] + [str(a) for a in args]
    kw = {'input': input} if input is not None else {'stdin': subprocess.DEVNULL}
    r = subprocess.run(argv, capture_output=True, text=True, errors='replace',
                       timeout=scale(120), **kw)
    stderrs.append((' '.join(argv[3:]), r.stderr))
    out = r.stdout
    if json_out and r.returncode == 0:
        try:
            out = json.loads(r.stdout)
        except ValueError as e:
            ok(False, 'certconfig %s: JSON output' % ' '.join(map(str, args)),
               diag='%s\n%s' % (e, r.stdout))
            out = None
    return r.returncode, out, r.stderr


def by_name(entries, name):
    for e in entries or []:
        if e.get('name') == name:
            return e
    return {}


# The plain config: one private listener without TLS, nothing uses a
# certificate; the system CA list is a file of this test.
SYSTEM_CA = sc.join('system-ca.pem')
port, port2 = free_port(), free_port()
CFG = sc.write('etc/plain.yaml', base_config(
    port, port2, scratch_dir=sc,
    tls='  trust:\n    system_file: %s\n' % SYSTEM_CA))
# The config that uses certificates: listener Inbound -> mx, tls.outbound
# -> ecc, the custom CA list enabled.
USED = sc.write('etc/used.yaml', base_config(
    port, port2, scratch_dir=sc,
    listeners=('  - name: Inbound\n'
               '    type: public\n'
               '    address: 127.0.0.1\n'
               '    port: %d\n'
               '    certificate: mx\n'
               '    hat:\n'
               '      - { group: ALL, match: [ALL], policy: ACCEPTED }\n' % port),
    policies=('  ACCEPTED: { action: accept, tls: preferred }\n'),
    tls=('  outbound:\n    certificate: ecc\n'
         '  trust:\n    system_file: %s\n    custom: true\n' % SYSTEM_CA)))

# ---------------------------------------------------------------- generate

rc, out, err = ctl('list')
is_(rc, 0, 'list with no certificate directory yet')
like(out, r'No certificates in ', 'and says there are none')

rc, out, err = ctl('generate', 'mx', '--cn', 'mx.example.com', '--san', 'mail.example.com',
                   '--san', 'smtp.example.com,relay.example.com', '--org', 'Example Inc',
                   '--unit', 'Mail', '--locality', 'Tokyo', '--state', 'Tokyo',
                   '--country', 'JP')
is_(rc, 0, 'generate mx (RSA, the default)')
like(out, r"Certificate 'mx' generated", 'generate says what it did')
ok(out.rstrip().endswith(REMINDER), 'and ends with the commit reminder', diag=out)
rc, out, err = ctl('generate', 'ecc', '--cn', 'ec.example.com', '--key', 'ec-p256', '--days', '30')
is_(rc, 0, 'generate ecc --key ec-p256 --days 30')
is_(mode(os.path.join(CERTS, 'mx.key')), 0o600, 'mx.key is mode 0600')
is_(mode(os.path.join(CERTS, 'ecc.key')), 0o600, 'ecc.key is mode 0600')
is_(mode(os.path.join(CERTS, 'mx.crt')), 0o644, 'mx.crt is mode 0644')

rc, out, err = ctl('generate', 'mx', '--cn', 'other.example.com')
is_(rc, 1, 'generate over an existing name fails')
like(err, r"^sallyctl: certconfig: certificate 'mx' exists \(--force", 'and says to use --force')
rc, out, err = ctl('generate', 'tmp', '--cn', 'tmp.example.com', '--key', 'rsa1024')
is_(rc, 1, 'an unknown key type is refused')
like(err, r"unknown key type 'rsa1024'", 'with the type named')
rc, out, err = ctl('generate', '1bad', '--cn', 'x.example.com')
like(err, r"invalid certificate name '1bad'", 'an invalid name is refused')
rc, out, err = ctl('generate', 'nocn')
like(err, r'give --cn HOST', 'generate without --cn is refused')
rc, out, err = ctl('generate', 'tmp', '--cn', 'tmp.example.com', '--days', '0')
like(err, r'--days is a number of days', '--days 0 is refused')

# ---------------------------------------------------------------- list, show

rc, out, err = ctl('list')
is_(rc, 0, 'list')
like(out, r'(?m)^mx\n    Subject:    CN=mx\.example\.com,OU=Mail,O=Example Inc,L=Tokyo,ST=Tokyo,C=JP\n',
     'list shows the subject of mx')
like(out, r'Names:      .*mail\.example\.com, smtp\.example\.com, relay\.example\.com',
     'list shows the SANs')
like(out, r'(?s)mx\n.*Key:        RSA 2048', 'list shows the RSA key')
like(out, r'(?s)ecc\n.*Key:        EC P-256', 'list shows the EC key')
like(out, r'Expires:    \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(365 days\)', 'and the days left')
like(out, r'Used by:    \(not used\)', 'nothing uses them in the plain config')
rc, out2, err = ctl('print')
is_(out2, out, 'print is list')

rc, lst, err = ctl('list', json_out=True)
mxj, ecj = by_name(lst, 'mx'), by_name(lst, 'ecc')
is_(mxj.get('key'), 'RSA 2048', 'JSON: mx key type')
is_(sorted(mxj.get('sans', [])), sorted(['mx.example.com', 'mail.example.com',
                                         'smtp.example.com', 'relay.example.com']),
    'JSON: mx SANs (the CN added)')
is_(ecj.get('key'), 'EC P-256', 'JSON: ecc key type')
is_(ecj.get('subject'), 'CN=ec.example.com', 'JSON: ecc subject')
is_(ecj.get('days_left'), 30, 'JSON: ecc has 30 days left')
is_(mxj.get('expired'), False, 'JSON: not expired')
is_(mxj.get('self_signed'), True, 'JSON: self-signed')
is_(mxj.get('used_by'), [], 'JSON: not used')

rc, show, err = ctl('show', 'mx', json_out=True)
is_(rc, 0, 'show mx --json')
show = show or {}
is_(show.get('leaf', {}).get('subject', '').split(',')[0], 'CN=mx.example.com', 'show: CN')
is_(show.get('leaf', {}).get('sha256'), fingerprint(os.path.join(CERTS, 'mx.crt')),
    'show: the SHA-256 fingerprint is the one openssl computes')
is_(show.get('key_file_mode'), '0600', 'show: key file mode 0600')
is_(show.get('chain'), [], 'show: no chain for a self-signed certificate')
is_(show.get('valid'), True, 'show: valid')
rc, out, err = ctl('show', 'mx')
like(out, r'SHA-256:      [0-9A-F]{2}(:[0-9A-F]{2}){31}\n', 'show (text) prints the fingerprint')
like(out, r'Not before:   \d{4}-', 'and the start of validity')
rc, out, err = ctl('show', 'nosuch')
is_(rc, 1, 'show of a missing certificate fails')
like(err, r"^sallyctl: certconfig: no certificate 'nosuch'", 'with the name')

# ---------------------------------------------------------------- CSR, CA, upload

rc, csr, err = ctl('csr', 'mx')
is_(rc, 0, 'csr mx to stdout')
like(csr, r'^-----BEGIN CERTIFICATE REQUEST-----\n', 'a PEM CSR')
with open(pki('mx.req'), 'w') as f:
    f.write(csr)
r = subprocess.run(['openssl', 'req', '-in', pki('mx.req'), '-verify', '-noout', '-subject'],
                   capture_output=True, text=True)
is_(r.returncode, 0, 'openssl req -verify accepts the CSR')
like(r.stdout + r.stderr, r'verify OK', 'its signature verifies')
like(r.stdout, r'CN ?= ?mx\.example\.com', 'the CSR carries the subject')
rc, out, err = ctl('csr', 'mx', '--out', os.path.join(OUT, 'mx.csr'))
is_(rc, 0, 'csr --out FILE')
with open(os.path.join(OUT, 'mx.csr')) as f:
    is_(f.read(), csr, 'the same CSR in the file')

make_cert('rootca', 'Sallyport Test Root CA', 'ca', start_days=-1, end_days=60)
with open(pki('mx.signext'), 'w') as f:
    f.write('[ x ]\n' + EXT['leaf'].format(san='DNS:mx.example.com, DNS:mail.example.com'))
openssl('x509', '-req', '-in', pki('mx.req'), '-CA', pki('rootca.crt'), '-CAkey', pki('rootca.key'),
        '-set_serial', '4242', '-days', '20', '-extfile', pki('mx.signext'), '-extensions', 'x',
        '-out', pki('mx-signed.crt'))
rc, out, err = ctl('upload', 'mx', pki('mx-signed.crt'))
is_(rc, 0, 'upload the CA-signed certificate for mx')
ok(out.rstrip().endswith(REMINDER), 'upload ends with the reminder', diag=out)
rc, lst, err = ctl('list', json_out=True)
mxj = by_name(lst, 'mx')
is_(mxj.get('issuer'), 'CN=Sallyport Test Root CA', 'list: mx is now issued by the test CA')
is_(mxj.get('self_signed'), False, 'and no longer self-signed')
is_(mxj.get('days_left'), 20, 'with the CA-given validity')
rc, out, err = ctl('list')
like(out, r'Issuer:     CN=Sallyport Test Root CA\n', 'list (text) shows the CA as issuer')
rc, out, err = ctl('upload', 'ecc', pki('mx-signed.crt'))
is_(rc, 1, 'uploading a certificate for another key fails')
like(err, r'does not match', 'because the key does not match')
rc, out, err = ctl('upload', 'ecc', pki('rootca.key'))
like(err, r'no PEM certificate found|not a PEM', 'a file with no certificate is refused')

# ---------------------------------------------------------------- import PEM

make_cert('interca', 'Sallyport Test Intermediate CA', 'ca', issuer='rootca')
make_cert('web', 'web.example.com', 'leaf', issuer='interca',
          san='DNS:web.example.com, DNS:www.example.com')
cat(pki('web.chain'), pki('web.crt'), pki('interca.crt'))
rc, out, err = ctl('import', 'web', pki('web.chain'), '--key', pki('web.key'))
is_(rc, 0, 'import a PEM chain with --key')
ok(out.rstrip().endswith(REMINDER), 'import ends with the reminder', diag=out)
rc, show, err = ctl('show', 'web', json_out=True)
show = show or {}
is_(show.get('leaf', {}).get('subject'), 'CN=web.example.com', 'the leaf is web.example.com')
is_([c.get('subject') for c in show.get('chain', [])], ['CN=Sallyport Test Intermediate CA'],
    'the chain holds the intermediate')
is_(show.get('chain', [{}])[0].get('ca'), True, 'which is a CA')
is_(mode(os.path.join(CERTS, 'web.key')), 0o600, 'the imported key is mode 0600')

cat(pki('web.all'), pki('web.crt'), pki('interca.crt'), pki('web.key'))
rc, out, err = ctl('import', 'web2', pki('web.all'))
is_(rc, 0, 'import a PEM file holding chain and key')
rc, out, err = ctl('import', 'web', pki('web.all'))
is_(rc, 1, 'import over an existing name fails')
like(err, r"certificate 'web' exists \(--force", 'without --force')
rc, out, err = ctl('import', 'web', pki('web.all'), '--force')
is_(rc, 0, 'and works with --force')

make_cert('badint', 'Not A CA', 'notca', issuer='rootca')
make_cert('shop', 'shop.example.com', 'leaf', issuer='badint')
cat(pki('shop.chain'), pki('shop.crt'), pki('badint.crt'))
rc, out, err = ctl('import', 'shop', pki('shop.chain'), '--key', pki('shop.key'))
is_(rc, 1, 'a chain whose intermediate is not a CA is refused')
like(err, r'^sallyctl: certconfig: cannot import .*certificate 2 of the chain \(CN=Not A CA\) is '
          r'not a CA certificate', 'the error names the certificate and the problem')
ok(not os.path.exists(os.path.join(CERTS, 'shop.crt')), 'and nothing was saved')

rc, out, err = ctl('import', 'wrongkey', pki('web.chain'), '--key', pki('shop.key'))
is_(rc, 1, 'a key that does not match the certificate is refused')
like(err, r'private key does not match the certificate \(CN=web\.example\.com\)',
     'with the reason')
rc, out, err = ctl('import', 'nokey', pki('web.chain'))
is_(rc, 1, 'a PEM chain without a key is refused')
like(err, r'no usable private key', 'with the reason')

# ---------------------------------------------------------------- PKCS#12

PASS = sc.write('pass.txt', 'correct horse\n', 0o600)
WRONG = sc.write('wrong.txt', 'battery staple\n', 0o600)
EMPTY = sc.write('empty.txt', '\n', 0o600)
openssl('pkcs12', '-export', '-in', pki('web.crt'), '-inkey', pki('web.key'),
        '-certfile', pki('interca.crt'), '-name', 'web', '-passout', 'file:' + PASS,
        '-out', pki('web.p12'))
rc, out, err = ctl('import', 'webp12', pki('web.p12'), '--passphrase-file', PASS)
is_(rc, 0, 'import PKCS#12 with the right passphrase')
rc, show, err = ctl('show', 'webp12', json_out=True)
show = show or {}
is_(show.get('leaf', {}).get('sha256'), fingerprint(pki('web.crt')), 'the leaf came through')
is_(len(show.get('chain', [])), 1, 'and the intermediate')
rc, out, err = ctl('import', 'webp12b', pki('web.p12'), '--passphrase-file', WRONG)
is_(rc, 1, 'import PKCS#12 with a wrong passphrase fails')
like(err, r'^sallyctl: certconfig: cannot import .*wrong passphrase', 'with a clear error')
ok(not os.path.exists(os.path.join(CERTS, 'webp12b.key')), 'and saves nothing')
rc, out, err = ctl('import', 'webp12b', pki('web.p12'))
like(err, r'wrong passphrase', 'without a terminal the passphrase is empty (and wrong here)')
rc, out, err = ctl('import', 'webp12b', pki('web.p12'), '--key', pki('web.key'))
like(err, r'PKCS#12.*leave out --key', '--key with a PKCS#12 file is refused')

# ---------------------------------------------------------------- export

P12OUT = os.path.join(OUT, 'mx.p12')
rc, out, err = ctl('export', 'mx', '--format', 'p12', '--out', P12OUT, '--passphrase-file', PASS)
is_(rc, 0, 'export mx as PKCS#12')
is_(mode(P12OUT), 0o600, 'the PKCS#12 file is mode 0600')
unlike(out, re.escape(REMINDER), 'export changes nothing: no reminder')
r = subprocess.run(['openssl', 'pkcs12', '-in', P12OUT, '-passin', 'file:' + PASS, '-nokeys'],
                   capture_output=True, text=True)
is_(r.returncode, 0, 'openssl reads the exported PKCS#12 file')
rc, out, err = ctl('import', 'mxback', P12OUT, '--passphrase-file', PASS)
is_(rc, 0, 're-import the exported PKCS#12 file')
rc, show, err = ctl('show', 'mxback', json_out=True)
is_((show or {}).get('leaf', {}).get('sha256'), fingerprint(os.path.join(CERTS, 'mx.crt')),
    'it is the same certificate')
rc, out, err = ctl('export', 'mx', '--format', 'p12', '--out', os.path.join(OUT, 'x.p12'))
is_(rc, 1, 'export p12 without a passphrase file and no terminal fails')
like(err, r'needs a passphrase', 'saying a passphrase is needed')
rc, out, err = ctl('export', 'mx', '--format', 'p12', '--out', os.path.join(OUT, 'x.p12'),
                   '--passphrase-file', EMPTY)
like(err, r'refusing an empty passphrase', 'an empty passphrase is refused')

rc, out, err = ctl('export', 'web')
is_(rc, 0, 'export web as PEM to stdout')
is_(out.count('-----BEGIN CERTIFICATE-----'), 2, 'leaf and intermediate')
unlike(out, r'PRIVATE KEY', 'and no key without --with-key')
PEMOUT = os.path.join(OUT, 'web.pem')
rc, out, err = ctl('export', 'web', '--with-key', '--out', PEMOUT)
is_(rc, 0, 'export --with-key --out FILE')
is_(mode(PEMOUT), 0o600, 'a PEM export with the key is mode 0600')
with open(PEMOUT) as f:
    like(f.read(), r'-----BEGIN PRIVATE KEY-----', 'and holds the key')
rc, out, err = ctl('import', 'webback', PEMOUT)
is_(rc, 0, 'the PEM export imports again')
rc, out, err = ctl('export', 'web', '--out', os.path.join(OUT, 'web-nokey.pem'))
is_(mode(os.path.join(OUT, 'web-nokey.pem')), 0o644, 'a PEM export without key is mode 0644')
rc, exp, err = ctl('export', 'mx', json_out=True)
like((exp or {}).get('pem', ''), r'^-----BEGIN CERTIFICATE-----', '--json export has the PEM text')

# ---------------------------------------------------------------- delete

rc, out, err = ctl('delete', 'mxback')
is_(rc, 1, 'delete without --yes and no answer is not done')
like(err, r'not confirmed', 'and says so')
ok(os.path.exists(os.path.join(CERTS, 'mxback.crt')), 'the files stay')
rc, out, err = ctl('delete', 'mxback', input='y\n')
is_(rc, 0, 'delete answered "y"')
like(out, r"Delete certificate 'mxback' and its private key\? \[N\]> ", 'after the question')
ok(not os.path.exists(os.path.join(CERTS, 'mxback.crt')) and
   not os.path.exists(os.path.join(CERTS, 'mxback.key')), 'both files are gone')
rc, out, err = ctl('--yes', 'delete', 'webback')
is_(rc, 0, 'delete --yes')
ok(out.rstrip().endswith(REMINDER), 'delete ends with the reminder', diag=out)
rc, out, err = ctl('delete', 'webback', '--yes')
like(err, r"no certificate 'webback'", 'deleting a missing certificate fails')

# The config that uses mx (listener) and ecc (tls.outbound).
rc, lst, err = ctl('list', cfg=USED, json_out=True)
ok(rc == 0, 'a config with listeners[].certificate and tls.outbound.certificate loads',
   diag=err)
if rc == 0:
    is_(by_name(lst, 'mx').get('used_by'), [{'type': 'listener', 'name': 'Inbound'}],
        'list: mx is used by listener Inbound')
    is_(by_name(lst, 'ecc').get('used_by'), [{'type': 'tls.outbound'}],
        'list: ecc is used by tls.outbound')
    rc, out, err = ctl('list', cfg=USED)
    like(out, r'(?s)\nmx\n.*?Used by:    listener Inbound\n', 'list (text) shows the user')
    rc, out, err = ctl('delete', 'mx', '--yes', cfg=USED)
    is_(rc, 1, 'deleting a certificate the config uses is refused')
    like(err, r"^sallyctl: certconfig: certificate 'mx' is used by listener 'Inbound'",
         'naming the listener')
    ok(os.path.exists(os.path.join(CERTS, 'mx.key')), 'and mx is kept')
    rc, out, err = ctl('delete', 'ecc', '--yes', cfg=USED)
    like(err, r"certificate 'ecc' is used by tls\.outbound", 'same for tls.outbound')
rc, out, err = ctl('delete', 'ecc', '--yes')
is_(rc, 0, 'with the plain config (nothing uses it) ecc can be deleted')

# ---------------------------------------------------------------- CA lists

make_cert('oldca', 'Sallyport Expired CA', 'ca', start_days=-60, end_days=-1)
cat(pki('bundle.pem'), pki('rootca.crt'), pki('oldca.crt'), pki('web.crt'))
cat(SYSTEM_CA, pki('rootca.crt'), pki('interca.crt'))
CUSTOM = os.path.join(CERTS, 'custom-ca.pem')

rc, out, err = ctl('certauthority', 'import', pki('bundle.pem'))
is_(rc, 0, 'certauthority import of good + expired + non-CA')
like(out, r'Imported 1 CA certificate into ' + re.escape(CUSTOM), 'one accepted')
like(out, r'Rejected 2:\n', 'two rejected')
like(out, r'certificate 2 of the list \(CN=Sallyport Expired CA\) expired on ', 'the expired one')
like(out, r'certificate 3 of the list \(CN=web\.example\.com\) is not a CA certificate',
     'the non-CA one')
like(out, r'tls\.trust\.custom: true', 'says the custom list is disabled and how to enable it')
ok(out.rstrip().endswith(REMINDER), 'ends with the reminder', diag=out)
is_(mode(CUSTOM), 0o644, 'the custom list is mode 0644')
with open(CUSTOM) as f:
    custom = f.read()
is_(custom.count('-----BEGIN CERTIFICATE-----'), 1, 'it holds one certificate')
like(custom, r'# CN=Sallyport Test Root CA / ' + re.escape(fingerprint(pki('rootca.crt'))),
     'after a "# subject / fingerprint" line')
rc, res, err = ctl('certauthority', 'import', pki('bundle.pem'), json_out=True)
is_((res or {}).get('accepted'), 1, 'JSON: accepted 1')
is_(len((res or {}).get('rejected', [])), 2, 'JSON: two rejected entries')

rc, out, err = ctl('certauthority', 'import', pki('web.crt'))
is_(rc, 1, 'a list without a usable CA certificate is refused')
like(err, r'is not a CA certificate', 'the rejected entry is reported')
like(err, r'holds no usable CA certificate; the custom CA list is unchanged', 'and why')
with open(CUSTOM) as f:
    is_(f.read(), custom, 'the custom list is unchanged')
rc, out, err = ctl('certauthority', 'import', pki('rootca.key'))
is_(rc, 1, 'a file with no certificate at all is refused')

rc, out, err = ctl('certauthority', 'export', 'custom')
is_(rc, 0, 'certauthority export custom')
like(out, r'^# CN=Sallyport Test Root CA / [0-9A-F:]+\n-----BEGIN CERTIFICATE-----\n',
     'PEM with the comment line')
EXPORTED = os.path.join(OUT, 'custom.txt')
rc, out, err = ctl('certauthority', 'export', 'system', '--out', EXPORTED)
is_(rc, 0, 'certauthority export system --out FILE')
with open(EXPORTED) as f:
    text = f.read()
is_(text.count('-----BEGIN CERTIFICATE-----'), 2, 'both system certificates')
like(text, r'# CN=Sallyport Test Intermediate CA / ', 'with their comment lines')

rc, out, err = ctl('certauthority', 'status')
is_(rc, 0, 'certauthority status')
like(out, r'System CA list: +enabled \(tls\.trust\.system: true\)\n +File: +' +
     re.escape(SYSTEM_CA) + r'\n +Certificates: +2\n', 'the system list: enabled, file, count')
like(out, r'Custom CA list: +disabled \(tls\.trust\.custom: false\)\n +File: +' +
     re.escape(CUSTOM) + r'\n +Certificates: +1\n', 'the custom list: disabled, file, count')
like(out, r'set tls\.trust\.system or tls\.trust\.custom', 'and how to enable or disable them')
rc, st, err = ctl('certauthority', 'status', cfg=USED, json_out=True)
if rc == 0:
    is_((st or {}).get('custom', {}).get('enabled'), True, 'JSON status: custom enabled per config')
    is_((st or {}).get('custom', {}).get('certificates'), 1, 'JSON status: one certificate')
rc, out, err = ctl('certauthority', 'show', 'system')
is_(rc, 0, 'certauthority show system')
like(out, r'\d{4}-\d\d-\d\d +\d+ +CN=Sallyport Test Root CA\n', 'expiry, days and subject')
rc, shown, err = ctl('certauthority', 'show', 'custom', json_out=True)
is_([c.get('subject') for c in shown or []], ['CN=Sallyport Test Root CA'], 'JSON show custom')
rc, out, err = ctl('certauthority', 'show')
like(err, r'system or custom', 'show needs the list named')

# ---------------------------------------------------------------- terminal

def on_terminal(args, answers):
    """certconfig ARGS with a pseudo-terminal for stdin, stdout and stderr;
    each answer is typed once a prompt (text ending in ': ' or '> ') shows.
    Returns (status, everything the terminal showed)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([tool('sallyctl'), '-c', CFG, 'certconfig'] + [str(a) for a in args],
                         stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    shown = b''

    def read_some(deadline):
        nonlocal shown
        r, _, _ = select.select([master], [], [], max(0, deadline - time.monotonic()))
        if not r:
            return False
        try:
            chunk = os.read(master, 4096)
        except OSError:
            chunk = b''
        shown += chunk
        return bool(chunk)
    for a in answers:
        deadline = time.monotonic() + scale(20)
        while not re.search(rb'(: |> )$', shown) and time.monotonic() < deadline:
            if not read_some(deadline):
                break
        os.write(master, a.encode() + b'\r')
        shown += b'|typed|'
    deadline = time.monotonic() + scale(20)
    while time.monotonic() < deadline and read_some(deadline):
        pass
    try:
        rc = p.wait(scale(20))
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    os.close(master)
    text = shown.decode('utf-8', 'replace')
    stderrs.append((' '.join(map(str, args)) + ' (terminal)', text))
    return rc, text


rc, text = on_terminal(['import', 'webtty', pki('web.p12')], ['correct horse'])
is_(rc, 0, 'terminal: import PKCS#12, the passphrase typed at the prompt')
like(text, r'^Passphrase of .*web\.p12: \|typed\|', 'the passphrase is asked for')
unlike(text, r'correct horse', 'and not echoed')
TTYP12 = os.path.join(OUT, 'tty.p12')
rc, text = on_terminal(['export', 'webtty', '--format', 'p12', '--out', TTYP12],
                       ['tty secret', 'tty secret'])
is_(rc, 0, 'terminal: export PKCS#12 with the passphrase typed twice')
like(text, r'Passphrase for the PKCS#12 file: \|typed\|\r?\nEnter it again: \|typed\|',
     'asked twice')
unlike(text, r'tty secret', 'never echoed')
r = subprocess.run(['openssl', 'pkcs12', '-in', TTYP12, '-passin', 'env:P12PASS', '-nokeys'],
                   capture_output=True, text=True, env=dict(os.environ, P12PASS='tty secret'))
is_(r.returncode, 0, 'the file opens with the typed passphrase')
rc, text = on_terminal(['export', 'webtty', '--format', 'p12', '--out', TTYP12],
                       ['tty secret', 'tty secreT'])
is_(rc, 1, 'terminal: two different passphrases')
like(text, r'the two passphrases differ', 'are refused')
rc, text = on_terminal(['delete', 'webtty'], [''])
is_(rc, 1, 'terminal: Enter at the delete question means No')
ok(os.path.exists(os.path.join(CERTS, 'webtty.crt')), 'and the certificate stays')

# ---------------------------------------------------------------- errors

rc, out, err = ctl('frobnicate')
is_(rc, 1, 'an unknown subcommand fails')
like(err, r"^sallyctl: certconfig: unknown subcommand 'frobnicate'", 'and names it')
rc, out, err = ctl('list', '--bogus')
like(err, r'unknown option --bogus', 'an unknown option is named')
rc, out, err = ctl('help')
like(out, r'certconfig generate NAME --cn HOST', 'help shows the synopsis')

reports = [(a, e) for a, e in stderrs
           if re.search(r'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: \w+Sanitizer', e)]
ok(not reports, 'no sanitizer report from sallyctl',
   diag=lambda: '\n'.join('%s:\n%s' % (a, e[:3000]) for a, e in reports[:3]))
done()
