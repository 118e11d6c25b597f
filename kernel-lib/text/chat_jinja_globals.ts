// The global names transformers' Jinja environment gives a chat template
// (Jinja's constants and range, plus strftime_now), for rendering through
// @huggingface/jinja's Environment directly.

import { TemplateError } from './chat_types';

/** Python's strftime for the codes chat templates use (English names, local time, like datetime.now()). */
function strftimeNow(format: string): string {
  const now = new Date();
  const months = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
  const days = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
  const pad = (n: number) => String(n).padStart(2, '0');
  const codes: Record<string, string> = {
    Y: String(now.getFullYear()), y: pad(now.getFullYear() % 100), m: pad(now.getMonth() + 1), d: pad(now.getDate()),
    B: months[now.getMonth()], b: months[now.getMonth()].slice(0, 3), A: days[now.getDay()], a: days[now.getDay()].slice(0, 3),
    H: pad(now.getHours()), M: pad(now.getMinutes()), S: pad(now.getSeconds()), '%': '%',
  };
  return format.replace(/%(.)/g, (code, c: string) => codes[c] ?? code);
}

function range(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new TemplateError('range(): step must not be zero');
  const out: number[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
  return out;
}

// What @huggingface/jinja's Template.render declares itself; rendering through
// Environment and Interpreter directly lets raise_exception be ours.
export const JINJA_GLOBALS: Record<string, unknown> = {
  true: true, false: false, none: null, True: true, False: false, None: null, range, strftime_now: strftimeNow,
};
