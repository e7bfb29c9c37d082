/**
 * Make's scheduling (`{ type: "indefinitely", interval: 900 }`, `daily` at a time, `weekly` on
 * days, `monthly` on dates) as a cron schedule, and what could not be kept.
 */
import type { Blueprint } from '../../blueprint/schema.ts';

export interface ScheduleResult {
  schedule?: NonNullable<Blueprint['schedule']>;
  notes: string[];
}

function time(v: unknown): [number, number] | undefined {
  const m = typeof v === 'string' ? /^(\d{1,2}):(\d{2})/.exec(v) : null;
  if (!m) return undefined;
  const h = Number(m[1]);
  const min = Number(m[2]);
  return h < 24 && min < 60 ? [h, min] : undefined;
}

const numbers = (v: unknown, min: number, max: number): number[] => (Array.isArray(v) ? v.map(Number).filter((n) => Number.isInteger(n) && n >= min && n <= max) : []);

/** An interval in seconds as cron: the nearest interval that divides an hour or a day. */
function intervalCron(seconds: number, notes: string[]): string {
  const minutes = Math.max(1, Math.round(seconds / 60));
  const fits = (n: number, of: number) => of % n === 0;
  if (minutes < 60) {
    const m = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30].reduce((best, c) => (Math.abs(c - minutes) < Math.abs(best - minutes) ? c : best), 1);
    if (m !== minutes || seconds % 60 !== 0) notes.push(`every ${seconds} s runs every ${m} minutes (cron steps must divide an hour)`);
    return m === 1 ? '* * * * *' : `*/${m} * * * *`;
  }
  const hours = Math.round(minutes / 60);
  if (hours >= 24) {
    if (minutes !== 1440) notes.push(`every ${seconds} s runs once a day (cron steps must divide a day)`);
    return '0 0 * * *';
  }
  const h = [1, 2, 3, 4, 6, 8, 12].reduce((best, c) => (Math.abs(c - hours) < Math.abs(best - hours) ? c : best), 1);
  if (h * 60 !== minutes || !fits(h, 24)) notes.push(`every ${seconds} s runs every ${h} hours (cron steps must divide a day)`);
  return h === 1 ? '0 * * * *' : `0 */${h} * * *`;
}

/** The blueprint schedule of a Make scheduling, or none (on demand, once, immediately). */
export function scheduleOf(scheduling: Record<string, unknown> | undefined): ScheduleResult {
  const notes: string[] = [];
  if (!scheduling) return { notes };
  const type = scheduling.type;
  let cron: string | undefined;
  const [h, m] = time(scheduling.time) ?? [0, 0];
  switch (type) {
    case 'indefinitely': {
      const interval = Number(scheduling.interval);
      cron = intervalCron(Number.isFinite(interval) && interval > 0 ? interval : 900, notes);
      break;
    }
    case 'daily': cron = `${m} ${h} * * *`; break;
    case 'weekly': {
      const days = numbers(scheduling.days, 0, 7);
      cron = `${m} ${h} * * ${days.length ? days.join(',') : '1'}`;
      break;
    }
    case 'monthly': {
      const dates = numbers(scheduling.dates, 1, 31);
      cron = `${m} ${h} ${dates.length ? dates.join(',') : '1'} * *`;
      break;
    }
    case 'yearly': {
      const dates = numbers(scheduling.dates, 1, 31);
      const months = numbers(scheduling.months, 1, 12);
      cron = `${m} ${h} ${dates.length ? dates.join(',') : '1'} ${months.length ? months.join(',') : '1'} *`;
      break;
    }
    case 'once': notes.push('a scenario scheduled to run once becomes a workflow run on demand (topicflow run)'); break;
    case 'immediately': break;
    default: if (type !== undefined) notes.push(`scheduling "${String(type)}" has no translation: the workflow runs on demand`);
  }
  if (!cron) return { notes };
  if (scheduling.restrict !== undefined) notes.push('the schedule\'s time restrictions are not kept');
  notes.push('the schedule runs in UTC (Make used your team\'s time zone); edit schedule.timezone to change it');
  return { schedule: { cron, timezone: 'UTC', enabled: true, overlap: 'skip' }, notes };
}
