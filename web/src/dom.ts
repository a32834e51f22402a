// A few lines instead of a framework: build elements, set text only when it changed (a board
// redrawn every second must not make the browser lay out what did not change).

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | ((e: Event) => void) | undefined | null>;

/** h('div.tile.running', {title: 'x', onclick: f}, 'text', child) */
export function h<K extends keyof HTMLElementTagNameMap>(spec: K | `${K}.${string}` | `${K}#${string}`,
                                                         attrs?: Attrs | null, ...kids: Child[]): HTMLElementTagNameMap[K] {
  const [tagId, ...classes] = spec.split('.');
  const [tag, id] = tagId.split('#');
  const el = document.createElement(tag as K);
  if (id) el.id = id;
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v as EventListener);
    else if (k === 'class') el.className += (el.className ? ' ' : '') + v;
    else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'role' || k === 'for') el.setAttribute(k, String(v));
    else if (v === true) el.setAttribute(k, '');
    else (el as unknown as Record<string, unknown>)[k] = v;
  }
  append(el, ...kids);
  return el;
}

export function append(el: Element, ...kids: Child[]): void {
  for (const k of kids) {
    if (k === null || k === undefined || k === false) continue;
    el.append(typeof k === 'number' ? String(k) : k);
  }
}

/** Sets EL's text when it differs. */
export function text(el: Element, s: string): void {
  if (el.textContent !== s) el.textContent = s;
}

/** Sets or clears attribute NAME when it differs. */
export function attr(el: Element, name: string, v: string | null): void {
  if (v === null) { if (el.hasAttribute(name)) el.removeAttribute(name); }
  else if (el.getAttribute(name) !== v) el.setAttribute(name, v);
}

export function clear(el: Element): void {
  el.replaceChildren();
}

/** A short message that goes away by itself (role=status, so screen readers say it). */
export function toast(message: string, kind: 'ok' | 'error' = 'ok', ms = 4000): void {
  let box = document.getElementById('toasts');
  if (!box) {
    box = h('div#toasts', { role: 'status', 'aria-live': 'polite' });
    document.body.append(box);
  }
  const t = h('div.toast', { class: kind }, message);
  box.append(t);
  setTimeout(() => t.remove(), ms);
}

/** Downloads TEXT as a file named NAME. */
export function download(name: string, text: string, type = 'text/csv;charset=utf-8'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
