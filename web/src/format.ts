// Numbers, durations and times as people on the floor read them. Times are shown in the plant's
// time zone (the plant file's site.timezone), whatever the zone of the browser showing them.

/** Milliseconds since the epoch of an RFC 3339 time from the API (which has nanoseconds). */
export function parseTime(s: string): number {
  // Safari's Date.parse takes at most three fraction digits; keep milliseconds.
  const m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) return Date.parse(s);
  const frac = m[2] ? m[2].slice(0, 4).padEnd(4, '0') : '';
  return Date.parse(m[1] + frac + m[3]);
}

/** An RFC 3339 time the API takes (UTC, milliseconds). */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** A ratio as a percentage; null (a ratio whose denominator is zero) as a dash. */
export function pct(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return (v * 100).toFixed(digits) + ' %';
}

export function num(v: number | null | undefined, digits = 0): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** A duration in words: 45 s, 12 min, 2 h 05 min, 3 d 4 h. */
export function dur(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '–';
  const s = Math.max(0, seconds);
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) {
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return `${h} h ${String(m).padStart(2, '0')} min`;
  }
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
  return `${d} d ${h} h`;
}

/** A running clock for time in state: 4:07, 1:02:03, 2 d 3 h. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s >= 86400) return dur(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h ? String(m).padStart(2, '0') : String(m);
  return (h ? `${h}:` : '') + `${mm}:${String(r).padStart(2, '0')}`;
}

const fmtCache = new Map<string, Intl.DateTimeFormat>();
function fmt(tz: string, opts: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = tz + JSON.stringify(opts);
  let f = fmtCache.get(key);
  if (!f) {
    try { f = new Intl.DateTimeFormat('en-GB', { ...opts, timeZone: tz }); }
    catch { f = new Intl.DateTimeFormat('en-GB', opts); } // an unknown zone: the browser's own
    fmtCache.set(key, f);
  }
  return f;
}

/** 14:05 (or 14:05:09 with SECONDS) in the plant's zone. */
export function hm(ms: number, tz: string, seconds = false): string {
  return fmt(tz, { hour: '2-digit', minute: '2-digit', second: seconds ? '2-digit' : undefined, hourCycle: 'h23' }).format(ms);
}

/** Mon 23 Nov 14:05 in the plant's zone. */
export function dayHm(ms: number, tz: string): string {
  return fmt(tz, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(ms);
}

/** A moment as people say it: 14:05:09 today, Mon 16 Nov, 14:05 before. */
export function when(ms: number, tz: string, now = Date.now()): string {
  return localDate(ms, tz) === localDate(now, tz) ? hm(ms, tz, true) : dayHm(ms, tz);
}

/** The wall-clock fields of MS in zone TZ. */
export function zoned(ms: number, tz: string): { y: number; mo: number; d: number; h: number; mi: number; s: number } {
  const parts = fmt(tz, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit',
                          minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).formatToParts(ms);
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return { y: get('year'), mo: get('month'), d: get('day'), h: get('hour') % 24, mi: get('minute'), s: get('second') };
}

/** The instant at which the local clock of TZ shows Y-MO-D H:MI (the earlier one in a DST fold). */
export function zonedToUtc(y: number, mo: number, d: number, h: number, mi: number, tz: string): number {
  const want = Date.UTC(y, mo - 1, d, h, mi);
  let t = want;
  for (let i = 0; i < 3; i++) {
    const z = zoned(t, tz);
    const shown = Date.UTC(z.y, z.mo - 1, z.d, z.h, z.mi, z.s);
    const diff = want - shown;
    if (diff === 0) break;
    t += diff;
  }
  return t;
}

/** Local midnight of the plant's day that contains MS, DAYS days later (negative: earlier). */
export function midnight(ms: number, tz: string, days = 0): number {
  const z = zoned(ms, tz);
  const day = new Date(Date.UTC(z.y, z.mo - 1, z.d + days));
  return zonedToUtc(day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate(), 0, 0, tz);
}

/** The plant-local date of MS as YYYY-MM-DD. */
export function localDate(ms: number, tz: string): string {
  const z = zoned(ms, tz);
  return `${z.y}-${String(z.mo).padStart(2, '0')}-${String(z.d).padStart(2, '0')}`;
}

/** A reason path as words: unplanned/tooling/breakage -> tooling › breakage. */
export function reasonLabel(path: string | null): string {
  if (!path) return 'not classified';
  const parts = path.split('/');
  return parts.slice(parts.length > 1 ? 1 : 0).map((p) => p.replace(/_/g, ' ')).join(' › ');
}

export function stateLabel(s: string): string {
  return s.replace(/_/g, ' ');
}
