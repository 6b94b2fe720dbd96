/**
 * A stand-in for Slurm's commands in unit tests of the dispatch: small node scripts that keep
 * a queue in a JSON file the test can read and edit, printing what the real commands print
 * (formats captured from Slurm 22.05, see test/slurm/fixtures). Real-Slurm behaviour is
 * tested in test/slurm/e2e.test.ts.
 */
import type { ExecutionContext } from 'ava';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SlurmCommands } from '../../src/runners/slurm/commands.js';

/**
 * A fake Slurm over a JSON queue file {next, jobs: {id: state}, scripts: [...], cancelled: [...],
 * failAfter}. sbatch appends PENDING jobs (and fails once `failAfter` submissions were made),
 * squeue prints known ids in the real `%i|%T|%e|%L|%r|%N` format (node list from `nodes: {id: list}`,
 * empty when unset), scancel marks CANCELLED.
 */
export async function fakeSlurm(t: ExecutionContext) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'torc-fake-slurm-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const queue = path.join(dir, 'queue.json');
  await writeFile(queue, JSON.stringify({ next: 100, jobs: {}, scripts: [], cancelled: [], failAfter: null }));
  const node = process.execPath;
  const js = (body: string) => `#!${node}\nconst fs=require('fs');const q=JSON.parse(fs.readFileSync(${JSON.stringify(queue)},'utf8'));const a=process.argv.slice(2);\n${body}\nfs.writeFileSync(${JSON.stringify(queue)},JSON.stringify(q));\n`;
  const write = async (name: string, body: string) => {
    const file = path.join(dir, name);
    await writeFile(file, js(body));
    await chmod(file, 0o755);
    return file;
  };
  const paths = {
    sbatch: await write(
      'sbatch',
      `if(q.failAfter!==null&&q.scripts.length>=q.failAfter){process.stderr.write('sbatch: error: QOSMaxSubmitJobPerUserLimit\\n');process.exit(1)}
       const id=String(q.next++);q.jobs[id]='PENDING';q.scripts.push(fs.readFileSync(a[a.length-1],'utf8'));process.stdout.write(id+'\\n');`,
    ),
    squeue: await write(
      'squeue',
      `const ids=a[a.indexOf('-j')+1].split(',').filter(i=>q.jobs[i]);
       if(ids.length===0){process.stderr.write('slurm_load_jobs error: Invalid job id specified\\n');process.exit(1)}
       for(const i of ids)process.stdout.write(i+'|'+q.jobs[i]+'|N/A|10:00|None|'+((q.nodes||{})[i]||'')+'\\n');`,
    ),
    scontrol: await write('scontrol', `process.stderr.write('slurm_load_jobs error: Invalid job id specified\\n');process.exit(1);`),
    scancel: await write('scancel', `q.cancelled.push(a[0]);if(q.jobs[a[0]])q.jobs[a[0]]='CANCELLED';`),
  };
  const read = async () => JSON.parse(await readFile(queue, 'utf8')) as { jobs: Record<string, string>; scripts: string[]; cancelled: string[]; failAfter: number | null };
  const edit = async (fn: (q: Awaited<ReturnType<typeof read>> & Record<string, unknown>) => void) => {
    const q = (await read()) as Awaited<ReturnType<typeof read>> & Record<string, unknown>;
    fn(q);
    await writeFile(queue, JSON.stringify(q));
  };
  return { dir, commands: new SlurmCommands({ paths }), read, edit };
}

