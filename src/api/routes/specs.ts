/** POST /workflow_specs: a spec document (YAML or JSON) → a stored workflow, via the same loader as `torc validate`. */
export const specRoutes: import('./common.js').ApiRoute[] = [];
