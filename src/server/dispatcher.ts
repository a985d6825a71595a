import { type TSchema, TypeGuard } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import type { MethodDefinition, ServiceDefinition, TextCommand } from '../contract/service.js';
import type { Session } from '../contract/session.js';
import { NexoError } from '../errors.js';
import type { FilesOptions } from '../options/options.js';
import { Denials } from '../security/denials.js';
import { accessOf, ROLE_TABLE, type Rule, SENSOR_ROLE, sensorsNamed } from '../security/roles.js';
import { clip } from '../util/clip.js';
import { Histogram } from '../util/histogram.js';
import { RateLimiter } from '../util/rate-limit.js';

export interface ResolvedMethod {
  readonly service: string;
  readonly name: string;
  readonly definition: MethodDefinition;
  readonly check: TypeCheck<TSchema>;
  /** The schema accepts anything (echo): skip the check. */
  readonly anyArgs: boolean;
  /** §5.4 Who may call it. */
  readonly access: ReturnType<typeof accessOf>;
  /** A `sensor` session may call it only about its own sensor (§5.4.2). */
  readonly ownSensor: boolean;
  /**
   * How long its calls take, from the frame (line, HTTP request) being read to the reply being written
   * (nexo_request_duration_seconds). Long-lived methods (subscriptions) are not timed: the client decides.
   */
  readonly latency: Histogram | undefined;
}

export interface ResolvedCommand {
  readonly service: string;
  readonly command: TextCommand;
}

const DEFAULT_FILES_ROLES = { readRoles: 'anyone', writeRoles: 'anyone', deleteRoles: ['admin'] } as const;

function listAccess(list: 'anyone' | readonly string[]): ReturnType<typeof accessOf> {
  return { allows: (role) => list === 'anyone' || list.includes(role), required: list };
}

/**
 * The table of services and methods, shared by binary and text mode: finds a method, checks the caller's
 * role and the args against the method's schema. It never runs a handler; the connection does.
 */
export class Dispatcher {
  readonly #services = new Map<string, ServiceDefinition>();
  readonly #methods = new Map<string, Map<string, ResolvedMethod>>();
  readonly #commands = new Map<string, ResolvedCommand>();
  #requests: { limiter: RateLimiter; onLimited: () => void } | undefined;
  /** Refusals by role (§5.4.3), logged with the peer and counted; the node attaches its logger. */
  readonly denials = new Denials();

  /**
   * `files`: the settings the files rows of the role table name (docs/configuration.md). `timed`: give each
   * method a latency histogram (off with `--no-metrics`).
   */
  constructor(
    private readonly files: Pick<
      FilesOptions,
      'readRoles' | 'writeRoles' | 'deleteRoles'
    > = DEFAULT_FILES_ROLES,
    private readonly timed = true,
  ) {}

