// Journeys: their status, and for one journey its figures step by step (who is where now, what was delivered and
// what visitors did with it), suppressions and exits by reason.
import { api } from '../api.js';
import { h, chart, table, number } from '../ui.js';

export async function render(view, { id }) {
  if (id) return one(view, id);
  const all = await api('/v1/journeys');
  view.append(h('h1', {}, 'Journeys'), h('section', { class: 'card' }, table([
    { title: 'Journey', value: j => j.name }, { title: 'Status', value: j => j.status }, { title: 'Version', num: true, value: j => j.version },
    { title: 'What it does', value: j => j.description },
  ], all, { onRowClick: j => { location.hash = `#/journeys/${encodeURIComponent(j.id)}`; }, empty: 'No journeys yet.' })));
}

async function one(view, id) {
  const [journey, figures] = await Promise.all([
    api(`/v1/journeys/${encodeURIComponent(id)}`), api(`/v1/journeys/${encodeURIComponent(id)}/figures`)]);
  const stepIds = [...new Set([...(journey.journey.steps ?? []).map(s => s.id), ...Object.keys(figures.inStep ?? {}), ...Object.keys(figures.deliveryByStep ?? {})])];
  const delivery = step => figures.deliveryByStep?.[step] ?? {};
  const kinds = ['sent', 'delivered', 'opened', 'clicked', 'bounced', 'failed'];
  view.append(h('h1', {}, `Journey: ${journey.name}`), h('p', {}, `${journey.status}, version ${journey.version}. ${journey.description}`),
    h('section', { class: 'card' }, h('div', { class: 'figures' },
      ...[['Entered', figures.entered], ['Held out', figures.heldOut], ['Messages sent', figures.messagesSent], ['Deferred', figures.messagesDeferred],
        ['Goals reached', figures.goalsReached], ['Converted', figures.converted]].map(([label, value]) => h('div', { class: 'figure' }, h('b', {}, number(value)), label)))),
    h('section', { class: 'card' }, h('h2', {}, 'Step by step'),
      chart('journey-steps', {
        tooltip: { trigger: 'axis' }, legend: { top: 0 }, grid: { left: 50, right: 20, top: 40, bottom: 40 },
        xAxis: { type: 'category', data: stepIds }, yAxis: { type: 'value', minInterval: 1 },
        series: [{ type: 'bar', name: 'Inside now', data: stepIds.map(s => figures.inStep?.[s] ?? 0) },
          ...kinds.map(k => ({ type: 'bar', name: k, data: stepIds.map(s => delivery(s)[k] ?? 0) }))],
      }),
      table([{ title: 'Step', value: s => s }, { title: 'Inside now', num: true, value: s => figures.inStep?.[s] ?? 0 },
        ...kinds.map(k => ({ title: k, num: true, value: s => delivery(s)[k] ?? 0 }))], stepIds)),
    h('div', { class: 'grid2' },
      h('section', { class: 'card' }, h('h2', {}, 'Suppressed, by reason'), reasons(figures.suppressedByReason)),
      h('section', { class: 'card' }, h('h2', {}, 'Exits, by reason'), reasons(figures.exitedByReason))));
}

const reasons = counts => table([{ title: 'Reason', value: r => r[0] }, { title: 'Visitors', num: true, value: r => r[1] }],
  Object.entries(counts ?? {}).sort((a, b) => b[1] - a[1]), { empty: 'None.' });
