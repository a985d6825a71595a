import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { NexoError, toNexoError } from '../../errors.js';
import type { Ack, SensorMeta } from '../../wire/telemetry.js';
import { type PubackPacket, PubackQueue } from './mqtt-acks.js';
import {
  checkMeta,
  checkReading,
  checkSensorId,
  parseNumberText,
  show,
  type ValidReading,
} from './validate.js';

/** Largest MQTT payload taken as a reading; anything bigger is refused unread. */
export const MAX_MQTT_PAYLOAD = 16 * 1024;

/** PUBACK reason codes (MQTT 5): the message was taken, or refused for good (the broker drops it). */
const PUBACK_OK = 0;
const PUBACK_PAYLOAD_INVALID = 153;
const PUBACK_REFUSED = 131;

export interface MqttReading {
  sensor: string;
  meta: SensorMeta;
  reading: ValidReading;
}

/**
 * Turns `sensors/<sensor>/<metric>` and its payload into a reading. The last two topic levels name the sensor
 * and the metric; the payload is a plain number (`21.5`) or a JSON reading
 * (`{"value": 21.5, "unit": "°C", "ts": 1767225600000, "seq": 17, "tags": {...}, "kind": ..., "location": ...}`;
 * `ts` may also be an ISO 8601 string). Throws TELEMETRY_INVALID_READING with the reason.
 */
export function parseMqttMessage(topic: string, payload: Uint8Array, now: number): MqttReading {
  const levels = topic.split('/');
  if (levels.length < 2) {
    throw new NexoError(
      'TELEMETRY_INVALID_READING',
      `topic '${topic.slice(0, 80)}' is not <...>/<sensor>/<metric>`,
    );
  }
  const sensor = checkSensorId(levels[levels.length - 2]);
  const metric = levels[levels.length - 1];
  if (payload.length > MAX_MQTT_PAYLOAD) {
    throw new NexoError(
      'TELEMETRY_INVALID_READING',
      `payload of ${payload.length} bytes is larger than ${MAX_MQTT_PAYLOAD} bytes`,
    );
  }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(payload).trim();
  if (!text.startsWith('{')) {
    return { sensor, meta: {}, reading: checkReading({ metric, value: parseNumberText(text) }, now) };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new NexoError(
      'TELEMETRY_INVALID_READING',
      `payload is neither a number nor valid JSON: ${(err as Error).message}`,
    );
  }
  const fields = json as Record<string, unknown>;
  let ts = fields.ts;
  if (typeof ts === 'string') {
    const parsed = Date.parse(ts);
    if (Number.isNaN(parsed)) {
      throw new NexoError('TELEMETRY_INVALID_READING', `ts ${show(ts)} is not an ISO 8601 time`, {
        field: 'ts',
      });
    }
    ts = parsed;
  }
  const reading = checkReading(
    { metric, value: fields.value, ts, seq: fields.seq, unit: fields.unit, tags: fields.tags },
    now,
  );
  return { sensor, meta: checkMeta(fields), reading };
}

export interface MqttStats {
  url: string;
  topic: string;
  connected: boolean;
  /** The broker confirmed the subscription (since the last connect). */
  subscribed: boolean;
  received: number;
  stored: number;
  duplicates: number;
  invalid: number;
  lastError?: string;
}

export interface MqttIngestOptions {
  url: string;
  topic: string;
  clientId: string;
  /**
   * Keep a session on the broker (QoS 1 messages published while the node is down are delivered when it is
   * back). Only meaningful for a client id that is the same at the next start.
   */
  persistent: boolean;
}

type Report = (sensor: string, meta: SensorMeta, readings: ValidReading[], recv: number) => Promise<Ack>;

/**
 * MQTT ingest: subscribes to a broker with QoS 1 and reports every message through the same validation and
 * group commit as the binary protocol. A QoS 1 message is acknowledged to the broker (PUBACK) only after its
 * reading is durable, with a persistent session, so a message the node had not stored is delivered again
 * after a crash or restart. Invalid messages are logged, counted and acknowledged with a refusal code (the
 * broker would otherwise redeliver them forever); nothing a publisher sends can stop the ingest.
 */
export class MqttIngest {
  readonly #options: MqttIngestOptions;
  readonly #report: Report;
  readonly #log: Logger;
  #client: MqttClient | undefined;
  readonly #acks = new PubackQueue();
  /** PUBACKs go through #acks (many messages in flight); false: one message at a time (see start()). */
  #pipelined = false;
  #stopped = false;
  #lastInvalidLog = 0;
  #invalidSinceLog = 0;
  readonly stats: MqttStats;

  constructor(options: MqttIngestOptions, report: Report, log: Logger) {
    this.#options = options;
    this.#report = report;
    this.#log = log.child({ mqtt: options.url });
    this.stats = {
      url: options.url,
      topic: options.topic,
      connected: false,
      subscribed: false,
      received: 0,
      stored: 0,
      duplicates: 0,
      invalid: 0,
    };
  }

