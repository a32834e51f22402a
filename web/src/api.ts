// The dashboard's one door to the server. Every page reads and changes data through this module,
// so these live here and nowhere else:
//
//  - who the browser is: the session cookie gemba sets at /login or /setup (HttpOnly, sent by the
//    browser on every same-origin request). A 401 from any request sends the browser to
//    /login?next=<this page's hash>, once; every change (POST, PATCH, DELETE) carries the session's
//    CSRF token from GET /api/v1/session (read once, read again after a 403 "csrf");
//  - how live data arrives: the Live hub listens to GET /api/v1/stream (Server-Sent Events) and
//    refetches what an event touches at once, with a slow poll underneath (10 s, or 1 s while the
//    stream is down) so a lost stream never freezes a board;
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
  constructor(readonly status: number, readonly title: string, readonly detail: string,
              readonly code: string | null = null) {
    super(detail || title || `HTTP ${status}`);
  }
  /** The request needs a signed-in user (the browser is being sent to /login). */
  get needsAuth(): boolean { return this.status === 401; }
  /** The signed-in user's role may not do this. */
  get forbidden(): boolean { return this.status === 403 && this.code === 'role'; }
}

// ---- who is signed in ---------------------------------------------------------------------

export type Role = 'viewer' | 'operator' | 'engineer' | 'admin';
const RANK: Record<Role, number> = { viewer: 1, operator: 2, engineer: 3, admin: 4 };
/** Whether ROLE may do what NEED may (roles are ordered: each may all that those below may). */
export function atLeast(role: Role | null | undefined, need: Role): boolean {
  return !!role && (RANK[role] ?? 0) >= RANK[need];
}

export interface Session { user: string; role: Role; via: string; csrf_token?: string; expires?: string; }

let sessionPromise: Promise<Session> | null = null;
/** Who is signed in, with the session's CSRF token: asked once per page load. */
export function session(): Promise<Session> {
  if (!sessionPromise) {
    sessionPromise = request<Session>('GET', '/api/v1/session').catch((e) => { sessionPromise = null; throw e; });
  }
  return sessionPromise;
}

// When a 401 sent us to /login less than this long ago and the server still says 401, signing in
// did not take (cookies refused, a clock far off): stop and say so rather than bounce forever.
const LOGIN_LOOP_MS = 10_000;
const LOGIN_MARK = 'gemba.toLogin';
let leaving = false;
const signedOutSubs = new Set<() => void>();

/** The sign-in page, to come back to this page (its hash) afterwards. */
export function loginUrl(): string {
  return '/login?next=' + encodeURIComponent(location.hash || '#/');
}

/** Sends the browser to sign in, once; after a loop, tells onSignedOut's listeners instead. */
function toLogin(): void {
  if (leaving) return;
  let last = 0;
  try { last = Number(sessionStorage.getItem(LOGIN_MARK)) || 0; } catch { /* no storage */ }
  if (Date.now() - last < LOGIN_LOOP_MS) {
    for (const cb of signedOutSubs) cb();
    return;
  }
  leaving = true;
  try { sessionStorage.setItem(LOGIN_MARK, String(Date.now())); } catch { /* no storage */ }
  location.assign(loginUrl());
}

/** CB runs when the server refuses this browser and sending it to /login would loop. */
export function onSignedOut(cb: () => void): () => void {
  signedOutSubs.add(cb);
  return () => signedOutSubs.delete(cb);
}

/**
 * Ends the session and goes to the sign-in page. Every other request stops first -- polls, the
 * stream, fetches under way -- so none reaches the server after the session is gone (it would
 * answer 401, for nothing).
 */
export async function signOut(): Promise<void> {
  signingOut = true;
  for (const ac of inflight) ac.abort();
  live.closeStream();
  try {
    await request('DELETE', '/api/v1/session');
  } catch (e) {
    if (!(e instanceof ApiError && e.needsAuth)) {
      signingOut = false;
      throw e;
    }
  }
  leaving = true;
  try { sessionStorage.removeItem(LOGIN_MARK); } catch { /* no storage */ }
  location.assign('/login');
}

/* While signing out only the sign-out itself goes to the server; INFLIGHT are the requests under
 * way, so they can be called off. */
let signingOut = false;
const inflight = new Set<AbortController>();

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

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

