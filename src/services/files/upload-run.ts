import type { NexoError } from '../../errors.js';

/** The receiving call that currently owns an upload. */
export interface Run {
  /** Set when the run must stop: taken over by a newer call, or stalled. */
  stoppedBy: NexoError | undefined;
  /** Rejects the read the run is waiting on, if any (one slot, replaced at every read). */
  interruptRead: ((reason: NexoError) => void) | undefined;
  stop(reason: NexoError): void;
  lastChunkAt: number;
  /** Resolves when the run has ended (its last write landed). */
  readonly done: Promise<void>;
  finish(): void;
}