  start(): void {
    const options: IClientOptions = {
      clientId: this.#options.clientId,
      protocolVersion: 5,
      clean: !this.#options.persistent,
      // The broker keeps our subscription and queues QoS 1 messages for a day while the node is down.
      properties: { sessionExpiryInterval: this.#options.persistent ? 86_400 : 0 },
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      keepalive: 30,
      customHandleAcks: (topic, payload, packet, done) => {
        const qos = (packet as { qos: number }).qos;
        if (!this.#pipelined) {
          // One message at a time: its PUBACK (and the next message) waits for its commit.
          this.#handle(topic, payload, qos, done);
          return;
        }
        this.#handle(topic, payload, qos, this.#acks.track((packet as { messageId: number }).messageId));
        done(PUBACK_OK); // the PUBACK mqtt.js now sends is held by #acks until the message is settled
      },
    };
    const client = mqtt.connect(this.#options.url, options);
    this.#client = client;
    // mqtt.js handles incoming messages one at a time, each only after its PUBACK is sent: waiting for a
    // commit per message would cap ingest at a few hundred messages a second. Its private _sendPacket is
    // wrapped so that PUBACKs wait in #acks while the next messages are already read. If a future mqtt.js
    // lacks it, ingest falls back to one message at a time (correct, slower).
    const internals = client as unknown as {
      _sendPacket?: (packet: { cmd: string }, cb?: () => void, ...rest: unknown[]) => void;
    };
    const send = internals._sendPacket;
    if (typeof send === 'function') {
      this.#pipelined = true;
      internals._sendPacket = (packet, cb, ...rest) => {
        if (
          packet.cmd === 'puback' &&
          this.#acks.offer(packet as PubackPacket, (p) => send.call(client, p))
        ) {
          cb?.();
          return;
        }
        send.call(client, packet, cb, ...rest);
      };
    }
    client.on('connect', (connack) => {
      // Each PUBACK is a tiny write answered by the next message: Nagle would hold it back ~40 ms every time.
      (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
      this.stats.connected = true;
      this.stats.subscribed = false;
      this.#log.info({ topic: this.#options.topic, resumed: connack.sessionPresent }, 'MQTT connected');
      client.subscribe(this.#options.topic, { qos: 1 }, (err, granted) => {
        if (err) {
          this.stats.lastError = err.message;
          this.#log.error({ err }, 'MQTT subscribe failed');
        } else if (granted?.some((g) => g.qos > 2)) {
          this.stats.lastError = `the broker refused the subscription to ${this.#options.topic}`;
          this.#log.error({ granted }, 'MQTT broker refused the subscription');
        } else {
          this.stats.subscribed = true;
        }
      });
    });
    client.on('close', () => {
      this.#acks.reset();
      if (this.stats.connected && !this.#stopped) this.#log.warn('MQTT connection lost; reconnecting');
      this.stats.connected = false;
      this.stats.subscribed = false;
    });
    client.on('error', (err) => {
      this.stats.lastError = err.message;
      this.#log.warn({ err: err.message }, 'MQTT error');
    });
    // QoS 0 messages are not acknowledged at all: they go straight to ingest.
    client.on('message', (topic, payload, packet) => {
      if (packet.qos === 0) this.#handle(topic, payload, 0, () => {});
    });
  }

  /** One message; `done(code)` settles it: its PUBACK (QoS 1) may go out with that reason code. */
  #handle(topic: string, payload: Buffer, qos: number, done: (code: number) => void): void {
    this.stats.received++;
    const recv = Date.now();
    let parsed: MqttReading;
    try {
      parsed = parseMqttMessage(topic, payload, recv);
    } catch (err) {
      this.#invalid(topic, payload, toNexoError(err));
      done(PUBACK_PAYLOAD_INVALID);
      return;
    }
    const attempt = (tries: number) => {
      if (this.#stopped) return; // not acknowledged: the broker redelivers it to the next session
      let ack: Promise<Ack>;
      try {
        ack = this.#report(parsed.sensor, parsed.meta, [parsed.reading], recv);
      } catch (err) {
        ack = Promise.reject(err);
      }
      ack.then(
        (result) => {
          this.stats.stored += result.accepted;
          this.stats.duplicates += result.duplicates;
          this.#log.debug(
            { sensor: parsed.sensor, metric: parsed.reading.metric, value: parsed.reading.value },
            'MQTT reading stored',
          );
          done(PUBACK_OK);
        },
        (err: unknown) => {
          const error = toNexoError(err);
          if (error.retryable && !this.#stopped) {
            // Over the sensor's rate, or the disk is failing: hold the PUBACK and try again. The broker keeps
            // the message meanwhile and sends no more than its in-flight window.
            const delay = Math.min(
              5000,
              Number(error.details?.retryAfterMs ?? 100 * 2 ** Math.min(tries, 5)),
            );
            setTimeout(() => attempt(tries + 1), delay).unref();
            return;
          }
          if (qos > 0 && error.code === 'SHUTTING_DOWN') return;
          this.#invalid(topic, payload, error);
          done(PUBACK_REFUSED);
        },
      );
    };
    attempt(0);
  }

  /** Counted always; logged at most once a second with how many were skipped, so a flood cannot fill logs. */
  #invalid(topic: string, payload: Uint8Array, error: NexoError): void {
    this.stats.invalid++;
    this.#invalidSinceLog++;
    const now = Date.now();
    if (now - this.#lastInvalidLog < 1000) return;
    const text = new TextDecoder().decode(payload.subarray(0, 60));
    this.#log.warn(
      {
        topic: topic.slice(0, 200),
        payload: text,
        reason: error.message,
        code: error.code,
        count: this.#invalidSinceLog,
      },
      'MQTT message refused',
    );
    this.#lastInvalidLog = now;
    this.#invalidSinceLog = 0;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    const client = this.#client;
    this.#client = undefined;
    if (client === undefined) return;
    await client.endAsync(true).catch(() => undefined);
  }
}
