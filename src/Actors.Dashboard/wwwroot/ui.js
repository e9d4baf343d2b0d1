// Small DOM helpers: elements, tables, errors (problem+json), charts and progress bars.
import { ApiError } from './api.js';

/** h('div', { class: 'x', onclick }, child, 'text', …): an element; attributes starting with "on" are listeners. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export const number = value => (value ?? 0).toLocaleString('en');
export const percent = value => value === null || value === undefined ? '–' : `${(value * 100).toFixed(1)} %`;
export const time = value => value ? new Date(value).toISOString().replace('T', ' ').slice(0, 19) : '–';

/** What went wrong, as the API said it: title, detail, and each invalid field. */
export function errorBox(error) {
  if (!(error instanceof ApiError)) return h('div', { class: 'error', role: 'alert' }, String(error?.message ?? error));
  const problem = error.problem ?? {};
  const fields = Object.entries(problem.errors ?? {}).map(([field, messages]) => h('li', {}, h('code', {}, field), ': ', [].concat(messages).join('; ')));
  return h('div', { class: 'error', role: 'alert', dataset: { status: error.status } },
    h('strong', {}, `${problem.title ?? 'Error'} (${error.status})`), problem.detail ? ` ${problem.detail}` : '',
    fields.length ? h('ul', {}, fields) : null);
}

/** A report route the reporting side does not serve yet (404): a notice instead of an error. */
export function unavailable(error, what) {
  return error instanceof ApiError && error.status === 404 && !error.problem?.detail?.startsWith('No ')
    ? h('div', { class: 'notice' }, `${what} is not available on this host.`)
    : errorBox(error);
}

export function table(columns, rows, { onRowClick, empty = 'Nothing yet.' } = {}) {
  if (!rows.length) return h('p', { class: 'muted' }, empty);
  return h('table', {},
    h('thead', {}, h('tr', {}, columns.map(c => h('th', { class: c.num ? 'num' : null }, c.title)))),
    h('tbody', {}, rows.map(row => h('tr', { class: onRowClick ? 'clickable' : null, onclick: onRowClick ? () => onRowClick(row) : null },
      columns.map(c => {
        const value = c.value(row);
        return h('td', { class: c.num ? 'num' : null }, c.num && typeof value === 'number' ? number(value) : value);
      })))));
}

/** An ECharts chart in a new container; no animation, so what is drawn is there at once. */
export function chart(name, option, { tall = false, onClick } = {}) {
  const element = h('div', { class: tall ? 'chart tall' : 'chart', dataset: { chart: name } });
  // Drawn once the container is in the document and has its size.
  requestAnimationFrame(() => {
    const instance = echarts.init(element, null, { renderer: 'canvas' });
    instance.setOption({ animation: false, tooltip: {}, ...option });
    if (onClick) instance.on('click', onClick);
    new ResizeObserver(() => instance.resize()).observe(element);
    element.dataset.drawn = 'true';
  });
  return element;
}

/** A progress bar that polls `read` until it says done; `read` answers { done, total, state, label }. */
export function progress(title, read, { every = 500, onFinished } = {}) {
  const bar = h('progress', { max: 1, value: 0 });
  const label = h('div', { class: 'label' }, 'starting…');
  const box = h('div', { class: 'progress', dataset: { progress: title, state: 'running' } }, h('strong', {}, title), bar, label);
  const tick = async () => {
    if (!box.isConnected && box.dataset.started) return; // the page changed
    box.dataset.started = 'true';
    try {
      const p = await read();
      bar.max = Math.max(p.total ?? 1, 1);
      bar.value = p.done ?? 0;
      label.textContent = p.label ?? `${number(p.done)} / ${number(p.total)} — ${p.state}`;
      box.dataset.state = p.state;
      if (p.state === 'running' || p.state === 'rebuilding') setTimeout(tick, every);
      else onFinished?.(p);
    } catch (error) {
      box.dataset.state = 'failed';
      box.append(errorBox(error));
    }
  };
  setTimeout(tick, 0);
  return box;
}

/** from/to (yyyy-MM-dd, UTC days) inputs; the report's default (last 30 days) when left empty. */
export function period(params, onChange) {
  const from = h('input', { type: 'date', name: 'from', value: params.from ?? '' });
  const to = h('input', { type: 'date', name: 'to', value: params.to ?? '' });
  return h('div', { class: 'row' }, 'From', from, 'to', to,
    h('button', { type: 'button', class: 'secondary', onclick: () => onChange({ from: from.value, to: to.value }) }, 'Show'));
}
