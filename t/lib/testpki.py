"""testpki - throw-away certificates for TLS tests, made with openssl(1).

What it is for: a test that needs a CA, a server or client certificate,
an expired or self-signed one, or a PKCS#12 bundle makes them in its
scratch directory, in a few milliseconds each, with the `openssl`
command-line tool (no Python packages beyond the stdlib):

    from testpki import PKI
    pki = PKI(scratch().mkdir('pki'))
    ca = pki.ca()                                   # 'Test CA', 30 days
    mx = pki.leaf('mx', cn='mx.example.test',
                  sans=['mx.example.test', '127.0.0.1'], ca=ca)
    old = pki.leaf('old', cn='old.example.test', ca=ca, expired=True)
    selfie = pki.leaf('selfie', cn='self.example.test')   # ca=None: self-signed
    p12 = pki.p12(mx, 'secret')

API
  PKI(dirpath)
      Everything lives in dirpath (created if missing): keys (mode 0600),
      certificates, an openssl.cnf and the `openssl ca` database.
  pki.ca(name='Test CA', days=30, key='ec') -> Cert
      A root CA named CN=<name>: basicConstraints critical CA:TRUE,
      keyUsage critical keyCertSign,cRLSign.
  pki.leaf(name, cn=None, sans=None, ca=None, days=30, expired=False,
           key='ec') -> Cert
      An end-entity certificate, files <name>.key/.crt/.chain.pem.
      cn defaults to name; sans defaults to [cn]; sans=[] leaves out the
      subjectAltName extension.  SAN entries that parse as IP addresses
      become IP SANs, the others DNS SANs.  ca=None makes it self-signed.
      Every leaf has basicConstraints critical CA:FALSE and
      extendedKeyUsage serverAuth,clientAuth, so one leaf serves as a
      server or a client certificate.  expired=True: notBefore is
      days+1 days ago and notAfter one day ago (checked with
      `openssl x509 -checkend 0`).
  pki.p12(leaf, passphrase) -> path
      <name>.p12: the leaf, its key and its issuer, protected by the
      passphrase (openssl 3 defaults: AES-256-CBC, PBKDF2).
  Cert: .name, .cn, .sans, .cert, .key, .chain (paths; .chain is the
      leaf followed by its issuer, or the leaf alone when self-signed),
      .issuer (the CA's Cert or None), .subject ('CN=...'), .expired,
      .not_after (the datetime written into the certificate).
  PKIError: an openssl command failed (its argv and output are in the
      message) or a result is not what was asked for.

Keys are EC P-256 unless key='rsa' (RSA 2048) is asked for: fast to make.

What it is not for: a model of a real PKI.  No intermediates, CRLs, OCSP
or name constraints (add them when a test needs them); the keys are
unencrypted on disk; nothing here checks what the gateway does with them.
"""

import datetime
import ipaddress
import os
import re
import subprocess

__all__ = ['PKI', 'Cert', 'PKIError']

OPENSSL = os.environ.get('OPENSSL', 'openssl')
_TIMEOUT = 60

