/**
 * A blueprint's step graph as SVG: one box per step in dependency order, indented by fan-out
 * level; a fan-out step is drawn as a stack of boxes ("each"), and a fan-in edge (a step that
 * collects the items below it) is dashed.
 */
import { html, raw } from 'hono/html';
import { analyzeGraph } from '../../blueprint/graph.ts';
import type { Blueprint } from '../../blueprint/schema.ts';
import type { Html } from './layout.ts';

const ROW = 46;
const INDENT = 36;
const BOX_W = 250;
const BOX_H = 30;

const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

export function stepGraph(bp: Blueprint): Html {
  const g = analyzeGraph(bp);
  if (g.problems.length || !g.order.length) return html`<p class="muted">The graph cannot be drawn: ${g.problems[0]?.message ?? 'no steps'}.</p>`;
  const pos = new Map<string, { x: number; y: number }>();
  g.order.forEach((id, i) => { pos.set(id, { x: 14 + g.nodes.get(id)!.depth * INDENT, y: 10 + i * ROW }); });
  const boxesRight = Math.max(...[...pos.values()].map((p) => p.x)) + BOX_W;
  const fanIns = g.order.flatMap((id) => g.nodes.get(id)!.fanIn.filter((src) => pos.has(src)).map((src) => ({ src, to: id })));
  // Each fan-in edge gets its own vertical lane right of the boxes, so edges never cross a box.
  const laneX = (i: number) => boxesRight + 18 + i * 12;
  const notesX = laneX(fanIns.length) + 8;
  const width = notesX + 230;
  const height = 20 + g.order.length * ROW;
  const parts: string[] = [];
  for (const id of g.order) {
    const n = g.nodes.get(id)!;
    const to = pos.get(id)!;
    for (const dep of n.deps) {
      const from = pos.get(dep);
      if (!from) continue;
      parts.push(`<path d="M${from.x + 8} ${from.y + BOX_H} V${to.y + BOX_H / 2} H${to.x}" fill="none" stroke="#9aa5b1" stroke-width="1.2" marker-end="url(#arrow)"/>`);
    }
  }
  fanIns.forEach(({ src, to }, i) => {
    const a = pos.get(src)!;
    const b = pos.get(to)!;
    const x = laneX(i);
    parts.push(`<path d="M${a.x + BOX_W} ${a.y + BOX_H / 2} H${x} V${b.y + BOX_H / 2} H${b.x + BOX_W}" fill="none" stroke="#c2410c" stroke-width="1.3" stroke-dasharray="5 4" marker-end="url(#arrow-in)"/>`);
  });
  for (const id of g.order) {
    const n = g.nodes.get(id)!;
    const p = pos.get(id)!;
    const fanOut = n.step.each !== undefined;
    if (fanOut) {
      parts.push(`<rect x="${p.x + 6}" y="${p.y - 6}" width="${BOX_W}" height="${BOX_H}" rx="5" fill="#e0ecff" stroke="#6b8fd6"/>`);
      parts.push(`<rect x="${p.x + 3}" y="${p.y - 3}" width="${BOX_W}" height="${BOX_H}" rx="5" fill="#e8f0ff" stroke="#6b8fd6"/>`);
    }
    const fill = fanOut ? '#f0f5ff' : n.fanIn.length ? '#fff4ec' : '#ffffff';
    const stroke = fanOut ? '#3b6fd1' : n.fanIn.length ? '#c2410c' : '#7b8794';
    parts.push(`<g><title>${esc(`${id} (${n.step.uses})${n.step.description ? `: ${n.step.description}` : ''}`)}</title>`);
    parts.push(`<rect x="${p.x}" y="${p.y}" width="${BOX_W}" height="${BOX_H}" rx="5" fill="${fill}" stroke="${stroke}"/>`);
    parts.push(`<text x="${p.x + 10}" y="${p.y + 19}" font-size="13" fill="#1f2933"><tspan font-weight="600">${esc(id)}</tspan><tspan fill="#52606d" dx="8">${esc(n.step.uses)}</tspan></text></g>`);
    const notes = [fanOut ? 'fan-out: one per item' : '', n.fanIn.length ? `fan-in: collects ${n.fanIn.join(', ')}` : ''].filter(Boolean).join(' · ');
    if (notes) parts.push(`<text x="${notesX}" y="${p.y + 19}" font-size="12" fill="${fanOut ? '#3b6fd1' : '#c2410c'}">${esc(notes)}</text>`);
  }
  return html`<figure class="graph"><svg role="img" aria-label="Step graph" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#9aa5b1"/></marker>
<marker id="arrow-in" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#c2410c"/></marker></defs>
${raw(parts.join('\n'))}</svg>
<figcaption><span class="key fanout">stacked box</span> fan-out (one step run per item) · <span class="key fanin">dashed orange</span> fan-in (collects the items below) · grey arrows: uses</figcaption></figure>`;
}
