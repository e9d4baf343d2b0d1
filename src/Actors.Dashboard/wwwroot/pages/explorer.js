// The visitor explorer, for engineers (admin keys): a visitor's stream as a timeline, their profile at any version,
// what changed between two versions, where they are in each journey and why, and every message decision with its reason.
import { api, query } from '../api.js';
import { h, table, time, errorBox } from '../ui.js';

export async function render(view, { id }) {
  const input = h('input', { type: 'text', name: 'visitor', placeholder: 'user:42 or an anonymous id', value: id ?? '', size: 40 });
  const form = h('form', { class: 'row', id: 'explorer-search' }, 'Visitor', input, h('button', { type: 'submit' }, 'Open'));
  form.addEventListener('submit', event => { event.preventDefault(); location.hash = `#/explorer/${encodeURIComponent(input.value.trim())}`; });
  view.append(h('h1', {}, 'Visitor explorer'), form);
  if (!id) return;
  const visitor = encodeURIComponent(id);

  // Timeline, paged by version.
  const timeline = h('section', { class: 'card' }, h('h2', {}, 'Timeline'));
  const rows = h('div', {});
  timeline.append(rows);
  const shown = [];
  const more = async from => {
    try {
      const page = await api(`/v1/users/${visitor}/events${query({ from, limit: 100 })}`);
      shown.push(...page.items);
      rows.replaceChildren(...[table([
        { title: 'Version', num: true, value: e => e.version }, { title: 'Event time', value: e => time(e.eventTime) },
        { title: 'Type', value: e => e.type }, { title: 'Data', value: e => h('code', {}, JSON.stringify(details(e.data))) },
      ], shown, { empty: 'No events.' }), page.next ? h('button', { type: 'button', class: 'secondary', onclick: () => more(page.next) }, 'More') : null].filter(Boolean));
    } catch (error) { rows.replaceChildren(errorBox(error)); }
  };

  // State at a version, and the diff between two.
  const version = h('input', { type: 'number', name: 'version', min: 1, placeholder: 'version' });
  const state = h('div', {});
  const showState = async () => {
    try { state.replaceChildren(h('pre', { id: 'state' }, JSON.stringify(await api(`/v1/users/${visitor}/state${query({ version: version.value })}`), null, 2))); }
    catch (error) { state.replaceChildren(errorBox(error)); }
  };
  const from = h('input', { type: 'number', name: 'diff-from', min: 0, placeholder: 'from' });
  const to = h('input', { type: 'number', name: 'diff-to', min: 1, placeholder: 'to' });
  const diff = h('div', {});
  const showDiff = async () => {
    try {
      const d = await api(`/v1/users/${visitor}/diff${query({ from: from.value, to: to.value })}`);
      diff.replaceChildren(table([{ title: 'Path', value: c => h('code', {}, c.path) }, { title: 'Before', value: c => JSON.stringify(c.before) },
        { title: 'After', value: c => JSON.stringify(c.after) }], d.changes, { empty: 'Nothing changed.' }));
    } catch (error) { diff.replaceChildren(errorBox(error)); }
  };

  // Journeys, and why a message was or was not sent.
  const journeys = h('section', { class: 'card' }, h('h2', {}, 'Journeys'));
  const decisions = h('section', { class: 'card' }, h('h2', {}, 'Message decisions'));
  view.append(
    h('div', { class: 'grid2' },
      h('section', { class: 'card' }, h('h2', {}, 'Profile at a version'), h('div', { class: 'row' }, version,
        h('button', { type: 'button', name: 'show-state', onclick: showState }, 'Show')), state),
      h('section', { class: 'card' }, h('h2', {}, 'Diff between versions'), h('div', { class: 'row' }, from, to,
        h('button', { type: 'button', name: 'show-diff', onclick: showDiff }, 'Compare')), diff)),
    journeys, decisions, timeline);
  more();
  showState();
  api(`/v1/users/${visitor}/journeys`).then(j => journeys.append(table([
    { title: 'Journey', value: r => r.name ?? r.journeyId }, { title: 'Inside', value: r => r.inside ? `yes, at ${r.stepId} (${r.stepKind})` : 'no' },
    { title: 'Held out', value: r => r.heldOut ? 'yes' : 'no' }, { title: 'Entered', value: r => `${time(r.enteredAt)} — ${r.entryReason ?? ''}` },
    { title: 'Waits until', value: r => time(r.waitUntil) }, { title: 'Last exit', value: r => r.lastExitAt ? `${time(r.lastExitAt)} — ${r.lastExitReason}` : '–' },
  ], j.journeys, { empty: 'In no journey.' }))).catch(error => journeys.append(errorBox(error)));
  api(`/v1/users/${visitor}/events${query({ type: 'message_decided', limit: 1000 })}`).then(page => decisions.append(table([
    { title: 'Version', num: true, value: e => e.version }, { title: 'When', value: e => time(e.eventTime) },
    { title: 'Journey / step', value: e => `${e.data.journeyId} / ${e.data.stepId}` }, { title: 'Channel', value: e => e.data.channel },
    { title: 'Template', value: e => e.data.template }, { title: 'Outcome', value: e => e.data.outcome }, { title: 'Why', value: e => e.data.reason },
  ], page.items, { empty: 'No message was decided for this visitor.' }))).catch(error => decisions.append(errorBox(error)));
}

// The event's own fields; its type, id and times are in the other columns.
function details(data) {
  const { $type, messageId, eventTime, receivedTime, ...rest } = data ?? {};
  return rest;
}
