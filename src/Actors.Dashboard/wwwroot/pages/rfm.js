// RFM: visitors by recency and frequency score (5 best), with their spend; a click on a cell lists the visitors in it
// as the grid scored them (its asOf), even if a customer's recency has moved since.
import { api, query } from '../api.js';
import { h, chart, unavailable, number, time } from '../ui.js';
import { drillDown } from '../drill.js';

const scores = ['1', '2', '3', '4', '5'];

export async function render(view) {
  view.append(h('h1', {}, 'RFM'));
  const heading = h('p', { class: 'muted' });
  view.append(heading);
  let report;
  try {
    report = await api('/v1/reports/rfm');
  } catch (error) {
    view.append(unavailable(error, 'The RFM report'));
    return;
  }
  heading.textContent = report.asOf ? `Scored at ${time(report.asOf)} UTC.` : '';
  const drill = h('div', {});
  const cells = report.cells ?? [];
  const byCell = new Map(cells.map(c => [`${c.recency}/${c.frequency}`, c]));
  const grid = chart('rfm-grid', {
    tooltip: { formatter: p => { const c = byCell.get(`${p.value[0] + 1}/${p.value[1] + 1}`); return `R${c?.recency} F${c?.frequency}: ${number(c?.visitors)} visitors, ${number(c?.monetary)} spent`; } },
    grid: { left: 60, right: 20, top: 10, bottom: 110 },
    xAxis: { type: 'category', name: 'Recency', nameLocation: 'middle', nameGap: 28, data: scores },
    yAxis: { type: 'category', name: 'Frequency', nameLocation: 'middle', nameGap: 35, data: scores },
    visualMap: { min: 0, max: Math.max(1, ...cells.map(c => c.visitors)), calculable: true, orient: 'horizontal', left: 'center', bottom: 0 },
    series: [{ type: 'heatmap', data: cells.map(c => [c.recency - 1, c.frequency - 1, c.visitors]), label: { show: true } }],
  }, { tall: true, onClick: e => drillDown(drill, `RFM R${e.value[0] + 1} F${e.value[1] + 1}`,
    `/v1/reports/rfm/visitors${query({ recency: e.value[0] + 1, frequency: e.value[1] + 1, asOf: report.asOf })}`) });
  if (report.asOf) grid.dataset.asOf = report.asOf;
  view.append(h('section', { class: 'card' }, h('h2', {}, 'Recency × frequency (click a cell)'), grid), drill);
}
