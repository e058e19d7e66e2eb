import { useEffect, useMemo, useState } from 'preact/hooks';
import { get, query } from '../api';
import { Chart } from '../chart';
import {
  dash,
  fmtDuration,
  fmtInt,
  fmtPercent,
  fromLocalInput,
  humanType,
  timeZone,
  toLocalInput,
} from '../format';
import { usePoll } from '../poll';
import { href, orderHref, Route } from '../router';
import { defaultFunnelSteps, eventTypes, type DropOffs, type Funnel, type FunnelStep } from '../types';
import { ErrorNote, Loading, Panel, TimeBasisFields, TimeRangeFields, ViewTitle } from '../ui';

/** The query parameters of GET /api/analytics/funnel (FunnelQuery), as the route's hash carries them. */
const funnelKeys = ['steps', 'from', 'to', 'window', 'countBy', 'breakdown', 'time'] as const;
type FunnelParams = Partial<Record<(typeof funnelKeys)[number], string>>;

const paramsOf = (q: URLSearchParams): FunnelParams =>
  Object.fromEntries(funnelKeys.flatMap((k) => (q.get(k) ? [[k, q.get(k)!]] : [])));

const breakdowns: Record<string, string> = {
  referralCode: 'referral code',
  customerState: 'customer state',
  currency: 'currency',
};
const units: Record<string, string> = { d: 'days', h: 'hours', m: 'minutes', s: 'seconds' };

/** The analytics funnel with its controls, as a chart and a table; drop-offs list the orders. */
export function FunnelView({ route }: { route: Route }) {
  const params = paramsOf(route.query);
  const apiQuery = query(params);
  const dropStep = Number(route.query.get('dropOffs')) || undefined;
  const funnel = usePoll((s) => get<Funnel>(`/api/analytics/funnel${apiQuery}`, s), apiQuery);
  const f = funnel.data;
  const entities = (params.countBy ?? 'orders') === 'customers' ? 'Customers' : 'Orders';

  return (
    <>
      <ViewTitle text="Funnel" />
      <FunnelControls key={apiQuery} params={params} />
      <ErrorNote error={funnel.error} what="the funnel" />
      <div aria-busy={funnel.loading} id="funnel-results">
        {!f ? (
          funnel.error ? null : (
            <Loading what="the funnel" />
          )
        ) : (
          <>
            <Panel id="funnel-overall" title={`${entities} per step`}>
              <StepsChart steps={f.steps} entities={entities} />
              <StepsTable steps={f.steps} entities={entities} params={params} />
            </Panel>
            {f.breakdown && (
              <Panel
                id="funnel-breakdown"
                title={`By ${breakdowns[params.breakdown ?? ''] ?? params.breakdown}`}
              >
                <BreakdownView groups={f.breakdown} steps={f.steps} entities={entities} />
              </Panel>
            )}
          </>
        )}
      </div>
      {dropStep && f && <DropOffsPanel step={dropStep} params={params} entities={entities} />}
    </>
  );
}

