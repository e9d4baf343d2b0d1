// Newsletter: subscriptions and unsubscriptions by day, the alarm, and the unsubscribe heatmap (weekday × hour, UTC);
// a click on a cell lists who unsubscribed then.
import { api, query } from '../api.js';
import { h, chart, table, period, unavailable, number } from '../ui.js';
import { drillDown } from '../drill.js';

export const weekdays = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const hours = Array.from({ length: 24 }, (_, i) => String(i).padStart(2, '0'));

export async function render(view, { params }) {
  view.append(h('h1', {}, 'Newsletter'), period(params, p => { location.hash = `#/newsletter${query(p)}`; }));
  let report;
  try {
    report = await api(`/v1/reports/newsletter${query({ from: params.from, to: params.to })}`);
  } catch (error) {
    view.append(unavailable(error, 'The newsletter report'));
    return;
  }
  const drill = h('div', {});
  const cells = report.heatmap ?? [];
  const max = Math.max(1, ...cells.map(c => c.unsubscribed));
  if (report.alarm) view.append(h('div', { class: 'error', role: 'alert', id: 'unsubscribe-alarm' }, 'Unsubscriptions outpaced subscriptions over the last 7 days.'));
  view.append(
    h('section', { class: 'card' }, h('h2', {}, 'Subscribed and unsubscribed by day'),
      chart('newsletter-days', {
        tooltip: { trigger: 'axis' }, legend: { top: 0 }, grid: { left: 50, right: 20, top: 40, bottom: 30 },
        xAxis: { type: 'category', data: report.days.map(d => d.date) }, yAxis: { type: 'value', minInterval: 1 },
        series: [{ type: 'line', name: 'Subscribed', data: report.days.map(d => d.subscribed) },
          { type: 'line', name: 'Unsubscribed', data: report.days.map(d => d.unsubscribed) }],
      })),
    h('section', { class: 'card' }, h('h2', {}, 'When visitors unsubscribe (UTC; click a cell)'),
      chart('unsubscribe-heatmap', {
        tooltip: { position: 'top', formatter: p => `${weekdays[p.value[1]]} ${hours[p.value[0]]}:00 — ${number(p.value[2])} unsubscribed` },
        grid: { left: 50, right: 20, top: 10, bottom: 90 },
        xAxis: { type: 'category', data: hours, splitArea: { show: true } },
        yAxis: { type: 'category', data: weekdays, inverse: true, splitArea: { show: true } },
        visualMap: { min: 0, max, calculable: true, orient: 'horizontal', left: 'center', bottom: 0 },
        series: [{ type: 'heatmap', data: cells.map(c => [c.hour, c.weekday, c.unsubscribed]), label: { show: true, formatter: p => p.value[2] || '' } }],
      }, { onClick: e => drillDown(drill, `unsubscribed ${weekdays[e.value[1]]} ${hours[e.value[0]]}:00`,
        `/v1/reports/newsletter/unsubscribers${query({ weekday: e.value[1], hour: e.value[0], from: params.from, to: params.to })}`) })),
    drill,
    h('div', { class: 'grid2' },
      counts('By channel', report.byChannel), counts('By template', report.byTemplate), counts('By topic', report.byTopic),
      h('section', { class: 'card' }, h('h2', {}, 'Preference centre'),
        h('p', {}, `Lost: ${number(report.preferenceCentre?.lost)}, recovered: ${number(report.preferenceCentre?.recovered)}`))));
}

const counts = (title, values) => h('section', { class: 'card' }, h('h2', {}, title),
  table([{ title: '', value: r => r[0] }, { title: 'Unsubscribed', num: true, value: r => r[1] }],
    Object.entries(values ?? {}).sort((a, b) => b[1] - a[1]), { empty: 'None.' }));
