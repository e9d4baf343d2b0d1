// Segments: their sizes (click a bar to open one), and for one segment its size over time, entries and exits by day,
// its backfill's progress, its members, and "trigger a journey for this segment".
import { api } from '../api.js';
import { h, chart, table, number, errorBox, progress, unavailable } from '../ui.js';
import { drillDown, triggerProgress } from '../drill.js';

export async function render(view, { id }) {
  if (id) return one(view, id);
  const all = await api('/v1/segments');
  const open = s => { location.hash = `#/segments/${encodeURIComponent(s.id)}`; };
  view.append(h('h1', {}, 'Segments'),
    h('section', { class: 'card' }, h('h2', {}, 'Members now (click a bar)'),
      all.length ? chart('segment-sizes', {
        grid: { left: 160, right: 30, top: 10, bottom: 30 },
        xAxis: { type: 'value' }, yAxis: { type: 'category', inverse: true, data: all.map(s => s.name) },
        series: [{ type: 'bar', data: all.map(s => ({ value: s.members, id: s.id })), label: { show: true, position: 'right' } }],
      }, { onClick: e => open(all[e.dataIndex]) }) : h('p', { class: 'muted' }, 'No segments yet.')),
    trends(),
    h('section', { class: 'card' }, table([
      { title: 'Segment', value: s => s.name }, { title: 'Rule', value: s => s.description },
      { title: 'Members', num: true, value: s => s.members }, { title: 'Version', num: true, value: s => s.version },
    ], all, { onRowClick: open })));
}

/** Every segment's size over the last 30 days, with entries and exits (the segments report). */
function trends() {
  const box = h('section', { class: 'card' }, h('h2', {}, 'Sizes over the last 30 days'));
  api('/v1/reports/segments').then(r => {
    box.append(chart('segment-sizes-over-time', {
      tooltip: { trigger: 'axis' }, legend: { top: 0, type: 'scroll' }, grid: { left: 50, right: 20, top: 40, bottom: 30 },
      xAxis: { type: 'time' }, yAxis: { type: 'value', minInterval: 1 },
      series: r.segments.map(s => ({ type: 'line', step: 'end', name: s.name, symbol: 'none', data: s.sizes.map(p => [p.at, p.size]) })),
    }), table([{ title: 'Segment', value: s => s.name }, { title: 'Size', num: true, value: s => s.size },
      { title: 'Entered', num: true, value: s => s.entered }, { title: 'Left', num: true, value: s => s.left }], r.segments));
  }).catch(error => box.append(unavailable(error, 'The segments report')));
  return box;
}

async function one(view, id) {
  const segment = await api(`/v1/segments/${encodeURIComponent(id)}`);
  const history = await api(`/v1/segments/${encodeURIComponent(id)}/history`);
  const members = h('div', {});
  const actions = h('div', { id: 'segment-trigger' });
  view.append(h('h1', {}, `Segment: ${segment.name}`),
    h('p', {}, segment.description, ' — ', h('strong', { id: 'segment-size' }, number(segment.members)), ' members'));

  if (segment.backfill) {
    view.append(progress('Backfill', async () => {
      const p = await api(`/v1/segments/${encodeURIComponent(id)}/backfill`);
      return { done: p.done, total: p.total, state: p.state, label: `${number(p.done)} / ${number(p.total)} profiles — ${p.state}${p.error ? ` — ${p.error}` : ''}` };
    }));
  }

  view.append(h('section', { class: 'card' }, h('h2', {}, 'Size over time (the last point is now)'),
    chart('segment-trend', {
      tooltip: { trigger: 'axis' }, grid: { left: 50, right: 20, top: 20, bottom: 30 },
      xAxis: { type: 'time' }, yAxis: { type: 'value', minInterval: 1 },
      series: [{ type: 'line', step: 'end', name: 'Members', data: [...history.map(p => [p.at, p.members]), [new Date().toISOString(), segment.members]] }],
    })));

  const flows = h('section', { class: 'card' }, h('h2', {}, 'Entered and left by day'));
  view.append(flows);
  api(`/v1/reports/segments/${encodeURIComponent(id)}/flows`).then(r => flows.append(chart('segment-flows', {
    tooltip: { trigger: 'axis' }, legend: { top: 0 }, grid: { left: 50, right: 20, top: 40, bottom: 30 },
    xAxis: { type: 'category', data: r.days.map(d => d.date) }, yAxis: { type: 'value' },
    series: [{ type: 'bar', name: 'Entered', data: r.days.map(d => d.entered) }, { type: 'bar', name: 'Left', data: r.days.map(d => -d.left) }],
  }))).catch(error => flows.append(unavailable(error, 'The segment flows report')));

  // "Trigger a journey for this segment": the whole segment as it is when the trigger runs.
  const journeys = h('select', { name: 'segment-journey' }, h('option', { value: '' }, 'Choose an active journey…'));
  for (const j of await api('/v1/journeys?status=active')) journeys.append(h('option', { value: j.id }, `${j.name} (${j.id})`));
  view.append(h('section', { class: 'card' }, h('h2', {}, 'Trigger a journey for this segment'),
    h('div', { class: 'row' }, journeys, h('button', {
      type: 'button', name: 'trigger-segment', onclick: async () => {
        if (!journeys.value) { actions.replaceChildren(h('div', { class: 'error', role: 'alert' }, 'Choose a journey first.')); return; }
        try {
          const accepted = await api(`/v1/journeys/${encodeURIComponent(journeys.value)}/trigger`, { method: 'POST', body: { segment: id } });
          actions.replaceChildren(triggerProgress(journeys.value, accepted));
        } catch (error) { actions.replaceChildren(errorBox(error)); }
      },
    }, 'Trigger for every member')), actions), members);

  // Members are the drill-down of a segment: the same list and actions as a chart's.
  drillDown(members, `segment ${segment.name}`, `/v1/segments/${encodeURIComponent(id)}/members`, {
    adapt: page => ({ visitors: page.items.map(m => ({ profileId: m.profileId, stage: null, email: null, lastSeenAt: null })), next: page.next, total: segment.members }),
    scroll: false,
  });
}
