/** `torc events list WF`: a workflow's events (epoch-ms times shown as dates), filtered as torc's command does. */
import type { Command } from 'commander';
import { addBackendOptions, allPages, type BackendFlags } from '../backend.js';
import { parseIntOption, printJson, printTable } from '../output.js';
import { parseWorkflowId } from '../runner-flags.js';
import { withBackend } from './jobs.js';

interface Flags extends BackendFlags {
  format?: string;
  category?: string;
  limit?: string;
  offset?: string;
  sortBy?: string;
  reverseSort?: boolean;
}

interface EventRow {
  id: number;
  timestamp: number;
  category: string;
  data: Record<string, unknown>;
}

export function register(program: Command): void {
  const events = program.command('events').description('Events of a workflow');
  addBackendOptions(events.command('list').description('Events of a workflow in order'))
    .argument('<wf>', 'workflow id')
    .option('--format <format>', 'table or json (default table)')
    .option('-c, --category <category>', 'only events of this category (e.g. job_retried, workflow_canceled)')
    .option('-l, --limit <n>', 'at most this many events (default: all)')
    .option('-o, --offset <n>', 'skip this many events', '0')
    .option('-s, --sort-by <field>', 'sort by this field (id, timestamp, category)')
    .option('-r, --reverse-sort', 'sort in descending order')
    .action((id: string, flags: Flags) =>
      withBackend(flags, async (b, format) => {
        const workflowId = parseWorkflowId(id);
        const limit = parseIntOption(flags.limit, '--limit', 1);
        const start = parseIntOption(flags.offset, '--offset', 0) ?? 0;
        const query = { category: flags.category, sort_by: flags.sortBy, reverse_sort: flags.reverseSort };
        const items = (await allPages((offset, pageLimit) => b.listEvents(workflowId, { ...query, offset: start + offset, limit: pageLimit }), limit)) as EventRow[];
        if (format === 'json') return printJson(items);
        printTable(
          items.map((e) => {
            const { category: _category, ...rest } = e.data;
            return { id: e.id, time: new Date(e.timestamp).toISOString(), category: e.category, data: JSON.stringify(rest) };
          }),
          ['id', 'time', 'category', 'data'],
        );
      }),
    );
}
