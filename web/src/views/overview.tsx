import { useMemo, useState } from 'preact/hooks';
import { get, getIfPresent } from '../api';
import { Chart } from '../chart';
import { fmtClock, fmtDuration, fmtInt, timeZone } from '../format';
import { usePoll } from '../poll';
import { href } from '../router';
import type { EventGridStats, Overview } from '../types';
import { ErrorNote, LiveStatus, Loading, Panel, Time, ViewTitle } from '../ui';

const every = 3000;
const minutes = 15;

/** Orders by status, commits and events per minute, the change feed's lag, dead letters, Event Grid. */
export function OverviewView() {
  const [paused, setPaused] = useState(false);
  const overview = usePoll(
    (s) => get<Overview>(`/api/overview?minutes=${minutes}`, s),
    'overview',
    paused ? 0 : every,
  );
  const grid = usePoll(
    (s) => getIfPresent<EventGridStats>('/eventgrid/stats', s),
    'eventgrid',
    paused ? 0 : every,
  );
  const o = overview.data;

  const statusChart = useMemo(
    () =>
      o && {
        grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true },
        xAxis: { type: 'category', data: o.ordersByStatus.map((s) => s.status), axisLabel: { interval: 0 } },
        yAxis: { type: 'value', minInterval: 1 },
        series: [
          {
            type: 'bar',
            name: 'orders',
            data: o.ordersByStatus.map((s) => s.count),
            label: { show: true, position: 'top', formatter: (p: { value: number }) => fmtInt(p.value) },
          },
        ],
      },
    [o],
  );
  const throughputChart = useMemo(
    () =>
      o && {
        legend: { top: 0 },
        xAxis: { type: 'category', data: o.throughput.perMinute.map((m) => fmtClock(m.minute)) },
        yAxis: { type: 'value', minInterval: 1 },
        series: [
          {
            type: 'line',
            name: 'commits (accepted commands)',
            data: o.throughput.perMinute.map((m) => m.commits),
          },
          {
            type: 'line',
            name: 'events',
            data: o.throughput.perMinute.map((m) => m.events),
            lineStyle: { type: 'dashed' },
          },
        ],
      },
    [o],
  );

  return (
    <>
      <ViewTitle text="Overview" />
      <LiveStatus paused={paused} onToggle={() => setPaused((p) => !p)} at={overview.at} every={every} />
      <ErrorNote error={overview.error} what="the overview" />
      {!o ? (
        overview.error ? null : (
          <Loading what="the overview" />
        )
      ) : (
        <div class="grid-2">
          <Panel id="by-status" title="Orders by status">
            <Chart
              option={statusChart!}
              height={220}
              label="Bar chart of the number of orders in each status; the table below has the figures."
            />
            <table>
              <caption class="visually-hidden">Orders by status</caption>
              <thead>
                <tr>
                  <th scope="col">Status</th>
                  <th scope="col" class="num">
                    Orders
                  </th>
                </tr>
              </thead>
              <tbody>
                {o.ordersByStatus.map((s) => (
                  <tr key={s.status} data-status={s.status}>
                    <th scope="row">
                      <a href={href(['orders'], { status: s.status })}>{s.status}</a>
                    </th>
                    <td class="num">{fmtInt(s.count)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Panel>
          <div>
            <Panel
              id="throughput"
              title={`Commits and events per minute, last ${o.throughput.minutes} minutes`}
            >
              <Chart
                option={throughputChart!}
                height={220}
                label={`Line chart of commits and events per minute over the last ${o.throughput.minutes} minutes; the table below has the figures.`}
              />
              <details>
                <summary>Figures per minute ({timeZone})</summary>
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Minute</th>
                      <th scope="col" class="num">
                        Commits
                      </th>
                      <th scope="col" class="num">
                        Events
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {o.throughput.perMinute.map((m) => (
                      <tr key={m.minute}>
                        <th scope="row">
                          <Time iso={m.minute} />
                        </th>
                        <td class="num">{fmtInt(m.commits)}</td>
                        <td class="num">{fmtInt(m.events)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </details>
            </Panel>
            <Panel id="dead-letters" title="Dead letters">
              {o.deadLetters.length === 0 ? (
                <p>No dead-letter channel reported.</p>
              ) : (
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Channel</th>
                      <th scope="col" class="num">
                        Dead letters
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {o.deadLetters.map((d) => (
                      <tr key={d.channel}>
                        <th scope="row">{d.channel}</th>
                        <td class="num">{fmtInt(d.count)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </Panel>
          </div>
          <Panel id="change-feed" title="Change feed" wide>
            <p>
              Last commit recorded: <Time iso={o.headRecordedAt} ms />
            </p>
            <div class="scroll">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Consumer</th>
                    <th scope="col" class="num">
                      Lag
                    </th>
                    <th scope="col">Last commit it read</th>
                    <th scope="col">Read at</th>
                  </tr>
                </thead>
                <tbody>
                  {o.changeFeed.map((c) => (
                    <tr key={c.consumer}>
                      <th scope="row">{c.consumer}</th>
                      <td class="num">{fmtDuration(c.lagSeconds)}</td>
                      <td>
                        <Time iso={c.lastRecordedAt} ms />
                      </td>
                      <td>
                        <Time iso={c.processedAt} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </Panel>
          {grid.data && <EventGridPanel stats={grid.data} />}
        </div>
      )}
    </>
  );
}

function EventGridPanel({ stats }: { stats: EventGridStats }) {
  return (
    <Panel id="event-grid" title="Event Grid deliveries (local topic)" wide>
      <p>
        Pending {fmtInt(stats.pending)} · failed attempts in the last hour{' '}
        {fmtInt(stats.failedAttemptsLastHour)} · dead-lettered {fmtInt(stats.deadLettered)}
      </p>
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">Subscription</th>
              <th scope="col" class="num">
                Pending
              </th>
              <th scope="col" class="num">
                Delivered (1 h)
              </th>
              <th scope="col" class="num">
                Failed attempts (1 h)
              </th>
              <th scope="col" class="num">
                Dead-lettered
              </th>
            </tr>
          </thead>
          <tbody>
            {stats.subscriptions.map((s) => (
              <tr key={s.name}>
                <th scope="row">{s.name}</th>
                <td class="num">{fmtInt(s.pending)}</td>
                <td class="num">{fmtInt(s.deliveredLastHour)}</td>
                <td class="num">{fmtInt(s.failedAttemptsLastHour)}</td>
                <td class="num">{fmtInt(s.deadLettered)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Panel>
  );
}
