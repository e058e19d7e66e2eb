import { useState } from 'preact/hooks';
import { get, query } from '../api';
import { fmtData, humanType } from '../format';
import { usePoll } from '../poll';
import { href, orderHref, replaceHash, Route } from '../router';
import { eventTypes, type RecentEvents } from '../types';
import { ErrorNote, LiveStatus, Loading, Time, ViewTitle } from '../ui';

const every = 3000;

/** The last events as they are committed, newest first, filtered by type. */
export function StreamView({ route }: { route: Route }) {
  const types = route.query.getAll('type');
  const apiQuery = query({ limit: 50, types: types.join(',') });
  const [paused, setPaused] = useState(false);
  // Open at first when a filter is set; afterwards the reader opens and closes it.
  const [filterOpen] = useState(types.length > 0);
  const recent = usePoll(
    (s) => get<RecentEvents>(`/api/events/recent${apiQuery}`, s),
    apiQuery,
    paused ? 0 : every,
  );
  const toggle = (type: string, on: boolean) =>
    replaceHash(href(['stream'], { type: on ? [...types, type] : types.filter((t) => t !== type) }));

  return (
    <>
      <ViewTitle text="Live stream" />
      <LiveStatus paused={paused} onToggle={() => setPaused((p) => !p)} at={recent.at} every={every} />
      <details class="filter" open={filterOpen}>
        <summary>Filter by event type{types.length ? ` (${types.length} chosen)` : ' (all types)'}</summary>
        <fieldset class="types">
          <legend class="visually-hidden">Event types to show (none: all)</legend>
          {eventTypes.map((t) => (
            <label key={t}>
              <input
                type="checkbox"
                name="type"
                value={t}
                checked={types.includes(t)}
                onChange={(e) => toggle(t, e.currentTarget.checked)}
              />
              {humanType(t)}
            </label>
          ))}
        </fieldset>
        {types.length > 0 && (
          <button type="button" class="small" onClick={() => replaceHash(href(['stream']))}>
            Show every type
          </button>
        )}
      </details>
      <ErrorNote error={recent.error} what="the recent events" />
      {!recent.data ? (
        recent.error ? null : (
          <Loading what="the recent events" />
        )
      ) : recent.data.items.length === 0 ? (
        <p>No event yet.</p>
      ) : (
        <div class="scroll">
          <table class="stream">
            <caption>The last {recent.data.items.length} events, newest first.</caption>
            <thead>
              <tr>
                <th scope="col">Recorded</th>
                <th scope="col">Occurred</th>
                <th scope="col">Event</th>
                <th scope="col">Order</th>
                <th scope="col" class="num">
                  Version
                </th>
                <th scope="col">Actor</th>
                <th scope="col">Data</th>
              </tr>
            </thead>
            <tbody>
              {recent.data.items.map((e) => (
                <tr key={`${e.orderId} ${e.version}`} data-order={e.orderId} data-type={e.type}>
                  <td>
                    <Time iso={e.recordedAt} ms />
                  </td>
                  <td>
                    <Time iso={e.occurredAt} ms />
                  </td>
                  <th scope="row">{humanType(e.type)}</th>
                  <td>
                    <a href={orderHref(e.orderId)}>{e.orderId}</a>
                  </td>
                  <td class="num">{e.version}</td>
                  <td>{e.actor ?? '–'}</td>
                  <td class="data">
                    <code>{fmtData(e.data)}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
