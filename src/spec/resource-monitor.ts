/**
 * torc's `resource_monitor` settings with their defaults filled in. The stored spec keeps what
 * the user wrote (unknown fields included, see load.ts); runners read it through this.
 * Defaults as torc documents them: monitoring on, summary granularity, a sample every 5 s, no plots.
 */
export type MonitorGranularity = 'summary' | 'time_series';

export interface ResourceMonitorConfig {
  enabled: boolean;
  granularity: MonitorGranularity;
  sample_interval_seconds: number;
  generate_plots: boolean;
}

export const DEFAULT_RESOURCE_MONITOR: Readonly<ResourceMonitorConfig> = Object.freeze({
  enabled: true,
  granularity: 'summary',
  sample_interval_seconds: 5,
  generate_plots: false,
});

/** The effective settings of a stored `resource_monitor` value (null/absent: the defaults); wrong types fall back to defaults. */
export function resolveResourceMonitor(raw: unknown): ResourceMonitorConfig {
  const m = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const interval = m.sample_interval_seconds;
  return {
    enabled: typeof m.enabled === 'boolean' ? m.enabled : DEFAULT_RESOURCE_MONITOR.enabled,
    granularity: m.granularity === 'time_series' || m.granularity === 'summary' ? m.granularity : DEFAULT_RESOURCE_MONITOR.granularity,
    sample_interval_seconds:
      typeof interval === 'number' && Number.isFinite(interval) && interval > 0 ? interval : DEFAULT_RESOURCE_MONITOR.sample_interval_seconds,
    generate_plots: typeof m.generate_plots === 'boolean' ? m.generate_plots : DEFAULT_RESOURCE_MONITOR.generate_plots,
  };
}
