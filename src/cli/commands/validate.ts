/**
 * `torc validate FILE…`: loads, checks and plans every Workflow in every file without storing
 * anything. Exit 0 when all are valid; exit 2 listing every error of every file, each with its
 * file and field path.
 */
import type { Command } from 'commander';
import { InputError, TooLargeError, type InputIssue } from '../../errors.js';
import { loadWorkflowFile, planDocument } from '../../spec/index.js';
import { parseFormat, parseIntOption, printJson, printWarnings } from '../output.js';

interface FileResult {
  file: string;
  ok: boolean;
  workflows: { name: string; jobs: number }[];
  errors: InputIssue[];
  /** Accepted but ignored (as torc ignores them): printed, not failing. */
  warnings: InputIssue[];
}

export function validateFile(file: string, maxJobs?: number): FileResult {
  const result: FileResult = { file, ok: true, workflows: [], errors: [], warnings: [] };
  const fail = (err: unknown) => {
    if (err instanceof InputError) result.errors.push(...err.issues);
    else if (err instanceof TooLargeError) result.errors.push({ path: err.field ?? '', message: err.message });
    else throw err;
  };
  try {
    for (const doc of loadWorkflowFile(file)) {
      result.warnings.push(...doc.warnings);
      try {
        const plan = planDocument(doc, { maxJobs });
        result.workflows.push({ name: plan.name, jobs: plan.jobs.length });
      } catch (err) {
        fail(err);
      }
    }
  } catch (err) {
    fail(err);
  }
  result.ok = result.errors.length === 0;
  return result;
}

export function register(program: Command): void {
  program
    .command('validate')
    .description('check workflow files (schema, references, parameters, dependency cycles) without running them')
    .argument('<files...>', 'workflow files (.yaml/.yml, .json, .json5 or .kdl; Workflow resources or bare torc specs)')
    .option('--max-jobs <n>', 'refuse specs that expand to more jobs than this (default 10000000)')
    .option('--format <format>', 'table or json', 'table')
    .action((files: string[], flags: { maxJobs?: string; format?: string }) => {
      const format = parseFormat(flags.format);
      const maxJobs = parseIntOption(flags.maxJobs, '--max-jobs', 1);
      const results = files.map((f) => validateFile(f, maxJobs));
      if (format === 'json') {
        printJson(results);
      } else {
        for (const r of results) {
          printWarnings(r.file, r.warnings);
          if (r.ok) {
            const jobs = r.workflows.reduce((n, w) => n + w.jobs, 0);
            process.stdout.write(`${r.file}: ok (${r.workflows.map((w) => w.name).join(', ')}: ${jobs} job${jobs === 1 ? '' : 's'})\n`);
          } else {
            for (const e of r.errors) process.stderr.write(`${r.file}: ${e.path ? `${e.path}: ` : ''}${e.message}\n`);
          }
        }
        const bad = results.filter((r) => !r.ok);
        if (bad.length > 0) {
          const count = bad.reduce((n, r) => n + r.errors.length, 0);
          process.stderr.write(`${count} error${count === 1 ? '' : 's'} in ${bad.length} of ${results.length} file${results.length === 1 ? '' : 's'}\n`);
        }
      }
      if (results.some((r) => !r.ok)) process.exitCode = 2;
    });
}
