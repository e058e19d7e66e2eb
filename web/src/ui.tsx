import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';
import { fmtTime } from './format';

/** A figure's time, readable, with the exact instant for machines and on hover. */
export function Time({ iso, ms = false }: { iso: string | null | undefined; ms?: boolean }) {
  if (!iso) return <span>–</span>;
  return (
    <time dateTime={iso} title={iso}>
      {fmtTime(iso, ms)}
    </time>
  );
}

/** An error from the API, announced to screen readers. */
export function ErrorNote({ error, what }: { error?: string; what: string }) {
  if (!error) return null;
  return (
    <p role="alert" class="error">
      Could not read {what}: {error}
    </p>
  );
}

export function Loading({ what }: { what: string }) {
  return <p aria-busy="true">Loading {what}…</p>;
}

/** A titled panel of a view. */
export function Panel({
  id,
  title,
  children,
  wide,
}: {
  id: string;
  title: string;
  children: ComponentChildren;
  wide?: boolean;
}) {
  return (
    <article aria-labelledby={id} class={wide ? 'wide' : undefined}>
      <h2 id={id}>{title}</h2>
      {children}
    </article>
  );
}

/** The view's heading (and the document's title): focused after navigation, so screen readers announce it. */
export function ViewTitle({ children, text }: { children?: ComponentChildren; text: string }) {
  useEffect(() => {
    document.title = `${text} · Orders dashboard`;
  }, [text]);
  return (
    <h1 tabIndex={-1} id="view-title">
      {children ?? text}
    </h1>
  );
}

/** A pause switch for a view that refreshes itself (WCAG 2.2.2), with when it last read. */
export function LiveStatus({
  paused,
  onToggle,
  at,
  every,
}: {
  paused: boolean;
  onToggle: () => void;
  at?: Date;
  every: number;
}) {
  return (
    <p class="live">
      <span>
        {paused ? 'Updates paused.' : `Refreshes every ${every / 1000} s while this tab is visible.`}{' '}
        {at ? `Last read ${fmtTime(at.toISOString())}.` : ''}
      </span>{' '}
      <button type="button" class="secondary outline small" aria-pressed={paused} onClick={onToggle}>
        {paused ? 'Resume updates' : 'Pause updates'}
      </button>
    </p>
  );
}

/** The `from` / `to` (exclusive) pair of an analytics query, as local date-times. */
export function TimeRangeFields({
  legend,
  from,
  to,
  setFrom,
  setTo,
}: {
  legend: string;
  from: string;
  to: string;
  setFrom: (v: string) => void;
  setTo: (v: string) => void;
}) {
  return (
    <fieldset>
      <legend>{legend}</legend>
      <div class="row">
        <label>
          From
          <input
            type="datetime-local"
            name="from"
            value={from}
            onInput={(e) => setFrom(e.currentTarget.value)}
          />
        </label>
        <label>
          To (exclusive)
          <input type="datetime-local" name="to" value={to} onInput={(e) => setTo(e.currentTarget.value)} />
        </label>
      </div>
    </fieldset>
  );
}

/** The `time` parameter of an analytics query: business time or recorded time. */
export function TimeBasisFields({ time, setTime }: { time: string; setTime: (v: string) => void }) {
  return (
    <fieldset>
      <legend>Time of each event</legend>
      {[
        ['business', 'business time (occurred)'],
        ['recorded', 'recorded time'],
      ].map(([v, label]) => (
        <label key={v}>
          <input type="radio" name="time" value={v} checked={time === v} onChange={() => setTime(v!)} />
          {label}
        </label>
      ))}
    </fieldset>
  );
}
