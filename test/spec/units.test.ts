import test from 'ava';
import fc from 'fast-check';
import { InputError } from '../../src/errors.js';
import {
  parseMemory, formatMemory, parseDuration, formatDuration, parseSlurmWalltime, formatSlurmWalltime,
} from '../../src/spec/units.js';

const GiB = 1024 ** 3;

test('parseMemory reads torc memory strings with 1024-based units; plain numbers are bytes', (t) => {
  t.is(parseMemory('512k'), 512 * 1024);
  t.is(parseMemory('512m'), 512 * 1024 ** 2);
  t.is(parseMemory('4g'), 4 * GiB);
  t.is(parseMemory('4G'), 4 * GiB);
  t.is(parseMemory('128g'), 128 * GiB);
  t.is(parseMemory('1.5t'), 1.5 * 1024 ** 4);
  t.is(parseMemory('4gb'), 4 * GiB);
  t.is(parseMemory('4Gi'), 4 * GiB);
  t.is(parseMemory('1024'), 1024);
  t.is(parseMemory(2048), 2048);
  t.is(parseMemory('0'), 0);
});

test('parseMemory rejects garbage and names the path', (t) => {
  for (const bad of ['', 'lots', '4x', '-1g', '4 g b', '1e3g', 'g', '4bi']) {
    const err = t.throws(() => parseMemory(bad, 'spec.resource_requirements[2].memory'), { instanceOf: InputError });
    t.is(err.issues[0]!.path, 'spec.resource_requirements[2].memory', bad);
    t.true(err.message.includes(`"${bad}"`), bad);
  }
  t.throws(() => parseMemory(-5, 'x.memory'), { instanceOf: InputError, message: /x\.memory/ });
  t.throws(() => parseMemory('99999999999t', 'x.memory'), { instanceOf: InputError, message: /too large/ });
});

test('formatMemory round-trips through parseMemory', (t) => {
  t.is(formatMemory(4 * GiB), '4g');
  t.is(formatMemory(1536 * 1024), '1536k');
  t.is(formatMemory(100), '100');
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 45 }), (n) => parseMemory(formatMemory(n)) === n));
});

test('parseDuration reads ISO8601 durations into seconds', (t) => {
  t.is(parseDuration('PT30M'), 1800);
  t.is(parseDuration('PT8H'), 8 * 3600);
  t.is(parseDuration('P1D'), 86400);
  t.is(parseDuration('P1DT2H'), 86400 + 7200);
  t.is(parseDuration('P1DT12H'), 1.5 * 86400);
  t.is(parseDuration('PT1.5S'), 1.5);
  t.is(parseDuration('PT0.1H'), 360);
  t.is(parseDuration('P2W'), 14 * 86400);
  t.is(parseDuration('PT1H30M15S'), 5415);
  t.is(parseDuration('pt1h'), 3600);
});

test('parseDuration rejects non-durations, calendar units, and names the path', (t) => {
  for (const bad of ['', 'P', 'PT', '30M', 'PT30', 'P1DT', 'PT-5M', '1 hour', 'PT1M30H']) {
    const err = t.throws(() => parseDuration(bad, 'spec.resource_requirements[0].runtime'), { instanceOf: InputError });
    t.is(err.issues[0]!.path, 'spec.resource_requirements[0].runtime', bad);
  }
  t.throws(() => parseDuration('P1M', 'r'), { instanceOf: InputError, message: /no fixed length/ });
  t.throws(() => parseDuration('P1Y', 'r'), { instanceOf: InputError, message: /no fixed length/ });
});

test('formatDuration writes canonical ISO8601 that parses back', (t) => {
  t.is(formatDuration(0), 'PT0S');
  t.is(formatDuration(1800), 'PT30M');
  t.is(formatDuration(93600), 'P1DT2H');
  t.is(formatDuration(1.5), 'PT1.5S');
  t.is(formatDuration(5415), 'PT1H30M15S');
  fc.assert(fc.property(fc.integer({ min: 0, max: 10 ** 9 }), (n) => parseDuration(formatDuration(n)) === n));
});

test('parseSlurmWalltime reads every Slurm --time form', (t) => {
  t.is(parseSlurmWalltime('30'), 1800);
  t.is(parseSlurmWalltime('30:15'), 1815);
  t.is(parseSlurmWalltime('01:00:00'), 3600);
  t.is(parseSlurmWalltime('1-00:00:00'), 86400);
  t.is(parseSlurmWalltime('1-12'), 86400 + 12 * 3600);
  t.is(parseSlurmWalltime('2-03:04'), 2 * 86400 + 3 * 3600 + 4 * 60);
  t.is(parseSlurmWalltime('48:00:00'), 48 * 3600);
});

test('parseSlurmWalltime rejects bad walltimes and names the path', (t) => {
  for (const bad of ['', 'abc', '1:2:3:4', '01:60:00', '1-', '-1', 'UNLIMITED', '1.5']) {
    const err = t.throws(() => parseSlurmWalltime(bad, 'spec.slurm_schedulers[1].walltime'), { instanceOf: InputError });
    t.is(err.issues[0]!.path, 'spec.slurm_schedulers[1].walltime', bad);
  }
});

test('formatSlurmWalltime round-trips', (t) => {
  t.is(formatSlurmWalltime(3600), '01:00:00');
  t.is(formatSlurmWalltime(90061), '1-01:01:01');
  fc.assert(fc.property(fc.integer({ min: 0, max: 10 ** 8 }), (n) => parseSlurmWalltime(formatSlurmWalltime(n)) === n));
});
