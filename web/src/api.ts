// The dashboard's one door to the server. Every page reads and changes data through this module,
// so the three things that are about to change live here and nowhere else:
//
//  - how a change is authorised: today an API token (Authorization: Bearer, the token the daemon
//    prints at its first start, kept in this browser's localStorage); once the server has
//    sessions, the session cookie plus the CSRF token from GET /api/v1/session (changeHeaders);
//  - how live data arrives: today the Live hub polls each topic about once a second; once
//    GET /api/v1/stream (Server-Sent Events) exists, the hub listens to it instead (Live.start);
//  - the shapes of the API's documents (the interfaces below, as web/openapi.json describes them).

import { parseTime } from './format';

export type State = 'running' | 'idle' | 'down' | 'setup' | 'planned_stop' | 'disconnected';
export const STATES: State[] = ['running', 'idle', 'down', 'setup', 'planned_stop', 'disconnected'];

export interface Kpis {
  availability: number | null;
  effectiveness: number | null;
  quality_ratio: number | null;
  oee: number | null;
  nee: number | null;
  setup_ratio: number | null;
  scrap_ratio: number | null;
  mtbf_s: number | null;
  mttr_s: number | null;
  times_s: Record<string, number>;
  counts: Record<string, number>;
  nakajima?: { availability: number | null; performance: number | null; quality: number | null;
               oee: number | null; losses_s: Record<string, number> };
}

export interface ShiftKpis extends Kpis {
  shift: string;
  shift_start: string;
  from: string;
}

export interface Machine {
  name: string;
  path: string;
  line: string;
  area: string;
  state: State;
  rule: string;
  since: string;
  seconds_in_state: number;
  this_shift: ShiftKpis | null;
}

export interface MachinesDoc { time: string; machines: Machine[]; }

export interface TagValue {
  id: number;
  path: string;
  machine: string;
  name: string;
  type: 'float' | 'int' | 'bool' | 'string';
  unit?: string;
  time?: string;
  value: number | string | boolean | null;
  quality?: string;
}
export interface TagsDoc { tags: TagValue[]; }

export interface Interval { start: string; end: string; state: State; rule: string; }
export interface TimelineDoc { machine: string; from: string; to: string; intervals: Interval[]; }

export interface Stop {
  start: string;
  end: string;
  seconds: number;
  state: State;
  rule: string;
  micro: boolean;
  reason: string | null;
  reason_by: string | null;
}
export interface StopsDoc { machine: string; from: string; to: string; stops: Stop[]; }

export interface OeeRow extends Kpis {
  machine?: string;
  shift?: string;
  day?: string;
  week?: string;
  job?: string;
  product?: string;
  operator?: string;
}
export interface ReasonRow { reason: string; planned: boolean | null; seconds: number; stops: number; }
export interface OeeDoc<R = OeeRow> {
  site: string;
  from: string;
  to: string;
  by: string;
  asset: string | null;
  rows: R[];
  total: Kpis;
}

export interface Reason { path: string; planned: boolean; leaf: boolean; }
export interface PlantTag { name: string; type: TagValue['type']; unit: string | null; description: string | null; }
export interface PlantMachine {
  name: string;
  path: string;
  kind: string | null;
  description: string | null;
  line: string;
  area: string;
  ideal_cycle_time_s: number | null;
  cycle_times: Record<string, number>;
  cycle_times_by: string | null;
  job_tag: string | null;
  operator_tag: string | null;
  counts: { total: string | null; good: string | null; scrap: string | null };
  tags: PlantTag[];
}
export interface PlantLine { name: string; path: string | null; description: string | null; machines: string[]; }
export interface Plant {
  enterprise: string | null;
  site: string;
  description: string | null;
  timezone: string;
  demo: boolean;
  areas: { name: string; description: string | null; lines: PlantLine[] }[];
  machines: PlantMachine[];
  shifts: { name: string; days: string[]; start: string; end: string;
            breaks: { name: string; start: string; duration_s: number }[] }[];
  reasons: Reason[];
  scrap_reasons: Reason[];
}

export interface Health { status: string; version: string; uptime_s: number; problems?: string[]; }

export type Point = [string, number | string | boolean | null];
export interface Series { tag: string; type: string; agg?: string; step?: string; points: Point[]; }
export interface QueryDoc { series: Series[]; }

export interface Change { action: string; target: string; before?: string | null; after: string; }

/** An answer other than 2xx, with the problem details (RFC 9457) the server sent. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly title: string, readonly detail: string) {
    super(detail || title || `HTTP ${status}`);
  }
  /** The change needs credentials this browser does not have (or has wrong ones). */
  get needsAuth(): boolean { return this.status === 401; }
}

