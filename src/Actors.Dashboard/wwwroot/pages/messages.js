// Channels: every journey step's messages from decision to conversion, suppressions by reason, and the holdout
// groups' lift with its interval.
import { api, query } from '../api.js';
import { h, chart, table, percent, period, unavailable } from '../ui.js';

export async function render(view, { params }) {
  const channel = h('select', { name: 'channel' }, ['', 'email', 'sms', 'push', 'webhook', 'onsite'].map(c => h('option', { value: c, selected: c === (params.channel ?? '') }, c || 'All channels')));
  view.append(h('h1', {}, 'Channels and messages'), period(params, p => { location.hash = `#/messages${query({ ...p, channel: channel.value })}`; }),
    h('div', { class: 'row' }, 'Channel', channel));
  let report;
  try {
    report = await api(`/v1/reports/messages${query({ from: params.from, to: params.to, channel: params.channel, journey: params.journey })}`);
  } catch (error) {
    view.append(unavailable(error, 'The messages report'));
    return;
  }
  const rows = report.rows ?? [];
  const suppressed = r => Object.values(r.suppressed ?? {}).reduce((a, b) => a + b, 0);
  const label = r => `${r.journeyId}/${r.stepId} (${r.channel})`;
  const stages = ['decided', 'sent', 'delivered', 'opened', 'clicked', 'converted'];
  view.append(
    h('section', { class: 'card' }, h('h2', {}, 'From decision to conversion'),
      chart('messages', {
        tooltip: { trigger: 'axis' }, legend: { top: 0 }, grid: { left: 50, right: 20, top: 40, bottom: 60 },
        xAxis: { type: 'category', data: rows.map(label), axisLabel: { rotate: 20 } }, yAxis: { type: 'value' },
        series: stages.map(s => ({ type: 'bar', name: s, data: rows.map(r => r[s] ?? 0) })),
      }),
      table([{ title: 'Channel', value: r => r.channel }, { title: 'Journey', value: r => r.journeyId }, { title: 'Step', value: r => r.stepId },
        { title: 'Template', value: r => r.template }, ...stages.slice(0, 1).map(s => ({ title: s, num: true, value: r => r[s] ?? 0 })),
        { title: 'suppressed', num: true, value: suppressed },
        ...['sent', 'delivered', 'bounced', 'failed', 'opened', 'clicked', 'converted'].map(s => ({ title: s, num: true, value: r => r[s] ?? 0 })),
        { title: 'Suppressed why', value: r => Object.entries(r.suppressed ?? {}).map(([k, v]) => `${k}: ${v}`).join(', ') }], rows)),
    h('section', { class: 'card' }, h('h2', {}, 'Holdout groups'),
      table([{ title: 'Journey', value: r => r.journeyId }, { title: 'Entrants', num: true, value: r => r.entrants }, { title: 'Holdout', num: true, value: r => r.holdout },
        { title: 'Conversion', value: r => percent(r.conversionRate) }, { title: 'Holdout conversion', value: r => percent(r.holdoutConversionRate) },
        { title: 'Lift', value: r => `${percent(r.lift)} (${percent(r.liftLow)} … ${percent(r.liftHigh)})` }], report.holdout ?? [])));
}
