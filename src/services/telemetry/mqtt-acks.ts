/** The PUBACK packet as mqtt.js builds it. */
export interface PubackPacket {
  cmd: 'puback';
  messageId: number;
  reasonCode?: number;
}

interface Entry {
  messageId: number;
  /** The reason code once the message is settled (stored, or refused for good). */
  code: number | undefined;
  packet: PubackPacket | undefined;
  send: ((packet: PubackPacket) => void) | undefined;
}

/**
 * PUBACKs held until their messages are durable, and sent in the order the messages arrived (MQTT requires
 * QoS 1 acknowledgements in order). Many messages can be in the store's pipeline at once, so one group commit
 * covers as many messages as the broker lets be in flight, instead of one commit per message.
 */
export class PubackQueue {
  #entries: Entry[] = [];

  get size(): number {
    return this.#entries.length;
  }

  /** A QoS 1 message arrived; call the returned function with its reason code once it is settled. */
  track(messageId: number): (code: number) => void {
    const entry: Entry = { messageId, code: undefined, packet: undefined, send: undefined };
    this.#entries.push(entry);
    return (code) => {
      entry.code = code;
      this.#flush();
    };
  }

  /**
   * mqtt.js wants to send `packet`: keep it if it acknowledges a tracked message (true), to be sent with
   * `send` in turn; false when it is not ours.
   */
  offer(packet: PubackPacket, send: (packet: PubackPacket) => void): boolean {
    const entry = this.#entries.find((e) => e.messageId === packet.messageId && e.packet === undefined);
    if (entry === undefined) return false;
    entry.packet = packet;
    entry.send = send;
    this.#flush();
    return true;
  }

  /** The connection is gone: unsent acknowledgements are dropped; the broker sends those messages again. */
  reset(): void {
    this.#entries = [];
  }

  #flush(): void {
    let sent = 0;
    for (const e of this.#entries) {
      if (e.code === undefined || e.packet === undefined) break;
      e.packet.reasonCode = e.code;
      e.send!(e.packet);
      sent++;
    }
    if (sent > 0) this.#entries.splice(0, sent);
  }
}
