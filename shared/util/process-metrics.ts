import { collectDefaultMetrics, Registry } from 'prom-client';

let registry: Registry | null = null;

/**
 * prom-client's default collectors (process CPU, resident memory, open handles and file
 * descriptors, heap and GC, event-loop lag), which every Prometheus exporter carries. They
 * describe the process, not an app, so there is one registry per process, created on first
 * use (the event-loop monitor and GC observer it starts live as long as the process); each
 * /metrics route merges it with its own registry at scrape time.
 */
export function processMetrics(): Registry {
  if (!registry) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry });
  }
  return registry;
}

/** The exposition text of `own` plus the process metrics. */
export function scrape(own: Registry): Promise<string> {
  return Registry.merge([own, processMetrics()]).metrics();
}
