import test from 'ava';
import { Combinations, ParamError, compileTemplate, formatValue, parseParamValues, plainNumber, type ParamValues } from '../../src/spec/params.js';

const all = (v: ParamValues) => Array.from({ length: v.length }, (_, i) => v.at(i));

test('ranges are inclusive, with optional step, negative steps and floats', (t) => {
  t.deepEqual(all(parseParamValues('1:5')), [1, 2, 3, 4, 5]);
  t.deepEqual(all(parseParamValues('0:100:10')), [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
  t.deepEqual(all(parseParamValues('10:1:-3')), [10, 7, 4, 1]);
  t.deepEqual(all(parseParamValues('0.0:1.0:0.1')), [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
  t.deepEqual(all(parseParamValues('{1:3}')), [1, 2, 3], 'torc tolerates braces around a range');
  t.is(parseParamValues('1:100').length, 100);
});

test('huge ranges stay lazy: their size is known without materializing them', (t) => {
  const v = parseParamValues('1:1000000000000');
  t.is(v.length, 1_000_000_000_000);
  t.is(v.at(999_999_999_999), 1_000_000_000_000);
});

test('lists of integers, floats and quoted strings (commas inside quotes kept)', (t) => {
  t.deepEqual(all(parseParamValues('[1,5,10]')), [1, 5, 10]);
  t.deepEqual(all(parseParamValues('[0.1, 0.5]')), [0.1, 0.5]);
  t.deepEqual(all(parseParamValues("['adam','sgd']")), ['adam', 'sgd']);
  t.deepEqual(all(parseParamValues(`["a,b", 'c']`)), ['a,b', 'c']);
  t.deepEqual(all(parseParamValues('[x, y]')), ['x', 'y']);
  t.deepEqual(all(parseParamValues('42')), [42]);
  t.deepEqual(all(parseParamValues(7)), [7]);
  t.deepEqual(all(parseParamValues('hello')), ['hello']);
});

test('bad parameter values are refused', (t) => {
  for (const bad of ['1:10:0', '1:2:3:4', 'a:b', '[1,2', "['a", '[1,,2]']) {
    t.throws(() => parseParamValues(bad), { instanceOf: ParamError }, bad);
  }
});

test('format specs follow the documented {i:03d} and {lr:.4f} (Python-style subset)', (t) => {
  const f = (spec: string, v: number | string, float = false) => compileTemplate(`{x:${spec}}`, ['x']).fill([v], [float]);
  t.is(f('03d', 5), '005');
  t.is(f('03d', 100), '100');
  t.is(f('03d', -5), '-05');
  t.is(f('.4f', 0.001, true), '0.0010');
  t.is(f('.2f', 0.1, true), '0.10');
  t.is(f('.2f', 3, false), '3.00');
  t.is(f('5', 42), '   42');
  t.is(f('s', 'adam'), 'adam');
  t.throws(() => f('d', 0.5, true), { instanceOf: ParamError });
  t.throws(() => f('d', 'adam'), { instanceOf: ParamError });
  t.throws(() => compileTemplate('{x:banana}', ['x']), { instanceOf: ParamError, message: /invalid format/ });
});

test('numbers print as torc prints them: floats without exponent, 1.0 as 1', (t) => {
  t.is(plainNumber(1e-7), '0.0000001');
  t.is(plainNumber(1e21), '1000000000000000000000');
  t.is(plainNumber(1.5e-10), '0.00000000015');
  t.is(plainNumber(1), '1');
  t.is(formatValue(0.0001, true, null), '0.0001');
});

test('templates substitute only known parameters; shell braces and ${files.*} pass through', (t) => {
  const tpl = compileTemplate("run {i} --lr={lr:.2f} ${files.input.f_{i}} awk '{print $1}' {unknown}", ['i', 'lr']);
  t.false(tpl.constant);
  t.deepEqual([...tpl.uses].sort(), [0, 1]);
  t.is(tpl.fill([3, 0.5], [false, true]), "run 3 --lr=0.50 ${files.input.f_3} awk '{print $1}' {unknown}");
  t.true(compileTemplate('plain {x}', ['i']).constant);
});

test('product puts the first parameter outermost; zip pairs element-wise and checks lengths', (t) => {
  const params = new Map([['a', parseParamValues('[1,2]')], ['b', parseParamValues("['x','y','z']")]]);
  const product = new Combinations(params, 'product');
  t.is(product.count, 6);
  const seen: string[] = [];
  const values: (string | number)[] = [];
  const floats: boolean[] = [];
  for (let i = 0; i < product.count; i++) {
    product.fill(i, values, floats);
    seen.push(values.join(''));
  }
  t.deepEqual(seen, ['1x', '1y', '1z', '2x', '2y', '2z']);
  const zip = new Combinations(new Map([['a', parseParamValues('[1,2,3]')], ['b', parseParamValues("['x','y','z']")]]), 'zip');
  t.is(zip.count, 3);
  zip.fill(2, values, floats);
  t.deepEqual(values, [3, 'z']);
  t.throws(() => new Combinations(params, 'zip'), { instanceOf: ParamError, message: /same number of values.*"a" has 2, "b" has 3/ });
});

test('format widths and precisions are bounded (a width of 10^9 would build gigabyte names)', (t) => {
  t.is(compileTemplate('{x:0256d}', ['x']).fill([1], [false]).length, 256);
  t.throws(() => compileTemplate('{x:0999999999d}', ['x']), { instanceOf: ParamError, message: /width 0?999999999 is over the limit of 256/ });
  t.throws(() => compileTemplate('{x:.500f}', ['x']), { instanceOf: ParamError, message: /precision 500 is over the limit of 100/ });
});
