// One time-series chart on uPlot (about 20 KB gzipped), imported on first use so the library and
// its stylesheet load only with a page that draws a chart. Its numbers are also given as a table
// (for screen readers, and for reading exact values), so the canvas is decorative (aria-hidden).
import { useEffect, useRef } from 'react';
import { axisLabels } from '../lib/admin';
import '../admin.css';

export interface Series {
  /** x values: ms since the epoch. */
  x: number[];
  y: number[];
  label: string;
  /** How the y axis and the tooltip show a value. */
  format: (v: number) => string;
}

export function TimeChart({
  series,
  height = 220,
  utc = false,
}: {
  series: Series;
  height?: number;
  /** x values are UTC days: label them in UTC, not the viewer's zone. */
  utc?: boolean;
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    let chart: { destroy(): void; setSize(size: { width: number; height: number }): void } | undefined;
    let cancelled = false;
    const observer = new ResizeObserver(() => chart?.setSize({ width: element.clientWidth, height }));
    (async () => {
      const [{ default: UPlot }] = await Promise.all([import('uplot'), import('uplot/dist/uPlot.min.css')]);
      if (cancelled) return;
      chart = new UPlot(
        {
          width: element.clientWidth,
          height,
          legend: { show: false },
          cursor: { show: true, drag: { x: false, y: false } },
          ...(utc ? { tzDate: (ts: number) => UPlot.tzDate(new Date(ts * 1000), 'Etc/UTC') } : {}),
          scales: {
            x: { time: true },
            // From zero, and never a span so small that all-zero days draw a scale of fractions.
            y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 10_000] },
          },
          axes: [
            { stroke: '#4d4d55' },
            { stroke: '#4d4d55', size: 70, values: (_u, values) => axisLabels(values, series.format) },
          ],
          series: [
            {},
            {
              label: series.label,
              stroke: '#0b57d0',
              fill: 'rgba(11, 87, 208, 0.15)',
              width: 2,
              paths: UPlot.paths.bars?.({ size: [0.7, 40] }),
              points: { show: false },
            },
          ],
        },
        // uPlot's time scale is in seconds.
        [series.x.map((ms) => ms / 1000), series.y],
        element,
      );
      observer.observe(element);
    })();
    return () => {
      cancelled = true;
      observer.disconnect();
      chart?.destroy();
    };
  }, [series, height, utc]);
  return <div className="adm-chart" ref={box} aria-hidden="true" />;
}

/** A categorical breakdown as horizontal bars (plain HTML: no library needed, readable as a list). */
export function BarList({
  rows,
  format,
  label,
}: {
  rows: readonly { label: string; value: number }[];
  format: (v: number) => string;
  label: string;
}) {
  const max = Math.max(1, ...rows.map((r) => r.value));
  return (
    <ul className="adm-hbars" aria-label={label}>
      {rows.map((r) => (
        <li key={r.label} className="adm-bar-row">
          <div className="adm-bar-label">
            <span className="adm-wrap">{r.label}</span>
            <span>{format(r.value)}</span>
          </div>
          <div className="adm-bar" aria-hidden="true">
            <span className="adm-used" style={{ width: `${(r.value / max) * 100}%` }} />
          </div>
        </li>
      ))}
    </ul>
  );
}
