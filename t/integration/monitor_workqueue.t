#!/usr/bin/env python3
# monitor_workqueue - `workqueue pause` holds newly received mail in the
# work queue (counted by the Messages In Work Queue gauge), across a
# restart too; `workqueue resume` releases it to delivery.
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from sallyport import *

sc = scratch()
sink = Sink(scratch_dir=sc)
port = free_port()
gw = Gateway(sc, base_config(port, sink.port, scratch_dir=sc))
gw.start()


def in_work_queue():
    j = gw.sallyctl('status', json=True)
    return next(int(r['current']) for r in j['records']
                if r.get('section') == 'gauge' and r.get('name') == 'Messages In Work Queue')


rc, out, err = gw.sallyctl('--yes', 'workqueue', 'pause', 'maintenance')
is_(rc, 0, 'workqueue pause exits 0')
for i in range(2):
    r = send_mail(port, 'a@client.test', ['held%d@dest.example' % i], b'Subject: held\r\n\r\nx\r\n')
    is_(r.code, 250, 'message %d accepted while the work queue is paused' % i)
wait_until(lambda: len(re.findall(r'held in the work queue', gw.log('qmgr'))) == 2, 10, 'qmgr holding both')
is_(in_work_queue(), 2, 'Messages In Work Queue: 2')
rc, out, err = gw.sallyctl('workqueue', 'status')
like(out, r'Paused by admin: maintenance', 'workqueue status says paused, with the reason')
is_(sink.count(), 0, 'nothing delivered while paused')

is_(gw.stop(), 0, 'gateway stops with mail in the work queue')
gw.start()
is_(in_work_queue(), 2, 'still held after a restart')
is_(sink.count(), 0, 'still nothing delivered')

rc, out, err = gw.sallyctl('workqueue', 'resume')
is_(rc, 0, 'workqueue resume exits 0')
sink.wait_messages(2, timeout=20)
ok(True, 'both delivered after resume')
is_(in_work_queue(), 0, 'work queue empty')
like(gw.log('qmgr'), r'work queue resumed, 2 msgs', 'resume logged with the count')
r = send_mail(port, 'a@client.test', ['after@dest.example'], b'Subject: after\r\n\r\nx\r\n')
sink.wait_messages(3, timeout=20)
ok(True, 'mail flows straight through again')
is_(gw.stop(), 0, 'gateway stops cleanly')
done()
