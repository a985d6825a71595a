import net from 'node:net';
import {
  BACKENDS,
  type BackendKind,
  type HaproxyNode,
  type HaproxySettings,
  serverOptions,
  serverPort,
} from './haproxy-config.js';

/** One command on HAProxy's runtime API (the `stats socket` of haproxy.cfg); its whole answer. */
export function runtimeCommand(socket: string, command: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(socket);
    let out = '';
    c.setTimeout(timeoutMs, () => c.destroy(new Error(`HAProxy runtime API at ${socket} did not answer`)));
    c.on('connect', () => c.write(`${command}\n`));
    c.on('data', (d) => {
      out += d;
      if (out.length > 4 * 1024 * 1024) c.destroy(new Error('HAProxy runtime API answer too long'));
    });
    c.on('end', () => resolve(out));
    c.on('error', reject);
  });
}

interface Current {
  addr: string;
  port: number;
  /** srv_admin_state: bit 0x01 forced maintenance, 0x20 maintenance by a runtime command. */
  maint: boolean;
}

/** A backend's servers from `show servers state` (format 1), or undefined when the backend does not exist. */
async function current(socket: string, backend: string): Promise<Map<string, Current> | undefined> {
  const out = await runtimeCommand(socket, `show servers state ${backend}`);
  if (/Can't find backend/i.test(out)) return undefined;
  const map = new Map<string, Current>();
  for (const line of out.split('\n')) {
    // be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ... srv_port (column 19) ...
    const c = line.split(' ');
    if (c.length < 19 || c[1] !== backend) continue;
    map.set(c[3]!, { addr: c[4]!, port: Number(c[18]), maint: (Number(c[6]) & 0x21) !== 0 });
  }
  return map;
}

export interface SyncChange {
  readonly backend: string;
  readonly server: string;
  readonly action: 'add' | 'ready' | 'address' | 'maint' | 'delete';
}

/**
 * Makes each backend's servers equal to `nodes` through the runtime API, without a reload: a new node is
 * added (`add server` with the options haproxy-config writes, then its health and agent checks enabled and
 * it is set ready), one that moved gets its new address, one that came back leaves maintenance, and a
 * server whose node left is put in maintenance (no new traffic) and deleted once it holds no connection
 * (`del server` refuses before; the next round tries again). Returns what it changed.
 */
export async function syncHaproxy(
  socket: string,
  nodes: readonly HaproxyNode[],
  settings: HaproxySettings,
): Promise<SyncChange[]> {
  const changes: SyncChange[] = [];
  const run = async (command: string) => {
    const answer = (await runtimeCommand(socket, command)).trim();
    // Successful commands answer nothing or a short confirmation; failures say so.
    if (
      /^(?:\[\d\]: )?(Unknown|No such|Require|Invalid|Can't|Cannot|Error|This server|Server .* is)/im.test(
        answer,
      )
    ) {
      throw new Error(`HAProxy refused '${command}': ${answer.split('\n')[0]}`);
    }
    return answer;
  };
  for (const kind of Object.keys(BACKENDS) as BackendKind[]) {
    const backend = BACKENDS[kind];
    const have = await current(socket, backend);
    if (have === undefined) continue; // e.g. no TLS frontend
    const wanted = new Set<string>();
    for (const node of nodes) {
      wanted.add(node.name);
      const name = `${backend}/${node.name}`;
      const port = serverPort(kind, node, settings);
      const addr = node.host.includes(':') ? `[${node.host}]` : node.host;
      const server = have.get(node.name);
      if (server === undefined) {
        await run(`add server ${name} ${addr}:${port} ${serverOptions(kind, node, settings)}`);
        await run(`enable health ${name}`);
        await run(`enable agent ${name}`);
        await run(`set server ${name} state ready`);
        changes.push({ backend, server: node.name, action: 'add' });
        continue;
      }
      if (server.addr !== node.host || server.port !== port) {
        await run(`set server ${name} addr ${node.host} port ${port}`);
        changes.push({ backend, server: node.name, action: 'address' });
      }
      if (server.maint) {
        await run(`set server ${name} state ready`);
        changes.push({ backend, server: node.name, action: 'ready' });
      }
    }
    for (const [server, state] of have) {
      if (wanted.has(server)) continue;
      const name = `${backend}/${server}`;
      if (!state.maint) {
        await run(`set server ${name} state maint`);
        changes.push({ backend, server, action: 'maint' });
      }
      // Refused while it still holds connections; it stays in maintenance until a later round.
      const answer = await runtimeCommand(socket, `del server ${name}`);
      if (/Server deleted/i.test(answer)) changes.push({ backend, server, action: 'delete' });
    }
  }
  return changes;
}
