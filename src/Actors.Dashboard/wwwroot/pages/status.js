// Reporting projections: where each one is against the event log, rebuild progress, and (admin) a rebuild.
import { api, session } from '../api.js';
import { h, table, errorBox, progress, unavailable } from '../ui.js';

export async function render(view) {
  view.append(h('h1', {}, 'Status'));
  let status;
  try {
    status = await api('/v1/reports/status');
  } catch (error) {
    view.append(unavailable(error, 'The reporting status'));
    return;
  }
  const box = h('div', {});
  view.append(h('p', {}, `Projections run on ${status.daemonNode ?? 'no node yet'}.`));
  // A large trigger pauses them; they catch up on what it wrote once it ends.
  if (status.pausedSince) {
    view.append(h('p', { class: 'paused' }, `Paused since ${new Date(status.pausedSince).toLocaleTimeString()} while a large trigger runs; they catch up when it ends.`));
  }
  view.append(box);
  const draw = s => box.replaceChildren(table([
    { title: 'Projection', value: p => p.name }, { title: 'State', value: p => p.state },
    { title: 'Position', num: true, value: p => p.position }, { title: 'High water', num: true, value: p => p.highWater },
    { title: 'Progress', value: p => h('progress', { max: 1, value: p.progress ?? 0 }) },
  ], s.projections));
  draw(status);

  if (!session.admin) return;
  const feedback = h('div', {});
  view.append(h('div', { class: 'row' }, h('button', {
    type: 'button', name: 'rebuild', onclick: async () => {
      try {
        await api('/v1/reports/rebuild', { method: 'POST' });
        feedback.replaceChildren(progress('Rebuild', async () => {
          const s = await api('/v1/reports/status');
          draw(s);
          const all = s.projections;
          const done = all.reduce((sum, p) => sum + (p.progress ?? 0), 0);
          const rebuilding = all.some(p => p.state === 'rebuilding');
          return { done, total: all.length, state: rebuilding ? 'rebuilding' : 'done', label: `${Math.round(100 * done / Math.max(all.length, 1))} % — ${rebuilding ? 'rebuilding' : 'done'}` };
        }, { every: 1000 }));
      } catch (error) { feedback.replaceChildren(errorBox(error)); }
    },
  }, 'Rebuild the reports')), feedback);
}
