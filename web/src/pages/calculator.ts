import { h, replace } from '../dom.js';
import type { Page } from './page.js';

const KEYS = [
  '7',
  '8',
  '9',
  '/',
  '4',
  '5',
  '6',
  '*',
  '1',
  '2',
  '3',
  '-',
  '0',
  '.',
  '^',
  '+',
  '(',
  ')',
  'sqrt(',
  '%',
];

/**
 * The calculator: exact decimal arithmetic on the node (calc.eval), with variables that live as long as the
 * connection. A keypad for phones; the keyboard works too (Enter evaluates, arrow up recalls).
 */
export const calculatorPage: Page = {
  id: 'calc',
  title: 'Calculator',
  service: 'calc',
  mount(root, connection) {
    const input = h('input', {
      type: 'text',
      inputmode: 'decimal',
      autocomplete: 'off',
      spellcheck: 'false',
      placeholder: '2*(3+4), x = 0.1 + 0.2, sqrt(x)',
      'aria-label': 'expression',
      'data-testid': 'calc-input',
    });
    const history = h('ol', { class: 'calc-history', 'data-testid': 'calc-history', 'aria-live': 'polite' });
    const recalled: string[] = [];
    let recallAt = 0;

    const evaluate = async () => {
      const expr = input.value.trim();
      if (expr === '') return;
      recalled.push(expr);
      recallAt = recalled.length;
      input.value = '';
      const entry = h('li', { class: 'pending' }, h('code', {}, expr), h('span', { class: 'value' }, '…'));
      history.prepend(entry);
      try {
        const result = await connection.client.calc.eval(expr);
        entry.className = 'ok';
        replace(
          entry,
          h('code', {}, expr),
          h(
            'span',
            { class: 'value', 'data-testid': 'calc-value' },
            result.assigned ? `${result.assigned} = ${result.value}` : result.value,
          ),
        );
      } catch (err) {
        const e = err as { code?: string; message?: string; details?: { column?: number } };
        entry.className = 'error';
        const column = e.details?.column;
        replace(
          entry,
          h('code', {}, expr),
          h(
            'span',
            { class: 'value', 'data-testid': 'calc-error' },
            `${e.message ?? String(err)} (${e.code ?? 'ERROR'})`,
          ),
          typeof column === 'number'
            ? h('code', { class: 'caret' }, `${' '.repeat(Math.max(0, column - 1))}^`)
            : null,
        );
      }
    };

    const form = h(
      'form',
      {
        class: 'calc-form',
        onsubmit: (event: Event) => {
          event.preventDefault();
          void evaluate();
        },
      },
      input,
      h('button', { type: 'submit', class: 'primary', 'data-testid': 'calc-submit' }, '='),
    );
    input.addEventListener('keydown', (event) => {
      if (event.key === 'ArrowUp' && recallAt > 0) input.value = recalled[--recallAt] ?? '';
      else if (event.key === 'ArrowDown' && recallAt < recalled.length)
        input.value = recalled[++recallAt] ?? '';
      else return;
      event.preventDefault();
    });
    const keypad = h(
      'div',
      { class: 'keypad', 'aria-label': 'keypad' },
      ...KEYS.map((key) =>
        h('button', { type: 'button', onclick: () => insert(input, key) }, key === 'sqrt(' ? '√' : key),
      ),
      h('button', { type: 'button', class: 'wide', onclick: () => (input.value = '') }, 'clear'),
    );
    replace(
      root,
      h(
        'div',
        { class: 'calc-page' },
        h('h2', {}, 'Calculator'),
        h(
          'p',
          { class: 'muted' },
          'Exact decimals (0.1 + 0.2 = 0.3). Variables last while this page stays connected.',
        ),
        form,
        keypad,
        history,
      ),
    );
    input.focus();
    return () => {};
  },
};

function insert(input: HTMLInputElement, text: string): void {
  const start = input.selectionStart ?? input.value.length;
  const end = input.selectionEnd ?? input.value.length;
  input.value = input.value.slice(0, start) + text + input.value.slice(end);
  input.setSelectionRange(start + text.length, start + text.length);
  input.focus();
}
