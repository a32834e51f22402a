// The dashboard's arithmetic, checked without a browser: bundled by web/build.mjs --tests and run
// by `node --test` (ctest web/unit).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Machine, PlantMachine, Reason } from '../src/api';
import { clock, dur, midnight, parseTime, pct, reasonLabel, zonedToUtc } from '../src/format';
import { alarmSpells, alignDown, pareto, partsAgainstTarget, reasonSections, toCsv, trendStep, waitingStops } from '../src/model';

const machine = (over: Partial<Machine> = {}): Machine => ({
  name: 'lathe01', path: 'acme/plant1/machining/line1/lathe01', line: 'line1', area: 'machining', state: 'running',
  rule: 'cutting', since: '2026-11-23T06:00:00Z', seconds_in_state: 5,
  this_shift: { shift: 'early', shift_start: '2026-11-23T05:00:00Z', from: '2026-11-23T05:00:00Z',
                availability: 1, effectiveness: 1, quality_ratio: 1, oee: 1, nee: 1, setup_ratio: 0, scrap_ratio: 0,
                mtbf_s: null, mttr_s: null, times_s: { pbt: 3600, ideal: 0 }, counts: { produced: 0, good: 0 } },
  ...over,
});
const plantMachine = (over: Partial<PlantMachine> = {}): PlantMachine => ({
  name: 'lathe01', path: '', kind: null, description: null, line: 'line1', area: 'machining', ideal_cycle_time_s: 80,
  cycle_times: { O1020: 95 }, cycle_times_by: 'program', job_tag: null, operator_tag: null,
  counts: { total: 'part_count', good: null, scrap: null }, tags: [], ...over,
});

test('target: planned busy time over the PRI of the current program, or of what was made', () => {
  // nothing made yet: the program's cycle time (95 s) over an hour of planned busy time
  assert.deepEqual(partsAgainstTarget(machine(), plantMachine(), new Map([['program', 'O1020']])), { produced: 0, good: 0, target: 37 });
  // an unknown program: the machine's ideal cycle time
  assert.equal(partsAgainstTarget(machine(), plantMachine(), new Map([['program', 'X']])).target, 45);
  // parts made: their own average PRI (Σ PRI × PQ / PQ), exact across product changes
  const m = machine();
  m.this_shift!.counts = { produced: 40, good: 39 };
  m.this_shift!.times_s = { pbt: 3600, ideal: 40 * 90 };
  assert.deepEqual(partsAgainstTarget(m, plantMachine(), new Map()), { produced: 40, good: 39, target: 40 });
  // no PRI at all, and no shift
  assert.equal(partsAgainstTarget(machine(), plantMachine({ ideal_cycle_time_s: null, cycle_times_by: null }), new Map()).target, null);
  assert.deepEqual(partsAgainstTarget(machine({ this_shift: null }), plantMachine(), new Map()), { produced: null, good: null, target: null });
});

test('reason tree: leaves grouped under their branch, unplanned first, single reasons first', () => {
  const reasons: Reason[] = [
    { path: 'planned', planned: true, leaf: false }, { path: 'planned/break', planned: true, leaf: true },
    { path: 'planned/changeover', planned: true, leaf: false }, { path: 'planned/changeover/first_article', planned: true, leaf: true },
    { path: 'unplanned', planned: false, leaf: false }, { path: 'unplanned/tooling', planned: false, leaf: false },
    { path: 'unplanned/tooling/breakage', planned: false, leaf: true }, { path: 'unplanned/electrical', planned: false, leaf: true },
  ];
  const s = reasonSections(reasons);
  assert.deepEqual(s.map((x) => x.label), ['Unplanned', 'Planned']);
  assert.deepEqual(s[0].groups, [
    { label: '', reasons: [{ path: 'unplanned/electrical', label: 'electrical' }] },
    { label: 'tooling', reasons: [{ path: 'unplanned/tooling/breakage', label: 'breakage' }] },
  ]);
  assert.deepEqual(s[1].groups.map((g) => g.label), ['', 'changeover']);
  assert.equal(s[1].groups[1].reasons[0].label, 'first article');
});

