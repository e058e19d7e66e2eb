import * as df from 'durable-functions';
import {
  acceptOrder,
  rejectOrder,
  releaseStock,
  reserveStock,
  validateOrder,
} from '../acceptance/activities';
import {
  acceptanceActivities,
  AcceptanceLine,
  acceptanceOrchestration,
  ActivityBase,
  ReservationFailure,
} from '../acceptance/contract';
import { orderAcceptanceOrchestrator } from '../acceptance/orchestrator';
import { acceptanceDeps } from '../composition/services';

/** Order acceptance: the orchestration and its activities (src/acceptance/, docs/durable.md). */
df.app.orchestration(acceptanceOrchestration, orderAcceptanceOrchestrator);

df.app.activity(acceptanceActivities.validate, {
  handler: (input: ActivityBase) => validateOrder(acceptanceDeps(), input),
});
df.app.activity(acceptanceActivities.reserveStock, {
  handler: (input: ActivityBase & AcceptanceLine) => reserveStock(acceptanceDeps(), input),
});
df.app.activity(acceptanceActivities.releaseStock, {
  handler: (input: ActivityBase & { productId: string }) => releaseStock(acceptanceDeps(), input),
});
df.app.activity(acceptanceActivities.accept, {
  handler: (input: ActivityBase & { approvedBy?: string }) => acceptOrder(acceptanceDeps(), input),
});
df.app.activity(acceptanceActivities.reject, {
  handler: (input: ActivityBase & { reason: string; failures?: ReservationFailure[] }) =>
    rejectOrder(acceptanceDeps(), input),
});
