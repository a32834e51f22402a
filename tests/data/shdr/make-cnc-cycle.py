#!/usr/bin/env python3
"""Writes cnc-cycle.shdr: one hour of a CNC lathe as its MTConnect adapter would send it.

The state script (minutes from the start), with ideal cycle time 60 s:
  00:00-03:00 idle (READY)               03:00-20:00 running, a part a minute
  20:00-27:00 down: condition FAULT 1010 TOOL BREAKAGE, execution STOPPED
  27:00-40:00 running                    40:00-48:00 setup (MANUAL), program O1010 -> O1020
  48:00-55:00 running                    55:00-56:30 idle (a 90 s micro-stop)
  56:30-60:00 running                    60:00 READY
Parts: 37 counted (one at each minute mark strictly inside a run), 2 of them bad. Around that: spindle load every 10 s, a time series, a data
set, a message, a multiline asset, one line without a timestamp, and a spliced tail whose clock
jumps back 50 minutes (recordings are often cut together).
"""
from datetime import datetime, timedelta, timezone

T0 = datetime(2026, 11, 23, 7, 0, 0, tzinfo=timezone.utc)
lines = []

def at(sec):
    return (T0 + timedelta(seconds=sec)).strftime('%Y-%m-%dT%H:%M:%S.%f') + 'Z'

def emit(sec, *fields):
    lines.append((sec, at(sec) + '|' + '|'.join(str(f) for f in fields)))

emit(0, 'avail', 'AVAILABLE', 'mode', 'AUTOMATIC', 'execution', 'READY', 'program', 'O1010',
     'pcount', 0, 'pcount_bad', 0)
emit(0, 'system', 'NORMAL', '', '', '', '')
emit(0, 'tools', 'T1=OK T2=OK T3=WORN')
running = [(180, 1200), (1620, 2400), (2880, 3300), (3390, 3600)]
emit(180, 'execution', 'ACTIVE')
emit(1200, 'system', 'FAULT', 1010, 'HIGH', '', 'TOOL BREAKAGE')
emit(1200, 'execution', 'STOPPED')
emit(1200, 'msg', 'TB1010', 'Tool T2 broken, replace insert')
emit(1620, 'system', 'NORMAL', '', '', '', '')
emit(1620, 'execution', 'ACTIVE')
emit(2400, 'execution', 'READY', 'mode', 'MANUAL')
emit(2460, 'program', 'O1020')
lines.append((2470, at(2470) + '|@ASSET@|T2.INSERT.7|CuttingTool|--multiline--A1B2C3'))
lines.append((2470, '<CuttingTool assetId="T2.INSERT.7" toolId="T2"><CuttingToolLifeCycle>'))
lines.append((2470, '<ToolLife type="MINUTES" countDirection="UP">0</ToolLife></CuttingToolLifeCycle></CuttingTool>'))
lines.append((2470, '--multiline--A1B2C3'))
emit(2880, 'mode', 'AUTOMATIC', 'execution', 'ACTIVE')
emit(3300, 'execution', 'READY')
emit(3390, 'execution', 'ACTIVE')
emit(3600, 'execution', 'READY')
# parts: one a minute while running, counted at the minute marks strictly inside a run
count, bad = 0, 0
for a, b in running:
    t = a + 60
    while t < b:
        count += 1
        emit(t, 'pcount', count)
        if count in (10, 30):
            bad += 1
            emit(t, 'pcount_bad', bad)
        t += 60
# spindle load and a current time series every 10 s (idle/down/setup near zero)
def is_running(t):
    return any(a <= t < b for a, b in running)
for t in range(5, 3600, 10):
    emit(t, 'Sload', '%.1f' % (62.5 + (t % 7) - 3 if is_running(t) else 0.0))
    if t % 60 == 5:
        emit(t, 'current', 4, 2, ' '.join('%.2f' % (11.5 + i * 0.25) for i in range(4)))
lines.sort(key=lambda x: x[0])
out = [l for _, l in lines]
out.insert(1, '|avail|AVAILABLE')  # a line without a timestamp: stamped on arrival
# the spliced tail: the recorder's clock restarted 50 minutes back
for i, t in enumerate(range(600, 660, 10)):
    out.append(at(t) + '|Sload|%.1f' % (60.0 + i))
assert count == 37 and bad == 2, (count, bad)
with open('cnc-cycle.shdr', 'w') as f:
    f.write('\n'.join(out) + '\n')
