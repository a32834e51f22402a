// Pieces of page that more than one page shows: the state pill of a machine, the downtime Pareto
// and the six big losses as bars.
import type { Kpis, Machine, ReasonRow } from './api';
import { h, text } from './dom';
import { clock, dur, pct, reasonLabel, stateLabel } from './format';
import { pareto, sixLosses } from './model';

/** Puts machine M's state into PILL and its time in state (as of RECEIVED_AT) into SINCE. */
export function statePill(pill: HTMLElement, since: HTMLElement, m: Machine, receivedAt: number): void {
  pill.className = `pill st-${m.state}`;
  pill.dataset.state = m.state;
  text(pill, stateLabel(m.state));
  text(since, clock(m.seconds_in_state + (Date.now() - receivedAt) / 1000));
}

/** Downtime by reason, largest first, each bar with its running share marked. */
export function paretoBars(rows: ReasonRow[], empty: string): HTMLElement {
  const bars = pareto(rows);
  if (!bars.length) return h('p.empty', null, empty);
  const max = bars[0].seconds;
  return h('div.hbars', { 'data-rows': String(bars.length) }, ...bars.flatMap((b) => {
    const track = h('div.track'), bar = h('i', { class: b.planned ? 'planned' : '' }), cum = h('b', { title: 'running share' });
    bar.style.width = `${(100 * b.seconds) / max}%`;
    cum.style.left = `${Math.min(99.5, 100 * b.cumulative)}%`;
    track.append(bar, cum);
    return [h('span', { 'data-reason': b.label }, b.label === '(unclassified)' ? 'not classified' : reasonLabel(b.label)), track,
            h('span.val', null, `${dur(b.seconds)} · ${b.stops} × · ${pct(b.cumulative, 0)} cum.`)];
  }));
}

/** The six big losses of K as time and as a share of its planned busy time. */
export function lossBars(k: Kpis): HTMLElement {
  const pbt = k.times_s?.pbt ?? 0;
  return h('div.hbars', null, ...sixLosses(k).flatMap((l) => {
    const track = h('div.track'), bar = h('i.loss');
    bar.style.width = `${pbt > 0 ? Math.min(100, Math.max(0, (100 * l.seconds) / pbt)) : 0}%`;
    track.append(bar);
    return [h('span', null, l.label), track, h('span.val', null, `${dur(l.seconds)} · ${pct(pbt ? l.seconds / pbt : null, 0)}`)];
  }));
}
