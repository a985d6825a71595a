import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { removeLeftovers } from '../test/cluster/hosts.js';

/**
 * The rehearsal's network: one namespace per machine (`nxr-<name>`), each with a veth into a bridge inside
 * a router namespace (`nxr-rt`) that holds both subnets' gateways (`.1`) and forwards between them, as the
 * VPC's route table does. The root namespace reaches the router over one more veth pair (`10.241.0.0/30`)
 * and routes `10.241.0.0/16` through it, so a browser on this machine can open the dashboard. Forwarding is
 * turned on in the router namespace only, never in the root one.
 */
export const PREFIX = 'nxr';
const ROUTER = `${PREFIX}-rt`;
const BRIDGE = `${PREFIX}br`;
const UPLINK = { root: `${PREFIX}up0`, router: `${PREFIX}up1`, rootIp: '10.241.0.1', routerIp: '10.241.0.2' };
/** The whole range the rehearsal routes (NAMES.md). */
export const RANGE = '10.241.0.0/16';

export const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'].find((p) => existsSync(p));

function ip(...args: string[]): void {
  execFileSync(IP!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function namespaceOf(host: string): string {
  const ns = `${PREFIX}-${host}`;
  if (ns.length > 15) throw new Error(`namespace name too long: ${ns}`);
  return ns;
}

/** Why the rehearsal cannot make its network here, or undefined. */
export function netnsMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root (network namespaces need it)';
  if (IP === undefined) return 'no ip program (Debian iproute2)';
  const routes = execFileSync(IP, ['-4', 'route', 'show'], { encoding: 'utf8' });
  if (/^10\.241\./m.test(routes) && !routes.includes(`dev ${UPLINK.root}`)) {
    return `this machine already routes part of ${RANGE}: ${routes.split('\n').find((l) => l.startsWith('10.241.'))}`;
  }
  return undefined;
}

/** Removes every namespace (and the processes in it) and link with the rehearsal's prefix: safe twice. */
export function removeNetwork(): void {
  removeLeftovers(PREFIX);
}

/** A subnet's gateway (.1), on the router's bridge. */
function gateway(cidr: string): string {
  return cidr.replace(/\.0\/\d+$/, '.1');
}

function prefixLength(cidr: string): string {
  return cidr.split('/')[1]!;
}

/** The router namespace, its bridge with every subnet's gateway, and the uplink from the root namespace. */
export function createRouter(subnets: readonly string[]): void {
  ip('netns', 'add', ROUTER);
  const inRouter = (...args: string[]) => ip('-n', ROUTER, ...args);
  inRouter('link', 'set', 'lo', 'up');
  inRouter('link', 'add', BRIDGE, 'type', 'bridge');
  inRouter('link', 'set', BRIDGE, 'up');
  for (const cidr of subnets)
    inRouter('addr', 'add', `${gateway(cidr)}/${prefixLength(cidr)}`, 'dev', BRIDGE);
  execFileSync(IP!, ['netns', 'exec', ROUTER, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
  ip('link', 'add', UPLINK.root, 'type', 'veth', 'peer', 'name', UPLINK.router);
  ip('link', 'set', UPLINK.router, 'netns', ROUTER);
  ip('addr', 'add', `${UPLINK.rootIp}/30`, 'dev', UPLINK.root);
  ip('link', 'set', UPLINK.root, 'up');
  inRouter('addr', 'add', `${UPLINK.routerIp}/30`, 'dev', UPLINK.router);
  inRouter('link', 'set', UPLINK.router, 'up');
  ip('route', 'add', RANGE, 'via', UPLINK.routerIp, 'dev', UPLINK.root);
}

/** One machine: its namespace, a veth into the router's bridge, its address and a default route. */
export function createHost(host: string, address: string, subnet: string): string {
  const ns = namespaceOf(host);
  const outside = `${PREFIX}${host}`.slice(0, 15);
  ip('netns', 'add', ns);
  ip('-n', ns, 'link', 'set', 'lo', 'up');
  ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
  ip('link', 'set', outside, 'netns', ROUTER);
  ip('-n', ROUTER, 'link', 'set', outside, 'master', BRIDGE);
  ip('-n', ROUTER, 'link', 'set', outside, 'up');
  ip('-n', ns, 'addr', 'add', `${address}/${prefixLength(subnet)}`, 'dev', 'eth0');
  ip('-n', ns, 'link', 'set', 'eth0', 'up');
  ip('-n', ns, 'route', 'add', 'default', 'via', gateway(subnet));
  return ns;
}
