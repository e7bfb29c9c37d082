// The dashboard's script: live run progress from server-sent events, and the rankings chart
// (uPlot). Pages work without it; it only updates what the server rendered.
'use strict';

const nf = new Intl.NumberFormat('en-US');

function duration(s) {
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

function renderFailures(box, list) {
  box.replaceChildren();
  if (!list.length) { box.append(el('p', { class: 'muted' }, 'None.')); return; }
  for (const f of list) {
    const summary = el('summary', {}, el('strong', {}, f.step), ` · item ${f.item || '(run)'}`);
    if (f.subject) summary.append(' · ', el('span', { class: 'subject' }, f.subject));
    summary.append(' · ', el('code', {}, f.code));
    const where = el('p', { class: 'where' }, 'Where: step ', el('code', {}, f.step), ', item ', el('code', {}, f.item || '(root)'));
    if (f.subject) where.append(', working on ', el('code', {}, f.subject));
    box.append(el('details', { class: 'failure' }, summary, where, el('pre', { class: 'error-text' }, f.message)));
  }
}

function liveRun(root) {
  const id = root.getAttribute('data-live-run');
  const status = document.getElementById('run-status');
  if (!status || status.textContent.trim() !== 'running') return;
  const note = document.getElementById('live-note');
  const source = new EventSource(`/runs/${encodeURIComponent(id)}/events`);
  source.addEventListener('progress', (ev) => {
    const s = JSON.parse(ev.data);
    status.replaceChildren(el('span', { class: `badge s-${s.status}` }, s.status));
    document.getElementById('run-duration').textContent = duration(s.durationSeconds);
    for (const step of s.steps) {
      const row = document.querySelector(`tr[data-step="${CSS.escape(step.id)}"]`);
      if (!row) continue;
      const c = step.counts;
      const done = (c.succeeded || 0) + (c.failed || 0) + (c.skipped || 0) + (c.filtered || 0);
      const total = done + (c.pending || 0) + (c.running || 0);
      const bar = row.querySelector('progress');
      bar.max = total || 1;
      bar.value = done;
      const set = (k, v) => { row.querySelector(`[data-count="${k}"]`).textContent = v; };
      set('done', `${done} / ${total}`);
      set('succeeded', c.succeeded || 0);
      set('failed', c.failed || 0);
      set('skipped', (c.skipped || 0) + (c.filtered || 0));
      set('running', c.running || 0);
      set('pending', c.pending || 0);
    }
    const u = s.usage || {};
    document.querySelector('[data-usage="credits"]').textContent = nf.format(u.credits || 0);
    document.querySelector('[data-usage="tokens"]').textContent = nf.format((u.promptTokens || 0) + (u.completionTokens || 0));
    document.querySelector('[data-usage="cost"]').textContent = `$${(u.costUsd || 0).toFixed(4)}`;
    document.querySelector('[data-usage="cacheHits"]').textContent = nf.format(u.cacheHits || 0);
    document.getElementById('failed-total').textContent = s.failedTotal;
    renderFailures(document.getElementById('failures'), s.failures);
    const err = document.getElementById('run-error');
    err.hidden = !s.error;
    err.textContent = s.error || '';
    document.getElementById('resume-form').hidden = s.status === 'running' || s.status === 'succeeded';
    document.getElementById('cancel-form').hidden = !(s.status === 'running' || s.status === 'stopped');
    if (s.status !== 'running') {
      source.close();
      if (note) note.textContent = `Finished: ${s.status}.`;
    }
  });
  source.onerror = () => { if (note) note.textContent = 'Live updates paused; they resume when the server answers.'; };
}

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4f46e5', '#65a30d', '#0d9488', '#7c3aed'];

function rankChart(box) {
  const data = JSON.parse(document.getElementById('rank-data').textContent);
  const maxPos = Math.max(1, ...data.series.flatMap((s) => s.positions.filter((p) => p !== null)));
  // x is the run's number (1, 2, ...): runs are minutes or weeks apart, a time axis would bunch them.
  const xs = data.x.map((_, i) => i + 1);
  const day = (i) => new Date(data.x[i - 1] * 1000).toISOString().slice(0, 16).replace('T', ' ');
  const opts = {
    width: Math.max(320, box.clientWidth),
    height: 360,
    scales: { x: { time: false, range: [0.7, Math.max(2, xs.length) + 0.3] }, y: { range: [0.5, maxPos + 0.5], dir: -1 } },
    axes: [
      { label: 'run', splits: () => xs, values: (u, ticks) => ticks.map((t) => `#${t} ${day(t) || ''}`) },
      { label: 'position', splits: () => Array.from({ length: maxPos }, (_, i) => i + 1), values: (u, ticks) => ticks.map(String) },
    ],
    series: [{ label: 'run', value: (u, v) => (v ? `#${v} ${day(v)}` : '–') }, ...data.series.map((s, i) => ({
      label: s.label.replace(/^https?:\/\/(127\.0\.0\.1|localhost):\d+\//, '').replace(/^https?:\/\//, '').slice(0, 70), stroke: PALETTE[i % PALETTE.length], width: 2,
      points: { show: true, size: 8 }, spanGaps: false,
    }))],
  };
  const chart = new uPlot(opts, [xs, ...data.series.map((s) => s.positions)], box);
  const points = data.series.reduce((n, s) => n + s.positions.filter((p) => p !== null).length, 0);
  box.setAttribute('data-points', String(points));
  box.setAttribute('data-series', String(data.series.length));
  window.addEventListener('resize', () => chart.setSize({ width: Math.max(320, box.clientWidth), height: 360 }));
}

document.addEventListener('DOMContentLoaded', () => {
  const run = document.querySelector('[data-live-run]');
  if (run) liveRun(run);
  const chart = document.getElementById('rank-chart');
  if (chart && window.uPlot) rankChart(chart);
});