async function request<T>(method: Method, path: string, params?: Params, body?: unknown,
                          signal?: AbortSignal, retried = false): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (method !== 'GET') {
    // a change made with the session cookie needs the session's CSRF token
    const s = await session();
    if (s.csrf_token) headers['X-CSRF-Token'] = s.csrf_token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
  }
  const signOutItself = method === 'DELETE' && path === '/api/v1/session';
  if (signingOut && !signOutItself) throw new DOMException('signing out', 'AbortError');
  const ac = new AbortController();
  if (signal) {
    if (signal.aborted) ac.abort();
    else signal.addEventListener('abort', () => ac.abort(), { once: true });
  }
  if (!signOutItself) inflight.add(ac);
  let res: Response;
  try {
    res = await fetch(path + queryString(params ?? {}), {
      method, headers, signal: ac.signal, cache: 'no-store', credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'Unreachable', 'gemba does not answer');
  } finally {
    inflight.delete(ac);
  }
  if (!res.ok) {
    let p: { title?: string; detail?: string; code?: string } = {};
    try { p = await res.json(); } catch { /* not problem details */ }
    const err = new ApiError(res.status, p.title ?? res.statusText, p.detail ?? '', p.code ?? null);
    if (res.status === 401) toLogin();
    // the session's token changed (a new sign-in in another tab): read it again, once
    if (res.status === 403 && err.code === 'csrf' && !retried) {
      sessionPromise = null;
      return request<T>(method, path, params, body, signal, true);
    }
    throw err;
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
  stream: boolean;      /** the event stream is connected */
}

/** One event of GET /api/v1/stream, as pages see it. */
export interface LiveEvent {
  type: 'state' | 'count' | 'downtime' | 'reset';
  machine: string | null;
}

interface Sub<K extends Topic> { cb: (d: Topics[K], receivedAt: number) => void; every: number; }

/** How often topics the stream covers are polled anyway, while it is connected. */
const SLOW_POLL_MS = 10_000;
/** How often the stream is reopened after the browser gave up on it, at most. */
const STREAM_RETRY_MS = [1000, 2000, 5000, 10_000, 30_000];
/** Events that come in a burst (a demo at 60x) are answered with one refetch per this. */
const BURST_MS = 200;

/**
 * Live data by topic. A page subscribes to what it shows; the hub fetches each topic that has
 * subscribers. Machine states follow GET /api/v1/stream: a `state`, `count` or `downtime` event
 * refetches them at once (a burst, once), a `reset` refetches everything; underneath, a slow
 * poll every 10 s (every subscriber's own rate, about 1 s, while the stream is down) keeps a lost
 * stream from freezing the board. Tag values have no events here (the stream would have to carry
 * every tag's samples) and are polled at their subscribers' rate. Pages also hear the events
 * (onEvent, or poll's wake) to refetch their own documents. Nothing is fetched while the tab is
 * hidden, and everyone is told whether the server answers.
 */
class Live {
  private subs: { [K in Topic]: Set<Sub<K>> } = { machines: new Set(), tags: new Set() };
  private last: { [K in Topic]?: { data: Topics[K]; at: number } } = {};
  private timers: { [K in Topic]?: number } = {};
  private again: { [K in Topic]?: boolean } = {};
  private statusSubs = new Set<(s: LiveStatus) => void>();
  private eventSubs = new Set<(evs: LiveEvent[]) => void>();
  private es: EventSource | null = null;
  private lastEventId = '';
  private retries = 0;
  private burst: LiveEvent[] = [];
  private burstTimer = 0;
  status: LiveStatus = { ok: true, lastOk: 0, error: null, stream: false };

  constructor() {
    document.addEventListener('visibilitychange', () => {
      if (document.hidden) return;
      for (const t of Object.keys(this.subs) as Topic[]) if (this.subs[t].size) this.poll(t);
    });
  }

  /** Whether the event stream is connected (pages may then poll their own documents slowly). */
  get streaming(): boolean { return this.status.stream; }

  subscribe<K extends Topic>(topic: K, cb: (d: Topics[K], receivedAt: number) => void, every = 1000): () => void {
    this.openStream();
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

  /** CB hears the stream's events (a burst at once); returns the function that stops it. */
  onEvent(cb: (evs: LiveEvent[]) => void): () => void {
    this.openStream();
    this.eventSubs.add(cb);
    return () => this.eventSubs.delete(cb);
  }

  onStatus(cb: (s: LiveStatus) => void): () => void {
    this.statusSubs.add(cb);
    cb(this.status);
    return () => this.statusSubs.delete(cb);
  }

  private setStatus(s: Partial<LiveStatus>) {
    this.status = { ...this.status, ...s };
    for (const cb of this.statusSubs) cb(this.status);
  }

  // The stream is same-origin, so the browser sends the session cookie with it. The browser
  // reconnects by itself after a dropped connection (with Last-Event-ID, so nothing is missed);
  // after an answer that is not a stream (a 401, a restarted daemon) it gives up, and the hub
  // opens a new one later, resuming after the last event it saw.
  /** Closes the stream for good (signing out). */
  closeStream() {
    this.closed = true;
    this.es?.close();
    this.es = null;
  }

  private closed = false;

  private openStream() {
    if (this.es || this.closed || typeof EventSource === 'undefined') return;
    const es = new EventSource('/api/v1/stream' + (this.lastEventId ? queryString({ last_event_id: this.lastEventId }) : ''));
    this.es = es;
    es.onopen = () => {
      this.retries = 0;
      this.setStatus({ stream: true });
    };
    es.onerror = () => {
      const was = this.status.stream;
      if (was) this.setStatus({ stream: false });
      if (es.readyState === EventSource.CLOSED) {
        this.es = null;
        const wait = STREAM_RETRY_MS[Math.min(this.retries++, STREAM_RETRY_MS.length - 1)];
        window.setTimeout(() => this.openStream(), wait);
      }
      // the slow poll becomes the fast one: poll now, then at the subscribers' rate
      if (was) for (const t of Object.keys(this.subs) as Topic[]) if (this.subs[t].size && this.timers[t] !== -1) this.poll(t);
    };
    for (const type of ['state', 'count', 'downtime', 'reset'] as const) {
      es.addEventListener(type, (e) => {
        const me = e as MessageEvent<string>;
        if (me.lastEventId) this.lastEventId = me.lastEventId;
        let machine: string | null = null;
        try { machine = (JSON.parse(me.data) as { machine?: string }).machine ?? null; } catch { /* no data */ }
        this.burst.push({ type, machine });
        if (!this.burstTimer) this.burstTimer = window.setTimeout(() => this.flush(), type === 'reset' ? 0 : BURST_MS);
      });
    }
  }

  private tagsAt = 0; // when a state event last made the tags be read

  private flush() {
    this.burstTimer = 0;
    const evs = this.burst;
    this.burst = [];
    const reset = evs.some((e) => e.type === 'reset');
    this.refetch('machines');
    // a state change usually brings an alarm, a job or a program with it: read the tags too,
    // at most once a second (a big plant's tag list is large)
    const now = Date.now();
    if (reset || (evs.some((e) => e.type === 'state') && now - this.tagsAt >= 1000)) {
      this.tagsAt = now;
      this.refetch('tags');
    }
    for (const cb of [...this.eventSubs]) {
      try { cb(evs); } catch (e) { console.error(e); }
    }
  }

  /** Fetches TOPIC now, or right after the fetch under way. */
  private refetch(topic: Topic) {
    if (!this.subs[topic].size) return;
    if (this.timers[topic] === -1) this.again[topic] = true;
    else this.poll(topic);
  }

  private async poll<K extends Topic>(topic: K) {
    clearTimeout(this.timers[topic]);
    const subs = this.subs[topic] as Set<Sub<K>>;
    if (!subs.size) { delete this.timers[topic]; return; }
    const every = Math.min(...[...subs].map((s) => s.every));
    this.timers[topic] = -1; // running
    this.again[topic] = false;
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
        this.setStatus({ ok: false, error: (e as Error).name === 'AbortError' ? 'gemba did not answer in time' : (e as Error).message });
      } finally {
        clearTimeout(killer);
      }
    }
    if (this.timers[topic] === undefined) return; // unsubscribed meanwhile
    // what the stream covers is polled slowly while it is connected
    const period = topic === 'machines' && this.status.stream && this.status.ok ? Math.max(every, SLOW_POLL_MS) : every;
    const wait = this.again[topic] ? BURST_MS : period - (Date.now() - t0);
    this.timers[topic] = window.setTimeout(() => this.poll(topic), Math.max(100, wait));
  }
}

