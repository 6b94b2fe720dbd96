/**
 * events.k8s.io/v1 Event is a second API of the same objects as core/v1 Event (one storage, as
 * on the real server): what the operator writes through core/v1 shows in
 * `kubectl get events.events.k8s.io` and the other way round. These convert between the two
 * shapes (regarding ↔ involvedObject, note ↔ message, deprecated* ↔ count / first / last /
 * source, reportingController ↔ reportingComponent) and translate field selectors.
 */
import type { Obj } from './validation.js';

const drop = (o: Obj) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

export function coreToEventsV1(ev: Obj): Obj {
  return drop({
    apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: ev.metadata,
    eventTime: ev.eventTime ?? null,
    series: ev.series ? { count: ev.series.count, lastObservedTime: ev.series.lastObservedTime } : undefined,
    reportingController: ev.reportingComponent || ev.source?.component || undefined,
    reportingInstance: ev.reportingInstance || ev.source?.host || undefined,
    action: ev.action, reason: ev.reason, regarding: ev.involvedObject, related: ev.related, note: ev.message, type: ev.type,
    deprecatedSource: ev.source, deprecatedFirstTimestamp: ev.firstTimestamp, deprecatedLastTimestamp: ev.lastTimestamp, deprecatedCount: ev.count,
  });
}

export function eventsV1ToCore(ev: Obj): Obj {
  return drop({
    apiVersion: 'v1', kind: 'Event', metadata: ev.metadata,
    involvedObject: ev.regarding ?? {}, reason: ev.reason, message: ev.note, type: ev.type,
    source: ev.deprecatedSource, firstTimestamp: ev.deprecatedFirstTimestamp, lastTimestamp: ev.deprecatedLastTimestamp, count: ev.deprecatedCount,
    eventTime: ev.eventTime, series: ev.series, action: ev.action, related: ev.related,
    reportingComponent: ev.reportingController, reportingInstance: ev.reportingInstance,
  });
}

const FIELD_MAP: Record<string, string> = {
  'regarding.kind': 'involvedObject.kind', 'regarding.namespace': 'involvedObject.namespace', 'regarding.name': 'involvedObject.name',
  'regarding.uid': 'involvedObject.uid', 'regarding.apiVersion': 'involvedObject.apiVersion', 'regarding.resourceVersion': 'involvedObject.resourceVersion',
  'regarding.fieldPath': 'involvedObject.fieldPath', reportingController: 'reportingComponent',
};

/** A field selector on events.k8s.io fields, as one on the core fields. */
export function eventsV1Selector(expr: string | null): string | null {
  if (!expr) return expr;
  return expr.split(',').map((req) => req.replace(/^\s*([^=!\s]+)/, (f) => FIELD_MAP[f.trim()] ?? f)).join(',');
}
