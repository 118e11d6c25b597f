// The chart builders return plain Plotly figures, so their behaviour is read
// off the data: how many traces, which axis each is on, the smoothing against
// an EMA worked by hand, log axes, bins shared by overlaid histograms. The
// adapters read a real danfojs DataFrame, a real Arrow table, and metrics
// files written by the trainer's own callbacks; bad input fails naming the
// column, row or line and what was expected.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tableFromArrays } from 'apache-arrow';
import {
  barChart, boxChart, ChartError, columnsOf, curveChart, ema, heatmapChart, histogramChart, metricChart, metricSeries,
  readMetrics, scatterChart, sharedBins, type PlotlyFigure,
} from '../../kernel-lib/viz';
// The callbacks' own file: the metrics writers without the rest of train (and tfjs).
import { arrowMetrics, jsonlMetrics, type EvalRecord, type StepRecord } from '../../kernel-lib/train/callbacks';

type Trace = Record<string, any>;
const traces = (f: PlotlyFigure): Trace[] => f.data as Trace[];
const layout = (f: PlotlyFigure): Record<string, any> => f.layout as Record<string, any>;
const close = (got: number[], want: number[], tol = 1e-9) => {
  assert.equal(got.length, want.length);
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]) < tol, `index ${i}: got ${g}, want ${want[i]}`));
};

/** Step records as the trainer writes them, with a metric on some steps only. */
function history(n: number): StepRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    step: i + 1, loss: 3 - 0.1 * i, lr: 1e-3, grad_norm: 1, tokens: 64, tokens_per_s: 100, elapsed_s: i,
    mean_token_accuracy: 0.2 + 0.05 * i, ...(i % 2 === 0 ? { sparse: i } : {}),
  }));
}
const evals: EvalRecord[] = [{ step: 2, eval_loss: 2.9, eval_perplexity: Math.exp(2.9) }, { step: 4, eval_loss: 2.7, eval_perplexity: Math.exp(2.7) }];

describe('viz/charts: curves', () => {
  it('ema is TensorBoard\'s debiased moving average, worked by hand', () => {
    // weight 0.5: m = 0.5, 1.25, 2.125; divided by 1 - 0.5^n = 0.5, 0.75, 0.875.
    close(ema([1, 2, 3], 0.5), [1, 1.25 / 0.75, 2.125 / 0.875]);
    close(ema([4, 4, 4], 0.9), [4, 4, 4]); // a constant stays put (no pull toward 0)
    const withGap = ema([1, NaN, 3], 0.5);
    assert.ok(Number.isNaN(withGap[1]), 'a missing value passes through');
    close([withGap[0], withGap[2]], [1, (0.25 + 1.5) / 0.75], 1e-12); // and does not count as a point
    assert.throws(() => ema([1], 1), /smoothing weight 1; expected a number in \[0, 1\)/);
  });

  it('smooths line curves, draws the raw ones faintly under them, and never smooths eval points', () => {
    const fig = curveChart([
      { name: 'loss', x: [1, 2, 3], y: [1, 2, 3] },
      { name: 'eval_loss', x: [1, 3], y: [5, 6], kind: 'points' },
    ], { smoothing: 0.5 });
    const t = traces(fig);
    assert.equal(t.length, 3, 'raw loss, smoothed loss, eval points');
    assert.equal(t[0].showlegend, false);
    assert.equal(t[0].hoverinfo, 'skip');
    assert.deepEqual(t[0].y, [1, 2, 3]);
    close(t[1].y, ema([1, 2, 3], 0.5));
    assert.equal(t[2].mode, 'lines+markers');
    assert.deepEqual(t[2].y, [5, 6]);
    assert.match(layout(fig).legend.title.text, /EMA\) 0\.5/);
    assert.equal(traces(curveChart([{ name: 'loss', x: [1, 2], y: [1, 2] }], { smoothing: 0.5, showRaw: false })).length, 1);
  });

  it('puts right-axis curves on y2, on the right, dotted, named in the legend, without a grid over the first', () => {
    const fig = curveChart([
      { name: 'loss', x: [1, 2], y: [2, 1] },
      { name: 'accuracy', x: [1, 2], y: [0.3, 0.6], axis: 'right' },
    ], { yTitle: 'loss', y2Title: 'accuracy', y2Range: [0, 1] });
    const [left, right] = traces(fig);
    assert.equal(left.yaxis, 'y');
    assert.equal(right.yaxis, 'y2');
    assert.equal(right.name, 'accuracy (right axis)');
    assert.equal(left.name, 'loss');
    assert.equal(right.line.dash, 'dot');
    assert.notEqual(right.line.color, left.line.color);
    const l = layout(fig);
    assert.equal(l.yaxis2.overlaying, 'y');
    assert.equal(l.yaxis2.side, 'right');
    assert.equal(l.yaxis2.showgrid, false);
    assert.deepEqual(l.yaxis2.range, [0, 1]);
    assert.equal(l.yaxis.title.text, 'loss');
    assert.ok(l.margin.r > 24, 'room on the right for the second axis');
    assert.equal(layout(curveChart([{ name: 'loss', x: [1], y: [1] }])).yaxis2, undefined);
  });

  it('sets log axes (a range given in data units) and refuses values a log axis cannot show', () => {
    const fig = curveChart([{ name: 'loss', x: [1, 2], y: [10, 1] }], { logY: true, yRange: [0.1, 100] });
    assert.equal(layout(fig).yaxis.type, 'log');
    close(layout(fig).yaxis.range, [-1, 2]);
    assert.throws(() => curveChart([{ name: 'loss', x: [1, 2], y: [1, 0] }], { logY: true }), /curve "loss", point 1 \(x 2\): y is 0 on a log axis; expected a positive number/);
  });

  it('leaves out points a run did not log, keeping x and y together', () => {
    const t = traces(curveChart([{ name: 'm', x: [1, 2, 3, 4], y: [1, NaN, null, 4] }]));
    assert.deepEqual(t[0].x, [1, 4]);
    assert.deepEqual(t[0].y, [1, 4]);
    assert.throws(() => curveChart([{ name: 'm', x: [1, 2], y: [1] }]), /curve "m" has 2 x values and 1 y values/);
  });
});

