/**
 * A Workflow's `schedule` (cron) as the operator keeps it: like a CronJob, at each tick a new
 * run starts when the previous one has finished, and the tick is skipped (with an event) while
 * it still runs; ticks missed while the operator was down fold into one. The operator asks to
 * be called again at the next tick (requeue-after), so nothing polls in between.
 */
import { InputError } from '../../errors.js';
import { loadCron } from '../../lazy-modules.js';

/** Throws an InputError naming spec.schedule when the cron expression is not valid. */
export function checkSchedule(expression: string): void {
  const check = loadCron().validateCronExpression(expression);
  if (!check.valid) {
    throw new InputError(`invalid cron expression "${expression}"${check.error ? `: ${check.error.message}` : ''}`, 'spec.schedule');
  }
}

/**
 * The schedule seen at `now`, counting from `since` (the last tick acted on, or when the
 * workflow was created): `due` is the latest tick after `since` and at or before `now` (null
 * when none fell due), `next` the first tick after `now`.
 */
export function scheduleTicks(expression: string, since: Date, now: Date): { due: Date | null; next: Date } {
  const cron = new (loadCron().CronTime)(expression);
  const after = (d: Date) => cron.getNextDateFrom(d).toJSDate();
  const first = after(since);
  if (first.getTime() > now.getTime()) return { due: null, next: first };
  // The latest due tick: look back from now over a doubling window (not tick by tick from
  // `since`, which may be days of every-second ticks ago), then walk the few ticks inside it.
  let due = first;
  for (let window = 1000; ; window *= 2) {
    const from = Math.max(since.getTime(), now.getTime() - window);
    const t = after(new Date(from));
    if (t.getTime() <= now.getTime()) {
      due = t;
      break;
    }
    if (from === since.getTime()) break;
  }
  let next = after(due);
  while (next.getTime() <= now.getTime()) {
    due = next;
    next = after(next);
  }
  return { due, next };
}
