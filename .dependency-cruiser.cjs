/**
 * The import rule of src/ (README, Development): every layer imports only the layers below it,
 * and no files import each other in a circle.
 *
 *   ground (src/*.ts) < spec < allocator < contract < store < runners < reconciler, api < cli
 *
 * `npm test` runs it (`npm run check:imports`) before the tests; test/architecture/imports.test.ts
 * checks src/ again and proves on a fixture tree (test/fixtures/layers) that each rule fires.
 */
const LAYERS = [
  ['ground', '^src/[^/]+\\.ts$'],
  ['spec', '^src/spec/'],
  ['allocator', '^src/allocator/'],
  ['contract', '^src/contract/'],
  ['store', '^src/store/'],
  ['runners', '^src/runners/'],
  // The reconciler and the API stand side by side: neither imports the other.
  ['reconciler', '^src/reconciler/', 'api'],
  ['api', '^src/api/', 'reconciler'],
  ['cli', '^src/cli/'],
];

const forbidden = [
  {
    name: 'no-circular',
    severity: 'error',
    comment: 'Files that import each other in a circle cannot be understood or changed alone.',
    from: { path: '^src/' },
    to: { circular: true },
  },
];
LAYERS.forEach(([name, path, sibling], i) => {
  const above = LAYERS.slice(i + 1).filter(([n]) => n !== name).map(([, p]) => p);
  const siblings = sibling ? [LAYERS.find(([n]) => n === sibling)[1]] : [];
  const targets = [...new Set([...above, ...siblings])];
  if (targets.length === 0) return;
  forbidden.push({
    name: `${name}-imports-only-below`,
    severity: 'error',
    comment: `${name} may import only the layers below it (ground < spec < allocator < contract < store < runners < reconciler, api < cli).`,
    from: { path },
    to: { path: targets },
  });
});
// Runners reach the server through the client contract only, never the store.
forbidden.push({
  name: 'runners-through-the-contract',
  severity: 'error',
  comment: 'A runner talks to the server through src/contract (RunnerClient), never the store.',
  from: { path: '^src/runners/' },
  to: { path: '^src/store/' },
});

module.exports = {
  forbidden,
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/',
    // Type-only imports count: a type from above is as much a tie as a value.
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