  register(service: ServiceDefinition): void {
    if (this.#services.has(service.name)) throw new Error(`service ${service.name} is registered twice`);
    const methods = new Map<string, ResolvedMethod>();
    for (const [name, definition] of Object.entries(service.methods)) {
      const rule: Rule | undefined = ROLE_TABLE[`${service.name}.${name}`];
      // Built-in methods take their row of the role table; a service of one's own says who may call it.
      const access =
        rule !== undefined
          ? accessOf(rule, this.files)
          : definition.access !== undefined
            ? listAccess(definition.access)
            : undefined;
      if (access === undefined) {
        throw new Error(`${service.name}.${name} has no row in the role table and no access of its own`);
      }
      methods.set(name, {
        service: service.name,
        name,
        definition,
        check: TypeCompiler.Compile(definition.args),
        anyArgs: TypeGuard.IsUnknown(definition.args) || TypeGuard.IsAny(definition.args),
        access,
        ownSensor: rule === 'own-sensor',
        latency: !this.timed || definition.longLived === true ? undefined : new Histogram(),
      });
    }
    for (const command of service.text ?? []) {
      for (const word of [command.name, ...(command.aliases ?? [])]) {
        if (this.#commands.has(word)) throw new Error(`text command ${word} is registered twice`);
        this.#commands.set(word, { service: service.name, command });
      }
    }
    this.#services.set(service.name, service);
    this.#methods.set(service.name, methods);
  }

  get services(): ServiceDefinition[] {
    return [...this.#services.values()];
  }

  /** §5.2 WELCOME.services */
  catalog(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [name, methods] of this.#methods) out[name] = [...methods.keys()];
    return out;
  }

  /** Finds the method and checks that the session may call it. */
  resolve(service: string, method: string, session: Session): ResolvedMethod {
    const methods = this.#methods.get(service);
    if (methods === undefined) {
      throw new NexoError('UNKNOWN_SERVICE', `unknown service '${clip(service)}'`, {
        service: clip(service),
      });
    }
    const resolved = methods.get(method);
    if (resolved === undefined) {
      throw new NexoError('UNKNOWN_METHOD', `service '${service}' has no method '${clip(method)}'`, {
        service,
        method: clip(method),
        methods: [...methods.keys()],
      });
    }
    if (!resolved.access.allows(session.role)) {
      this.#deny(session, `${service}.${method}`);
      const required = resolved.access.required;
      throw new NexoError('FORBIDDEN', `${service}.${method} is not allowed for role '${session.role}'`, {
        required: typeof required === 'string' || !Array.isArray(required) ? required : [...required],
      });
    }
    this.#takeRequest(session);
    return resolved;
  }

  /**
   * §5.4.4 Limits the requests one token makes, over all its sessions: `rate` a second on average, `burst`
   * at once (0: no limit). `onLimited` counts each refusal.
   */
  limitRequests(rate: number, burst: number, onLimited: () => void): void {
    this.#requests = rate > 0 ? { limiter: new RateLimiter(rate, burst), onLimited } : undefined;
  }

  #takeRequest(session: Session): void {
    if (this.#requests === undefined) return;
    const key = session.tokenHash ?? session.principal;
    if (key === undefined) return;
    const { limiter, onLimited } = this.#requests;
    const retryAfterMs = limiter.take(key, 1, Date.now());
    if (retryAfterMs === 0) return;
    onLimited();
    throw new NexoError(
      'RATE_LIMITED',
      `this token may make ${limiter.rate} requests a second (bursts of ${limiter.burst}); retry in ${retryAfterMs} ms`,
      { limit: limiter.rate, burst: limiter.burst, retryAfterMs },
    );
  }

  /**
   * Throws INVALID_ARGS naming the first field that does not match the schema; then, for a `sensor` session,
   * FORBIDDEN when the call is about another sensor (§5.4.2).
   */
  validate(method: ResolvedMethod, args: unknown, session: Session): void {
    if (!method.anyArgs && !method.check.Check(args)) {
      const first = method.check.Errors(args).First();
      const path = first ? `args${first.path.replaceAll('/', '.')}` : 'args';
      const message = first ? first.message.charAt(0).toLowerCase() + first.message.slice(1) : 'invalid';
      throw new NexoError('INVALID_ARGS', `${method.service}.${method.name}: ${path}: ${message}`, { path });
    }
    if (!method.ownSensor || session.role !== SENSOR_ROLE) return;
    const own = session.principal;
    // §5.4.2 A configuration token (`--token tok=sensor`) names no one, so it is not scoped to a sensor.
    if (own === undefined) return;
    const named = sensorsNamed(args);
    if (named?.every((s) => s === own)) return;
    this.#deny(session, `${method.service}.${method.name}`, named);
    throw new NexoError(
      'FORBIDDEN',
      `${method.service}.${method.name}: role 'sensor' may only name its own sensor '${clip(own)}'`,
      { sensor: own },
    );
  }

  #deny(session: Session, method: string, sensors?: readonly string[]): void {
    this.denials.record('FORBIDDEN', session.peer, {
      method,
      role: session.role,
      principal: session.principal,
      ...(sensors === undefined ? {} : { sensors: sensors.slice(0, 10) }),
    });
  }

  /** Each timed method's latency histogram (methods are fixed at registration: the set is bounded). */
  *latencies(): Iterable<{ service: string; method: string; histogram: Histogram }> {
    for (const methods of this.#methods.values()) {
      for (const m of methods.values()) {
        if (m.latency !== undefined) yield { service: m.service, method: m.name, histogram: m.latency };
      }
    }
  }

  command(word: string): ResolvedCommand | undefined {
    return this.#commands.get(word);
  }

  /** Each command once (aliases map to the same one). */
  commands(): ResolvedCommand[] {
    const seen = new Set<TextCommand>();
    return [...this.#commands.values()].filter((c) => !seen.has(c.command) && seen.add(c.command));
  }
}