describe('viz/charts: metrics of a run', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'charts-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('draws step metrics as lines and eval_ metrics as points, from the trainer\'s result', () => {
    const fig = metricChart({ history: history(4), evals }, { metrics: ['loss', 'eval_loss'], right: ['mean_token_accuracy'], names: { eval_loss: 'held-out loss' } });
    const t = traces(fig);
    assert.deepEqual(t.map((x) => x.name), ['loss', 'held-out loss', 'mean_token_accuracy (right axis)']);
    assert.deepEqual(t.map((x) => x.yaxis), ['y', 'y', 'y2']);
    assert.deepEqual(t.map((x) => x.mode), ['lines', 'lines+markers', 'lines']);
    assert.deepEqual(t[1].x, [2, 4]);
    assert.deepEqual(t[1].y, [2.9, 2.7]);
    assert.equal(layout(fig).yaxis.title.text, 'loss', 'loss and eval_loss share an axis title');
    assert.equal(layout(fig).yaxis2.title.text, 'mean_token_accuracy');
  });

  it('overlays runs: a colour a run, a dash a metric', () => {
    const fig = metricChart([{ name: 'full', log: { history: history(3) } }, { name: 'LoRA', log: history(3) }], { metrics: ['loss'], right: ['mean_token_accuracy'] });
    const t = traces(fig);
    assert.deepEqual(t.map((x) => x.name), ['full: loss', 'full: mean_token_accuracy (right axis)', 'LoRA: loss', 'LoRA: mean_token_accuracy (right axis)']);
    assert.equal(t[0].line.color, t[1].line.color);
    assert.notEqual(t[0].line.color, t[2].line.color);
    assert.equal(t[0].line.dash, t[2].line.dash);
    assert.notEqual(t[0].line.dash, t[1].line.dash);
  });

  it('reads the JSONL file jsonlMetrics writes, and the Arrow files arrowMetrics writes', async () => {
    const file = path.join(dir, 'run.jsonl');
    const cb = jsonlMetrics(file);
    await cb.onStart!({ step: 0, totalSteps: 4, resumed: false });
    const h = history(4);
    for (const r of h) {
      await cb.onStep!(r);
      if (r.step % 2 === 0) await cb.onEval!(evals[r.step / 2 - 1]);
    }
    const log = readMetrics(file);
    assert.equal(log.train.length, 4);
    assert.deepEqual(log.eval, evals);
    const fig = metricChart(file, { metrics: ['loss', 'eval_loss'] });
    assert.deepEqual(traces(fig)[0].y, h.map((r) => r.loss));
    assert.deepEqual(traces(fig)[1].y, [2.9, 2.7]);

    const arrow = path.join(dir, 'run.arrow');
    await arrowMetrics(arrow).onEnd!({ step: 4, history: h, evals });
    const fromArrow = readMetrics(arrow);
    assert.deepEqual(fromArrow.train.map((r) => r.loss), h.map((r) => r.loss));
    assert.deepEqual(fromArrow.eval.map((r) => r.eval_loss), [2.9, 2.7]);
  });

  it('treats a metric some steps did not log as missing there, and names a metric no record has', () => {
    const s = metricSeries({ history: history(4) }, 'sparse');
    assert.deepEqual(s.y.map((v) => (Number.isNaN(v) ? 'gap' : v)), [0, 'gap', 2, 'gap']);
    assert.throws(() => metricChart({ history: history(2), evals }, { metrics: ['eval_accuracy'] }), (err: Error) => {
      assert.ok(err instanceof ChartError);
      assert.match(err.message, /no metric "eval_accuracy" in the eval records of the run; they have "step", "eval_loss", "eval_perplexity"/);
      return true;
    });
    assert.throws(() => metricSeries({ history: history(2), evals }, 'eval_los'), /no metric "eval_los"/);
    assert.throws(() => metricSeries({ history: history(2), evals: [] }, 'eval_loss'), /eval records of the run; there are none/);
    assert.throws(() => metricSeries({ history: history(2), evals }, 'perplexity'), /no metric "perplexity" in the step records/);
  });

  it('names the file and line of a bad JSONL record, and the field of a non-numeric value', () => {
    const bad = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(bad, '{"kind":"train","step":1,"loss":2}\n{"kind":"train","step":2,\n');
    assert.throws(() => readMetrics(bad), new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2 is not JSON`));
    fs.writeFileSync(bad, '{"kind":"train","step":1,"loss":2}\n{"kind":"train","step":2,"loss":"low"}\n');
    assert.throws(() => readMetrics(bad), /bad\.jsonl:2, field "loss", is "low"; expected a number/);
    assert.throws(() => readMetrics(path.join(dir, 'none.jsonl')), /no metrics file .*none\.jsonl/);
  });
});

describe('viz/charts: adapters', () => {
  it('reads a danfojs DataFrame by column, and names a missing or non-numeric column', () => {
    const dfd = require('danfojs-node') as typeof import('danfojs-node');
    const df = new dfd.DataFrame({ step: [1, 2, 3], loss: [2.5, 2.0, 1.5], family: ['a', 'b', 'c'] });
    const c = columnsOf(df);
    assert.deepEqual(c.names, ['step', 'loss', 'family']);
    assert.equal(c.length, 3);
    close(c.numbers('loss'), [2.5, 2.0, 1.5], 1e-6); // danfojs stores float32
    assert.deepEqual(c.strings('family'), ['a', 'b', 'c']);
    assert.throws(() => c.numbers('accuracy'), /no column "accuracy" in the DataFrame; it has "step", "loss", "family"/);
    assert.throws(() => c.numbers('family'), /column "family" of the DataFrame, row 0, is "a"; expected a number/);
    const fig = barChart(c.strings('family'), { name: '', values: c.numbers('loss') });
    assert.equal(layout(fig).showlegend, false, 'a single unnamed series needs no legend');
  });

  it('reads an Arrow table, nulls as missing values and 64-bit integers as numbers', () => {
    const table = tableFromArrays({ step: BigInt64Array.from([1n, 2n, 3n]), loss: Float64Array.from([3, 2, 1]), name: ['x', 'y', 'z'] });
    const c = columnsOf(table);
    assert.deepEqual(c.numbers('step'), [1, 2, 3]);
    assert.deepEqual(c.strings('name'), ['x', 'y', 'z']);
    assert.throws(() => c.numbers('name'), /column "name" of the Arrow table, row 0, is "x"; expected a number/);
    assert.throws(() => c.numbers('lr'), /no column "lr" in the Arrow table; it has "step", "loss", "name"/);
    // A null must read as missing, not as the 0 Arrow stores under it.
    const withNull = columnsOf(readMetricsTable([{ step: 1, loss: 2 }, { step: 2, loss: null }]));
    assert.ok(Number.isNaN(withNull.numbers('loss')[1]));
  });

  it('reads rows and objects of columns, and checks them', () => {
    const rows = columnsOf([{ a: 1, b: 'p' }, { a: 2 }], 'the test rows');
    assert.deepEqual(rows.numbers('a'), [1, 2]);
    assert.throws(() => rows.strings('b'), /column "b" of the test rows, row 1, is missing; expected a string/);
    const cols = columnsOf({ x: [1, 2], y: Float32Array.from([3, 4]) });
    assert.deepEqual(cols.numbers('y'), [3, 4]);
    assert.throws(() => columnsOf({ x: [1, 2], y: [1] }), /differ in length \(x: 2, y: 1\)/);
  });
});

/** An Arrow table with nulls, built as tableFromJSON would from records. */
function readMetricsTable(rows: Record<string, number | null>[]) {
  const { tableFromJSON } = require('apache-arrow') as typeof import('apache-arrow');
  return tableFromJSON(rows);
}

describe('viz/charts: distributions, bars, heatmaps, scatter', () => {
  it('gives overlaid histograms the same bins, covering every value', () => {
    const chosen = [0.1, 0.4, 1.7, 2.2];
    const rejected = [-1.3, -0.2, 0.05];
    const fig = histogramChart([{ name: 'chosen', values: chosen }, { name: 'rejected', values: rejected }], { xTitle: 'reward' });
    const [a, b] = traces(fig);
    assert.deepEqual(a.xbins, b.xbins);
    assert.ok(a.xbins.start <= -1.3 && a.xbins.end > 2.2);
    assert.equal(layout(fig).barmode, 'overlay');
    assert.ok(a.opacity < 1);
    assert.equal(layout(histogramChart({ name: 'one', values: [1, 2] }, { stacked: true })).barmode, 'stack');
    assert.equal(traces(histogramChart({ name: 'n', values: [1, 2] }, { normalize: 'density' }))[0].histnorm, 'probability density');
    assert.throws(() => histogramChart({ name: 'chosen', values: [1, NaN] }), /series "chosen", value 1 is NaN; expected a finite number/);
  });

  it('bins integers on whole-number sizes centred on the integers, at a round size', () => {
    assert.deepEqual(sharedBins([[3, 4, 5], [7]], 10), { start: 2.5, end: 7.5, size: 1 });
    const b = sharedBins([[0, 100]], 10);
    assert.equal(b.size, 10);
    assert.equal(b.start, -0.5);
    assert.ok(b.end > 100);
    assert.deepEqual(sharedBins([[0.1, 0.95]], 4), { start: 0, end: 1, size: 0.25 });
  });

  it('draws box plots, one a group', () => {
    const fig = boxChart([{ name: 'a', values: [1, 2, 3] }, { name: 'b', values: [2, 4] }], { valueTitle: 'tokens' });
    assert.deepEqual(traces(fig).map((t) => [t.type, t.name, t.y.length]), [['box', 'a', 3], ['box', 'b', 2]]);
    assert.equal(layout(fig).yaxis.title.text, 'tokens');
  });

  it('groups or stacks bars, lays them down, adds error bars, and checks lengths', () => {
    const fams = ['arithmetic', 'lookup', '3'];
    const fig = barChart(fams, [{ name: 'base', values: [0.1, 0.2, null] }, { name: 'SFT', values: [0.5, 0.6, 0.7], errors: [0.05, 0.05, 0.1] }], { range: [0, 1] });
    const t = traces(fig);
    assert.equal(t.length, 2);
    assert.deepEqual(t[0].x, fams);
    assert.deepEqual(t[0].y, [0.1, 0.2, null]);
    assert.deepEqual(t[1].error_y.array, [0.05, 0.05, 0.1]);
    assert.equal(layout(fig).barmode, 'group');
    assert.equal(layout(fig).xaxis.type, 'category', '"3" stays a label');
    assert.deepEqual(layout(fig).yaxis.range, [0, 1]);
    const h = barChart(fams, { name: 'SFT', values: [1, 2, 3], errors: [0, 0, 1] }, { horizontal: true, stacked: true });
    assert.equal(traces(h)[0].orientation, 'h');
    assert.deepEqual(traces(h)[0].y, fams);
    assert.deepEqual(traces(h)[0].x, [1, 2, 3]);
    assert.ok(traces(h)[0].error_x);
    assert.equal(layout(h).yaxis.type, 'category');
    assert.equal(layout(h).barmode, 'stack');
    assert.throws(() => barChart(fams, { name: 'SFT', values: [1, 2] }), /bar series "SFT" has 2 values for 3 categories/);
    const marked = traces(barChart(['3', '4'], { name: '', values: [1, 2] }, { highlight: [4] }))[0];
    assert.notEqual(marked.marker.color[0], marked.marker.color[1]);
  });

  it('draws a heatmap row 0 on top, labels on ticks (repeats kept apart), optional cell values', () => {
    const fig = heatmapChart([[0.9, 0.1, 0], [0.2, 0.2, 0.6]], { xLabels: ['the', 'cat', 'the'], yLabels: ['q0', 'q1'], annotate: '.2f' });
    const [t] = traces(fig);
    assert.deepEqual(t.x, [0, 1, 2]);
    assert.deepEqual(layout(fig).xaxis.ticktext, ['the', 'cat', 'the']);
    assert.equal(layout(fig).yaxis.autorange, 'reversed');
    assert.equal(t.texttemplate, '%{z:.2f}');
    assert.equal(t.customdata[1][2], 'q1 · the');
    assert.equal(traces(heatmapChart([[1, -1]], { colorscale: 'diverging' }))[0].zmid, 0);
    assert.throws(() => heatmapChart([[1, 2], [3]]), /heatmap row 1 has 1 cells, row 0 has 2/);
    assert.throws(() => heatmapChart([[1, 2]], { xLabels: ['a'] }), /2 columns and 1 column labels/);
  });

  it('draws scatter series with labels and a y = x line across their range', () => {
    const fig = scatterChart([{ name: 'a', x: [1, 2], y: [3, 0.5], labels: ['p', 'q'] }, { name: 'b', x: [4], y: [2] }], { identityLine: true, showLabels: true });
    const t = traces(fig);
    assert.equal(t.length, 3);
    assert.equal(t[0].mode, 'markers+text');
    assert.deepEqual(t[0].text, ['p', 'q']);
    assert.deepEqual(t[2].x, [0.5, 4]);
    assert.deepEqual(t[2].y, [0.5, 4]);
    assert.throws(() => scatterChart({ name: 'a', x: [1], y: [Infinity] }), /point series "a", y\[0\] is Infinity; expected a finite number/);
  });

  it('gives every chart the same look: height, font, colour order, legend place', () => {
    const figs = [
      curveChart([{ name: 'a', x: [1], y: [1] }]), histogramChart({ name: 'a', values: [1] }), barChart(['a'], { name: 'a', values: [1] }),
      heatmapChart([[1]]), scatterChart({ name: 'a', x: [1], y: [1] }), boxChart([{ name: 'a', values: [1] }]),
    ];
    for (const f of figs) {
      assert.equal(layout(f).height, 380);
      assert.deepEqual(layout(f).font, layout(figs[0]).font);
      assert.deepEqual(layout(f).colorway, layout(figs[0]).colorway);
      assert.deepEqual(layout(f).legend, layout(figs[0]).legend);
    }
    assert.equal(layout(barChart(['a'], { name: 'a', values: [1] }, { height: 500 })).height, 500);
  });
});
