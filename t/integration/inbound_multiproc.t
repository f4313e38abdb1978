#!/usr/bin/env python3
# inbound_multiproc - per-IP limits hold for the gateway, not per smtpd
# process: with several smtpd processes, master steers every connection
# from one client address to the same smtpd (SO_REUSEPORT group with a
# BPF program on the source address), so max_conns_per_ip and the hourly
# recipient limit count all of that client's connections.
import os
import re
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *

sc = scratch()
sink = Sink(scratch_dir=sc)
port = free_port()
policies = ('  RELAYED: { action: relay, max_conns_per_ip: 2, max_rcpts_per_hour: 5 }\n'
            '  BLOCKED: { action: reject }\n')
gw = Gateway(sc, base_config(port, sink.port, scratch_dir=sc, policies=policies,
                             processes='{ smtpd: 3, deliver: 1 }', dns='  timeout: 0s\n'))
gw.start()
ok('cannot steer' not in gw.log('sallyportd'), 'master steers clients to smtpd by address')


class Client:
    def __init__(self, src):
        self.s = socket.create_connection(('127.0.0.1', port), timeout=10, source_address=(src, 0))
        self.f = self.s.makefile('rb')

    def reply(self):
        lines = []
        while True:
            line = self.f.readline().decode()
            lines.append(line)
            if not line or line[3:4] != '-':
                return ''.join(lines)

    def cmd(self, line):
        self.s.sendall(line.encode() + b'\r\n')
        return self.reply()

    def close(self):
        self.s.close()


for src in ('127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'):
    clients = [Client(src) for _ in range(4)]
    banners = [c.reply() for c in clients]
    is_(sum(b.startswith('220 ') for b in banners), 2,
        '%s: 2 of 4 concurrent connections served (max_conns_per_ip 2 over 3 smtpd)' % src)
    is_(sum(b.startswith('421 4.7.0') for b in banners), 2, '%s: the other 2 get 421 4.7.0' % src)
    for c in clients:
        c.close()

# One smtpd saw every connection of each address.
wait_until(lambda: len(re.findall(r'address 127\.0\.0\.5 ', gw.log('smtpd'))) >= 2, 10, 'smtpd logs')
pids = {}
for m in re.finditer(r'smtpd\[(\d+)\] Info: New SMTP ICID \d+ interface \S+ \(\S+\) address (\S+)',
                     gw.log('smtpd')):
    pids.setdefault(m.group(2), set()).add(m.group(1))
ok(all(len(v) == 1 for v in pids.values()), 'each client address handled by one smtpd (%s)' % pids)
ok(len(set().union(*pids.values())) > 1, 'and the addresses spread over several smtpd')

# The hourly recipient limit spans connections (and so processes, were
# they not steered): 5 per hour from 127.0.0.6, over 3 connections.
codes = []
for n in range(3):
    c = Client('127.0.0.6')
    c.reply()
    c.cmd('EHLO client.test')
    c.cmd('MAIL FROM:<f@client.test>')
    codes += [c.cmd('RCPT TO:<r%d.%d@dest.example>' % (n, i))[:3] for i in range(2)]
    c.cmd('QUIT')
    c.close()
is_(codes, ['250'] * 5 + ['452'], 'the sixth recipient within the hour gets 452, whatever the connection')
is_(gw.stop(), 0, 'gateway stops cleanly')
done()
