/**
 * Entry of the worker threads behind WorkerPool. Each task name maps to a pure function of a service.
 */
import { readlinkSync } from 'node:fs';
import os from 'node:os';
import type { TaskName } from '../contract/service.js';
import calcTask from '../services/calc/task.js';

/**
 * Heavy work runs at a lower scheduling priority than the event loop, so on a small machine a busy worker
 * yields the CPU to the thread that answers everyone else. On Linux a thread is a task with its own nice
 * value; elsewhere this quietly does nothing.
 */
function lowerThisThreadsPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) os.setPriority(tid, 10);
  } catch {
    // Not Linux, or not allowed: the pool still works, just at normal priority.
  }
}
lowerThisThreadsPriority();

const tasks: Record<TaskName, (payload: never) => unknown> = {
  calc: calcTask,
};

export default function run({ task, payload }: { task: TaskName; payload: never }): unknown {
  const fn = tasks[task];
  if (fn === undefined) throw new Error(`unknown worker task ${String(task)}`);
  return fn(payload);
}
