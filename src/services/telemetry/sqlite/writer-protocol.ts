import type { AlertEvent, AlertRule } from '../../../wire/telemetry.js';
import type { CommitBatch } from '../batch.js';
import type { MetricDefinition, SensorDefinition } from '../store.js';

/** Messages from the event loop to the writer thread; each is answered by one WriterReply with its id. */
export type WriterRequest =
  | { id: number; op: 'open' }
  | { id: number; op: 'commit'; batch: CommitBatch }
  | { id: number; op: 'define'; sensor: SensorDefinition; metrics: MetricDefinition[] }
  | { id: number; op: 'saveRule'; rule: Omit<AlertRule, 'id'> }
  | { id: number; op: 'deleteRule'; ruleId: number }
  | { id: number; op: 'alertEvents'; events: AlertEvent[] }
  | { id: number; op: 'prune'; cutoff: number }
  | { id: number; op: 'close' };

export type WriterReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; message: string; code: string | undefined };
