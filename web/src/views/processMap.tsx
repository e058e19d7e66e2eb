import { useEffect, useMemo, useState } from 'preact/hooks';
import { get, query } from '../api';
import {
  fmtDuration,
  fmtInt,
  plural,
  fmtPercent,
  fromLocalInput,
  humanType,
  timeZone,
  toLocalInput,
} from '../format';
import { usePoll } from '../poll';
import { href, Route } from '../router';
import type { ProcessMap } from '../types';
import { ErrorNote, Loading, Panel, TimeBasisFields, TimeRangeFields, ViewTitle } from '../ui';

type Dagre = typeof import('@dagrejs/dagre');
type Point = { x: number; y: number };

const keys = ['from', 'to', 'time'] as const;

/** The directly-follows graph of event types, laid out by dagre and drawn in SVG, with its tables. */
export function ProcessMapView({ route }: { route: Route }) {
  const params = Object.fromEntries(
    keys.flatMap((k) => (route.query.get(k) ? [[k, route.query.get(k)!]] : [])),
  );
  const apiQuery = query(params);
  const map = usePoll((s) => get<ProcessMap>(`/api/analytics/process-map${apiQuery}`, s), apiQuery);
  const [dagre, setDagre] = useState<Dagre>();
  useEffect(() => {
    void import('@dagrejs/dagre').then(setDagre);
  }, []);
  const m = map.data;

  return (
    <>
      <ViewTitle text="Process map" />
      <MapControls key={apiQuery} params={params} />
      <ErrorNote error={map.error} what="the process map" />
      {!m ? (
        map.error ? null : (
          <Loading what="the process map" />
        )
      ) : (
        <div aria-busy={map.loading}>
          <p class="lead" data-happy-share={String(m.happyPath.share)}>
            {plural(m.orders, 'order')}. Happy path ({m.happyPath.steps.map(humanType).join(' → ')}):{' '}
            <strong>
              {plural(m.happyPath.orders, 'order')}, {fmtPercent(m.happyPath.share)}
            </strong>
            .
          </p>
          <Panel id="map-diagram" title="Directly-follows graph" wide>
            <p class="note">
              Arrow width grows with the number of transitions; each label gives the transitions and their
              median time. Blue arrows follow the happy path. {m.edges.length} transitions between{' '}
              {m.nodes.length} event types; the tables below list them all.
            </p>
            {m.nodes.length === 0 ? (
              <p>No events yet.</p>
            ) : dagre ? (
              <Diagram dagre={dagre} map={m} />
            ) : (
              <Loading what="the layout" />
            )}
          </Panel>
          <div class="grid-2">
            <Panel id="map-edges" title="Transitions">
              <div class="scroll">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">From</th>
                      <th scope="col">To</th>
                      <th scope="col" class="num">
                        Transitions
                      </th>
                      <th scope="col" class="num">
                        Median time
                      </th>
                      <th scope="col" class="num">
                        p90 time
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {m.edges.map((e) => (
                      <tr key={`${e.from}>${e.to}`}>
                        <td>{humanType(e.from)}</td>
                        <td>{humanType(e.to)}</td>
                        <td class="num">{fmtInt(e.count)}</td>
                        <td class="num">{fmtDuration(e.medianSeconds)}</td>
                        <td class="num">{fmtDuration(e.p90Seconds)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </Panel>
            <Panel id="map-nodes" title="Event types">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Event type</th>
                    <th scope="col" class="num">
                      Events
                    </th>
                    <th scope="col" class="num">
                      Orders
                    </th>
                    <th scope="col" class="num">
                      First of
                    </th>
                    <th scope="col" class="num">
                      Last of
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {m.nodes.map((n) => (
                    <tr key={n.eventType}>
                      <th scope="row">{humanType(n.eventType)}</th>
                      <td class="num">{fmtInt(n.events)}</td>
                      <td class="num">{fmtInt(n.orders)}</td>
                      <td class="num">
                        {fmtInt(m.start.find((s) => s.eventType === n.eventType)?.orders ?? 0)}
                      </td>
                      <td class="num">
                        {fmtInt(m.end.find((s) => s.eventType === n.eventType)?.orders ?? 0)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <p class="note">
                “First of” and “Last of”: the orders whose first or last event has this type.
              </p>
            </Panel>
          </div>
        </div>
      )}
    </>
  );
}

function MapControls({ params }: { params: Record<string, string> }) {
  const [from, setFrom] = useState(toLocalInput(params.from));
  const [to, setTo] = useState(toLocalInput(params.to));
  const [time, setTime] = useState(params.time ?? 'business');
  return (
    <form
      class="controls inline"
      aria-label="Process map query"
      onSubmit={(e) => {
        e.preventDefault();
        location.hash = href(['process-map'], {
          from: fromLocalInput(from),
          to: fromLocalInput(to),
          time: time === 'business' ? undefined : time,
        });
      }}
    >
      <TimeRangeFields
        legend={`Orders whose first event is between, ${timeZone}`}
        from={from}
        to={to}
        setFrom={setFrom}
        setTo={setTo}
      />
      <TimeBasisFields time={time} setTime={setTime} />
      <button type="submit">Show the map</button>
    </form>
  );
}

const nodeWidth = 190;
const lineHeight = 18;

/** A smooth path through dagre's edge points (Catmull-Rom turned into cubic Béziers). */
function smoothPath(points: Point[]): string {
  if (points.length < 2) return '';
  let d = `M${points[0]!.x},${points[0]!.y}`;
  for (let i = 0; i < points.length - 1; i++) {
    const p0 = points[i - 1] ?? points[i]!;
    const p1 = points[i]!;
    const p2 = points[i + 1]!;
    const p3 = points[i + 2] ?? p2;
    const c1 = { x: p1.x + (p2.x - p0.x) / 6, y: p1.y + (p2.y - p0.y) / 6 };
    const c2 = { x: p2.x - (p3.x - p1.x) / 6, y: p2.y - (p3.y - p1.y) / 6 };
    d += ` C${c1.x},${c1.y} ${c2.x},${c2.y} ${p2.x},${p2.y}`;
  }
  return d;
}

const textWidth = (text: string) => text.length * 7.2 + 12;
const arrowSize = (stroke: number) => Math.max(9, stroke * 2.2);

/** An arrow head in user units, so it stays in proportion to its edge's width. */
function Arrow({ id, size, kind }: { id: string; size: number; kind: 'happy' | 'other' }) {
  return (
    <marker
      id={id}
      viewBox="0 0 10 10"
      refX="7"
      refY="5"
      markerUnits="userSpaceOnUse"
      markerWidth={size}
      markerHeight={size}
      orient="auto-start-reverse"
    >
      <path d="M0,0 L10,5 L0,10 z" class={`arrow ${kind}`} />
    </marker>
  );
}

function Diagram({ dagre, map }: { dagre: Dagre; map: ProcessMap }) {
  const layout = useMemo(() => {
    const maxCount = Math.max(1, ...map.edges.map((e) => e.count));
    const width = (count: number) => 1.5 + 10 * Math.sqrt(count / maxCount);
    const label = (e: ProcessMap['edges'][number]) => `${fmtInt(e.count)} · ${fmtDuration(e.medianSeconds)}`;
    const loops = new Map(map.edges.filter((e) => e.from === e.to).map((e) => [e.from, e]));
    const happy = new Set(map.happyPath.steps.slice(1).map((to, i) => `${map.happyPath.steps[i]}>${to}`));

    const g = new dagre.graphlib.Graph();
    // The greedy acyclicer weighs edges by count: the main flow runs top to bottom, the rare edges that go
    // back in time (imported history) are the ones drawn upwards.
    g.setGraph({
      rankdir: 'TB',
      acyclicer: 'greedy',
      nodesep: 60,
      ranksep: 56,
      edgesep: 24,
      marginx: 24,
      marginy: 16,
    });
    g.setDefaultEdgeLabel(() => ({}));
    for (const n of map.nodes)
      g.setNode(n.eventType, {
        width: nodeWidth + (loops.has(n.eventType) ? 40 : 0),
        height: loops.has(n.eventType) ? 66 : 48,
      });
    // Self-loops (a type repeated in a row) are drawn on their node, not routed by dagre.
    for (const e of map.edges)
      if (e.from !== e.to)
        g.setEdge(e.from, e.to, {
          width: textWidth(label(e)),
          height: lineHeight,
          labelpos: 'c',
          weight: e.count,
        });
    dagre.layout(g);

    return {
      width: g.graph().width ?? 0,
      height: g.graph().height ?? 0,
      nodes: map.nodes.map((n) => {
        const p = g.node(n.eventType);
        return {
          ...n,
          x: p.x!,
          y: p.y!,
          w: p.width,
          h: p.height,
          loop: loops.get(n.eventType),
          loopLabel: loops.has(n.eventType) ? label(loops.get(n.eventType)!) : '',
        };
      }),
      edges: map.edges
        .filter((e) => e.from !== e.to)
        .map((e) => {
          const p = g.edge(e.from, e.to);
          return {
            ...e,
            d: smoothPath(p.points ?? []),
            lx: p.x ?? 0,
            ly: p.y ?? 0,
            text: label(e),
            stroke: width(e.count),
            happy: happy.has(`${e.from}>${e.to}`),
          };
        }),
      loopWidth: width,
    };
  }, [dagre, map]);

  return (
    <div class="diagram">
      <svg
        role="img"
        aria-labelledby="map-svg-title map-svg-desc"
        viewBox={`0 0 ${layout.width} ${layout.height}`}
        width={layout.width}
        height={layout.height}
        style={{ maxWidth: `${layout.width}px` }}
      >
        <title id="map-svg-title">Process map of the order events</title>
        <desc id="map-svg-desc">
          {map.nodes.length} event types joined by {map.edges.length} directly-follows transitions; the tables
          below list every transition with its count and times.
        </desc>
        <defs>
          {layout.edges.map((e, i) => (
            <Arrow key={i} id={`arrow-${i}`} size={arrowSize(e.stroke)} kind={e.happy ? 'happy' : 'other'} />
          ))}
          <Arrow id="arrow-loop" size={10} kind="other" />
        </defs>
        {layout.edges.map((e, i) => (
          <path
            key={`${e.from}>${e.to}`}
            d={e.d}
            class={e.happy ? 'edge happy' : 'edge'}
            stroke-width={e.stroke}
            marker-end={`url(#arrow-${i})`}
          />
        ))}
        {layout.nodes.map((n) => (
          <g key={n.eventType} class="node" transform={`translate(${n.x - n.w / 2},${n.y - n.h / 2})`}>
            <rect width={n.w} height={n.h} rx="8" />
            <text x={n.w / 2} y={19} text-anchor="middle" class="node-title">
              {humanType(n.eventType)}
            </text>
            <text x={n.w / 2} y={37} text-anchor="middle">
              {plural(n.orders, 'order')}
            </text>
            {n.loop && (
              <>
                <text x={n.w / 2} y={55} text-anchor="middle" class="loop-label">
                  ↻ {n.loopLabel}
                </text>
                <path
                  d={`M${n.w},${n.h / 2 - 12} c26,-14 26,38 0,24`}
                  class="edge"
                  stroke-width={Math.min(6, layout.loopWidth(n.loop.count))}
                  marker-end="url(#arrow-loop)"
                />
              </>
            )}
          </g>
        ))}
        {layout.edges.map((e) => (
          <g key={`label ${e.from}>${e.to}`} class="edge-label" transform={`translate(${e.lx},${e.ly})`}>
            <rect
              x={-textWidth(e.text) / 2}
              y={-lineHeight / 2}
              width={textWidth(e.text)}
              height={lineHeight}
              rx="4"
            />
            <text text-anchor="middle" dominant-baseline="central">
              {e.text}
            </text>
          </g>
        ))}
      </svg>
    </div>
  );
}
