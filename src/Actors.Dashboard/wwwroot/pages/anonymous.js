// Anonymous visitors, by where they first came from and what they look at most (a treemap: source, then category);
// a click on a block lists its visitors. And the products viewed most.
import { api, query } from '../api.js';
import { h, chart, table, unavailable } from '../ui.js';
import { drillDown } from '../drill.js';

export async function render(view, { params }) {
  view.append(h('h1', {}, 'Anonymous visitors'));
  let report;
  try {
    report = await api(`/v1/reports/anonymous${query({ from: params.from, to: params.to })}`);
  } catch (error) {
    view.append(unavailable(error, 'The anonymous visitors report'));
    return;
  }
  const drill = h('div', {});
  const groups = report.groups ?? [];
  const open = g => drillDown(drill, `from ${[g.source, g.medium, g.campaign].filter(Boolean).join(' / ')}, interested in ${g.category}`,
    `/v1/reports/anonymous/visitors${query({ source: g.source, medium: g.medium, campaign: g.campaign, category: g.category })}`);
  const sources = new Map();
  for (const g of groups) {
    if (!sources.has(g.source)) sources.set(g.source, { name: g.source, children: [] });
    sources.get(g.source).children.push({ name: g.category, value: g.visitors, group: g });
  }
  view.append(
    h('section', { class: 'card' }, h('h2', {}, 'By first touch and interest (click a block)'),
      chart('anonymous-map', {
        tooltip: { formatter: p => `${p.treePathInfo.map(t => t.name).filter(Boolean).join(' › ')}: ${p.value}` },
        series: [{ type: 'treemap', roam: false, nodeClick: false, breadcrumb: { show: false }, data: [...sources.values()],
          levels: [{ itemStyle: { gapWidth: 3 } }, { itemStyle: { gapWidth: 1 } }], upperLabel: { show: true, height: 20 } }],
      }, { tall: true, onClick: e => e.data?.group && open(e.data.group) })),
    drill,
    h('section', { class: 'card' }, table([
      { title: 'Source', value: g => g.source }, { title: 'Medium', value: g => g.medium ?? '' }, { title: 'Campaign', value: g => g.campaign ?? '' },
      { title: 'Top category', value: g => g.category }, { title: 'Visitors', num: true, value: g => g.visitors }], groups, { onRowClick: open })));

  const products = h('section', { class: 'card' }, h('h2', {}, 'Popular products'));
  view.append(products);
  try {
    const popular = await api('/v1/reports/products/popular?limit=10');
    products.append(table([{ title: 'Product', value: p => p.name ?? p.productId }, { title: 'Category', value: p => p.category ?? '' },
      { title: 'Views', num: true, value: p => p.views }, { title: 'Orders', num: true, value: p => p.orders }], popular.products ?? []));
  } catch (error) { products.append(unavailable(error, 'The popular products report')); }
}
