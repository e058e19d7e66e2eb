import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, errorText, get, getIfPresent, idempotencyKey, request } from '../api';
import { fmtData, fmtInt, humanType, plural, timeZone } from '../format';
import { usePoll } from '../poll';
import { href } from '../router';
import type { AcceptanceStatus, AuditTrail, Deliveries, Me, Order } from '../types';
import { ErrorNote, Loading, Panel, Time, ViewTitle } from '../ui';

const every = 3000;

/** Every page of the order's audit trail (`GET .../events` is paged), joined in version order. */
async function wholeTrail(base: string, signal: AbortSignal): Promise<AuditTrail> {
  let page = await get<AuditTrail>(`${base}/events?limit=1000`, signal);
  const events = [...page.events];
  while (page.continuationToken) {
    const token = encodeURIComponent(page.continuationToken);
    page = await get<AuditTrail>(`${base}/events?limit=1000&continuationToken=${token}`, signal);
    events.push(...page.events);
  }
  return { orderId: page.orderId, version: page.version, events };
}

/**
 * One order's story: its state (now, or as of any event's business time, through `?asOf=`), its events, its
 * acceptance, its CloudEvents deliveries (local host), and the approver's decision.
 */
export function OrderView({ orderId, me }: { orderId: string; me: Me }) {
  // Dots alone are no order id (the API's id convention), and a URL would collapse them into another path.
  if (/^\.+$/.test(orderId)) {
    return (
      <>
        <ViewTitle text={`Order ${orderId}`} />
        <ErrorNote what="this order" error={`"${orderId}" is not an order id`} />
      </>
    );
  }
  return <OrderStory orderId={orderId} me={me} />;
}