// ---- credentials --------------------------------------------------------------------------

const TOKEN_KEY = 'gemba.token';

/** The API token this browser sends with changes, until sessions replace it. */
export const credentials = {
  token(): string | null {
    try { return localStorage.getItem(TOKEN_KEY); } catch { return null; }
  },
  set(token: string): void { localStorage.setItem(TOKEN_KEY, token.trim()); },
  clear(): void { localStorage.removeItem(TOKEN_KEY); },
};

/** Headers that authorise a change: the one place sessions and CSRF tokens will go. */
function changeHeaders(): Record<string, string> {
  const t = credentials.token();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

// ---- requests -----------------------------------------------------------------------------

export type Params = Record<string, string | number | undefined | null | (string | number)[]>;

export function queryString(params: Params): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) for (const x of v) q.append(k, String(x));
    else q.append(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

async function request<T>(method: 'GET' | 'POST', path: string, params?: Params, body?: unknown,
                          signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (method !== 'GET') Object.assign(headers, { 'Content-Type': 'application/json' }, changeHeaders());
  let res: Response;
  try {
    res = await fetch(path + queryString(params ?? {}), {
      method, headers, signal, cache: 'no-store', credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'Unreachable', 'gemba does not answer');
  }
  if (!res.ok) {
    let p: { title?: string; detail?: string } = {};
    try { p = await res.json(); } catch { /* not problem details */ }
    throw new ApiError(res.status, p.title ?? res.statusText, p.detail ?? '');
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

const enc = encodeURIComponent;
export interface TimeWindow { from?: string; to?: string; }

export const api = {
  health: (signal?: AbortSignal) => request<Health>('GET', '/api/v1/health', undefined, undefined, signal),
  plant: () => request<Plant>('GET', '/api/v1/plant'),
  machines: (signal?: AbortSignal) => request<MachinesDoc>('GET', '/api/v1/machines', undefined, undefined, signal),
  tags: (signal?: AbortSignal) => request<TagsDoc>('GET', '/api/v1/tags', undefined, undefined, signal),
  timeline: (machine: string, w: TimeWindow, signal?: AbortSignal) =>
    request<TimelineDoc>('GET', `/api/v1/machines/${enc(machine)}/timeline`, { ...w }, undefined, signal),
  stops: (machine: string, w: TimeWindow, signal?: AbortSignal) =>
    request<StopsDoc>('GET', `/api/v1/machines/${enc(machine)}/stops`, { ...w }, undefined, signal),
  oee: <R = OeeRow>(p: TimeWindow & { by?: string; asset?: string }, signal?: AbortSignal) =>
    request<OeeDoc<R>>('GET', '/api/v1/oee', { ...p }, undefined, signal),
  query: (p: { tag: string[]; from: string; to: string; agg?: string; step?: string }, signal?: AbortSignal) =>
    request<QueryDoc>('GET', '/api/v1/query', { ...p }, undefined, signal),
  /** Classifies the stop that starts at STOP (its start exactly as /stops gave it). */
  setReason: (machine: string, stop: string, reason: string) =>
    request<Change>('POST', `/api/v1/machines/${enc(machine)}/stops/${stop}/reason`, undefined, { reason }),
  scrap: (machine: string, count: number) =>
    request<Change>('POST', `/api/v1/machines/${enc(machine)}/scrap`, undefined, { count }),
};

// ---- live data ----------------------------------------------------------------------------

export interface Topics { machines: MachinesDoc; tags: TagsDoc; }
type Topic = keyof Topics;
const loaders: { [K in Topic]: (s: AbortSignal) => Promise<Topics[K]> } = {
  machines: api.machines,
  tags: api.tags,
};

export interface LiveStatus {
  ok: boolean;          /** the last poll answered */
  lastOk: number;       /** Date.now() of the last answer, 0 before the first */
  error: string | null;
}

interface Sub<K extends Topic> { cb: (d: Topics[K], receivedAt: number) => void; every: number; }

/**
 * Live data by topic. A page subscribes to what it shows; the hub fetches each topic that has
 * subscribers, as often as its most eager subscriber asks (about once a second for machine
 * states), skips work while the tab is hidden, and tells everyone whether the server answers.
 * When the server gets its event stream, this is the class that changes.
 */
class Live {
  private subs: { [K in Topic]: Set<Sub<K>> } = { machines: new Set(), tags: new Set() };
  private last: { [K in Topic]?: { data: Topics[K]; at: number } } = {};
  private timers: { [K in Topic]?: number } = {};
  private statusSubs = new Set<(s: LiveStatus) => void>();
  status: LiveStatus = { ok: true, lastOk: 0, error: null };

  constructor() {
    document.addEventListener('visibilitychange', () => {
      if (document.hidden) return;
      for (const t of Object.keys(this.subs) as Topic[]) if (this.subs[t].size) this.poll(t);
    });
  }

  subscribe<K extends Topic>(topic: K, cb: (d: Topics[K], receivedAt: number) => void, every = 1000): () => void {
    const sub: Sub<K> = { cb, every };
    (this.subs[topic] as Set<Sub<K>>).add(sub);
    const last = this.last[topic] as { data: Topics[K]; at: number } | undefined;
    if (last && Date.now() - last.at < every) queueMicrotask(() => cb(last.data, last.at));
    if (this.timers[topic] === undefined) this.poll(topic);
    return () => {
      (this.subs[topic] as Set<Sub<K>>).delete(sub);
      if (!this.subs[topic].size && this.timers[topic] !== undefined) {
        clearTimeout(this.timers[topic]);
        delete this.timers[topic];
      }
    };
  }

  onStatus(cb: (s: LiveStatus) => void): () => void {
    this.statusSubs.add(cb);
    cb(this.status);
    return () => this.statusSubs.delete(cb);
  }

  private setStatus(s: LiveStatus) {
    this.status = s;
    for (const cb of this.statusSubs) cb(s);
  }

  private async poll<K extends Topic>(topic: K) {
    clearTimeout(this.timers[topic]);
    const subs = this.subs[topic] as Set<Sub<K>>;
    if (!subs.size) { delete this.timers[topic]; return; }
    const every = Math.min(...[...subs].map((s) => s.every));
    this.timers[topic] = -1; // running
    const t0 = Date.now();
    if (!document.hidden) {
      const ac = new AbortController();
      const killer = setTimeout(() => ac.abort(), Math.max(5000, every * 4));
      try {
        const data = await (loaders[topic] as (s: AbortSignal) => Promise<Topics[K]>)(ac.signal);
        const at = Date.now();
        (this.last as Record<string, unknown>)[topic] = { data, at };
        this.setStatus({ ok: true, lastOk: at, error: null });
        for (const s of [...subs]) {
          try { s.cb(data, at); } catch (e) { console.error(e); }
        }
      } catch (e) {
        this.setStatus({ ok: false, lastOk: this.status.lastOk,
                         error: (e as Error).name === 'AbortError' ? 'gemba did not answer in time' : (e as Error).message });
      } finally {
        clearTimeout(killer);
      }
    }
    if (this.timers[topic] === undefined) return; // unsubscribed meanwhile
    this.timers[topic] = window.setTimeout(() => this.poll(topic), Math.max(100, every - (Date.now() - t0)));
  }
}

export const live = new Live();

/**
 * Calls FN now and then every EVERY ms after each call settles (never two at once), skipping
 * while the tab is hidden. For a page's own resources (a machine's timeline, its stops) until
 * the event stream says when they change. Returns the function that stops it.
 */
export function poll(fn: (signal: AbortSignal) => Promise<void>, every: number): () => void {
  let stopped = false, timer = 0;
  let ac: AbortController | null = null;
  const run = async () => {
    if (stopped) return;
    if (!document.hidden) {
      ac = new AbortController();
      try { await fn(ac.signal); } catch (e) { if ((e as Error).name !== 'AbortError') console.warn(e); }
    }
    if (!stopped) timer = window.setTimeout(run, every);
  };
  run();
  return () => { stopped = true; clearTimeout(timer); ac?.abort(); };
}

/**
 * When gemba's record of machine states begins, if that is later than local midnight (a daemon
 * started today); else null. Time before it is "disconnected" to the OEE engine, so windows are
 * clipped to it, as the API's own default window is. Read from that default (GET /api/v1/oee
 * without from), for one machine to keep it cheap, at most once a minute.
 */
let watched: { at: number; value: Promise<number | null> } | null = null;
export function watchedSince(midnight: number, asset?: string): Promise<number | null> {
  if (!watched || Date.now() - watched.at > 60_000) {
    const value = api.oee({ by: 'machine', asset }).then((d) => {
      const t = parseTime(d.from);
      return t > midnight + 1000 ? t : null;
    }).catch(() => null);
    watched = { at: Date.now(), value };
  }
  return watched.value;
}

/** The plant model, read once per page load (it changes only with a restart of the daemon). */
let plantPromise: Promise<Plant> | null = null;
export function plant(): Promise<Plant> {
  if (!plantPromise) plantPromise = api.plant().catch((e) => { plantPromise = null; throw e; });
  return plantPromise;
}
