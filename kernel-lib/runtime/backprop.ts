// Reverse-mode gradients on tfjs's own tape that free memory as they go.
//
// tf.valueAndGrads records the forward pass on the engine's tape (each
// operation with the tensors its gradient reads) and then walks the tape
// backwards. Its walk frees nothing until it is over: every operation's
// saved tensors, every intermediate gradient, and every partial sum of a
// gradient stay in memory until the last operation's gradient is computed.
// So the backward pass peaks at about twice the forward's saved activations
// (at SmolLM2-135M's shape with LoRA, 512 tokens: about 150 MB a decoder
// layer, which is why 30 layers did not fit in wasm's 4 GB without gradient
// checkpointing).
//
// This walk calls the same gradient functions, in the same order, and sums
// into each gradient in the same order, so the gradients are the same to the
// bit; but once an operation's gradient is computed, it frees what only that
// operation needed: the tensors it saved, the gradients of its outputs, and
// the partial sums replaced by a new one. Memory then peaks where a
// framework with reference counting (PyTorch) peaks: at the saved
// activations plus the gradients in flight.
import * as tf from '@tensorflow/tfjs';

/** The parts of tfjs's engine and tape used here (engine.ts, tape.ts in tfjs-core). */
interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(name: string, f: () => T): T;
}

const engine = () => tf.engine() as unknown as EngineInternals;

/**
 * The value of f() and its gradients at xs, as tf.valueAndGrads(f)(xs, dy)
 * gives them (to the bit), with memory freed during the backward pass.
 * `dy` (the upstream gradient, default ones) stays the caller's.
 */
export function valueAndGradients(f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor): { value: tf.Tensor; grads: tf.Tensor[] } {
  if (xs.length === 0) throw new Error('valueAndGradients: no tensors to differentiate with respect to');
  const e = engine();
  const y = e.scopedRun(() => e.startTape(), () => e.endTape(), () => e.tidy('forward', f));
  if (!(y instanceof tf.Tensor)) throw new Error('valueAndGradients: f must return a tensor');
  if (dy && dy.shape.join() !== y.shape.join()) throw new Error(`valueAndGradients: dy has shape [${dy.shape}] but f returned [${y.shape}]`);
  const tape = e.state.activeTape ?? [];
  const path = nodesFromXsToY(tape, xs, y);
  return e.tidy('backward', () => {
    const grads = new Map<number, tf.Tensor>([[y.id, dy ?? tf.ones(y.shape)]]);
    const returned = new Set(xs.map((x) => x.id));
    const freeing = e.state.gradientDepth === 0;
    for (let i = path.length - 1; i >= 0; i--) {
      const { node, inputs } = path[i];
      if (!node.gradient) throw new Error(`valueAndGradients: the ${node.kernelName} operation has no gradient function`);
      const dys = node.outputs.map((o) => grads.get(o.id) ?? null);
      const inputGradients = node.gradient(dys);
      for (const [name, x] of Object.entries(inputs)) {
        if (!(name in inputGradients)) throw new Error(`valueAndGradients: the ${node.kernelName} operation gives no gradient for its input "${name}"`);
        let dx = e.tidy(name, () => inputGradients[name]());
        if (dx.dtype !== 'float32') throw new Error(`valueAndGradients: the gradient of ${node.kernelName}'s input "${name}" has dtype ${dx.dtype}, expected float32`);
        if (dx.shape.join() !== x.shape.join()) throw new Error(`valueAndGradients: the gradient of ${node.kernelName}'s input "${name}" has shape [${dx.shape}], expected [${x.shape}]`);
        // A gradient function may hand back dy itself (or a saved tensor): a
        // clone (same bytes, its own handle) survives the freeing below.
        if (dys.includes(dx) || node.saved?.includes(dx)) dx = dx.clone();
        const sum = grads.get(x.id);
        if (sum === undefined) {
          grads.set(x.id, dx);
        } else {
          grads.set(x.id, tf.add(sum, dx));
          sum.dispose();
          dx.dispose();
        }
      }
      // What only this operation needed. The gradients of the xs are the
      // result, and the caller's dy is the caller's.
      node.outputs.forEach((o, k) => {
        const g = dys[k];
        if (!g || returned.has(o.id) || g === dy) return;
        g.dispose();
        grads.delete(o.id);
      });
      if (freeing) node.saved?.forEach((t) => t.dispose());
    }
    const result = xs.map((x, i) => {
      const g = grads.get(x.id);
      if (!g) throw new Error(`valueAndGradients: the value does not depend on input ${i} (shape [${x.shape}]); every input must lead to the value`);
      return g;
    });
    if (freeing) {
      // As tf.valueAndGrads does: the tape's saved tensors are freed, the tape dropped.
      for (const node of tape) node.saved?.forEach((t) => t.dispose());
      e.state.activeTape = null;
    }
    return { value: y, grads: result };
  });
}

/**
 * The recorded operations on a path from some x to y, in tape order, each
 * with the inputs that depend on an x (only those get a gradient): what
 * tfjs's own filter keeps.
 */
function nodesFromXsToY(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): { node: TapeNode; inputs: Record<string, tf.Tensor> }[] {
  const fromX = new Set(xs.map((x) => x.id));
  const reachedFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      reachedFromX.add(node.id);
      for (const o of node.outputs) fromX.add(o.id);
    }
  }
  const toY = new Set([y.id]);
  const leadsToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((o) => toY.has(o.id))) {
      leadsToY.add(node.id);
      for (const t of Object.values(node.inputs)) toY.add(t.id);
    }
  }
  return tape
    .filter((node) => reachedFromX.has(node.id) && leadsToY.has(node.id))
    .map((node) => ({ node, inputs: Object.fromEntries(Object.entries(node.inputs).filter(([, t]) => fromX.has(t.id))) }));
}
