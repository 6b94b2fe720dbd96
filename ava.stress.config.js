// `npm run test:stress`: the heavy reliability cases. The default config (package.json "ava")
// excludes test/stress, and AVA only runs files its config includes, so the stress run has its
// own (a --config file replaces the package.json config; nothing is merged).
export default {
  files: ['test/stress/**/*.test.ts'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  timeout: '30m',
  workerThreads: false,
  // One heavy file at a time on a small machine.
  concurrency: 1,
};
