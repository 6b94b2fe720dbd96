/** `torc plot-resources resource_metrics_*.db -o DIR`: torc's own time-series file (its tables) is read as torc reads it. */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import sqlite3 from 'sqlite3';
import { runTorc } from '../support/cli.js';
import { tempDir } from '../support/procs.js';

function torcMetricsFile(file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, (err) => {
      if (err) return reject(err);
      db.exec(
        `CREATE TABLE job_resource_samples (id INTEGER PRIMARY KEY, job_id INTEGER, timestamp REAL, cpu_percent REAL, memory_bytes INTEGER, num_processes INTEGER);
         CREATE TABLE job_metadata (job_id INTEGER PRIMARY KEY, job_name TEXT);
         INSERT INTO job_metadata VALUES (15, 'train_model'), (16, 'preprocess');
         INSERT INTO job_resource_samples (job_id, timestamp, cpu_percent, memory_bytes, num_processes) VALUES
           (15, 1767225600, 95.5, 1073741824, 3), (15, 1767225605, 180.0, 2147483648, 4),
           (16, 1767225600, 50.0, 104857600, 1), (16, 1767225605, 60.0, 209715200, 1);`,
        (e) => db.close(() => (e ? reject(e) : resolve())),
      );
    });
  });
}

test("plot-resources reads torc's resource_metrics file: a timeline per job, named from job_metadata", async (t) => {
  const dir = await tempDir('torc-metrics-');
  const file = path.join(dir, 'resource_metrics_host_1_1.db');
  await torcMetricsFile(file);
  const out = path.join(dir, 'plots');
  const r = await runTorc(['plot-resources', file, '-o', out, '--job-ids', '15'], { cwd: dir });
  t.is(r.code, 0, r.stderr);
  t.deepEqual(readdirSync(out).sort(), ['resource_plot_cpu_all_jobs.html', 'resource_plot_job_15.html', 'resource_plot_memory_all_jobs.html', 'resource_plot_summary.html']);
  const html = readFileSync(path.join(out, 'resource_plot_job_15.html'), 'utf8');
  t.regex(html, /Job train_model \(id 15\)/);
  t.regex(html, /\[1767225605,180\]/, 'its samples are in the page');
  const notTorc = path.join(dir, 'other.db');
  await new Promise<void>((resolve, reject) => {
    const db = new sqlite3.Database(notTorc, (e) => (e ? reject(e) : db.exec('CREATE TABLE x (a)', () => db.close(() => resolve()))));
  });
  const bad = await runTorc(['plot-resources', notTorc, '-o', out], { cwd: dir });
  t.is(bad.code, 2);
  t.regex(bad.stderr, /not a torc resource metrics file/);
});
