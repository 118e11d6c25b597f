// The Jupyter messaging protocol (v5.3) on the wire: how a message is framed,
// signed and checked. See
// https://jupyter-client.readthedocs.io/en/latest/messaging.html#the-wire-protocol
//
// Written here rather than taken from @nteract/messaging: the framing is a few
// lines on top of zeromq, and the runner's tests need to send a message with a
// deliberately wrong signature, which a library that always signs cannot do.
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';

export const PROTOCOL_VERSION = '5.3';
const DELIMITER = '<IDS|MSG>';

export interface MessageHeader {
  msg_id: string;
  msg_type: string;
  session: string;
  username: string;
  date: string;
  version: string;
}

export interface Message<C = Record<string, unknown>> {
  header: MessageHeader;
  parent_header: Partial<MessageHeader>;
  metadata: Record<string, unknown>;
  content: C;
}

/** A new message of `msgType` for this client's session. */
export function makeMessage<C>(session: string, msgType: string, content: C): Message<C> {
  return {
    header: {
      msg_id: randomUUID(),
      msg_type: msgType,
      session,
      username: 'workbook',
      date: new Date().toISOString(),
      version: PROTOCOL_VERSION,
    },
    parent_header: {},
    metadata: {},
    content,
  };
}

/** HMAC-SHA256 over the four JSON frames, hex encoded, as the protocol defines. */
export function sign(key: string, frames: readonly string[]): string {
  const hmac = createHmac('sha256', key);
  for (const frame of frames) hmac.update(frame);
  return hmac.digest('hex');
}

/**
 * Frames for a message: delimiter, signature, header, parent, metadata, content.
 * `signatureOverride` exists so tests can prove the kernel rejects a bad one.
 */
export function encode(key: string, msg: Message<unknown>, signatureOverride?: string): string[] {
  const frames = [
    JSON.stringify(msg.header),
    JSON.stringify(msg.parent_header),
    JSON.stringify(msg.metadata),
    JSON.stringify(msg.content),
  ];
  return [DELIMITER, signatureOverride ?? sign(key, frames), ...frames];
}

/** Parses received frames; throws if the delimiter is missing or the signature is wrong. */
export function decode(key: string, raw: readonly Buffer[]): Message {
  const at = raw.findIndex((frame) => frame.toString() === DELIMITER);
  if (at < 0 || raw.length < at + 6) {
    throw new Error(`jupyter protocol: message without '${DELIMITER}' delimiter or with missing frames`);
  }
  const signature = raw[at + 1].toString();
  const frames = raw.slice(at + 2, at + 6).map((f) => f.toString());
  const expected = sign(key, frames);
  const ok =
    signature.length === expected.length &&
    timingSafeEqual(Buffer.from(signature), Buffer.from(expected));
  if (!ok) throw new Error('jupyter protocol: message signature does not match the session key');
  return {
    header: JSON.parse(frames[0]),
    parent_header: JSON.parse(frames[1]),
    metadata: JSON.parse(frames[2]),
    content: JSON.parse(frames[3]),
  };
}
