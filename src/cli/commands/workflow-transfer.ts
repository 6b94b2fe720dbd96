/**
 * `torc workflows export WF` and `torc workflows import FILE`, as torc has them: export writes
 * torc's export document (JSON, every record with its id; --include-results / --include-events
 * add those), import stores it as a new workflow with new ids, its jobs uninitialized (--name
 * renames it). `export --spec [FORMAT]` writes the workflow as a spec file instead (YAML, JSON,
 * JSON5 or KDL: the argument, else the --output extension, else YAML), which every spec command
 * reads. Results, events and local schedulers of an export are reported, not imported.
 */
import type { Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { InputError } from '../../errors.js';
import type { BackendFlags, WorkflowBackend } from '../backend.js';
import { printJson, printWarnings, type OutputFormat } from '../output.js';
import { parseWorkflowId } from '../runner-flags.js';

interface Flags extends BackendFlags {
  format?: string;
}

/** workflows.ts's: opens the backend named by the flags, runs `fn`, closes it. */
export type WithBackend = (flags: Flags, fn: (b: WorkflowBackend, format: OutputFormat) => Promise<number | void>) => Promise<void>;

interface ExportFlags extends Flags {
  output?: string;
  includeResults?: boolean;
  includeEvents?: boolean;
  spec?: string | boolean;
}

interface ImportFlags extends Flags {
  name?: string;
  skipResults?: boolean;
  skipEvents?: boolean;
}

export function exportCommand(cmd: Command, withBackend: WithBackend): void {
  cmd
    .argument('<wf>', 'workflow id')
    .option('-o, --output <file>', 'write to this file (default: stdout)')
    .option('--include-results', 'include the results of every run')
    .option('--include-events', 'include the events')
    .option('--spec [format]', 'write the workflow as a spec file instead: yaml, json, json5 or kdl (default: from the --output extension, else yaml)')
    .action((id: string, flags: ExportFlags) =>
      withBackend(flags, async (b, format) => {
        const workflowId = parseWorkflowId(id);
        const spec = await import('../../spec/index.js');
        const specFormat = flags.spec === undefined ? undefined : chooseSpecFormat(flags.spec, flags.output, spec.formatOfPath, spec.SPEC_FORMATS);
        const doc = await b.exportWorkflow(workflowId, { results: flags.includeResults ?? false, events: flags.includeEvents ?? false });
        let text: string;
        if (specFormat) {
          const { exportToSpec } = await import('../../spec/torc-export.js');
          const { serializeSpec } = await import('../../spec/serialize.js');
          text = serializeSpec(exportToSpec(doc, { skipResults: true, skipEvents: true }).spec, specFormat);
        } else {
          text = `${JSON.stringify(doc, null, 2)}\n`;
        }
        if (flags.output === undefined) {
          process.stdout.write(text);
          return;
        }
        writeFileSync(flags.output, text);
        const stats = {
          success: true,
          workflow_id: workflowId,
          workflow_name: doc.workflow.name,
          output_file: flags.output,
          ...(specFormat ? { format: specFormat } : {}),
          jobs: doc.jobs.length,
          files: doc.files.length,
          user_data: doc.user_data.length,
          results: doc.results?.length ?? 0,
          events: doc.events?.length ?? 0,
        };
        if (format === 'json') return printJson(stats);
        const what = specFormat ? `as a ${specFormat} spec` : 'as a torc export';
        process.stdout.write(`Exported workflow ${workflowId} (${String(doc.workflow.name)}) ${what} to ${flags.output}: ${stats.jobs} jobs, ${stats.files} files, ${stats.user_data} user data` +
          `${flags.includeResults ? `, ${stats.results} results` : ''}${flags.includeEvents ? `, ${stats.events} events` : ''}\n`);
      }),
    );
}

export function importCommand(cmd: Command, withBackend: WithBackend): void {
  cmd
    .argument('<file>', "torc's export document (JSON), or - for stdin")
    .option('--name <name>', "the new workflow's name (default: the exported one)")
    .option('--skip-results', 'do not report the results the export holds')
    .option('--skip-events', 'do not report the events the export holds')
    .action((file: string, flags: ImportFlags) =>
      withBackend(flags, async (b, format) => {
        if (flags.name !== undefined && flags.name.trim() === '') throw new InputError('must not be empty', '--name');
        const { parseDocuments } = await import('../../spec/parse.js');
        const { exportToSpec, isTorcExport } = await import('../../spec/torc-export.js');
        const source = file === '-' ? '<stdin>' : file;
        const [raw] = parseDocuments(readInput(file), 'json');
        if (!isTorcExport(raw!.value)) {
          const looksLikeSpec = typeof raw!.value === 'object' && raw!.value !== null && 'jobs' in raw!.value && !('export_version' in raw!.value);
          throw new InputError(
            looksLikeSpec
              ? `${source} is a workflow spec, not a torc export: run it with torc reconcile ${source} (or POST it to /workflow_specs)`
              : `${source} is not a torc export (a JSON object with export_version "1.0", workflow, jobs, …)`,
          );
        }
        const { spec, warnings } = exportToSpec(raw!.value, { name: flags.name, skipResults: flags.skipResults, skipEvents: flags.skipEvents });
        printWarnings(source, warnings);
        const { workflow_id } = await b.createWorkflowFromSpec(spec, source);
        const out = { success: true, workflow_id, workflow_name: spec.name!, jobs: spec.jobs.length, files: spec.files?.length ?? 0, user_data: spec.user_data?.length ?? 0 };
        if (format === 'json') return printJson(out);
        process.stdout.write(
          `Successfully imported workflow:\n  Workflow ID: ${out.workflow_id}\n  Name: ${out.workflow_name}\n  Jobs: ${out.jobs}\n  Files: ${out.files}\n  User data: ${out.user_data}\n`,
        );
      }),
    );
}

function readInput(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(`cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, file === '-' ? 'stdin' : file);
  }
}

function chooseSpecFormat<F extends string>(
  given: string | boolean,
  output: string | undefined,
  formatOfPath: (p: string) => F | 'auto',
  formats: readonly F[],
): F {
  if (typeof given === 'string') {
    if (!(formats as readonly string[]).includes(given)) throw new InputError(`expected one of ${formats.join(', ')}, got "${given}"`, '--spec');
    return given as F;
  }
  const byExtension = output === undefined ? 'auto' : formatOfPath(output);
  return byExtension === 'auto' ? ('yaml' as F) : byExtension;
}
