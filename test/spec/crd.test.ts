import test from 'ava';
import { Ajv } from 'ajv';
import { loadCrd, crdOpenApiSchema, toStrictJsonSchema, workflowSpecSchema, API_VERSION, KIND } from '../../src/spec/schema.js';

type Node = Record<string, unknown>;

/** Walks every schema node with its JSON path. */
function walk(node: Node, path: string, visit: (n: Node, p: string) => void): void {
  visit(node, path);
  for (const [k, v] of Object.entries((node.properties ?? {}) as Record<string, Node>)) walk(v, `${path}.${k}`, visit);
  if (node.items && typeof node.items === 'object') walk(node.items as Node, `${path}[]`, visit);
  if (node.additionalProperties && typeof node.additionalProperties === 'object') walk(node.additionalProperties as Node, `${path}{}`, visit);
}

test('the CRD names the resource as the issue asks', (t) => {
  const crd = loadCrd() as { metadata: { name: string }; spec: Record<string, any> };
  t.is(crd.metadata.name, 'workflows.torc.dev');
  t.is(crd.spec.group, 'torc.dev');
  t.is(crd.spec.scope, 'Namespaced');
  t.deepEqual(crd.spec.names.shortNames, ['twf']);
  t.is(crd.spec.names.plural, 'workflows');
  t.is(crd.spec.names.kind, KIND);
  const [version] = crd.spec.versions;
  t.is(`${crd.spec.group}/${version.name}`, API_VERSION);
  t.true(version.served && version.storage);
  t.deepEqual(version.subresources, { status: {} });
  t.deepEqual(version.additionalPrinterColumns.map((c: { name: string }) => c.name), ['Phase', 'Done', 'Running', 'Failed', 'Age']);
});

test('the CRD schema is structural: every node typed, no additionalProperties beside properties, no $ref', (t) => {
  const problems: string[] = [];
  walk(crdOpenApiSchema(), '', (n, p) => {
    const typed = typeof n.type === 'string' || n['x-kubernetes-int-or-string'] === true || n['x-kubernetes-preserve-unknown-fields'] === true;
    if (!typed) problems.push(`${p}: no type`);
    if (n.properties && n.additionalProperties !== undefined) problems.push(`${p}: additionalProperties beside properties`);
    if ('$ref' in n || 'definitions' in n || 'exclusiveMinimum' in n) problems.push(`${p}: keyword not allowed in a CRD`);
  });
  t.deepEqual(problems, []);
});

test('the strict schema closes objects with properties and compiles in ajv strict mode', (t) => {
  const strict = toStrictJsonSchema(crdOpenApiSchema());
  t.is(strict.additionalProperties, false);
  const spec = workflowSpecSchema() as Node;
  t.is(spec.additionalProperties, false);
  const jobs = (spec.properties as Record<string, Node>).jobs!;
  t.is((jobs.items as Node).additionalProperties, false);
  const ajv = new Ajv({ strict: true, allErrors: true, allowUnionTypes: true });
  ajv.addFormat('date-time', true);
  const validate = ajv.compile(strict);
  t.true(validate({ spec: { jobs: [{ name: 'a', command: 'true' }] } }));
  t.false(validate({ spec: { jobs: [{ name: 'a', command: 'true', comand: 'x' }] } }));
});

test('the spec schema carries every torc WorkflowSpec field, the aliases and our additions', (t) => {
  const props = Object.keys((workflowSpecSchema().properties ?? {}) as Node);
  for (const f of ['name', 'user', 'description', 'parameters', 'jobs', 'files', 'user_data', 'resource_requirements',
    'failure_handlers', 'slurm_schedulers', 'slurm_defaults', 'resource_monitor', 'actions', 'use_pending_failed',
    'compute_node_expiration_buffer_seconds', 'compute_node_wait_for_new_jobs_seconds',
    'compute_node_ignore_workflow_completion', 'jobs_sort_method', 'job_sort_method', 'default_image', 'schedule']) {
    t.true(props.includes(f), f);
  }
  const job = Object.keys(((workflowSpecSchema().properties as Record<string, Node>).jobs!.items as Node).properties as Node);
  for (const f of ['name', 'command', 'invocation_script', 'resource_requirements', 'failure_handler', 'scheduler',
    'slurm_scheduler', 'cancel_on_blocking_job_failure', 'supports_termination', 'depends_on', 'depends_on_regexes',
    'input_files', 'input_file_regexes', 'output_files', 'output_file_regexes', 'input_user_data',
    'input_user_data_regexes', 'output_user_data', 'output_user_data_regexes', 'parameters', 'parameter_mode',
    'use_parameters', 'image', 'env']) {
    t.true(job.includes(f), f);
  }
});
