/**
 * The dashboard's static files: its own script and styles (beside this file) and uPlot, the chart
 * library, served from the installed package (no CDN: the dashboard works offline).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Hono } from 'hono';

const require = createRequire(import.meta.url);
const here = join(import.meta.dirname, '..', 'assets');

const FILES: Record<string, { path: string; type: string }> = {
  'app.js': { path: join(here, 'app.js'), type: 'text/javascript; charset=utf-8' },
  'app.css': { path: join(here, 'app.css'), type: 'text/css; charset=utf-8' },
  'uplot.js': { path: require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uplot.css': { path: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

export function assets(app: Hono): void {
  const cache = new Map<string, string>();
  app.get('/assets/:file', (c) => {
    const f = FILES[c.req.param('file')];
    if (!f) return c.notFound();
    let body = cache.get(f.path);
    if (body === undefined) cache.set(f.path, body = readFileSync(f.path, 'utf8'));
    c.header('Content-Type', f.type);
    c.header('Cache-Control', 'public, max-age=300');
    return c.body(body);
  });
}
