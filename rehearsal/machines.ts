import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { IP } from './netns.js';
import type { RehearsalHost } from './topology.js';
import { mapPaths, type PathMap, type UnitCommand } from './units.js';

/** This process's hard limit on open files: a container may forbid raising it (CAP_SYS_RESOURCE). */
export const HARD_NOFILE = Number(
  /^Max open files\s+\S+\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? 1024,
);

export const REPO = path.resolve(import.meta.dirname, '..');
const INSTALL = path.join(REPO, 'deploy/install.sh');

/**
 * One machine of the rehearsal: a directory that stands for its file system (what install.sh wrote under
 * `/etc`, state under `/var/lib`, sockets under `/run`) and a namespace its processes run in.
 */
export class Machine {
  readonly host: RehearsalHost;
  readonly ns: string;
  /** The machine's `/`. */
  readonly root: string;
  readonly #children: { name: string; child: ChildProcess }[] = [];
  #stopping = false;

  constructor(host: RehearsalHost, ns: string, dir: string) {
    this.host = host;
    this.ns = ns;
    this.root = path.join(dir, host.name);
    mkdirSync(path.join(this.root, 'log'), { recursive: true });
  }

  /** A path of the real machine, where it is in the rehearsal: /opt/nexo is this checkout, node this Node. */
  readonly map: PathMap = (p) => {
    if (p === '/usr/bin/node') return process.execPath;
    if (p === '/opt/nexo' || p.startsWith('/opt/nexo/')) return REPO + p.slice('/opt/nexo'.length);
    if (/^\/(etc|var|run)\//.test(p)) return this.root + p;
    return p;
  };

  /**
   * install.sh for this machine's role with `DRY_RUN=1 ROOT=<its root>`: it writes every file it would
   * write (configs, units, environment files) and prints its commands instead of running them. The config
   * files it wrote get their paths mapped (a NATS store directory, HAProxy's runtime socket).
   */
  install(): string {
    const out = execFileSync('bash', [INSTALL], {
      env: { PATH: process.env.PATH, ...this.host.vars, DRY_RUN: '1', ROOT: this.root, NEXO_SOURCE: REPO },
      encoding: 'utf8',
      cwd: this.root,
    });
    for (const file of walk(path.join(this.root, 'etc'))) {
      if (file.includes('/systemd/')) continue;
      writeFileSync(file, mapPaths(readFileSync(file, 'utf8'), this.map));
    }
    writeFileSync(path.join(this.root, 'log/install.log'), out);
    return out;
  }

  /**
   * Starts what a unit would run, in this machine's namespace, its output in log/<name>.log, and starts it
   * again as the unit's Restart= says (a sensor that gave up because HAProxy had no server yet).
   */
  start(name: string, unit: UnitCommand): void {
    for (const dir of ['var/lib', 'run/haproxy']) mkdirSync(path.join(this.root, dir), { recursive: true });
    if (unit.cwd !== undefined) mkdirSync(unit.cwd, { recursive: true });
    const log = createWriteStream(path.join(this.root, 'log', `${name}.log`), { flags: 'a' });
    // what systemd would have logged while loading the unit (a skipped line, an unknown key)
    for (const warning of unit.warnings ?? []) log.write(`unit: ${warning}\n`);
    const limit = ['prlimit', `--nofile=${Math.min(unit.nofile, HARD_NOFILE)}`, '--'];
    // As root: the units' users (nexo, nats) exist on the deployed machines, not here.
    const child = spawn(IP!, ['netns', 'exec', this.ns, ...limit, ...unit.argv], {
      env: { PATH: process.env.PATH, HOME: this.root, ...unit.env },
      cwd: unit.cwd ?? this.root,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    const entry = { name, child };
    this.#children.push(entry);
    child.on('close', (code) => {
      log.end();
      const again = unit.restart === 'always' || (unit.restart === 'on-failure' && code !== 0);
      if (!again || this.#stopping) return;
      this.#children.splice(this.#children.indexOf(entry), 1);
      setTimeout(() => {
        if (!this.#stopping) this.start(name, unit);
      }, unit.restartMs).unref();
    });
  }

  /** The names of the processes it started, as their logs are named. */
  logNames(): string[] {
    return [...new Set(this.#children.map((c) => c.name))];
  }

  log(name: string): string {
    try {
      return readFileSync(path.join(this.root, 'log', `${name}.log`), 'utf8');
    } catch {
      return '';
    }
  }

  /** Kills every process it started (their whole process groups). */
  stopAll(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.#stopping = true;
    for (const { child } of this.#children.reverse()) {
      if (child.exitCode === null && child.pid !== undefined) {
        try {
          process.kill(-child.pid, signal);
        } catch {
          // gone
        }
      }
    }
    this.#children.length = 0;
  }
}

function walk(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const p = path.join(dir, e);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}
