/**
 * Server-side printing: the meta.k8s.io/v1 Table that kube-apiserver returns when a client asks
 * for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` (what `kubectl get` and
 * `kubectl get -w` do). Custom resources get the CRD's additionalPrinterColumns (evaluated as the
 * apiextensions table convertor does: Name first, then each column; dates as ages, missing values
 * as null, shown "<none>"); pods, events, namespaces, nodes and PVCs get the columns of the
 * built-in printers (wide columns at priority 1); other kinds the default convertor's Name and
 * Created At. Rows carry the object as PartialObjectMetadata unless includeObject=Object.
 */
import { acceptsAs } from './media.js';
import { apiVersionOf, type PrinterColumn, type ResourceType } from './resources.js';
import type { Obj } from './validation.js';

interface Column {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

const NAME_COLUMN: Column = {
  name: 'Name', type: 'string', format: 'name', priority: 0,
  description: 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names',
};
const CREATION_DESCRIPTION = 'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.';

const col = (name: string, description: string, priority = 0, type = 'string', format = ''): Column => ({ name, type, format, description, priority });

/** k8s.io/apimachinery/pkg/util/duration.HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
  return `${years}y`;
}

/** Age of a timestamp, "<unknown>" when absent (translateTimestampSince). */
export function age(ts: unknown): string {
  if (typeof ts !== 'string' || !ts) return '<unknown>';
  const t = Date.parse(ts);
  return Number.isFinite(t) ? humanDuration(Date.now() - t) : '<invalid>';
}

/**
 * The simple JSONPath of printer columns (`.status.counts.running`, `.spec.items[0].name`,
 * `.metadata.labels.app\.kubernetes\.io/name`): the value, or undefined when a key is missing.
 */
export function jsonPathValue(obj: unknown, path: string): unknown {
  const segments: (string | number)[] = [];
  const re = /\.((?:\\.|[^.[\\])+)|\[(\d+)\]|\['([^']*)'\]/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(path)) !== null) {
    if (m[1] !== undefined) segments.push(m[1].replace(/\\(.)/g, '$1'));
    else if (m[2] !== undefined) segments.push(Number(m[2]));
    else segments.push(m[3]!);
  }
  let cur: any = obj;
  for (const s of segments) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = cur[s as keyof typeof cur];
  }
  return cur;
}

/** A printer column's cell, as apiextensions' cellForJSONValue (strings printed as JSONPath prints them). */
function crdCell(column: PrinterColumn, obj: Obj): unknown {
  const v = jsonPathValue(obj, column.jsonPath);
  if (v === undefined || v === null) return null;
  switch (column.type) {
    case 'string': return typeof v === 'object' ? JSON.stringify(v) : String(v);
    case 'integer': return typeof v === 'number' ? Math.trunc(v) : null;
    case 'number': return typeof v === 'number' ? v : null;
    case 'boolean': return typeof v === 'boolean' ? v : null;
    case 'date': return typeof v === 'string' ? (Number.isFinite(Date.parse(v)) ? age(v) : '<invalid>') : null;
    default: return null;
  }
}