function OrderStory({ orderId, me }: { orderId: string; me: Me }) {
  const base = `/api/orders/${encodeURIComponent(orderId)}`;
  const order = usePoll((s) => get<Order>(base, s), `order ${orderId}`, every);
  const trail = usePoll((s) => wholeTrail(base, s), `events ${orderId}`, every);
  const acceptance = usePoll(
    (s) => getIfPresent<AcceptanceStatus>(`${base}/acceptance`, s),
    `acceptance ${orderId}`,
    every,
  );
  const deliveries = usePoll(
    (s) =>
      getIfPresent<Deliveries>(`/eventgrid/deliveries?subject=${encodeURIComponent(`orders/${orderId}`)}`, s),
    `deliveries ${orderId}`,
    every,
  );
  const events = trail.data?.events ?? [];
  // The slider's position: an event's version, or undefined for the latest (it then follows new events).
  const [at, setAt] = useState<number>();
  const shownVersion = at !== undefined && at < events.length ? at : events.length;
  const asOf = at !== undefined && at < events.length ? events[at - 1]?.occurredAt : undefined;
  const past = usePoll(
    (s) => (asOf ? get<Order>(`${base}?asOf=${encodeURIComponent(asOf)}`, s) : Promise.resolve(undefined)),
    `asof ${orderId} ${asOf ?? 'now'}`,
  );
  const notFound = order.error?.startsWith('404');

  return (
    <>
      <ViewTitle text={`Order ${orderId}`} />
      <p>
        <a href={href(['orders'])}>All orders</a>
      </p>
      {notFound ? (
        <p role="alert">No order {orderId} (or it is not yours).</p>
      ) : (
        <>
          <ErrorNote error={order.error} what="the order" />
          {order.data && <Summary order={order.data} />}
          <div class="grid-2">
            <Panel id="as-of" title="State at a moment of its history">
              {events.length === 0 ? (
                trail.error ? (
                  <ErrorNote error={trail.error} what="the events" />
                ) : (
                  <Loading what="the events" />
                )
              ) : (
                <>
                  <label for="as-of-slider">
                    Moment: after event {shownVersion} of {events.length} (
                    {humanType(events[shownVersion - 1]!.type)},{' '}
                    <Time iso={events[shownVersion - 1]!.occurredAt} ms />)
                  </label>
                  <input
                    id="as-of-slider"
                    type="range"
                    min={1}
                    max={events.length}
                    step={1}
                    value={shownVersion}
                    aria-valuetext={`after event ${shownVersion} of ${events.length}: ${humanType(events[shownVersion - 1]!.type)} at ${events[shownVersion - 1]!.occurredAt}`}
                    onInput={(e) => {
                      const v = Number(e.currentTarget.value);
                      setAt(v >= events.length ? undefined : v);
                    }}
                  />
                  <AsOfState
                    state={asOf ? past.data : order.data}
                    error={asOf ? past.error : undefined}
                    loading={asOf ? past.loading : !order.data}
                    asOf={asOf}
                  />
                </>
              )}
            </Panel>
            <Panel id="acceptance" title="Acceptance">
              <ErrorNote error={acceptance.error} what="the acceptance" />
              {acceptance.data === undefined ? (
                acceptance.error ? null : (
                  <Loading what="the acceptance" />
                )
              ) : acceptance.data === null ? (
                <p>No acceptance: the order has not been submitted.</p>
              ) : (
                <AcceptanceDetails a={acceptance.data} />
              )}
              {me.roles.includes('orders.approve') && order.data && (
                <ApprovalForm
                  orderId={orderId}
                  open={order.data.status === 'submitted'}
                  onDone={() => [order, acceptance, trail].forEach((l) => l.reload())}
                />
              )}
            </Panel>
          </div>
          <Panel id="timeline" title="Timeline of events" wide>
            <ErrorNote error={trail.error} what="the events" />
            <div class="scroll">
              <table class="timeline">
                <caption>
                  Every event in version order: its business time (when it happened), its recorded time (when
                  it was stored), who caused it and its data. Times in {timeZone}.
                </caption>
                <thead>
                  <tr>
                    <th scope="col" class="num">
                      Version
                    </th>
                    <th scope="col">Event</th>
                    <th scope="col">Occurred</th>
                    <th scope="col">Recorded</th>
                    <th scope="col">Actor</th>
                    <th scope="col">Data</th>
                  </tr>
                </thead>
                <tbody>
                  {events.map((e) => (
                    <tr
                      key={e.version}
                      class={e.version > shownVersion ? 'later' : undefined}
                      data-version={e.version}
                    >
                      <td class="num">{e.version}</td>
                      <th scope="row">
                        {humanType(e.type)}
                        {e.schemaVersion > 1 && <small> v{e.schemaVersion}</small>}
                      </th>
                      <td>
                        <Time iso={e.occurredAt} ms />
                      </td>
                      <td>
                        <Time iso={e.recordedAt} ms />
                      </td>
                      <td>{e.metadata.actor ?? '–'}</td>
                      <td class="data">
                        <code>{fmtData(e.data)}</code>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </Panel>
          {deliveries.data && (
            <Panel id="deliveries" title="CloudEvents deliveries (local Event Grid topic)" wide>
              {deliveries.data.items.length === 0 ? (
                <p>No delivery yet.</p>
              ) : (
                <div class="scroll">
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">At</th>
                        <th scope="col">Subscription</th>
                        <th scope="col">Event</th>
                        <th scope="col" class="num">
                          Attempt
                        </th>
                        <th scope="col">Outcome</th>
                        <th scope="col">Status or error</th>
                      </tr>
                    </thead>
                    <tbody>
                      {deliveries.data.items.map((d) => (
                        <tr key={`${d.subscription} ${d.eventId} ${d.attempt}`}>
                          <td>
                            <Time iso={d.at} ms />
                          </td>
                          <td>{d.subscription}</td>
                          <td>
                            {d.type} <small title="CloudEvent id">{d.eventId}</small>
                          </td>
                          <td class="num">{fmtInt(d.attempt)}</td>
                          <td>{d.outcome}</td>
                          <td>{[d.status, d.error].filter((x) => x !== undefined).join(' ') || '–'}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </Panel>
          )}
        </>
      )}
    </>
  );
}

function Summary({ order }: { order: Order }) {
  return (
    <dl class="summary">
      <div>
        <dt>Status</dt>
        <dd data-field="status">
          <mark class={`status ${order.status}`}>{order.status}</mark>
        </dd>
      </div>
      <div>
        <dt>Customer</dt>
        <dd>{order.customerId}</dd>
      </div>
      <div>
        <dt>Total</dt>
        <dd>
          {order.total} {order.currency ?? ''}
        </dd>
      </div>
      <div>
        <dt>Lines / items</dt>
        <dd>
          {fmtInt(order.lineCount)} / {fmtInt(order.itemCount)}
        </dd>
      </div>
      <div>
        <dt>Version</dt>
        <dd>{order.version}</dd>
      </div>
      <div>
        <dt>Created</dt>
        <dd>
          <Time iso={order.createdAt} />
        </dd>
      </div>
      {order.referralCode && (
        <div>
          <dt>Referral code</dt>
          <dd>{order.referralCode}</dd>
        </div>
      )}
      {(order.rejectionReason || order.cancellationReason) && (
        <div>
          <dt>Reason</dt>
          <dd>{order.rejectionReason ?? order.cancellationReason}</dd>
        </div>
      )}
    </dl>
  );
}

function AsOfState({
  state,
  error,
  loading,
  asOf,
}: {
  state: Order | undefined;
  error?: string;
  loading: boolean;
  asOf?: string;
}) {
  if (error?.startsWith('404')) return <p role="status">The order did not exist yet at that moment.</p>;
  if (error) return <ErrorNote error={error} what="the state at that moment" />;
  if (!state || loading) return <Loading what="the state" />;
  return (
    <section aria-live="polite" aria-atomic="true" id="as-of-state" data-version={state.version}>
      <p>
        {asOf ? (
          <>
            As of <Time iso={asOf} ms /> (version {state.version}):
          </>
        ) : (
          <>Now (version {state.version}):</>
        )}{' '}
        <mark class={`status ${state.status}`} data-field="status">
          {state.status}
        </mark>
        , {plural(state.lineCount, 'line')}, <span data-field="itemCount">{fmtInt(state.itemCount)}</span>{' '}
        {state.itemCount === 1 ? 'item' : 'items'}, total {state.total} {state.currency ?? ''}
      </p>
      {state.lines.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Product</th>
              <th scope="col" class="num">
                Quantity
              </th>
              <th scope="col" class="num">
                Unit price
              </th>
              <th scope="col" class="num">
                Line total
              </th>
              <th scope="col">Seller</th>
            </tr>
          </thead>
          <tbody>
            {state.lines.map((l) => (
              <tr key={l.productId}>
                <th scope="row">{l.productId}</th>
                <td class="num">{fmtInt(l.quantity)}</td>
                <td class="num">
                  {l.unitPrice} {l.currency}
                </td>
                <td class="num">{l.lineTotal}</td>
                <td>{l.sellerId ?? '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function AcceptanceDetails({ a }: { a: AcceptanceStatus }) {
  const custom =
    a.customStatus && typeof a.customStatus === 'object'
      ? Object.entries(a.customStatus as Record<string, unknown>).filter(
          ([k]) => k !== 'orderId' && k !== 'step',
        )
      : [];
  const output =
    a.output === undefined || a.output === null
      ? undefined
      : typeof a.output === 'object'
        ? fmtData(a.output as Record<string, unknown>)
        : String(a.output);
  return (
    <dl class="acceptance">
      <dt>Runtime status</dt>
      <dd data-field="runtimeStatus">
        {a.runtimeStatus}
        {a.pending ? ' (not started yet)' : ''}
      </dd>
      {a.step && (
        <>
          <dt>Step</dt>
          <dd data-field="step">{a.step}</dd>
        </>
      )}
      {custom.map(([k, v]) => (
        <Fragment key={k}>
          <dt>{k}</dt>
          <dd>{typeof v === 'string' ? v : JSON.stringify(v)}</dd>
        </Fragment>
      ))}
      {output !== undefined && (
        <>
          <dt>Outcome</dt>
          <dd data-field="output">{output}</dd>
        </>
      )}
      {a.detail && (
        <>
          <dt>Detail</dt>
          <dd>{a.detail}</dd>
        </>
      )}
      <dt>Instance</dt>
      <dd>
        <code>{a.instanceId}</code>, started <Time iso={a.createdTime} />, last updated{' '}
        <Time iso={a.lastUpdatedTime} />
      </dd>
    </dl>
  );
}

/**
 * Approve or reject (role orders.approve) while the order is submitted; one Idempotency-Key per decision, kept
 * across a retry of the same one. The outcome stays on screen after the order moves on.
 */
function ApprovalForm({ orderId, open, onDone }: { orderId: string; open: boolean; onDone: () => void }) {
  const [comment, setComment] = useState('');
  const [key, setKey] = useState(idempotencyKey);
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState('');
  const [error, setError] = useState('');
  useEffect(() => setKey(idempotencyKey()), [comment]);

  const decide = async (approved: boolean) => {
    setBusy(true);
    setSent('');
    setError('');
    try {
      await request('POST', `/api/orders/${encodeURIComponent(orderId)}/approval`, {
        body: comment.trim() ? { approved, comment: comment.trim() } : { approved },
        headers: { 'idempotency-key': `${key}-${approved ? 'approve' : 'reject'}` },
      });
      setSent(approved ? 'Approval sent to the acceptance.' : 'Rejection sent to the acceptance.');
      setKey(idempotencyKey());
      onDone();
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 404
          ? 'No acceptance is waiting for an approval of this order.'
          : errorText(err),
      );
    } finally {
      setBusy(false);
    }
  };

  if (!open && !sent && !error) return null;
  return (
    <section aria-labelledby="approval-title">
      <h3 id="approval-title">Your decision</h3>
      {open && (
        <form onSubmit={(e) => e.preventDefault()}>
          <label>
            Comment (optional)
            <textarea
              name="comment"
              rows={2}
              maxLength={1000}
              value={comment}
              onInput={(e) => setComment(e.currentTarget.value)}
            />
          </label>
          <div class="row">
            <button type="button" disabled={busy} aria-busy={busy} onClick={() => void decide(true)}>
              Approve
            </button>
            <button type="button" class="danger" disabled={busy} onClick={() => void decide(false)}>
              Reject
            </button>
          </div>
        </form>
      )}
      <p role="status" class="ok">
        {sent}
      </p>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
    </section>
  );
}
