/**
 * ECharts, tree-shaken: only the bar and line charts, the grid, tooltip and legend, and the SVG renderer
 * (crisp at any zoom, text in the DOM). Loaded on demand by `Chart`, so views without a chart never fetch it.
 */
import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import { init, use } from 'echarts/core';
import { SVGRenderer } from 'echarts/renderers';

use([BarChart, LineChart, GridComponent, LegendComponent, TooltipComponent, SVGRenderer]);

export { init };
