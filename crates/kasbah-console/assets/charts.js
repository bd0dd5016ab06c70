// charts.js — Thin wrappers around the vendored uPlot (global `uPlot`) for the console's charts:
// time histograms (bars, optionally stacked by alert level) and time series lines. They follow
// the container's width, use the dark theme's colours from CSS custom properties, format the
// legend in local time, and report a dragged time selection (used to zoom a search).

import { t } from './i18n.js';
import { h, fmtTime, fmtNumber } from './util.js';

const css = (name, fallback) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;

/** The palette for series without a fixed colour (timechart ... by field). */
export function palette(i) {
  const list = ['--chart-1', '--chart-2', '--chart-3', '--chart-4', '--chart-5', '--chart-6', '--chart-7', '--chart-8'];
  return css(list[i % list.length], '#38bdf8');
}

export function levelColor(level) {
  return css(`--level-${level}`, '#94a3b8');
}

function shortNumber(v) {
  if (v === null || v === undefined) return '';
  const a = Math.abs(v);
  if (a >= 1e9) return `${fmtNumber(v / 1e9, { maximumFractionDigits: 1 })}G`;
  if (a >= 1e6) return `${fmtNumber(v / 1e6, { maximumFractionDigits: 1 })}M`;
  if (a >= 1e4) return `${fmtNumber(v / 1e3, { maximumFractionDigits: 1 })}k`;
  return fmtNumber(v, { maximumFractionDigits: 2 });
}

const pad2 = (n) => String(n).padStart(2, '0');

/** Time tick labels in 24-hour local time; the date is added where it changes. */
function timeTicks(u, splits, axisIdx, space, incr) {
  let lastDay = null;
  return splits.map((v) => {
    if (v === null || v === undefined) return '';
    const d = new Date(v * 1000);
    const day = `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
    const newDay = day !== lastDay;
    lastDay = day;
    if (incr >= 86400) return incr >= 86400 * 28 ? `${d.getFullYear()}-${pad2(d.getMonth() + 1)}` : day;
    const hm = incr < 60 ? `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}` : `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
    return newDay ? `${hm}\n${day}` : hm;
  });
}

function axes() {
  const stroke = css('--text-muted', '#94a3b8');
  const grid = css('--chart-grid', 'rgba(148,163,184,0.15)');
  const font = '12px system-ui, sans-serif';
  return [
    { stroke, font, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, values: timeTicks, space: 60 },
    { stroke, font, size: 56, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, values: (u, vals) => vals.map(shortNumber) },
  ];
}

function withAlpha(color, alpha) {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (!m) return color;
  const n = parseInt(m[1], 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}

/**
 * Mounts a uPlot chart in `el`. Returns `{destroy()}`.
 * `opts`: `times` (epoch seconds), `series` [{label, values, color}], `kind` ('bars' | 'line'),
 * `stacked` (bars only), `spanSec` (bar width), `height`, `onSelect(fromSec, toSec)`,
 * `label` (accessible name), `valueFormat(v)`, `xRange` ([from, to] in s: the period shown).
 */
export function timeChart(el, opts) {
  const { times, series, kind = 'bars', stacked = false, spanSec = 60, height = 200, onSelect, label, valueFormat, xRange } = opts;
  if (typeof window.uPlot !== 'function') {
    el.replaceChildren(h('p', { class: 'muted', text: t('chart.unavailable') }));
    return { destroy() {} };
  }
  const uPlot = window.uPlot;
  const fmt = valueFormat || ((v) => (v === null || v === undefined ? '—' : fmtNumber(v, { maximumFractionDigits: 2 })));
  const raw = series.map((s) => s.values);
  let data;
  let drawSeries = series;
  if (stacked) {
    // Cumulative sums drawn tallest first, so each level paints over the ones stacked above it.
    const cum = [];
    let acc = times.map(() => 0);
    for (const s of series) {
      acc = acc.map((v, i) => v + (Number(s.values[i]) || 0));
      cum.push(acc);
    }
    const order = series.map((_, i) => i).reverse();
    drawSeries = order.map((i) => ({ ...series[i], values: cum[i], rawIndex: i }));
  }
  data = [times, ...drawSeries.map((s) => s.values)];

  const bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.85, 80], align: 1, gap: 1 }) : undefined;
  const uSeries = [
    { label: t('chart.time'), value: (u, v) => (v === null || v === undefined ? '—' : fmtTime(new Date(v * 1000))) },
    ...drawSeries.map((s) => {
      const color = s.color || palette(0);
      const base = {
        label: s.label,
        stroke: color,
        width: kind === 'bars' ? 0 : 2,
        points: { show: false },
        value: stacked
          ? (u, v, si, idx) => (idx === null || idx === undefined ? '—' : fmt(raw[s.rawIndex][idx]))
          : (u, v) => fmt(v),
      };
      if (kind === 'bars') return { ...base, fill: color, paths: bars };
      return drawSeries.length === 1 ? { ...base, fill: withAlpha(color, 0.15) } : base;
    }),
  ];

  const width = Math.max(200, el.clientWidth || 600);
  const options = {
    width,
    height,
    padding: [8, 24, 0, 4],
    cursor: { drag: { x: Boolean(onSelect), y: false, setScale: false }, points: { show: kind !== 'bars' } },
    select: { show: Boolean(onSelect) },
    legend: { show: true, live: true },
    scales: {
      x: {
        time: true,
        range: (u, min, max) => {
          if (xRange) return [Math.min(xRange[0], min ?? xRange[0]), Math.max(xRange[1], (max ?? xRange[1]) + (kind === 'bars' ? spanSec : 0))];
          if (min === null || max === null || min === undefined) return [Date.now() / 1000 - 3600, Date.now() / 1000];
          return kind === 'bars' ? [min, max + spanSec] : (min === max ? [min - spanSec, max + spanSec] : [min, max]);
        },
      },
      y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] },
    },
    axes: axes(),
    series: uSeries,
    hooks: {
      setSelect: [
        (u) => {
          if (!onSelect || u.select.width < 3) return;
          const a = u.posToVal(u.select.left, 'x');
          const b = u.posToVal(u.select.left + u.select.width, 'x');
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          onSelect(a, b);
        },
      ],
    },
  };

  el.replaceChildren();
  el.classList.add('chart');
  if (label) {
    el.setAttribute('role', 'img');
    el.setAttribute('aria-label', label);
  }
  const plot = new uPlot(options, data, el);
  let lastWidth = width;
  const ro = new ResizeObserver(() => {
    const w = Math.max(200, el.clientWidth);
    if (Math.abs(w - lastWidth) > 2) {
      lastWidth = w;
      plot.setSize({ width: w, height });
    }
  });
  ro.observe(el);
  return {
    destroy() {
      ro.disconnect();
      plot.destroy();
    },
  };
}
