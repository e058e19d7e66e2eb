import { historyCommands, HistoryAnomaly, replayHistory, timeOrderAnomalies } from '../app/history';
import { endpoint } from '../http/endpoint';
import { importOrdersRoute } from '../http/routes';
import { ImportOrdersBody, ImportOrdersResultSchema } from '../http/schemas';
import { OrderCommand } from '../domain/decider';
import { z } from 'zod';

type ImportedOrder = z.infer<typeof ImportOrdersBody>['orders'][number];
type Outcome = z.infer<typeof ImportOrdersResultSchema>['orders'][number];

const defaultCancellation = 'cancelled in source';
const defaultRejection = 'rejected in source';

/** The commands of one imported order, by the same rules as the file imports (src/app/history.ts). */
function plan(o: ImportedOrder): {
  commands: OrderCommand[];
  anomalies: HistoryAnomaly[];
} {
  const { commands, anomalies } = historyCommands({
    orderId: o.orderId,
    customerId: o.customerId,
    customerState: o.customerState,
    referralCode: o.referralCode,
    createdAt: o.createdAt,
    lines: o.lines.map((l) => ({ ...l })),
    submittedAt: o.submittedAt,
    acceptedAt: o.acceptedAt,
    rejected: o.rejectedAt ? { at: o.rejectedAt, reason: o.rejectionReason ?? defaultRejection } : undefined,
    shippedAt: o.shippedAt,
    deliveredAt: o.deliveredAt,
    cancelled: o.cancelledAt
      ? { at: o.cancelledAt, reason: o.cancellationReason ?? defaultCancellation }
      : undefined,
  });
  const times = timeOrderAnomalies({
    created: o.createdAt,
    accepted: o.acceptedAt,
    shipped: o.shippedAt,
    delivered: o.deliveredAt,
  });
  return { commands, anomalies: [...times, ...anomalies] };
}

/**
 * Imports a batch of orders with their history for a trusted importer (`orders.import`): each order becomes
 * the commands the file imports derive (marked history, at their business times), replayed idempotently: an
 * order already recorded adds nothing (`alreadyPresent`), one stored with other events is left as it is
 * (`refused`). Every event names the actor `import:<importer id>`, so no acceptance starts (the source
 * already decided the orders). Orders are handled one after the other, in the batch's order.
 */
export const importOrders = endpoint(importOrdersRoute, async ({ services, body, metadata, identity }) => {
  const importer = `import:${(identity?.id ?? 'anonymous').slice(0, 256)}`;
  const results: Outcome[] = [];
  for (const order of body.orders) {
    const { commands, anomalies } = plan(order);
    const replay = await replayHistory(services.orders, order.orderId, commands, {
      ...metadata,
      actor: importer,
    });
    const outcome: Outcome = {
      orderId: order.orderId,
      outcome: replay.outcome === 'differs' ? 'refused' : replay.outcome,
      eventsAppended: replay.eventsAppended,
      anomalies,
    };
    if (replay.outcome === 'differs')
      outcome.reason = `the order exists (version ${replay.storedVersion}) with other events; left as it is`;
    if (replay.refused.length) outcome.refusedCommands = replay.refused;
    results.push(outcome);
  }
  const count = (o: Outcome['outcome']) => results.filter((r) => r.outcome === o).length;
  return {
    status: 200,
    jsonBody: {
      importer,
      imported: count('imported'),
      alreadyPresent: count('alreadyPresent'),
      refused: count('refused'),
      eventsAppended: results.reduce((n, r) => n + r.eventsAppended, 0),
      orders: results,
    },
  };
});
