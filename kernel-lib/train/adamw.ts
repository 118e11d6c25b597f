// AdamW (Loshchilov & Hutter) with decoupled weight decay, over flat float32
// arrays kept on the JS side. The loop already holds every gradient as a
// Float32Array (to sum micro-batches and workers), so the update is one pass
// per parameter instead of ~10 tensor kernels each, and its state saves
// exactly.

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled decay, applied to matrices (rank >= 2) only; norms are not decayed. */
  weightDecay?: number;
}

export interface AdamWParam {
  name: string;
  shape: number[];
  values: Float32Array;
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Updates applied so far (bias correction uses it). */
  step = 0;
  readonly m = new Map<string, Float32Array>();
  readonly v = new Map<string, Float32Array>();

  constructor(options: AdamWOptions = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.95;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.0;
  }

  /** One update of every parameter in place with gradients `grads` (same order) and learning rate `lr`. */
  update(params: AdamWParam[], grads: Float32Array[], lr: number): void {
    this.step++;
    const { beta1: b1, beta2: b2, eps } = this;
    const c1 = 1 - Math.pow(b1, this.step);
    const c2 = 1 - Math.pow(b2, this.step);
    params.forEach((p, k) => {
      const g = grads[k];
      let m = this.m.get(p.name);
      let v = this.v.get(p.name);
      if (!m || !v) {
        m = new Float32Array(p.values.length);
        v = new Float32Array(p.values.length);
        this.m.set(p.name, m);
        this.v.set(p.name, v);
      }
      const decay = p.shape.length >= 2 ? 1 - lr * this.weightDecay : 1;
      const x = p.values;
      for (let i = 0; i < x.length; i++) {
        const gi = g[i];
        const mi = (m[i] = b1 * m[i] + (1 - b1) * gi);
        const vi = (v[i] = b2 * v[i] + (1 - b2) * gi * gi);
        x[i] = x[i] * decay - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + eps);
      }
    });
  }
}
