import { type Logger, pino } from 'pino';
import pretty from 'pino-pretty';
import type { LogLevel } from '../options/options.js';

/** Structured JSON logs on stdout; human-readable lines when asked (the CLI asks on a terminal). */
export function createLogger(options: { level: LogLevel; pretty: boolean }): Logger {
  if (options.pretty) {
    return pino(
      { level: options.level },
      pretty({ colorize: true, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }),
    );
  }
  return pino({ level: options.level });
}
