// Plots of every learned activation φ_ji of a KAN as one SVG document (pykan's `plot`, as a grid of small
// panels rather than a network drawing): one row of panels per layer, one panel per edge i -> j, the
// curve drawn over the edge's inputs on the given samples. Symbolic edges are drawn from their fitted
// formula (in red, with its name), pruned edges are greyed out, and the panel's opacity follows the
// edge's attribution score as pykan fades unimportant edges. Plain SVG text: no dependency, works in
// Node and browsers, and any viewer (or a browser) shows it.
import type * as tf from '@tensorflow/tfjs-core';
import { disposeTrace, type KAN } from './kan.js';
import { SYMBOLIC_LIBRARY } from './symbolic.js';

export interface PlotOptions {
  /** Panel width and height in pixels (default 120 x 90). */
  panelWidth?: number;
  panelHeight?: number;
  /** Fade panels by attribution score (default true). */
  fadeByScore?: boolean;
  /** Title drawn on top (default 'KAN activations'). */
  title?: string;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function format(value: number): string {
  return Math.abs(value) >= 100 || (Math.abs(value) < 0.01 && value !== 0)
    ? value.toExponential(1)
    : value.toFixed(2);
}

/**
 * SVG of every activation of `model` evaluated on the samples x [B, widths[0]].
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { KAN, plotActivations } from '@mlzoo/kan';
 *
 * const model = new KAN({ widths: [2, 3, 1] });
 * const svg = plotActivations(model, tf.randomUniform([100, 2], -1, 1));
 * // writeFileSync('activations.svg', svg)
 * ```
 */
export function plotActivations(model: KAN, x: tf.Tensor, options: PlotOptions = {}): string {
  const width = options.panelWidth ?? 120;
  const height = options.panelHeight ?? 90;
  const gap = 10;
  const top = 30;
  const labelHeight = 14;
  const scores = options.fadeByScore === false ? null : model.attribute(x).edgeScores;
  const trace = model.trace(x);
  try {
    const rows = model.depth;
    const columns = Math.max(...model.widths.slice(0, -1).map((w, l) => w * model.widths[l + 1]!));
    const totalWidth = gap + columns * (width + gap);
    const totalHeight = top + rows * (height + labelHeight + gap) + gap;
    const parts: string[] = [
      `<svg xmlns="http://www.w3.org/2000/svg" width="${totalWidth}" height="${totalHeight}" viewBox="0 0 ${totalWidth} ${totalHeight}" font-family="sans-serif" font-size="10">`,
      `<rect width="100%" height="100%" fill="white"/>`,
      `<text x="${gap}" y="18" font-size="13">${escapeXml(options.title ?? `KAN activations, widths [${model.widths.join(', ')}]`)}</text>`,
    ];
    for (let l = 0; l < rows; l++) {
      const inputs = trace.inputs[l]!.arraySync() as number[][];
      const acts = trace.postacts[l]!.arraySync() as number[][][];
      const layer = model.layers[l]!;
      const numericMask = layer.mask.arraySync() as number[][];
      const symbolic = model.symbolicFun.at(l);
      const symbolicMask = symbolic.mask.arraySync() as number[][];
      const affine = symbolic.affine.arraySync() as number[][][];
      const layerScores = scores?.[l];
      const maxScore = layerScores ? Math.max(1e-12, ...layerScores.flat()) : 1;
      let panel = 0;
      for (let j = 0; j < model.widths[l + 1]!; j++) {
        for (let i = 0; i < model.widths[l]!; i++) {
          const left = gap + panel * (width + gap);
          const y0 = top + l * (height + labelHeight + gap);
          panel++;
          const isSymbolic = symbolicMask[j]![i] !== 0;
          const points = inputs.map((row, b) => {
            const xi = row[i]!;
            if (!isSymbolic) return [xi, acts[b]![j]![i]!] as const;
            const [a, bias, c, d] = affine[j]![i]!;
            const fn = SYMBOLIC_LIBRARY[symbolic.functionNames[j]![i]!]!;
            return [xi, c! * fn.evaluate(a! * xi + bias!) + d!] as const;
          });
          points.sort((p, q) => p[0] - q[0]);
          const xs = points.map((p) => p[0]);
          const ys = points.map((p) => p[1]);
          const [xMin, xMax] = [Math.min(...xs), Math.max(...xs)];
          let [yMin, yMax] = [Math.min(...ys), Math.max(...ys)];
          if (yMax - yMin < 1e-9) {
            yMin -= 1;
            yMax += 1;
          }
          const sx = (value: number) =>
            left + 4 + ((value - xMin) / Math.max(xMax - xMin, 1e-12)) * (width - 8);
          const sy = (value: number) => y0 + height - 4 - ((value - yMin) / (yMax - yMin)) * (height - 8);
          const pruned = !isSymbolic && numericMask[i]![j] === 0;
          const opacity = layerScores ? Math.max(0.15, Math.min(1, layerScores[j]![i]! / maxScore)) : 1;
          const colour = isSymbolic ? '#c62828' : pruned ? '#bbbbbb' : '#1f3b73';
          parts.push(`<g opacity="${opacity.toFixed(3)}">`);
          parts.push(
            `<rect x="${left}" y="${y0}" width="${width}" height="${height}" fill="none" stroke="#888" stroke-width="0.5"/>`,
          );
          if (yMin < 0 && yMax > 0) {
            parts.push(
              `<line x1="${left}" x2="${left + width}" y1="${sy(0).toFixed(1)}" y2="${sy(0).toFixed(1)}" stroke="#ddd"/>`,
            );
          }
          const path = points.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ');
          parts.push(`<polyline points="${path}" fill="none" stroke="${colour}" stroke-width="1.5"/>`);
          const name = isSymbolic ? ` ${symbolic.functionNames[j]![i]}` : pruned ? ' pruned' : '';
          parts.push(
            `<text x="${left}" y="${y0 + height + 11}">${escapeXml(`φ${l}.${i}→${j}${name} [${format(yMin)}, ${format(yMax)}]`)}</text>`,
          );
          parts.push('</g>');
        }
      }
    }
    parts.push('</svg>');
    return parts.join('\n');
  } finally {
    disposeTrace(trace);
  }
}