function podCells(pod: Obj): { cells: unknown[]; conditions?: Obj[] } {
  const statuses: Obj[] = pod.status?.containerStatuses ?? [];
  const total = (pod.spec?.containers ?? []).length;
  let reason: string = pod.status?.reason || pod.status?.phase || 'Unknown';
  let ready = 0;
  let restarts = 0;
  let running = false;
  for (const cs of [...statuses].reverse()) {
    restarts += cs.restartCount ?? 0;
    const st = cs.state ?? {};
    if (st.waiting?.reason) reason = st.waiting.reason;
    else if (st.terminated?.reason) reason = st.terminated.reason;
    else if (st.terminated) reason = st.terminated.signal ? `Signal:${st.terminated.signal}` : `ExitCode:${st.terminated.exitCode}`;
    else if (cs.ready && st.running) {
      running = true;
      ready++;
    }
  }
  if (reason === 'Completed' && running) reason = 'Running';
  if (pod.metadata?.deletionTimestamp) reason = pod.status?.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  const phase = pod.status?.phase;
  const conditions = phase === 'Succeeded'
    ? [{ type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.' }]
    : phase === 'Failed' ? [{ type: 'Completed', status: 'True', reason: 'Failed', message: 'The pod failed.' }] : undefined;
  return {
    cells: [pod.metadata.name, `${ready}/${total}`, reason, String(restarts), age(pod.metadata.creationTimestamp),
      pod.status?.podIP || '<none>', pod.spec?.nodeName || '<none>', pod.status?.nominatedNodeName || '<none>', '<none>'],
    ...(conditions ? { conditions } : {}),
  };
}

/** A core/v1 Event's cells (printEvent, wide columns included). */
function eventCells(ev: Obj): unknown[] {
  const first = ev.firstTimestamp ? age(ev.firstTimestamp) : age(ev.eventTime);
  let last = ev.lastTimestamp ? age(ev.lastTimestamp) : first;
  let count = ev.count ?? 0;
  if (ev.series) {
    last = age(ev.series.lastObservedTime);
    count = ev.series.count;
  } else if (count === 0) count = 1;
  const io = ev.involvedObject ?? {};
  const target = io.name ? `${String(io.kind ?? '').toLowerCase()}/${io.name}` : String(io.kind ?? '').toLowerCase();
  const component = ev.source?.component || ev.reportingComponent || '';
  const host = ev.source?.host || ev.reportingInstance || '';
  return [last, ev.type ?? '', ev.reason ?? '', target, io.fieldPath ?? '', host ? `${component}, ${host}` : component,
    String(ev.message ?? '').trim(), first, count, ev.metadata.name];
}

const POD_COLUMNS = [
  NAME_COLUMN,
  col('Ready', 'The aggregate readiness state of this pod for accepting traffic.'),
  col('Status', 'The aggregate status of the containers in this pod.'),
  col('Restarts', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
  col('Age', CREATION_DESCRIPTION),
  col('IP', 'IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.', 1),
  col('Node', 'NodeName is a request to schedule this pod onto a specific node.', 1),
  col('Nominated Node', 'nominatedNodeName is set only when this pod preempts other pods on the node.', 1),
  col('Readiness Gates', 'If specified, all readiness gates will be evaluated for pod readiness.', 1),
];
const EVENT_COLUMNS = [
  col('Last Seen', 'The time at which the most recent occurrence of this event was recorded.'),
  col('Type', 'Type of this event (Normal, Warning), new types could be added in the future.'),
  col('Reason', 'This should be a short, machine understandable string that gives the reason for the transition into the object\'s current status.'),
  col('Object', 'The object that this event is about.'),
  col('Subobject', 'The subobject (field path) this event is about.', 1),
  col('Source', 'The component reporting this event.', 1),
  col('Message', 'A human-readable description of the status of this operation.'),
  col('First Seen', 'The time at which the event was first recorded.', 1),
  col('Count', 'The number of times this event has occurred.', 1),
  col('Name', 'Name of the event.', 1),
];

interface Printer {
  columns: Column[];
  row: (o: Obj) => { cells: unknown[]; conditions?: Obj[] };
}

function printerFor(rt: ResourceType): Printer {
  if (!rt.builtin) {
    const columns = rt.printerColumns?.length ? rt.printerColumns : [{ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: CREATION_DESCRIPTION }];
    return {
      columns: [NAME_COLUMN, ...columns.map((c) => col(c.name, c.description ?? `Custom resource definition column (in JSONPath format): ${c.jsonPath}`, c.priority ?? 0, c.type, c.format ?? ''))],
      row: (o) => ({ cells: [o.metadata.name, ...columns.map((c) => crdCell(c, o))] }),
    };
  }
  if (rt.group === '' && rt.plural === 'pods') return { columns: POD_COLUMNS, row: podCells };
  if (rt.plural === 'events') return { columns: EVENT_COLUMNS, row: (o) => ({ cells: eventCells(o) }) };
  if (rt.group === '' && rt.plural === 'namespaces') {
    return {
      columns: [NAME_COLUMN, col('Status', 'The status of the namespace'), col('Age', CREATION_DESCRIPTION)],
      row: (o) => ({ cells: [o.metadata.name, o.status?.phase ?? '', age(o.metadata.creationTimestamp)] }),
    };
  }
  if (rt.group === '' && rt.plural === 'nodes') {
    return {
      columns: [NAME_COLUMN, col('Status', 'The status of the node'), col('Roles', 'The roles of the node'), col('Age', CREATION_DESCRIPTION), col('Version', 'Kubelet Version reported by the node.')],
      row: (o) => {
        const ready = (o.status?.conditions ?? []).find((c: Obj) => c.type === 'Ready');
        const status = [ready?.status === 'True' ? 'Ready' : ready ? 'NotReady' : 'Unknown', ...(o.spec?.unschedulable ? ['SchedulingDisabled'] : [])].join(',');
        return { cells: [o.metadata.name, status, '<none>', age(o.metadata.creationTimestamp), o.status?.nodeInfo?.kubeletVersion ?? ''] };
      },
    };
  }
  if (rt.group === 'apps' && rt.plural === 'deployments') {
    return {
      columns: [NAME_COLUMN, col('Ready', 'Number of the pod with ready state'), col('Up-to-date', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.'),
        col('Available', 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.'), col('Age', CREATION_DESCRIPTION),
        col('Containers', 'Names of each container in the template.', 1), col('Images', 'Images referenced by each container in the template.', 1), col('Selector', 'Label selector for pods.', 1)],
      row: (o) => {
        const containers: Obj[] = o.spec?.template?.spec?.containers ?? [];
        const selector = Object.entries(o.spec?.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
        return { cells: [o.metadata.name, `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 0}`, o.status?.updatedReplicas ?? 0, o.status?.availableReplicas ?? 0,
          age(o.metadata.creationTimestamp), containers.map((c) => c.name).join(','), containers.map((c) => c.image).join(','), selector] };
      },
    };
  }
  if (rt.group === '' && rt.plural === 'persistentvolumeclaims') {
    return {
      columns: [NAME_COLUMN, col('Status', 'The status of the PVC'), col('Volume', 'The volume bound to the PVC'), col('Capacity', 'The capacity of the volume'),
        col('Access Modes', 'The access modes of the volume'), col('StorageClass', 'The storage class of the PVC'), col('VolumeAttributesClass', 'The volume attributes class', 1), col('Age', CREATION_DESCRIPTION), col('VolumeMode', 'The volume mode', 1)],
      row: (o) => {
        const modes = (o.status?.accessModes ?? o.spec?.accessModes ?? []) as string[];
        const short: Record<string, string> = { ReadWriteOnce: 'RWO', ReadOnlyMany: 'ROX', ReadWriteMany: 'RWX', ReadWriteOncePod: 'RWOP' };
        return { cells: [o.metadata.name, o.status?.phase ?? '', o.spec?.volumeName ?? '', o.status?.capacity?.storage ?? '', modes.map((m) => short[m] ?? m).join(','), o.spec?.storageClassName ?? '<unset>', '<unset>', age(o.metadata.creationTimestamp), o.spec?.volumeMode ?? 'Filesystem'] };
      },
    };
  }
  return {
    columns: [NAME_COLUMN, col('Created At', CREATION_DESCRIPTION, 0, 'date')],
    row: (o) => ({ cells: [o.metadata.name, o.metadata.creationTimestamp ?? null] }),
  };
}

/** Whether an Accept header asks for a meta.k8s.io Table (v1 or v1beta1). */
export const wantsTable = (accept: string | undefined) => acceptsAs(accept, 'Table', 'meta.k8s.io', ['v1', 'v1beta1'] as const);

function rowObject(rt: ResourceType, o: Obj, include: string, version: string): Obj | undefined {
  if (include === 'None') return undefined;
  if (include === 'Object') return { apiVersion: apiVersionOf(rt), kind: rt.kind, ...o };
  return { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${version}`, metadata: o.metadata };
}

/** One object or a list as a Table (`objects` of a list; resourceVersion of the list or object). */
export function toTable(rt: ResourceType, objects: Obj[], opts: { resourceVersion: string; includeObject?: string | null; version?: string; noHeaders?: boolean }): Obj {
  const printer = printerFor(rt);
  const version = opts.version ?? 'v1';
  const include = opts.includeObject ?? 'Metadata';
  return {
    kind: 'Table', apiVersion: `meta.k8s.io/${version}`,
    metadata: { resourceVersion: opts.resourceVersion },
    ...(opts.noHeaders ? {} : { columnDefinitions: printer.columns }),
    rows: objects.map((o) => {
      const { cells, conditions } = printer.row(o);
      const object = rowObject(rt, o, include, version);
      return { cells, ...(conditions ? { conditions } : {}), ...(object ? { object } : {}) };
    }),
  };
}
