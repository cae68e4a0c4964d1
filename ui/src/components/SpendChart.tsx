// ECharts through `echarts/core`, registering only the pieces used here, so the bundle carries one bar chart.
import { theme } from 'antd';
import { BarChart } from 'echarts/charts';
import { GridComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { SVGRenderer } from 'echarts/renderers';
import { useEffect, useMemo, useRef } from 'react';
import { useTranslation } from 'react-i18next';
import type { Dashboard } from '../api';
import { formatCount, formatCredits, formatMicros } from '../format';

echarts.use([BarChart, GridComponent, TooltipComponent, SVGRenderer]);

interface SpendChartProps {
  series: Dashboard['series'];
  height?: number;
  /** A bar's label from its key; by default a day's `MM-DD` (the year is on the card). */
  label?: (key: string) => string;
}

const monthDay = (date: string) => date.slice(5);

/** Credits spent per day (or per any key), one bar each; the tooltip adds messages and tokens. */
export function SpendChart({ series, height = 220, label = monthDay }: SpendChartProps) {
  const { t } = useTranslation();
  const { token } = theme.useToken();
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);

  const option = useMemo(
    () => ({
      animation: false,
      textStyle: { fontFamily: token.fontFamily },
      grid: { left: 8, right: 8, top: 16, bottom: 4, containLabel: true },
      tooltip: {
        trigger: 'axis',
        axisPointer: { type: 'shadow' },
        formatter: (items: { dataIndex: number }[]) => {
          const day = series[items[0].dataIndex];
          return [
            day.date,
            `${t('dashboard.spent')}: ${formatCredits(day.spend.credits)}`,
            `${t('dashboard.messages')}: ${formatCount(day.spend.messages)}`,
            `${t('dashboard.tokens')}: ${formatCount(day.spend.prompt_tokens + day.spend.completion_tokens)}`,
          ].join('<br/>');
        },
      },
      xAxis: {
        type: 'category',
        data: series.map((d) => label(d.date)),
        axisLabel: { color: token.colorTextSecondary },
        axisLine: { lineStyle: { color: token.colorBorder } },
      },
      yAxis: {
        type: 'value',
        axisLabel: { color: token.colorTextSecondary },
        splitLine: { lineStyle: { color: token.colorSplit } },
      },
      // Only the bars' heights are floats; every figure shown as text comes from the exact credits.
      series: [{ type: 'bar', name: t('dashboard.spent'), data: series.map((d) => Number(d.spend.credits)), itemStyle: { color: token.colorPrimary } }],
    }),
    [series, t, token, label],
  );

  const latestOption = useRef(option);
  latestOption.current = option;

  useEffect(() => {
    const el = box.current!;
    let instance: echarts.ECharts | null = null;
    // Drawn once the box has a size (ECharts cannot lay out in 0×0, e.g. before the first paint), then resized with it.
    const observer = new ResizeObserver(() => {
      if (!el.clientWidth) return;
      if (instance) {
        instance.resize();
        return;
      }
      instance = echarts.init(el, undefined, { renderer: 'svg' });
      instance.setOption(latestOption.current);
      chart.current = instance;
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      instance?.dispose();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    chart.current?.setOption(option, true);
  }, [option]);

  const total = series.reduce((sum, d) => sum + BigInt(d.spend.credits_micros), 0n);
  return (
    <div
      ref={box}
      role="img"
      // The chart is SVG without text semantics; say what it shows.
      aria-label={t('dashboard.chartLabel', { days: series.length, credits: formatMicros(total) })}
      style={{ width: '100%', height }}
      data-testid="spend-chart"
    />
  );
}
