/**
 * §7.4.3 Turns: how the connections of one process share its event loop. A connection whose work has held
 * the loop for TURN_MS stops reading and waits in one FIFO queue; each loop iteration runs waiting
 * connections for at most ROUND_MS, then lets I/O (every other client's requests) in before the next round.
 * A client that pipelines cheap requests without reading could otherwise have thousands answered in one go
 * (the kernel takes ~4 MB of replies per socket before the node sees backpressure, §7.4.2), and with 50 such
 * clients a bystander's PING waited 0.5 s behind them (test/timing/attack-*-nonreaders.test.ts). A lone
 * client loses little: when no one else waits, its next turn starts in the next loop iteration.
 *
 * The queue is the process's, as the event loop is: nodes started in one process (tests) share it.
 */

/** The longest one connection works before it waits for its next turn (ms). */
export const TURN_MS = 0.25;

/** The longest the waiting connections run in one loop iteration before I/O is polled again (ms). */
export const ROUND_MS = 2;

/**
 * For this long after it last waited for a turn, a connection's input waits in the queue too (ms), instead
 * of being read at once: otherwise every client that keeps the node busy would also get a turn of its own in
 * each loop iteration's I/O phase, and 50 of them are 12 ms of work before anyone else's PING.
 */
export const HOG_MS = 250;

const waiting: (() => void)[] = [];
let scheduled = false;

/** Runs `resume` in a later turn, after the connections already waiting. */
export function waitTurn(resume: () => void): void {
  waiting.push(resume);
  if (!scheduled) {
    scheduled = true;
    setImmediate(runRound);
  }
}

function runRound(): void {
  scheduled = false;
  const started = performance.now();
  // Only the connections waiting when the round began: one that yields again goes to the next round.
  for (let n = waiting.length; n > 0 && waiting.length > 0; n--) {
    waiting.shift()!();
    if (performance.now() - started > ROUND_MS) break;
  }
  if (waiting.length > 0 && !scheduled) {
    scheduled = true;
    setImmediate(runRound);
  }
}