# One config for every command: the system openssl.cnf would add its own
# extensions to `req -x509` and make the result depend on the host.
_CONFIG = """\
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = unused

[ ca ]
default_ca = test_ca
[ test_ca ]
database = {db}
serial = {serial}
new_certs_dir = {newcerts}
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
copy_extensions = none
[ policy_any ]
commonName = supplied

[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""

_LEAF_EXT = """\
[ leaf ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, {ku}
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
{san}"""


class PKIError(Exception):
    """An openssl command failed, or made something other than was asked."""


class Cert:
    """Paths and facts of one certificate made by PKI."""

    def __init__(self, name, cn, sans, cert, key, chain, issuer, expired, not_after):
        self.name = name
        self.cn = cn
        self.sans = list(sans)
        self.cert = cert
        self.key = key
        self.chain = chain
        self.issuer = issuer
        self.expired = expired
        self.not_after = not_after

    @property
    def subject(self):
        return 'CN=' + self.cn

    def __repr__(self):
        return 'Cert(%r, cn=%r, issuer=%r%s)' % (
            self.name, self.cn, self.issuer.name if self.issuer else None,
            ', expired' if self.expired else '')


def _run(argv, env=None):
    """Runs openssl; PKIError with its output when it fails."""
    try:
        r = subprocess.run(argv, capture_output=True, text=True, errors='replace',
                           timeout=_TIMEOUT, env=env, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise PKIError('%s not found: install openssl (apt-get install openssl)' % argv[0]) from None
    except subprocess.TimeoutExpired:
        raise PKIError('%s did not finish within %ds' % (' '.join(argv), _TIMEOUT)) from None
    if r.returncode != 0:
        raise PKIError('%s failed with status %d:\n%s%s' % (
            ' '.join(argv), r.returncode, r.stdout, r.stderr))
    return r.stdout


def _subj(cn):
    """-subj argument for CN=cn, with openssl's special characters escaped."""
    return '/CN=' + re.sub(r'([\\/+=])', r'\\\1', cn)


def _asn1_time(dt):
    """YYYYMMDDHHMMSSZ, the form `openssl ca -startdate/-enddate` takes."""
    return dt.strftime('%Y%m%d%H%M%SZ')


def _san_value(sans):
    parts = []
    for s in sans:
        try:
            parts.append('IP:%s' % ipaddress.ip_address(s))
        except ValueError:
            parts.append('DNS:%s' % s)
    return ', '.join(parts)


def _safe_stem(name):
    """A file name from a certificate name ('Test CA' -> 'Test_CA')."""
    stem = re.sub(r'[^A-Za-z0-9._-]+', '_', name).strip('._')
    if not stem:
        raise PKIError('name %r gives no usable file name' % (name,))
    return stem


class PKI:
    """A directory of test keys and certificates; see the module docstring."""

    def __init__(self, dirpath):
        self.dir = os.path.abspath(os.fspath(dirpath))
        os.makedirs(os.path.join(self.dir, 'db', 'newcerts'), exist_ok=True)
        self.config = os.path.join(self.dir, 'openssl.cnf')
        db = os.path.join(self.dir, 'db', 'index.txt')
        serial = os.path.join(self.dir, 'db', 'serial')
        if not os.path.exists(db):
            open(db, 'w').close()
        if not os.path.exists(serial):
            # Unused (-rand_serial), but `openssl ca` insists on the setting.
            with open(serial, 'w') as f:
                f.write('%016X\n' % _serial())
        with open(self.config, 'w') as f:
            f.write(_CONFIG.format(db=db, serial=serial,
                                   newcerts=os.path.join(self.dir, 'db', 'newcerts')))

    def path(self, filename):
        return os.path.join(self.dir, filename)

    def _openssl(self, *args, env=None):
        return _run([OPENSSL] + list(args), env=env)

    def _make_key(self, path, kind):
        if kind == 'ec':
            algo = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']
        elif kind == 'rsa':
            algo = ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']
        else:
            raise PKIError("key must be 'ec' or 'rsa', not %r" % (kind,))
        self._openssl('genpkey', *algo, '-out', path)
        os.chmod(path, 0o600)

    def ca(self, name='Test CA', days=30, key='ec'):
        """A self-signed root CA with CN=name; returns its Cert."""
        stem = _safe_stem(name)
        keyfile, certfile = self.path(stem + '.key'), self.path(stem + '.crt')
        self._make_key(keyfile, key)
        self._openssl('req', '-config', self.config, '-new', '-x509', '-key', keyfile,
                      '-subj', _subj(name), '-days', str(days), '-sha256',
                      '-extensions', 'v3_ca', '-set_serial', str(_serial()),
                      '-out', certfile)
        not_after = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
        return Cert(stem, name, [], certfile, keyfile, certfile, None, False, not_after)

    def leaf(self, name, cn=None, sans=None, ca=None, days=30, expired=False, key='ec'):
        """An end-entity certificate signed by ca (a Cert from ca()), or
        self-signed when ca is None; returns its Cert."""
        stem = _safe_stem(name)
        cn = cn or name
        sans = [cn] if sans is None else list(sans)
        if ca is not None and ca.issuer is not None:
            raise PKIError('%r is not a CA made by pki.ca()' % (ca,))
        keyfile, certfile = self.path(stem + '.key'), self.path(stem + '.crt')
        csr, extfile = self.path(stem + '.csr'), self.path(stem + '.ext')
        chain = self.path(stem + '.chain.pem')
        self._make_key(keyfile, key)
        self._openssl('req', '-config', self.config, '-new', '-key', keyfile,
                      '-subj', _subj(cn), '-out', csr)
        with open(extfile, 'w') as f:
            f.write(_LEAF_EXT.format(
                ku='digitalSignature, keyEncipherment' if key == 'rsa' else 'digitalSignature',
                san='subjectAltName = %s\n' % _san_value(sans) if sans else ''))
        start, end = _validity(days, expired)
        signer = ['-selfsign', '-keyfile', keyfile] if ca is None else [
            '-cert', ca.cert, '-keyfile', ca.key]
        self._openssl('ca', '-batch', '-config', self.config, '-notext', '-rand_serial',
                      '-in', csr, '-out', certfile, *signer,
                      '-startdate', _asn1_time(start), '-enddate', _asn1_time(end),
                      '-extfile', extfile, '-extensions', 'leaf')
        self._check_validity(certfile, expired)
        _concat(chain, [certfile] + ([ca.cert] if ca is not None else []))
        return Cert(stem, cn, sans, certfile, keyfile, chain, ca, expired, end)

    def p12(self, leaf, passphrase):
        """<leaf.name>.p12 with the leaf, its key and its issuer; its path."""
        out = self.path(leaf.name + '.p12')
        args = ['pkcs12', '-export', '-in', leaf.cert, '-inkey', leaf.key,
                '-name', leaf.cn, '-passout', 'env:TESTPKI_PASS', '-out', out]
        if leaf.issuer is not None:
            args += ['-certfile', leaf.issuer.cert]
        # The passphrase goes through the environment, not argv (ps shows argv).
        env = dict(os.environ, TESTPKI_PASS=passphrase)
        self._openssl(*args, env=env)
        os.chmod(out, 0o600)
        return out

    def _check_validity(self, certfile, expired):
        """openssl itself must agree that the certificate is (not) expired."""
        r = subprocess.run([OPENSSL, 'x509', '-checkend', '0', '-noout', '-in', certfile],
                           capture_output=True, text=True, timeout=_TIMEOUT)
        if (r.returncode != 0) != expired:
            raise PKIError('%s: asked for %s, but openssl x509 -checkend 0 says: %s' % (
                certfile, 'an expired certificate' if expired else 'a valid certificate',
                (r.stdout + r.stderr).strip()))


def _validity(days, expired):
    """(notBefore, notAfter).  A valid certificate starts an hour ago (clock
    skew between test processes does not matter, but a peer's might); an
    expired one ended a day ago after being valid for `days` days."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    if expired:
        end = now - datetime.timedelta(days=1)
        return end - datetime.timedelta(days=days), end
    return now - datetime.timedelta(hours=1), now + datetime.timedelta(days=days)


def _serial():
    """A random positive 63-bit serial number."""
    return int.from_bytes(os.urandom(8), 'big') >> 1 or 1


def _concat(out, paths):
    with open(out, 'wb') as f:
        for p in paths:
            with open(p, 'rb') as src:
                data = src.read()
            f.write(data if data.endswith(b'\n') else data + b'\n')
