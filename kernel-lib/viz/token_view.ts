// A conversation as the model sees it: one box per token, special tokens
// marked, the tokens the loss trains on (the assistant mask) highlighted, and
// whitespace made visible, because a stray newline or a doubled BOS is exactly
// what the plain text hides. Several views side by side compare templates.
// HTML for notebooks, and a text form (trainable tokens in [brackets],
// special ones in «guillemets») for terminals, logs and tests.
import { displayBundle, escapeHtml, type MimeBundle } from './display';

export interface ViewToken {
  id: number;
  /** The token's text (its slice of the source when known). */
  text: string;
  special: boolean;
  trainable: boolean;
}

export interface TokenView {
  title: string;
  tokens: ViewToken[];
}

/** What a view needs from a tokenizer. */
export interface TokenNamer {
  tokenToString(id: number): string;
  isSpecial(id: number): boolean;
}

/**
 * A view of `ids`. With `text` and `offsets` (from encodeWithOffsets or an
 * SFT example) each token shows its exact slice of the text; `mask` marks the
 * trainable ones.
 */
export function tokenView(
  tokenizer: TokenNamer,
  ids: ArrayLike<number>,
  options: { title?: string; mask?: ArrayLike<number>; text?: string; offsets?: [number, number][] } = {},
): TokenView {
  const tokens: ViewToken[] = [];
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    const span = options.offsets?.[i];
    const text = options.text !== undefined && span && span[1] > span[0] ? options.text.slice(span[0], span[1]) : tokenizer.tokenToString(id);
    tokens.push({ id, text, special: tokenizer.isSpecial(id), trainable: (options.mask?.[i] ?? 0) === 1 });
  }
  return { title: options.title ?? '', tokens };
}

const visible = (s: string) => s.replace(/ /g, '·').replace(/\t/g, '→').replace(/\r/g, '␍').replace(/\n/g, '↵');

function summary(view: TokenView): string {
  const trainable = view.tokens.filter((t) => t.trainable).length;
  const special = view.tokens.filter((t) => t.special).length;
  return `${view.tokens.length} tokens · ${trainable} trained on · ${special} special`;
}

/** One line of text: tokens separated by '|', trainable ones in [brackets], special ones in «guillemets». */
export function tokenViewText(view: TokenView): string {
  const body = view.tokens
    .map((t) => {
      const s = t.special ? `«${t.text}»` : visible(t.text);
      return t.trainable ? `[${s}]` : s;
    })
    .join('|');
  return `${view.title ? view.title + ' — ' : ''}${summary(view)}\n${body}`;
}

// Inline styles, not a <style> block or classes: front ends sanitise the HTML
// of an untrusted notebook (every notebook executed elsewhere), which drops
// <style> elements but keeps style attributes (JupyterLab's sanitiser allows
// each property used here). The classes stay as names for tests and readers.
const CSS = {
  view: 'font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;line-height:2.1;margin:4px 0',
  token: 'border:1px solid #c8c8c8;border-radius:3px;padding:1px 2px;margin:0 1px;white-space:pre;background-color:#f4f4f4;color:#555555',
  trained: 'background-color:#c9f2c9;border-color:#3a9a3a;color:#0b3d0b',
  special: 'font-weight:bold;border-color:#7a3fbf;color:#5a1f9f',
  header: 'font-family:sans-serif;font-size:12px;color:#333333',
  legend: 'font-family:sans-serif;font-size:11px;color:#666666',
  grid: 'display:grid;gap:12px;align-items:start',
};

function tokenStyle(trainable: boolean, special: boolean): string {
  return [CSS.token, trainable ? CSS.trained : '', special ? CSS.special : ''].filter(Boolean).join(';');
}

function tokenSpan(text: string, trainable: boolean, special: boolean, title?: string): string {
  const cls = ['tv-t', trainable ? 'tr' : '', special ? 'sp' : ''].filter(Boolean).join(' ');
  return `<span class="${cls}" style="${tokenStyle(trainable, special)}"${title ? ` title="${title}"` : ''}>${text}</span>`;
}

function viewHtml(view: TokenView): string {
  const spans = view.tokens
    .map((t) => {
      const newline = !t.special && t.text.endsWith('\n') ? '<br>' : '';
      return tokenSpan(escapeHtml(visible(t.text)), t.trainable, t.special, `id ${t.id}`) + newline;
    })
    .join('');
  const title = view.title ? `<b>${escapeHtml(view.title)}</b> · ` : '';
  return `<div><div class="tv-h" style="${CSS.header}">${title}${summary(view)}</div><div class="tv" style="${CSS.view}">${spans}</div></div>`;
}

const LEGEND =
  `<div class="tv-k" style="${CSS.legend}">${tokenSpan('trained on', true, false)} assistant tokens in the loss · ` +
  `${tokenSpan('special', false, true)} special token · ${tokenSpan('context', false, false)} not trained on · ` +
  '· space, ↵ newline, → tab; hover a token for its id</div>';

/** HTML and text for one view. */
export function tokenViewBundle(view: TokenView): MimeBundle {
  return { 'text/html': `${LEGEND}${viewHtml(view)}`, 'text/plain': tokenViewText(view) };
}

/** HTML and text for several views side by side (e.g. one conversation under several templates). */
export function sideBySideBundle(views: TokenView[], options: { columns?: number } = {}): MimeBundle {
  const columns = options.columns ?? Math.min(views.length, 2);
  const html = `${LEGEND}<div class="tv-grid" style="${CSS.grid};grid-template-columns:repeat(${columns},minmax(0,1fr))">${views.map(viewHtml).join('')}</div>`;
  return { 'text/html': html, 'text/plain': views.map(tokenViewText).join('\n\n') };
}

export function showTokens(view: TokenView): void {
  displayBundle(tokenViewBundle(view));
}

export function showSideBySide(views: TokenView[], options: { columns?: number } = {}): void {
  displayBundle(sideBySideBundle(views, options));
}
