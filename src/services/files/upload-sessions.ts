import type { Hash } from 'node:crypto';
import { NexoError } from '../../errors.js';
import type { UploadCommitted } from '../../wire/files.js';
import type { FileCatalog } from './catalog.js';
import type { UploadRecord } from './model.js';
import type { FileStore } from './store.js';
import { hashMismatch, mismatch, notFound } from './upload-errors.js';
import type { Run } from './upload-run.js';

/** Completed uploads remembered so a client that lost the final reply can ask again (by upload id). */
const REMEMBER_COMPLETED = 1000;

export interface Session {
  record: UploadRecord;
  /**
   * `record.size` is the exact size (protocol uploads), or only a bound: a byte stream of unknown length
   * (an HTTP multipart upload) reserves `record.size` and is stored with the length it turns out to have.
   */
  sized: boolean;
  /** Declared later than at the start (a resume may add the hash). */
  declared: string | undefined;
  /** Hash of the partial's first `hashed` bytes, kept across calls so a reconnect does not re-read them. */
  hash: Hash | undefined;
  hashed: number;
  run: Run | undefined;
}

/**
 * The uploads this node knows: unfinished ones by upload id (loaded from the catalog on resume), which call
 * receives each (one run at a time), and the results of the last committed ones.
 */
export class UploadSessions {
  readonly #sessions = new Map<string, Session>();
  readonly #completed = new Map<string, UploadCommitted>();

  constructor(
    private readonly store: FileStore,
    private readonly catalog: FileCatalog,
  ) {}

  get(uploadId: string): Session | undefined {
    return this.#sessions.get(uploadId);
  }

  has(uploadId: string): boolean {
    return this.#sessions.has(uploadId);
  }

  /** A session for a record just added to the catalog. */
  open(record: UploadRecord, sized: boolean, declared: string | undefined): Session {
    const session: Session = { record, sized, declared, hash: undefined, hashed: 0, run: undefined };
    this.#sessions.set(record.uploadId, session);
    return session;
  }

  /** Whether `session` is still the one its upload id names (not finished or discarded meanwhile). */
  current(session: Session): boolean {
    return this.#sessions.get(session.record.uploadId) === session;
  }

  delete(uploadId: string): void {
    this.#sessions.delete(uploadId);
  }

  /** The unfinished upload `uploadId`, checked against what the resuming request declares (§9.F.5). */
  async resume(uploadId: string, name: string, size: number, declared: string | undefined): Promise<Session> {
    let session = this.#sessions.get(uploadId);
    if (session === undefined) {
      const record = await this.catalog.upload(uploadId);
      if (record === undefined) throw notFound(uploadId);
      session = this.#sessions.get(uploadId) ?? this.open(record, true, record.sha256);
    }
    const r = session.record;
    if (r.size !== size || r.name !== name) throw mismatch(uploadId, r, name, size);
    if (declared !== undefined) {
      if (session.declared !== undefined && session.declared !== declared) {
        throw hashMismatch(uploadId, session.declared, declared);
      }
      session.declared = declared;
    }
    return session;
  }

  /**
   * One call receives an upload at a time: a newer call (the client reconnected) stops an older one and waits
   * for it to finish its last write. The new run is installed in the same turn the slot is seen free, so two
   * calls resuming at once cannot both get it.
   */
  async claim(session: Session): Promise<Run> {
    while (session.run !== undefined) {
      const older = session.run;
      older.stop(
        new NexoError('CANCELLED', 'this upload was resumed by a newer request (the client reconnected)'),
      );
      await older.done;
    }
    let finish!: () => void;
    const run: Run = {
      stoppedBy: undefined,
      interruptRead: undefined,
      stop(reason) {
        this.stoppedBy ??= reason;
        this.interruptRead?.(reason);
      },
      lastChunkAt: Date.now(),
      done: new Promise<void>((resolve) => {
        finish = resolve;
      }),
      finish: () => finish(),
    };
    session.run = run;
    return run;
  }

  release(session: Session, run: Run): void {
    if (session.run === run) session.run = undefined;
    run.finish();
  }

  /** Drops an unfinished upload: its session, its partial bytes and its record. */
  async forget(uploadId: string): Promise<void> {
    this.#sessions.delete(uploadId);
    await this.store.discardPartial(uploadId);
    await this.catalog.removeUpload(uploadId);
  }

  /** The result of an upload this node committed lately. */
  completed(uploadId: string): UploadCommitted | undefined {
    return this.#completed.get(uploadId);
  }

  /** The result of an upload committed earlier: remembered here, or (another node, a restart) in the catalog. */
  async committed(uploadId: string): Promise<UploadCommitted | undefined> {
    const done = this.#completed.get(uploadId);
    if (done !== undefined) return done;
    if (this.#sessions.has(uploadId)) return undefined;
    const entry = await this.catalog.committed(uploadId);
    return entry === undefined ? undefined : { ...entry, deduplicated: false };
  }

  /** A committed upload: its session ends and its result is remembered. */
  committedNow(uploadId: string, result: UploadCommitted): void {
    this.#sessions.delete(uploadId);
    this.#completed.set(uploadId, result);
    if (this.#completed.size > REMEMBER_COMPLETED) {
      this.#completed.delete(this.#completed.keys().next().value as string);
    }
  }
}
