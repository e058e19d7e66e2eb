import { useState } from 'preact/hooks';
import { get, query } from '../api';
import { fmtInt } from '../format';
import { usePoll } from '../poll';
import { href, orderHref, Route } from '../router';
import { orderStatuses, type OrderList } from '../types';
import { ErrorNote, Loading, Time, ViewTitle } from '../ui';

/** The read model's orders, newest first, paged (a customer gets their own only: the API enforces it). */
export function OrdersView({ route, staff }: { route: Route; staff: boolean }) {
  const status = route.query.get('status') ?? '';
  const page = route.query.get('page') ?? '';
  const apiQuery = query({ status, limit: 50, continuationToken: page });
  const list = usePoll((s) => get<OrderList>(`/api/orders${apiQuery}`, s), apiQuery, 5000);
  const [openId, setOpenId] = useState('');

  return (
    <>
      <ViewTitle text={staff ? 'Orders' : 'Your orders'} />
      <div class="controls inline">
        <label>
          Status
          <select
            name="status"
            value={status}
            onChange={(e) => (location.hash = href(['orders'], { status: e.currentTarget.value }))}
          >
            <option value="">any</option>
            {orderStatuses.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <form
          role="search"
          aria-label="Open an order"
          onSubmit={(e) => {
            e.preventDefault();
            if (openId.trim()) location.hash = orderHref(openId.trim());
          }}
        >
          <label>
            Order id
            <input name="orderId" value={openId} onInput={(e) => setOpenId(e.currentTarget.value)} />
          </label>
          <button type="submit">Open</button>
        </form>
      </div>
      <ErrorNote error={list.error} what="the orders" />
      {!list.data ? (
        list.error ? null : (
          <Loading what="the orders" />
        )
      ) : list.data.items.length === 0 ? (
        <p>No order{status ? ` with status ${status}` : ''}.</p>
      ) : (
        <div class="scroll">
          <table>
            <caption>Newest first, 50 a page.</caption>
            <thead>
              <tr>
                <th scope="col">Order</th>
                <th scope="col">Customer</th>
                <th scope="col">Status</th>
                <th scope="col" class="num">
                  Total
                </th>
                <th scope="col" class="num">
                  Lines
                </th>
                <th scope="col" class="num">
                  Items
                </th>
                <th scope="col">Created</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((o) => (
                <tr key={o.orderId} data-order={o.orderId}>
                  <th scope="row">
                    <a href={orderHref(o.orderId)}>{o.orderId}</a>
                  </th>
                  <td>{o.customerId}</td>
                  <td>
                    <mark class={`status ${o.status}`}>{o.status}</mark>
                  </td>
                  <td class="num">
                    {o.total} {o.currency ?? ''}
                  </td>
                  <td class="num">{fmtInt(o.lineCount)}</td>
                  <td class="num">{fmtInt(o.itemCount)}</td>
                  <td>
                    <Time iso={o.createdAt} />
                  </td>
                  <td>
                    <Time iso={o.updatedAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav aria-label="Pages" class="pages">
        {page && <a href={href(['orders'], { status })}>First page</a>}
        {list.data?.continuationToken && (
          <a href={href(['orders'], { status, page: list.data.continuationToken })}>Next page</a>
        )}
      </nav>
    </>
  );
}
