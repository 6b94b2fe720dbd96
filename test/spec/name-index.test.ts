import test from 'ava';
import fc from 'fast-check';
import { NameIndex, analyzePattern, findLiterals } from '../../src/spec/name-index.js';

function brute(names: string[], pattern: string): number[] {
  const re = new RegExp(pattern);
  return names.flatMap((n, i) => (re.test(n) ? [i] : []));
}

test('pattern analysis finds exact names, prefixes, suffixes and required literals', (t) => {
  t.like(analyzePattern('^job_5$'), { exact: 'job_5' });
  t.like(analyzePattern('^prep_\\d+_x'), { exact: null, prefix: 'prep_', required: 'prep_' });
  t.like(analyzePattern('.*_done$'), { prefix: '', suffix: '_done' });
  t.like(analyzePattern('sim_12_'), { prefix: '', suffix: '', required: 'sim_12_' });
  t.like(analyzePattern('^ab?c'), { prefix: 'a' });
  t.like(analyzePattern('^a+bc'), { prefix: 'a' });
  t.like(analyzePattern('x\\.y(z|w)'), { required: 'x.y' });
  t.is(analyzePattern('a|b'), null);
  t.is(analyzePattern('\\u0041'), null);
});

test('Aho–Corasick finds every name containing each literal', (t) => {
  const names = ['abc', 'xabcx', 'bca', 'aab', 'ab'];
  const hits = findLiterals(names, ['ab', 'bc', 'ca', 'zz']);
  t.deepEqual(hits.get('ab'), [0, 1, 3, 4]);
  t.deepEqual(hits.get('bc'), [0, 1, 2]);
  t.deepEqual(hits.get('ca'), [2]);
  t.deepEqual(hits.get('zz'), []);
});

test('NameIndex agrees with testing every name (property)', (t) => {
  const alphabet = fc.constantFrom('a', 'b', '_', '1', '2');
  const name = fc.string({ unit: alphabet, minLength: 1, maxLength: 6 });
  const piece = fc.oneof(
    fc.string({ unit: alphabet, minLength: 1, maxLength: 3 }),
    fc.constantFrom('.*', '.', '[ab]', '\\d', 'a?', 'b+', '(a|b)', '_{1,2}', '\\_'),
  );
  const pattern = fc.tuple(fc.boolean(), fc.array(piece, { minLength: 1, maxLength: 4 }), fc.boolean())
    .map(([start, parts, end]) => `${start ? '^' : ''}${parts.join('')}${end ? '$' : ''}`);
  fc.assert(
    fc.property(fc.uniqueArray(name, { maxLength: 40 }), fc.array(pattern, { minLength: 1, maxLength: 12 }), (names, patterns) => {
      const index = new NameIndex(names);
      const results = index.matchAll(patterns);
      for (const p of patterns) {
        const r = results.get(p)!;
        if ('error' in r) return false;
        if (JSON.stringify(r.indices) !== JSON.stringify(brute(names, p))) return false;
      }
      return true;
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('invalid regexes are reported, not thrown', (t) => {
  const r = new NameIndex(['a']).match('(unclosed');
  t.true('error' in r && /invalid regex "\(unclosed"/.test(r.error));
});

test('hostile patterns: catastrophic backtracking ends (linear fallback); backreferences and lookaround are refused', (t) => {
  const names = [`${'a'.repeat(48)}!`, 'aa', 'a1'];
  const index = new NameIndex(names);
  // Exponential on a backtracking engine: 2^48 steps without the fallback.
  for (const p of ['^(a+)+$', '^(a|aa)+$', '^(a|a?)+$']) t.deepEqual(index.match(p), { indices: [1] }, p);
  for (const p of ['^(a)\\1$', '^a(?=1)', '(?<=a)1']) {
    const r = index.match(p);
    t.true('error' in r && /unsupported regex/.test(r.error), p);
  }
});
