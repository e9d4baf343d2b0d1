// The visitors behind a chart's step, cell or group, and what a marketer can do with them: save them as a segment,
// or trigger a journey for exactly them (with a progress bar until the trigger is done).
import { api, query } from './api.js';
import { h, table, errorBox, progress, number, time } from './ui.js';

const MaxVisitors = 10000; // the most a "profiles" segment rule or a trigger list takes

/**
 * Shows a drill-down in `container`. `path` is a drill-down route of the report contract (or a segment's members),
 * answering { visitors: [...], next, total } (members are mapped to that shape by `adapt`).
 */
export function drillDown(container, title, path, { adapt = page => page, pageSize = 50, scroll = true } = {}) {
  const list = h('div', {});
  const actions = h('div', { class: 'row' });
  const status = h('div', {});
  const box = h('section', { class: 'card drill', dataset: { drill: title } }, h('h2', {}, `Visitors: ${title}`), list, actions, status);
  container.replaceChildren(box);
  if (scroll) box.scrollIntoView({ block: 'start' });

  const shown = [];
  let next = null;
  let total = null;

  const readPage = async after => adapt(await api(path + (path.includes('?') ? '&' : '?') + query({ after, limit: pageSize }).slice(1)));

  const render = () => {
    list.replaceChildren(...[
      h('p', { class: 'muted' }, total === null ? `${number(shown.length)} visitors` : `${number(shown.length)} of ${number(total)} visitors shown`),
      table([
        { title: 'Profile', value: v => h('code', { class: 'profile-id' }, v.profileId) },
        { title: 'Stage', value: v => v.stage ?? '' },
        { title: 'Email', value: v => v.email ?? '' },
        { title: 'Last seen', value: v => time(v.lastSeenAt) },
      ], shown, { empty: 'No visitors here.' }),
      next ? h('button', { type: 'button', class: 'secondary', onclick: more }, 'More') : null].filter(Boolean));
  };
  const more = async () => {
    try {
      const page = await readPage(next);
      shown.push(...page.visitors);
      next = page.next;
      total = page.total ?? null;
      render();
    } catch (error) { status.replaceChildren(errorBox(error)); }
  };

  // Acting on a drill-down means every visitor behind it, not just the page on screen.
  const everyone = async () => {
    const ids = shown.map(v => v.profileId);
    let after = next;
    while (after && ids.length < MaxVisitors) {
      const page = await readPage(after);
      ids.push(...page.visitors.map(v => v.profileId));
      after = page.next;
    }
    if (after) throw new Error(`More than ${number(MaxVisitors)} visitors: narrow the selection first.`);
    return [...new Set(ids)];
  };

  const segmentName = h('input', { type: 'text', name: 'segment-name', placeholder: 'Segment name', value: `${title} ${new Date().toISOString().slice(0, 10)}` });
  const saveSegment = async () => {
    try {
      const profiles = await everyone();
      const saved = await api('/v1/segments', { method: 'POST', body: { name: segmentName.value, rule: { profiles } } });
      status.replaceChildren(h('div', { class: 'ok', dataset: { saved: saved.id } },
        `Saved as segment `, h('a', { href: `#/segments/${encodeURIComponent(saved.id)}` }, saved.name), ` (${number(profiles.length)} visitors).`));
    } catch (error) { status.replaceChildren(errorBox(error)); }
  };

  const journeys = h('select', { name: 'journey' }, h('option', { value: '' }, 'Choose an active journey…'));
  api('/v1/journeys?status=active').then(list => {
    for (const j of list) journeys.append(h('option', { value: j.id }, `${j.name} (${j.id})`));
  }).catch(error => status.replaceChildren(errorBox(error)));
  const trigger = async () => {
    if (!journeys.value) { status.replaceChildren(h('div', { class: 'error', role: 'alert' }, 'Choose a journey first.')); return; }
    try {
      const profiles = await everyone();
      status.replaceChildren(triggerProgress(journeys.value, await api(`/v1/journeys/${encodeURIComponent(journeys.value)}/trigger`,
        { method: 'POST', body: { profiles } })));
    } catch (error) { status.replaceChildren(errorBox(error)); }
  };

  actions.replaceChildren(
    segmentName, h('button', { type: 'button', name: 'save-segment', onclick: saveSegment }, 'Save as segment'),
    journeys, h('button', { type: 'button', name: 'trigger-journey', onclick: trigger }, 'Trigger a journey'));
  more();
  return box;
}

/** The progress of an accepted trigger (202 { triggerId, progressUrl }), polled until it is done. */
export function triggerProgress(journeyId, accepted) {
  const url = accepted.progressUrl ?? accepted.url;
  return progress(`Trigger ${accepted.triggerId} of ${journeyId}`, async () => {
    const p = await api(url);
    const outcome = `entered ${number(p.entered)}, held out ${number(p.heldOut)}, already inside ${number(p.alreadyInside)}, already triggered ${number(p.alreadyTriggered)}`;
    return { done: p.done, total: p.total, state: p.state, label: `${number(p.done)} / ${number(p.total)} — ${p.state}: ${outcome}${p.error ? ` — ${p.error}` : ''}` };
  }, { every: 300 });
}
