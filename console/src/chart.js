// chart: Apache ECharts, only the parts the console draws (line and bar
// series, grid, tooltip, legend, mark lines, canvas), loaded with the
// statement view. Tooltips are drawn on the canvas (richText), not as HTML:
// the CSP allows no inline style.
import * as echarts from 'echarts/core';
import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, MarkLineComponent,
  TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

echarts.use([BarChart, LineChart, GridComponent, LegendComponent,
  MarkLineComponent, TooltipComponent, CanvasRenderer]);

export function draw(el, option) {
  const c = echarts.init(el, null, { renderer: 'canvas' });
  c.setOption(option);
  const ro = new ResizeObserver(() => c.resize());
  ro.observe(el);
  return c;
}
