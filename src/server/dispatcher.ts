import { type TSchema, TypeGuard } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { NexoError } from '../errors.js';
import type { MethodDefinition, ServiceDefinition, TextCommand } from '../services/types.js';
import { clip } from '../util/clip.js';
import type { Session } from './session.js';

export interface ResolvedMethod {
  readonly service: string;
  readonly name: string;
  readonly definition: MethodDefinition;
  readonly check: TypeCheck<TSchema>;
  /** The schema accepts anything (echo): skip the check. */
  readonly anyArgs: boolean;
}

export interface ResolvedCommand {
  readonly service: string;
  readonly command: TextCommand;
}

/**
 * The table of services and methods, shared by binary and text mode: finds a method, checks the caller's
 * role and the args against the method's schema. It never runs a handler; the connection does.
 */
export class Dispatcher {
  readonly #services = new Map<string, ServiceDefinition>();
  readonly #methods = new Map<string, Map<string, ResolvedMethod>>();
  readonly #commands = new Map<string, ResolvedCommand>();

  register(service: ServiceDefinition): void {
    if (this.#services.has(service.name)) throw new Error(`service ${service.name} is registered twice`);
    const methods = new Map<string, ResolvedMethod>();
    for (const [name, definition] of Object.entries(service.methods)) {
      methods.set(name, {
        service: service.name,
        name,
        definition,
        check: TypeCompiler.Compile(definition.args),
        anyArgs: TypeGuard.IsUnknown(definition.args) || TypeGuard.IsAny(definition.args),
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
    const access = resolved.definition.access;
    if (access !== 'anyone' && !access.includes(session.role)) {
      throw new NexoError('FORBIDDEN', `${service}.${method} is not allowed for role '${session.role}'`, {
        required: [...access],
      });
    }
    return resolved;
  }

  /** Throws INVALID_ARGS naming the first field that does not match the schema. */
  validate(method: ResolvedMethod, args: unknown): void {
    if (method.anyArgs || method.check.Check(args)) return;
    const first = method.check.Errors(args).First();
    const path = first ? `args${first.path.replaceAll('/', '.')}` : 'args';
    const message = first ? first.message.charAt(0).toLowerCase() + first.message.slice(1) : 'invalid';
    throw new NexoError('INVALID_ARGS', `${method.service}.${method.name}: ${path}: ${message}`, { path });
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