export const live = new Live();

/**
 * Calls FN now and then every EVERY ms after each call settles (never two at once), skipping
 * while the tab is hidden. For a page's own documents (a machine's timeline, its stops). With
 * WAKE, a burst of the stream's events for which it says true (and any `reset`) calls FN at once,
 * and while the stream is connected FN is called every SLOW ms (10 s) instead of every EVERY ms.
 * Returns the function that stops it.
 */
export function poll(fn: (signal: AbortSignal) => Promise<void>, every: number,
                     wake?: (evs: LiveEvent[]) => boolean, slow = SLOW_POLL_MS): () => void {
  let stopped = false, timer = 0, running = false, again = false;
  let ac: AbortController | null = null;
  const run = async () => {
    if (stopped) return;
    clearTimeout(timer);
    running = true;
    again = false;
    if (!document.hidden) {
      ac = new AbortController();
      try { await fn(ac.signal); } catch (e) { if ((e as Error).name !== 'AbortError') console.warn(e); }
    }
    running = false;
    if (stopped) return;
    const period = wake && live.streaming ? Math.max(every, slow) : every;
    timer = window.setTimeout(run, again ? 0 : period);
  };
  const offEvents = wake ? live.onEvent((evs) => {
    if (!wake(evs) && !evs.some((e) => e.type === 'reset')) return;
    if (running) again = true;
    else run();
  }) : () => {};
  // when the stream drops, go back to the fast rate at once
  let streamed = live.streaming;
  const offStatus = wake ? live.onStatus((s) => {
    if (streamed && !s.stream && !running && !stopped) run();
    streamed = s.stream;
  }) : () => {};
  run();
  return () => { stopped = true; clearTimeout(timer); ac?.abort(); offEvents(); offStatus(); };
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
