// The funnel: visitors in each stage day by day, the stage changes, conversion and time to convert. A click on a
// funnel step lists the visitors in that stage now.
import { api, query } from '../api.js';
import { h, chart, table, percent, number, period, unavailable } from '../ui.js';
import { drillDown } from '../drill.js';

// The report's day fields and the stage names the API uses for them.
const stages = [
  ['anonymous', 'anonymous', 'Anonymous'], ['lead', 'lead', 'Lead'], ['customer', 'customer', 'Customer'],
  ['repeatCustomer', 'repeat_customer', 'Repeat customer'], ['atRisk', 'at_risk', 'At risk'], ['lapsed', 'lapsed', 'Lapsed'],
];

export async function render(view, { params }) {
  view.append(h('h1', {}, 'Funnel'), period(params, p => { location.hash = `#/${query(p)}`; }));
  let report;
  try {
    report = await api(`/v1/reports/funnel${query({ from: params.from, to: params.to })}`);
  } catch (error) {
    view.append(unavailable(error, 'The funnel report'));
    return;
  }
  const drill = h('div', {});
  const last = report.days.at(-1) ?? {};
  const c = report.conversion ?? {}, t = report.timeToConvert ?? {};
  view.append(
    h('section', { class: 'card' }, h('div', { class: 'figures' },
      figure('Anonymous → lead', percent(c.anonymousToLead)), figure('Lead → customer', percent(c.leadToCustomer)),
      figure('Customer → repeat', percent(c.customerToRepeat)),
      figure('Anonymous → lead (median)', hours(t.anonymousToLeadMedianHours)), figure('Lead → customer (median)', hours(t.leadToCustomerMedianHours)))),
    h('div', { class: 'grid2' },
      h('section', { class: 'card' }, h('h2', {}, 'Visitors by stage now (click a step)'),
        chart('funnel', {
          tooltip: { trigger: 'item' },
          series: [{
            type: 'funnel', sort: 'none', left: '5%', width: '90%', minSize: '8%', label: { show: true, position: 'inside', formatter: '{b}: {c}' },
            data: stages.map(([field, stage, name]) => ({ name, value: last[field] ?? 0, stage })),
          }],
        }, { onClick: e => drillDown(drill, `stage ${e.data.stage}`, `/v1/reports/funnel/visitors${query({ stage: e.data.stage })}`) })),
      h('section', { class: 'card' }, h('h2', {}, 'Stages day by day'),
        chart('stages', {
          tooltip: { trigger: 'axis' }, legend: { top: 0 }, grid: { top: 40, left: 50, right: 20, bottom: 30 },
          xAxis: { type: 'category', data: report.days.map(d => d.date) }, yAxis: { type: 'value' },
          series: stages.map(([field, , name]) => ({ type: 'line', name, stack: 'all', areaStyle: {}, symbol: 'none', data: report.days.map(d => d[field]) })),
        }))),
    drill,
    h('section', { class: 'card' }, h('h2', {}, 'Stage changes in the period'),
      table([{ title: 'From', value: r => r.from }, { title: 'To', value: r => r.to }, { title: 'Visitors', num: true, value: r => r.count }],
        report.transitions ?? [])),
    h('section', { class: 'card' }, h('h2', {}, 'Stages now'),
      table([{ title: 'Stage', value: s => s[2] }, { title: 'Visitors', num: true, value: s => last[s[0]] ?? 0 }], stages,
        { onRowClick: s => drillDown(drill, `stage ${s[1]}`, `/v1/reports/funnel/visitors${query({ stage: s[1] })}`) })));
}

const figure = (label, value) => h('div', { class: 'figure' }, h('b', {}, value), label);
const hours = value => value === null || value === undefined ? '–' : `${number(Math.round(value * 10) / 10)} h`;
