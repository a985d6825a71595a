import { Type } from '@sinclair/typebox';

/**
 * Room names and nicknames are short words: letters, digits and `_ . -`, so they are safe on any terminal,
 * unambiguous in `/msg <nick> <text>` and in URLs. Rooms are kept lower-case; nicknames keep the case the
 * person typed but are unique per room whatever the case (and whatever Unicode form: Ａｎａ = ana).
 */
export const MAX_ROOM_LENGTH = 32;
export const MAX_NICK_LENGTH = 24;

export const RoomName = Type.RegExp(/^[\p{L}\p{N}][\p{L}\p{N}_.-]*$/u, {
  minLength: 1,
  maxLength: MAX_ROOM_LENGTH,
  description: 'letters, digits, _ . - (starting with a letter or digit)',
});

export const Nick = Type.RegExp(/^[\p{L}\p{N}_][\p{L}\p{N}_.-]*$/u, {
  minLength: 1,
  maxLength: MAX_NICK_LENGTH,
  description: 'letters, digits, _ . - (no spaces)',
});

/**
 * Message text: anything printable. Control characters (terminal escapes, CR/LF that would forge lines in
 * text mode, NUL) and bidirectional overrides (which make text display differently from what it is) are
 * refused; other format characters stay, so emoji sequences with zero-width joiners still work.
 */
export function messageText(maxLength: number) {
  return Type.RegExp(/^[^\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069]+$/u, {
    minLength: 1,
    maxLength,
    description: 'printable text, no control characters',
  });
}

export function roomKey(room: string): string {
  return room.normalize('NFKC').toLowerCase();
}

export function nickKey(nick: string): string {
  return nick.normalize('NFKC').toLowerCase();
}
