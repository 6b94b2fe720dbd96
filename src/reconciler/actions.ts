/**
 * Workflow actions, as the reconciler runs them. Each pass: fire the triggers whose condition
 * holds (once per run, in the store), claim what is pending (atomic: an external runner that
 * claimed first wins) and start it in the background:
 * - run_commands: each command in order with `bash -c` on this host, in the jobs' working
 *   directory, output appended to `<output-dir>/actions/action_<id>_run<run>.log`; the first
 *   failing command ends the action (the workflow goes on);
 * - schedule_nodes: handed to the handler registered for its scheduler_type.
 * The outcome of each is recorded as an event (action_completed / action_failed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { ConflictError } from '../errors.js';
import type { RunnerClient } from '../contract/client.js';
import { signalReturnCode } from '../contract/status.js';
import { scheduleNodesHandler, schedulerTypeOf } from './schedule-nodes.js';
import type { ActionRecord, Store } from '../store/index.js';

export interface ActionExecutorOptions {
  store: Store;
  workflowId: number;
  outputDir: string;
  /** Working directory of the commands (the jobs' one). */
  cwd: string;
  apiUrl: string | null;
  /** In-process client for local workers (schedule_nodes local). */
  client: RunnerClient;
  /** Who claims (default `reconciler@<host>:<pid>`). */
  claimer?: string;
  onNotice?: (message: string) => void;
}

export class ActionExecutor {
  private readonly o: ActionExecutorOptions;
  private readonly claimer: string;
  /** `<action>:<run>` already claimed or tried by us, so a pass does not ask again. */
  private readonly seen = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly children = new Set<ChildProcess>();
  private readonly stops: (() => Promise<void>)[] = [];
  private stopped = false;

  constructor(options: ActionExecutorOptions) {
    this.o = options;
    this.claimer = options.claimer ?? `reconciler@${hostname()}:${process.pid}`;
  }

  /** Fires triggers and starts what this process claims; does not wait for the actions to finish. */
  async step(): Promise<void> {
    if (this.stopped) return;
    const { store, workflowId } = this.o;
    // Most passes find nothing to fire: look first (reads), and take the write lock only when
    // an action has not fired in this run yet.
    const [wf, actions] = await Promise.all([store.getWorkflow(workflowId), store.listActions(workflowId)]);
    if (actions.length === 0) return;
    if (actions.some((a) => a.triggered_run_id !== wf.run_id)) await store.fireActionTriggers(workflowId);
    for (const action of await store.listPendingActions(workflowId)) {
      const key = `${action.id}:${action.triggered_run_id}`;
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      let claimed: ActionRecord;
      try {
        claimed = (await store.claimAction(workflowId, action.id, { claimer: this.claimer })).action;
      } catch (e) {
        if (e instanceof ConflictError) continue; // another runner claimed it first, or it is no longer pending
        throw e;
      }
      const running: Promise<void> = this.execute(claimed).finally(() => this.inFlight.delete(running));
      this.inFlight.add(running);
    }
  }

  /** Resolves when every action started so far has finished. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** Ends running commands (SIGTERM to their groups) and whatever schedule_nodes started here. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const child of this.children) signalGroup(child, 'SIGTERM');
    await Promise.all(this.stops.splice(0).map((s) => s().catch(() => undefined)));
    await this.idle();
  }

  private async execute(action: ActionRecord): Promise<void> {
    const { store, workflowId } = this.o;
    const run = action.triggered_run_id;
    const base = { action_id: action.id, trigger_type: action.trigger_type, action_type: action.action_type, run_id: run };
    try {
      const result = action.action_type === 'run_commands' ? await this.runCommands(action) : await this.scheduleNodes(action);
      await store.appendEvent(workflowId, result.ok ? 'action_completed' : 'action_failed', { ...base, ...result });
      if (!result.ok) this.o.onNotice?.(`action ${action.id} (${action.trigger_type}) failed: ${result.message}`);
    } catch (e) {
      const message = (e as Error).message;
      this.o.onNotice?.(`action ${action.id} (${action.trigger_type}) failed: ${message}`);
      await store.appendEvent(workflowId, 'action_failed', { ...base, ok: false, message }).catch(() => undefined);
    }
  }

  private async runCommands(action: ActionRecord): Promise<{ ok: boolean; message: string; log: string; exit_codes: number[] }> {
    const dir = path.join(this.o.outputDir, 'actions');
    mkdirSync(dir, { recursive: true });
    const log = path.join(dir, `action_${action.id}_run${action.triggered_run_id}.log`);
    const fd = openSync(log, 'a');
    const exitCodes: number[] = [];
    try {
      for (const command of action.commands) {
        if (this.stopped) return { ok: false, message: 'stopped', log, exit_codes: exitCodes };
        writeSync(fd, `$ ${command}\n`);
        const code = await this.runOne(command, action, fd);
        exitCodes.push(code);
        if (code !== 0) return { ok: false, message: `command ${exitCodes.length} returned ${code}: ${command}`, log, exit_codes: exitCodes };
      }
    } finally {
      closeSync(fd);
    }
    return { ok: true, message: `${exitCodes.length} command(s) ran`, log, exit_codes: exitCodes };
  }

  private runOne(command: string, action: ActionRecord, fd: number): Promise<number> {
    return new Promise((resolve) => {
      const child = spawn('bash', ['-c', command], {
        cwd: this.o.cwd,
        env: {
          ...process.env,
          TORC_WORKFLOW_ID: String(this.o.workflowId),
          TORC_ACTION_ID: String(action.id),
          TORC_RUN_ID: String(action.triggered_run_id),
          TORC_OUTPUT_DIR: this.o.outputDir,
          ...(this.o.apiUrl ? { TORC_API_URL: this.o.apiUrl } : {}),
        },
        stdio: ['ignore', fd, fd],
        detached: true,
      });
      this.children.add(child);
      child.on('error', () => {
        this.children.delete(child);
        resolve(127);
      });
      child.on('exit', (code, signal) => {
        this.children.delete(child);
        resolve(code ?? (signal ? signalReturnCode(signal) : 1));
      });
    });
  }

  private async scheduleNodes(action: ActionRecord): Promise<{ ok: boolean; message: string; scheduler_type: string; details?: unknown }> {
    const type = schedulerTypeOf(action);
    const handler = scheduleNodesHandler(type);
    if (!handler) return { ok: false, message: `no schedule_nodes handler is registered for scheduler_type "${type}"`, scheduler_type: type };
    const scheduler =
      action.scheduler_id === null ? null : ((await this.o.store.listSlurmSchedulers(this.o.workflowId)).find((s) => s.id === action.scheduler_id) ?? null);
    const result = await handler({
      workflowId: this.o.workflowId,
      action,
      scheduler,
      store: this.o.store,
      client: this.o.client,
      apiUrl: this.o.apiUrl,
      outputDir: this.o.outputDir,
      cwd: this.o.cwd,
      onStop: (stop) => {
        if (this.stopped) void stop();
        else this.stops.push(stop);
      },
      log: (m) => this.o.onNotice?.(m),
    });
    return { ok: true, message: result.message, scheduler_type: type, details: result.details };
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}
