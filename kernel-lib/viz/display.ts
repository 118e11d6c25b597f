// Sends rich output from a notebook cell. tslab's public `display` sends one
// MIME type per output, but a front end picks the richest type it can render
// from a bundle of several (Plotly JSON where a renderer exists, HTML
// elsewhere, text in a terminal), so bundles go through tslab's own writer.
// Outside a kernel (a script, a test) the text/plain part is printed instead.

export type MimeBundle = Record<string, unknown>;

type WriteDisplayData = (
  content: { data: MimeBundle; metadata: Record<string, unknown>; transient: { display_id?: string } },
  update: boolean,
) => void;

function kernelWriter(): WriteDisplayData | null {
  try {
    // Present only inside a running tslab kernel (tslab 1.0.22, pinned).
    const jupyter = require('tslab/dist/jupyter') as { lastWriteDisplayData: WriteDisplayData | null };
    return jupyter.lastWriteDisplayData;
  } catch {
    return null;
  }
}

/**
 * The front-end session of the cell running now (a page reload starts a new
 * one), from the project's tslab patch; null outside a kernel.
 */
export function frontEndSession(): string | null {
  try {
    const jupyter = require('tslab/dist/jupyter') as { lastExecuteSession?: string | null };
    return jupyter.lastExecuteSession ?? null;
  } catch {
    return null;
  }
}

/** True when running inside a tslab kernel with a cell executing. */
export function inKernel(): boolean {
  return kernelWriter() !== null;
}

/**
 * Shows `bundle` as one output. Pass `displayId` to replace an earlier output
 * shown with the same id (live updates) instead of adding one.
 */
export function displayBundle(bundle: MimeBundle, options: { displayId?: string; update?: boolean } = {}): void {
  const write = kernelWriter();
  if (!write) {
    const text = bundle['text/plain'];
    if (typeof text === 'string') console.log(text);
    return;
  }
  write({ data: bundle, metadata: {}, transient: options.displayId ? { display_id: options.displayId } : {} }, options.update ?? false);
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
