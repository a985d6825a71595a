import { type ChatEvent, type ChatMembership, NexoError } from '../../../src/client/browser.js';
import { formatTime, h, replace } from '../dom.js';
import { keepSubscribed } from '../live.js';
import type { Page } from './page.js';

const STORE_KEY = 'nexo.chat';

/**
 * Chat rooms: join under a nickname, talk, see who is here, private messages with `/msg <nick> <text>`.
 * After a reconnection the page joins again by itself and redraws the room from its history.
 */
export const chatPage: Page = {
  id: 'chat',
  title: 'Chat',
  service: 'chat',
  mount(root, connection) {
    const saved = loadSaved();
    const roomInput = h('input', {
      type: 'text',
      value: saved.room,
      required: true,
      maxlength: 32,
      'aria-label': 'room',
      'data-testid': 'chat-room',
    });
    const nickInput = h('input', {
      type: 'text',
      value: saved.nick,
      required: true,
      maxlength: 24,
      'aria-label': 'nickname',
      'data-testid': 'chat-nick',
    });
    const joinError = h('p', { class: 'error', role: 'alert', 'data-testid': 'chat-join-error' });
    const joinForm = h(
      'form',
      { class: 'chat-join' },
      h('label', {}, 'Room ', roomInput),
      h('label', {}, 'Nickname ', nickInput),
      h('button', { type: 'submit', class: 'primary', 'data-testid': 'chat-join' }, 'Join'),
      joinError,
    );

    const title = h('h2', {}, 'Chat');
    const members = h('ul', { class: 'members', 'data-testid': 'chat-members', 'aria-label': 'people here' });
    const messages = h('ol', { class: 'messages', 'data-testid': 'chat-messages', 'aria-live': 'polite' });
    const text = h('input', {
      type: 'text',
      autocomplete: 'off',
      maxlength: 2000,
      placeholder: 'Message, or /msg <nick> <text>, /who',
      'aria-label': 'message',
      'data-testid': 'chat-text',
    });
    const leaveButton = h('button', { type: 'button', 'data-testid': 'chat-leave' }, 'Leave');
    const composer = h(
      'form',
      { class: 'composer' },
      text,
      h('button', { type: 'submit', class: 'primary', 'data-testid': 'chat-send' }, 'Send'),
    );
    const roomView = h(
      'div',
      { class: 'chat-room', hidden: true },
      h('div', { class: 'chat-head' }, title, leaveButton),
      h('div', { class: 'chat-body' }, messages, members),
      composer,
    );
    replace(root, h('div', { class: 'chat-page' }, joinForm, roomView));

    let membership: ChatMembership | undefined;
    /** Our nickname in the room as the room spells it (from its `joined` event). */
    let me: string | undefined;
    let stop: (() => void) | undefined;
    const present = new Map<string, HTMLElement>();

    const notice = (line: string, kind = 'notice') => addLine(h('li', { class: kind }, line));
    const addLine = (li: HTMLElement) => {
      const atBottom = messages.scrollTop + messages.clientHeight >= messages.scrollHeight - 24;
      messages.append(li);
      while (messages.childElementCount > 500) messages.firstElementChild?.remove();
      if (atBottom) messages.scrollTop = messages.scrollHeight;
    };
    const setMembers = (nicks: string[]) => {
      present.clear();
      replace(members);
      for (const nick of nicks) addMember(nick);
    };
    const addMember = (nick: string) => {
      if (present.has(nick)) return;
      const li = h('li', {}, nick);
      present.set(nick, li);
      members.append(li);
    };
    const onEvent = (event: ChatEvent) => {
      switch (event.type) {
        case 'joined':
          // A (re)join starts the room afresh: the history that follows redraws it.
          replace(messages);
          me = event.nick;
          setMembers(event.members);
          notice(`You joined #${event.room} as ${event.nick}.`);
          return;
        case 'message':
          addLine(
            h(
              'li',
              { class: event.history ? 'msg history' : 'msg', 'data-seq': event.seq },
              h('time', {}, formatTime(event.at)),
              ' ',
              h('b', {}, event.nick),
              ' ',
              h('span', { class: 'text' }, event.text),
            ),
          );
          return;
        case 'join':
          addMember(event.nick);
          if (event.nick !== me) notice(`${event.nick} joined`);
          return;
        case 'leave':
          present.get(event.nick)?.remove();
          present.delete(event.nick);
          notice(
            event.reason === 'too-slow'
              ? `${event.nick} was removed (not reading fast enough)`
              : event.reason === 'disconnected'
                ? `${event.nick} disconnected`
                : `${event.nick} left`,
          );
          return;
        case 'dm':
          addLine(
            h(
              'li',
              { class: 'dm' },
              h('time', {}, formatTime(event.at)),
              ` private from ${event.from}: `,
              event.text,
            ),
          );
          return;
      }
    };

    const join = (room: string, nick: string) => {
      joinError.textContent = '';
      stop?.();
      stop = keepSubscribed(
        connection,
        async () => {
          const m = await connection.client.chat.join(room, nick, onEvent);
          membership = m;
          title.textContent = `#${m.room} as ${m.nick}`;
          joinForm.hidden = true;
          roomView.hidden = false;
          text.focus();
          m.ended.catch((err: { code?: string; message?: string }) => {
            if (err.code === 'CONNECTION_LOST' || err.code === 'SHUTTING_DOWN')
              notice('Connection lost; rejoining when it is back…');
            else if (err.code !== 'CANCELLED')
              leaveRoom(`${err.message ?? 'removed from the room'} (${err.code})`);
          });
          return { cancel: () => void m.leave().catch(() => {}), result: m.ended };
        },
        (err) => {
          const e = err as { code?: string; message?: string };
          leaveRoom(`${e.message ?? String(err)} (${e.code ?? 'ERROR'})`);
        },
      );
    };
    const leaveRoom = (reason?: string) => {
      stop?.();
      stop = undefined;
      membership = undefined;
      roomView.hidden = true;
      joinForm.hidden = false;
      joinError.textContent = reason ?? '';
    };

    joinForm.addEventListener('submit', (event) => {
      event.preventDefault();
      const room = roomInput.value.trim().replace(/^#/, '');
      const nick = nickInput.value.trim();
      localStorage.setItem(STORE_KEY, JSON.stringify({ room, nick }));
      join(room, nick);
    });
    leaveButton.addEventListener('click', () => leaveRoom());
    composer.addEventListener('submit', (event) => {
      event.preventDefault();
      const line = text.value.trim();
      const m = membership;
      if (line === '' || m === undefined) return;
      text.value = '';
      void runLine(m, line, notice).catch((err: { code?: string; message?: string }) =>
        notice(`${err.message ?? String(err)} (${err.code ?? 'ERROR'})`, 'error'),
      );
    });
    return () => stop?.();
  },
};

async function runLine(
  m: ChatMembership,
  line: string,
  notice: (line: string, kind?: string) => void,
): Promise<void> {
  if (!line.startsWith('/') || line.startsWith('//')) {
    await m.say(line.startsWith('//') ? line.slice(1) : line);
    return;
  }
  const [word = '', to, ...words] = line.split(/\s+/);
  switch (word.toLowerCase()) {
    case '/msg':
    case '/dm': {
      if (to === undefined || words.length === 0)
        throw new NexoError('INVALID_ARGS', 'usage: /msg <nick> <text>');
      const sent = await m.dm(to, words.join(' '));
      notice(`to ${sent.to}: ${words.join(' ')}`, 'dm');
      return;
    }
    case '/who': {
      const { members } = await m.who();
      notice(`here: ${members.map((x) => x.nick).join(', ')}`);
      return;
    }
    default:
      throw new NexoError('UNKNOWN_COMMAND', `unknown command ${word}; try /msg <nick> <text> or /who`);
  }
}

function loadSaved(): { room: string; nick: string } {
  try {
    const saved = JSON.parse(localStorage.getItem(STORE_KEY) ?? '{}') as { room?: string; nick?: string };
    return { room: saved.room ?? 'lobby', nick: saved.nick ?? '' };
  } catch {
    return { room: 'lobby', nick: '' };
  }
}
