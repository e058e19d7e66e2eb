import * as df from 'durable-functions';
import { DurableClient, DurableOrchestrationStatus } from 'durable-functions';
import {
  acceptanceInstanceId,
  AcceptanceStatus,
  approvalEvent,
  ApprovalDecision,
  lastSubmitted,
  startsAcceptance,
} from './contract';
import { DomainError } from '../domain/decider';
import { OrderState } from '../domain/state';
import { acceptancePath } from '../http/acceptance';
import { endpoint } from '../http/endpoint';
import { problem } from '../shared/problem';
import { acceptanceStatusRoute, approvalRoute } from '../http/routes';

/** The instance's status, or undefined when the extension knows no such instance. */
async function statusOf(
  client: DurableClient,
  instanceId: string,
): Promise<DurableOrchestrationStatus | undefined> {
  try {
    return await client.getStatus(instanceId, { showInput: false });
  } catch (err) {
    // The library's wording for the extension's 404 (DurableClient.getStatus).
    if (err instanceof Error && /HTTP 404/.test(err.message)) return undefined;
    throw err;
  }
}

const cancelPath = (orderId: string) => `/api/orders/${encodeURIComponent(orderId)}/cancel`;
const isoOf = (d: Date | string | undefined) => (d === undefined ? undefined : new Date(d).toISOString());
const running = (s: { runtimeStatus: string }) =>
  s.runtimeStatus === 'Pending' || s.runtimeStatus === 'Running';

/**
 * What to tell about an acceptance that ended without deciding the order (Terminated, or Failed because
 * even the rejection could not be recorded): the order stays submitted and keeps its reservations, and
 * no acceptance will start for it again; cancelling it releases them. Undefined for any other status, or
 * when the order left `submitted`.
 */
function undecidedDetail(
  orderId: string,
  status: DurableOrchestrationStatus,
  order: OrderState,
): string | undefined {
  const ended = status.runtimeStatus as string;
  if ((ended !== 'Terminated' && ended !== 'Failed') || order.status !== 'submitted') return undefined;
  const why =
    ended === 'Terminated'
      ? `was terminated${typeof status.output === 'string' && status.output ? ` (${status.output})` : ''}`
      : 'failed';
  const held = Object.keys(order.reservations);
  return (
    `the acceptance ${why} before it decided: order ${orderId} stays submitted and no acceptance starts ` +
    `for it again; cancel it (POST ${cancelPath(orderId)}) to close it` +
    (held.length ? `; its stock stays reserved (${held.join(', ')}) until it is cancelled` : '')
  );
}

export const acceptanceStatus = endpoint(acceptanceStatusRoute, async ({ services, params, context }) => {
  const { orderId } = params;
  const loaded = await services.orders.load(orderId);
  if (!loaded.state.exists) throw new DomainError('not-found', 'order does not exist');
  const instanceId = acceptanceInstanceId(orderId);
  const status = await statusOf(df.getClient(context), instanceId);
  const retry = { 'retry-after': '1', location: acceptancePath(orderId) };
  if (status) {
    const custom = status.customStatus as AcceptanceStatus | null | undefined;
    const detail = undecidedDetail(orderId, status, loaded.state);
    const body = {
      orderId,
      instanceId,
      runtimeStatus: status.runtimeStatus,
      pending: status.runtimeStatus === 'Pending',
      ...(custom?.step ? { step: custom.step } : {}),
      customStatus: status.customStatus ?? undefined,
      output: status.output ?? undefined,
      createdTime: isoOf(status.createdTime),
      lastUpdatedTime: isoOf(status.lastUpdatedTime),
      ...(detail ? { detail } : {}),
    };
    return running(status)
      ? { status: 202, jsonBody: body, headers: retry }
      : { status: 200, jsonBody: body };
  }
  const submitted = lastSubmitted(loaded.events);
  const notRunning = (detail: string) =>
    problem(404, 'no-acceptance', detail, { errors: [{ field: 'path.orderId', message: detail }] });
  if (!submitted) return notRunning(`order ${orderId} has not been submitted; acceptance starts at submit`);
  if (!startsAcceptance(submitted)) {
    return notRunning(
      `order ${orderId} was submitted by ${submitted.metadata.actor}; it was decided at the source`,
    );
  }
  return {
    status: 202,
    headers: retry,
    jsonBody: {
      orderId,
      instanceId,
      runtimeStatus: 'Pending',
      pending: true,
      detail: 'OrderSubmitted is on its way to the acceptance starter',
    },
  };
});

/**
 * POST /api/orders/{id}/approval (`orders.approve` only): 404 for an unknown order; 403 for the approver's own
 * order; 409 once the order left `submitted`
 * (cancelled, accepted, rejected…), naming its status; 404 when no acceptance of it awaits an approval;
 * else raises `approval` (202).
 */
export const approval = endpoint(approvalRoute, async ({ services, params, body, context, identity }) => {
  const { orderId } = params;
  const { state } = await services.orders.load(orderId);
  if (!state.exists) throw new DomainError('not-found', 'order does not exist');
  // `orders.approve` is required by the route (src/http/routes.ts); the approver is that signed-in caller.
  const approver = identity!.id;
  if (state.customerId === approver) {
    return problem(403, 'forbidden', 'an approver cannot approve or reject their own order');
  }
  if (state.status !== 'submitted' && state.status !== 'draft') {
    // Checked first: an acceptance may still be running (a cancellation on its way to it), but the
    // decision can no longer apply to the order. A draft is not there yet: 404 below, as before.
    const detail = `order ${orderId} is ${state.status}; only a submitted order can be approved`;
    return problem(409, 'order-not-submitted', detail, {
      orderStatus: state.status,
      errors: [{ field: 'path.orderId', message: detail }],
    });
  }
  const client = df.getClient(context);
  const instanceId = acceptanceInstanceId(orderId);
  const status = await statusOf(client, instanceId);
  const step = (status?.customStatus as AcceptanceStatus | null | undefined)?.step;
  if (!status || status.runtimeStatus !== 'Running' || step !== 'awaiting-approval') {
    const now = status ? `it is ${status.runtimeStatus}${step ? `, at ${step}` : ''}` : 'it has not started';
    const detail = `no acceptance of order ${orderId} is waiting for an approval (${now})`;
    return problem(404, 'no-approval-awaited', detail, {
      errors: [{ field: 'path.orderId', message: detail }],
    });
  }
  const decision: ApprovalDecision = {
    approved: body.approved,
    approver,
    ...(body.comment ? { comment: body.comment } : {}),
  };
  await client.raiseEvent(instanceId, approvalEvent, decision);
  return {
    status: 202,
    jsonBody: { orderId, instanceId, event: approvalEvent, approved: body.approved },
    headers: { location: acceptancePath(orderId) },
  };
});
