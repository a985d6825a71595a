import { spawn } from 'node:child_process';
import { ROOT } from './node.js';

/**
 * Pings a server from its own process, like a real bystander on another machine: the latency it measures is
 * the server's, not stalls of the test process (which may be busy building hostile inputs). Uses the built
 * client (dist). Stop it to get the round-trip times in ms.
 */
export function startPinger(port: number, intervalMs = 2): { stop(): Promise<number[]> } {
  const code = `
    const { connect } = await import(${JSON.stringify(`${ROOT}/dist/index.js`)});
    const client = await connect({ endpoints: ['127.0.0.1:${port}'] });
    const rtts = [];
    let stop = false;
    process.stdin.on('data', () => { stop = true; });
    process.stdout.write('ready\\n');
    while (!stop) {
      rtts.push(await client.ping());
      await new Promise((r) => setTimeout(r, ${intervalMs}));
    }
    await client.close();
    process.stdout.write(JSON.stringify(rtts) + '\\n');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  const ready = new Promise<void>((resolve) => {
    const check = () => (out.startsWith('ready\n') ? resolve() : setTimeout(check, 5));
    check();
  });
  return {
    async stop() {
      await ready;
      const done = new Promise<number[]>((resolve, reject) => {
        child.once('exit', (code) => {
          const line = out.split('\n')[1];
          if (code !== 0 || line === undefined) reject(new Error(`pinger exited with ${code}`));
          else resolve(JSON.parse(line) as number[]);
        });
      });
      child.stdin.end('stop\n');
      return done;
    },
  };
}