function FunnelControls({ params }: { params: FunnelParams }) {
  const [steps, setSteps] = useState<string[]>(params.steps?.split(',') ?? defaultFunnelSteps);
  const windowMatch = /^(\d+)([smhd])$/.exec(params.window ?? '');
  const [windowAmount, setWindowAmount] = useState(windowMatch?.[1] ?? '');
  const [windowUnit, setWindowUnit] = useState(windowMatch?.[2] ?? 'd');
  const [from, setFrom] = useState(toLocalInput(params.from));
  const [to, setTo] = useState(toLocalInput(params.to));
  const [countBy, setCountBy] = useState(params.countBy ?? 'orders');
  const [breakdown, setBreakdown] = useState(params.breakdown ?? '');
  const [time, setTime] = useState(params.time ?? 'business');

  const apply = (e: Event) => {
    e.preventDefault();
    const chosen = steps.join(',');
    location.hash = href(['funnel'], {
      steps: chosen === defaultFunnelSteps.join(',') ? undefined : chosen,
      from: fromLocalInput(from),
      to: fromLocalInput(to),
      window: windowAmount ? `${windowAmount}${windowUnit}` : undefined,
      countBy: countBy === 'orders' ? undefined : countBy,
      breakdown: breakdown || undefined,
      time: time === 'business' ? undefined : time,
    });
  };
  const move = (i: number, by: number) =>
    setSteps((s) => {
      const next = [...s];
      [next[i], next[i + by]] = [next[i + by]!, next[i]!];
      return next;
    });

  return (
    <form class="controls" onSubmit={apply} aria-label="Funnel query">
      <fieldset class="steps">
        <legend>Steps, in order</legend>
        <ol>
          {steps.map((step, i) => (
            <li key={`${i}`}>
              <select
                aria-label={`Step ${i + 1}`}
                value={step}
                onChange={(e) => {
                  const value = e.currentTarget.value;
                  setSteps((s) => s.map((x, j) => (j === i ? value : x)));
                }}
              >
                {eventTypes.map((t) => (
                  <option key={t} value={t}>
                    {humanType(t)}
                  </option>
                ))}
              </select>
              <button
                type="button"
                class="icon"
                aria-label={`Move step ${i + 1} up`}
                disabled={i === 0}
                onClick={() => move(i, -1)}
              >
                ↑
              </button>
              <button
                type="button"
                class="icon"
                aria-label={`Move step ${i + 1} down`}
                disabled={i === steps.length - 1}
                onClick={() => move(i, 1)}
              >
                ↓
              </button>
              <button
                type="button"
                class="icon"
                aria-label={`Remove step ${i + 1}`}
                disabled={steps.length === 1}
                onClick={() => setSteps((s) => s.filter((_, j) => j !== i))}
              >
                ✕
              </button>
            </li>
          ))}
        </ol>
        <div class="row">
          <button
            type="button"
            class="small"
            disabled={steps.length >= 20}
            onClick={() => setSteps((s) => [...s, eventTypes.find((t) => !s.includes(t)) ?? 'OrderCreated'])}
          >
            Add a step
          </button>
          <button type="button" class="small" onClick={() => setSteps(defaultFunnelSteps)}>
            Default steps
          </button>
        </div>
      </fieldset>
      <div class="options">
        <fieldset>
          <legend>Within (from the first step; empty: no limit)</legend>
          <div class="row">
            <input
              type="number"
              min={1}
              max={999999}
              aria-label="Window length"
              name="windowAmount"
              value={windowAmount}
              onInput={(e) => setWindowAmount(e.currentTarget.value)}
            />
            <select
              aria-label="Window unit"
              name="windowUnit"
              value={windowUnit}
              onChange={(e) => setWindowUnit(e.currentTarget.value)}
            >
              {Object.entries(units).map(([u, label]) => (
                <option key={u} value={u}>
                  {label}
                </option>
              ))}
            </select>
          </div>
        </fieldset>
        <TimeRangeFields
          legend={`Entered (first step) between, ${timeZone}`}
          from={from}
          to={to}
          setFrom={setFrom}
          setTo={setTo}
        />
        <fieldset>
          <legend>Count</legend>
          {['orders', 'customers'].map((v) => (
            <label key={v}>
              <input
                type="radio"
                name="countBy"
                value={v}
                checked={countBy === v}
                onChange={() => setCountBy(v)}
              />
              {v}
            </label>
          ))}
        </fieldset>
        <label>
          Break down by
          <select name="breakdown" value={breakdown} onChange={(e) => setBreakdown(e.currentTarget.value)}>
            <option value="">nothing</option>
            {Object.entries(breakdowns).map(([v, label]) => (
              <option key={v} value={v}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <TimeBasisFields time={time} setTime={setTime} />
        <button type="submit">Show the funnel</button>
      </div>
    </form>
  );
}

function StepsChart({ steps, entities }: { steps: FunnelStep[]; entities: string }) {
  const option = useMemo(
    () => ({
      grid: { left: 8, right: 48, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: 'value', minInterval: 1 },
      yAxis: {
        type: 'category',
        inverse: true,
        data: steps.map((s) => `${s.step}. ${humanType(s.eventType)}`),
      },
      series: [
        {
          type: 'bar',
          name: entities.toLowerCase(),
          data: steps.map((s) => s.count),
          label: { show: true, position: 'right', formatter: (p: { value: number }) => fmtInt(p.value) },
        },
      ],
    }),
    [steps, entities],
  );
  return (
    <Chart
      option={option}
      height={Math.max(160, 44 * steps.length + 32)}
      label={`Bar chart of ${entities.toLowerCase()} reaching each step; the table below has the figures.`}
    />
  );
}

function StepsTable({
  steps,
  entities,
  params,
}: {
  steps: FunnelStep[];
  entities: string;
  params: FunnelParams;
}) {
  return (
    <div class="scroll">
      <table class="funnel-table">
        <caption>
          {entities} per step: conversion from the previous and the first step, drop-off (a link lists them),
          time to convert from the previous step.
        </caption>
        <thead>
          <tr>
            <th scope="col">Step</th>
            <th scope="col" class="num">
              {entities}
            </th>
            <th scope="col" class="num">
              From previous
            </th>
            <th scope="col" class="num">
              From first
            </th>
            <th scope="col" class="num">
              Drop-off
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
          {steps.map((s, i) => (
            <tr key={s.step} data-step={s.step}>
              <th scope="row" data-value={s.eventType}>
                {s.step}. {humanType(s.eventType)}
              </th>
              <td class="num" data-field="count" data-value={s.count}>
                {fmtInt(s.count)}
              </td>
              <td
                class="num"
                data-field="conversionFromPrevious"
                data-value={String(s.conversionFromPrevious)}
              >
                {fmtPercent(s.conversionFromPrevious)}
              </td>
              <td class="num" data-field="conversionFromFirst" data-value={String(s.conversionFromFirst)}>
                {fmtPercent(s.conversionFromFirst)}
              </td>
              <td class="num" data-field="dropOff" data-value={s.dropOff}>
                {i === 0 ? (
                  dash
                ) : s.dropOff > 0 ? (
                  <a
                    href={href(['funnel'], { ...params, dropOffs: steps[i - 1]!.step })}
                    aria-label={`${fmtInt(s.dropOff)} reached ${humanType(steps[i - 1]!.eventType)} but not ${humanType(s.eventType)}: list them`}
                  >
                    {fmtInt(s.dropOff)}
                  </a>
                ) : (
                  fmtInt(s.dropOff)
                )}
              </td>
              <td
                class="num"
                data-field="medianSecondsToConvert"
                data-value={String(s.medianSecondsToConvert)}
              >
                {fmtDuration(s.medianSecondsToConvert)}
              </td>
              <td class="num" data-field="p90SecondsToConvert" data-value={String(s.p90SecondsToConvert)}>
                {fmtDuration(s.p90SecondsToConvert)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const shownGroups = 6;

function BreakdownView({
  groups,
  steps,
  entities,
}: {
  groups: NonNullable<Funnel['breakdown']>;
  steps: FunnelStep[];
  entities: string;
}) {
  const keyText = (k: string | null) => k ?? '(none)';
  const option = useMemo(
    () => ({
      legend: { top: 0, type: 'scroll' },
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      xAxis: { type: 'value', minInterval: 1 },
      yAxis: {
        type: 'category',
        inverse: true,
        data: steps.map((s) => `${s.step}. ${humanType(s.eventType)}`),
      },
      series: groups.slice(0, shownGroups).map((g) => ({
        type: 'bar',
        name: keyText(g.key),
        data: g.steps.map((s) => s.count),
      })),
    }),
    [groups, steps],
  );
  return (
    <>
      <Chart
        option={option}
        height={Math.max(220, 22 * Math.min(groups.length, shownGroups) * steps.length + 60)}
        label={`Bar chart of ${entities.toLowerCase()} per step for the ${Math.min(groups.length, shownGroups)} values with most entries; the table below has every value.`}
      />
      <div class="scroll">
        <table class="breakdown-table">
          <caption>
            {entities} per step for each value, most entries first (the share of the first step in brackets).
          </caption>
          <thead>
            <tr>
              <th scope="col">Value</th>
              {steps.map((s) => (
                <th scope="col" class="num" key={s.step}>
                  {s.step}. {humanType(s.eventType)}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {groups.map((g) => (
              <tr key={keyText(g.key)}>
                <th scope="row">{keyText(g.key)}</th>
                {g.steps.map((s) => (
                  <td class="num" key={s.step} data-value={s.count}>
                    {fmtInt(s.count)} <small>({fmtPercent(s.conversionFromFirst)})</small>
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function DropOffsPanel({ step, params, entities }: { step: number; params: FunnelParams; entities: string }) {
  const path = `/api/analytics/funnel/drop-offs${query({ step, ...params, limit: 100 })}`;
  const drop = usePoll((s) => get<DropOffs>(path, s), path);
  const d = drop.data;
  useEffect(() => {
    if (d) document.getElementById('drop-offs')?.focus();
  }, [d]);
  return (
    <article aria-labelledby="drop-offs" aria-busy={drop.loading}>
      <h2 id="drop-offs" tabIndex={-1}>
        Drop-offs after step {step}
        {d && `: ${humanType(d.eventType)}`}
      </h2>
      <ErrorNote error={drop.error} what="the drop-offs" />
      {!d ? (
        drop.error ? null : (
          <Loading what="the drop-offs" />
        )
      ) : (
        <>
          <p data-total={d.total}>
            {fmtInt(d.total)} {entities.toLowerCase()} reached {humanType(d.eventType)} but not{' '}
            {d.nextEventType ? humanType(d.nextEventType) : 'a next step'}
            {d.items.length < d.total ? `; the first ${fmtInt(d.items.length)}:` : ':'}
          </p>
          <ul class="drop-offs">
            {d.items.map((item) => (
              <li key={item.customerId}>
                Customer <code>{item.customerId}</code>:{' '}
                {item.orderIds.map((id, k) => (
                  <span key={id}>
                    {k > 0 && ', '}
                    <a href={orderHref(id)}>{id}</a>
                  </span>
                ))}
              </li>
            ))}
          </ul>
          <p>
            <a href={href(['funnel'], params)}>Close the list</a>
          </p>
        </>
      )}
    </article>
  );
}
