/**
 * How an imported Make scenario starts: its scheduling becomes a cron schedule the scheduler
 * runs (in UTC, said in the report); a custom webhook makes a webhook-triggered workflow whose
 * file says so and whose runs take the request body as `inputs.webhook`.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cron } from 'croner';
import { importMakeScenario, runMakeImport } from '../../src/importers/make/index.ts';

const compose = { id: 1, module: 'util:ComposeTransformer', version: 1, parameters: {}, mapper: { value: 'tick {{formatDate(now; "YYYY-MM-DD")}}' }, metadata: {} };
const scenario = (metadata: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ name: 'Ticks', flow: [compose], metadata: { version: 1, ...metadata }, ...extra });

describe('Make scheduling', () => {
  it('becomes a cron schedule in UTC', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ type: 'indefinitely', interval: 900 }, '*/15 * * * *'],
      [{ type: 'indefinitely', interval: 3600 }, '0 * * * *'],
      [{ type: 'indefinitely', interval: 21600 }, '0 */6 * * *'],
      [{ type: 'daily', time: '06:30' }, '30 6 * * *'],
      [{ type: 'weekly', days: [1, 4], time: '08:00' }, '0 8 * * 1,4'],
      [{ type: 'monthly', dates: [1, 15], time: '23:05' }, '5 23 1,15 * *'],
    ];
    for (const [scheduling, cron] of cases) {
      const { blueprint, report } = importMakeScenario(scenario({ scheduling }));
      expect(blueprint!.schedule).toEqual({ cron, timezone: 'UTC', enabled: true, overlap: 'skip' });
      expect(() => new Cron(cron, { paused: true })).not.toThrow();
      expect(report.trigger).toBe('schedule');
      expect(report.notes).toContain('the schedule runs in UTC (Make used your team\'s time zone); edit schedule.timezone to change it');
    }
    // A top-level `scheduling` (as Make's API gives it) counts too; 7 minutes fits no cron step: the nearest, said.
    const odd = importMakeScenario({ ...scenario({}), scheduling: { type: 'indefinitely', interval: 420 } });
    expect(odd.blueprint!.schedule?.cron).toBe('*/6 * * * *');
    expect(odd.report.notes).toContain('every 420 s runs every 6 minutes (cron steps must divide an hour)');
    // Without scheduling (Make keeps it out of exports) the workflow runs on demand.
    const none = importMakeScenario(scenario({}));
    expect(none.blueprint!.schedule).toBeUndefined();
    expect(none.report.trigger).toBe('manual');
  });

  it('a custom webhook makes a webhook-triggered workflow; the request body is inputs.webhook', async () => {
    const doc = {
      name: 'Lead hook',
      flow: [
        { id: 1, module: 'gateway:CustomWebHook', version: 1, parameters: { hook: 3621184, maxResults: 1 }, mapper: {}, metadata: {} },
        { id: 2, module: 'util:SetVariable2', version: 1, parameters: {}, mapper: { name: 'email', scope: 'roundtrip', value: '{{lower(1.email)}}' }, metadata: {} },
      ],
      metadata: { instant: true, version: 1 },
    };
    const dir = mkdtempSync(join(tmpdir(), 'topicflow-make-hook-'));
    const out: string[] = [];
    expect(await runMakeImport({ file: 'hook.json', doc, dir, stdout: (s) => out.push(s) })).toBe(0);
    const wf = JSON.parse(readFileSync(join(dir, 'lead-hook.json'), 'utf8')) as { trigger: unknown; blueprint: { inputs: Record<string, unknown>; steps: { id: string; with: unknown }[] } };
    expect(wf.trigger).toEqual({ type: 'webhook', module: 1, hook: 3621184 });
    expect(wf.blueprint.inputs.webhook).toMatchObject({ type: 'object', default: {} });
    expect(wf.blueprint.steps.map((s) => s.with)).toEqual([{ payload: '{{ inputs.webhook }}' }, { email: '{{ $lowercase($string(steps.webhook1.payload.email)) }}' }]);
    expect(out.join('')).toContain('note: the scenario starts on a webhook');
  });
});
