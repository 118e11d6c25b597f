// Advantages for online RL, on plain numbers (rewards are scalars per reply,
// computed outside the graph): how much better a sampled reply did than a
// baseline. Rewards come in groups of `groupSize` replies to the same prompt,
// one group after another.

/** Sample standard deviation (Bessel's correction, as TRL's nanstd); 0 for fewer than two values. */
function sampleStd(xs: number[]): number {
  if (xs.length < 2) return 0;
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}

function groups(rewards: number[], groupSize: number, where: string): number[][] {
  if (!(Number.isInteger(groupSize) && groupSize >= 1)) throw new Error(`${where}: groupSize must be a positive integer, got ${groupSize}`);
  if (rewards.length % groupSize !== 0) throw new Error(`${where}: ${rewards.length} rewards do not split into groups of ${groupSize}`);
  const bad = rewards.findIndex((r) => !Number.isFinite(r));
  if (bad >= 0) throw new Error(`${where}: reward ${bad} is ${rewards[bad]}; every reward must be a finite number`);
  return Array.from({ length: rewards.length / groupSize }, (_, g) => rewards.slice(g * groupSize, (g + 1) * groupSize));
}

export interface GroupAdvantages {
  /** One per reward, in order. */
  advantages: number[];
  /** Share of groups whose rewards are all equal (no learning signal): TRL's frac_reward_zero_std. */
  fracZeroStd: number;
  /** Per group, the standard deviation of its rewards (TRL logs their mean as reward_std). */
  groupStd: number[];
}

/**
 * GRPO's group-relative advantages (Shao et al. 2024, "DeepSeekMath", arXiv:2402.03300, §4.1.2):
 * reward minus its group's mean, divided by a standard deviation chosen by
 * `scaleRewards` (TRL's scale_rewards): 'group' (the group's), 'batch' (the
 * whole batch's), or 'none' (not scaled: Dr. GRPO, Liu et al. 2025,
 * arXiv:2503.20783, which argues the division biases toward easy and hard prompts).
 * 1e-4 is added to the divisor, as TRL does.
 */
export function groupAdvantages(rewards: number[], groupSize: number, scaleRewards: 'group' | 'batch' | 'none' = 'group'): GroupAdvantages {
  const gs = groups(rewards, groupSize, 'groupAdvantages');
  const groupStd = gs.map(sampleStd);
  const batchStd = sampleStd(rewards);
  const advantages = gs.flatMap((g, k) => {
    const mean = g.reduce((a, b) => a + b, 0) / g.length;
    const scale = scaleRewards === 'group' ? groupStd[k] + 1e-4 : scaleRewards === 'batch' ? batchStd + 1e-4 : 1;
    return g.map((r) => (r - mean) / scale);
  });
  return { advantages, fracZeroStd: groupStd.filter((s) => Math.abs(s) < 1e-8).length / gs.length, groupStd };
}

/**
 * RLOO's leave-one-out advantages (Ahmadian et al. 2024, "Back to Basics",
 * arXiv:2402.14740, eq. 7 after Kool et al. 2019): each reward minus the mean
 * of the other rewards of its group. Unbiased, with no learned value function.
 */
export function leaveOneOutAdvantages(rewards: number[], groupSize: number): GroupAdvantages {
  if (groupSize < 2) throw new Error(`leaveOneOutAdvantages: groupSize must be at least 2 (the baseline is the other replies), got ${groupSize}`);
  const gs = groups(rewards, groupSize, 'leaveOneOutAdvantages');
  const groupStd = gs.map(sampleStd);
  const advantages = gs.flatMap((g) => {
    const sum = g.reduce((a, b) => a + b, 0);
    return g.map((r) => r - (sum - r) / (g.length - 1));
  });
  return { advantages, fracZeroStd: groupStd.filter((s) => Math.abs(s) < 1e-8).length / gs.length, groupStd };
}

/**
 * Generalised advantage estimation (Schulman et al. 2016, arXiv:1506.02438,
 * eq. 16) over one reply's tokens: δ_t = r_t + γ V_{t+1} - V_t (V after the
 * last token is 0), A_t = Σ_k (γλ)^k δ_{t+k}. Returns the advantages and the
 * returns A_t + V_t that the value head is trained toward (PPO, InstructGPT).
 */
export function gae(rewards: number[], values: number[], gamma = 1, lambda = 0.95): { advantages: number[]; returns: number[] } {
  if (rewards.length !== values.length) throw new Error(`gae: ${rewards.length} rewards but ${values.length} values; one of each per token`);
  if (!(gamma >= 0 && gamma <= 1 && lambda >= 0 && lambda <= 1)) throw new Error(`gae: gamma and lambda must be in [0, 1], got ${gamma} and ${lambda}`);
  const advantages = new Array<number>(rewards.length).fill(0);
  let next = 0;
  for (let t = rewards.length - 1; t >= 0; t--) {
    const delta = rewards[t] + gamma * (t + 1 < values.length ? values[t + 1] : 0) - values[t];
    next = delta + gamma * lambda * next;
    advantages[t] = next;
  }
  return { advantages, returns: advantages.map((a, t) => a + values[t]) };
}
