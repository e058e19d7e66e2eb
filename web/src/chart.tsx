import type { EChartsCoreOption, EChartsType } from 'echarts/core';
import { useEffect, useRef } from 'preact/hooks';

/** Colour-blind-safe (Okabe-Ito), each at least 3:1 against white. */
export const palette = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#8F6A00', '#3D7EA6', '#000000'];

const baseOption = {
  color: palette,
  // A named font (not `inherit`): ECharts measures its labels on a canvas with this font.
  textStyle: {
    fontFamily: 'system-ui, "Segoe UI", Roboto, Helvetica, Arial, sans-serif',
    fontSize: 12,
    color: '#1f2937',
  },
  animation: false,
  grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
  tooltip: { trigger: 'axis', confine: true },
};

/**
 * One chart. The figures it draws are also in a table or text next to it (the chart is an image for
 * assistive technology, labelled by `label`); ECharts itself is loaded on first use.
 */
export function Chart({
  option,
  label,
  height = 280,
}: {
  option: EChartsCoreOption;
  label: string;
  height?: number;
}) {
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<EChartsType | null>(null);
  const latest = useRef(option);
  latest.current = option;

  useEffect(() => {
    let disposed = false;
    let observer: ResizeObserver | undefined;
    void import('./echarts').then(({ init }) => {
      if (disposed || !el.current) return;
      chart.current = init(el.current, null, { renderer: 'svg' });
      chart.current.setOption({ ...baseOption, ...latest.current }, true);
      observer = new ResizeObserver(() => chart.current?.resize());
      observer.observe(el.current);
    });
    return () => {
      disposed = true;
      observer?.disconnect();
      chart.current?.dispose();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    chart.current?.setOption({ ...baseOption, ...option }, true);
  }, [option]);

  return <div ref={el} class="chart" role="img" aria-label={label} style={{ height: `${height}px` }} />;
}