test('waiting stops: downtime events without a reason', () => {
  const st = (start: string, micro: boolean, reason: string | null) =>
    ({ start, end: start, seconds: 1, state: 'down' as const, rule: 'r', micro, reason, reason_by: null });
  assert.deepEqual(waitingStops([st('a', false, null), st('b', true, null), st('c', false, 'unplanned/x')]).map((s) => s.start), ['a']);
});

test('alarm spells: start on a text, end on empty, a new text starts the next', () => {
  const spells = alarmSpells([[0, ''], [10, '1010 TOOL BREAKAGE'], [12, '1010 TOOL BREAKAGE'], [20, ''], [30, 'A'], [35, 'B']]);
  assert.deepEqual(spells, [
    { text: 'B', start: 35, end: null }, { text: 'A', start: 30, end: 35 }, { text: '1010 TOOL BREAKAGE', start: 10, end: 20 },
  ]);
});

test('trend step: raw up to a second a pixel, then the first round step of at least a pixel', () => {
  assert.deepEqual(trendStep(900_000, 1200), { raw: true });
  assert.deepEqual(trendStep(3600_000, 1200), { raw: false, stepS: 5, step: '5s' });
  assert.deepEqual(trendStep(8 * 3600_000, 1000), { raw: false, stepS: 30, step: '30s' });
  // a week of 1 Hz data on 1200 px: 10-minute windows, 1008 of them
  assert.deepEqual(trendStep(7 * 86400_000, 1200), { raw: false, stepS: 600, step: '10m' });
  assert.deepEqual(trendStep(400 * 86400_000, 500), { raw: false, stepS: 86400, step: '24h' });
  assert.equal(alignDown(Date.UTC(2026, 10, 23, 10, 17, 42), 600), Date.UTC(2026, 10, 23, 10, 10));
});

test('pareto: largest first, shares and running share', () => {
  const p = pareto([{ reason: 'a', planned: false, seconds: 10, stops: 1 }, { reason: 'b', planned: true, seconds: 30, stops: 2 },
                    { reason: 'z', planned: null, seconds: 0, stops: 0 }]);
  assert.deepEqual(p.map((b) => [b.label, b.share, b.cumulative]), [['b', 0.75, 0.75], ['a', 0.25, 1]]);
});

test('csv: RFC 4180 quoting, empty nulls, numbers as they read back', () => {
  assert.equal(toCsv([['machine', 'oee'], ['lathe, "01"', 0.1234567891], ['x', null]]),
               'machine,oee\r\n"lathe, ""01""",0.123457\r\nx,\r\n');
});

test('formats: percent, durations, clock, reason labels', () => {
  assert.equal(pct(0.8234), '82.3 %');
  assert.equal(pct(null), '–');
  assert.equal(dur(45), '45 s');
  assert.equal(dur(3720), '1 h 02 min');
  assert.equal(clock(3723), '1:02:03');
  assert.equal(clock(65), '1:05');
  assert.equal(reasonLabel('unplanned/tooling/breakage'), 'tooling › breakage');
});

test('times: nanoseconds parse, plant-local midnight across a DST change', () => {
  assert.equal(parseTime('2026-11-22T07:48:57.305955017Z'), Date.UTC(2026, 10, 22, 7, 48, 57, 305));
  assert.equal(parseTime('2026-11-22T07:48:57Z'), Date.UTC(2026, 10, 22, 7, 48, 57));
  // Berlin: winter UTC+1, summer UTC+2; the last Sunday of March 2026 is the 29th
  assert.equal(midnight(Date.UTC(2026, 10, 22, 12), 'Europe/Berlin'), Date.UTC(2026, 10, 21, 23));
  assert.equal(midnight(Date.UTC(2026, 2, 29, 12), 'Europe/Berlin'), Date.UTC(2026, 2, 28, 23));
  assert.equal(midnight(Date.UTC(2026, 2, 30, 12), 'Europe/Berlin'), Date.UTC(2026, 2, 29, 22));
  assert.equal(midnight(Date.UTC(2026, 2, 30, 12), 'Europe/Berlin', -1), Date.UTC(2026, 2, 28, 23));
  assert.equal(zonedToUtc(2026, 7, 1, 6, 0, 'Europe/Berlin'), Date.UTC(2026, 6, 1, 4, 0));
});
