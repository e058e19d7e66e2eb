import { z } from 'zod';
import { approvalRequestSchema } from '../acceptance/contract';
import { OrderSchema } from './schemas';

/**
 * Wire schemas of the acceptance routes (submit's answer, approval, acceptance status). Kept apart from
 * schemas.ts; routes.ts takes them from here, so validation and OpenAPI still come from one place.
 */

/**
 * The approval body: the acceptance's own schema without `approver` (the signed-in caller is the approver), so
 * the route and the event accept the same decisions.
 */
export const ApprovalBody = approvalRequestSchema;

/** Where to follow an order's acceptance: field names as in Durable Functions' check-status payload. */
export const AcceptanceLinksSchema = z
  .object({
    instanceId: z.string(),
    statusQueryGetUri: z.string().meta({ description: 'GET: the acceptance status (202 until decided).' }),
    sendEventPostUri: z.string().meta({ description: 'POST: an approval decision, when one is awaited.' }),
  })
  .meta({ id: 'AcceptanceLinks' });

export const SubmittedOrderSchema = OrderSchema.extend({ acceptance: AcceptanceLinksSchema }).meta({
  id: 'SubmittedOrder',
});

export const AcceptanceStatusSchema = z
  .object({
    orderId: z.string(),
    instanceId: z.string(),
    runtimeStatus: z
      .enum(['Pending', 'Running', 'Completed', 'Failed', 'Terminated'])
      .meta({ description: 'Pending also while OrderSubmitted is on its way to the starter.' }),
    pending: z.boolean().meta({ description: 'The acceptance has not started yet.' }),
    step: z
      .string()
      .optional()
      .meta({ description: 'The current step (custom status), e.g. awaiting-approval.' }),
    customStatus: z.unknown().optional(),
    output: z
      .unknown()
      .optional()
      .meta({ description: 'The outcome once Completed: accepted, rejected, cancelled or skipped.' }),
    detail: z.string().optional(),
    createdTime: z.string().optional(),
    lastUpdatedTime: z.string().optional(),
  })
  .meta({ id: 'AcceptanceStatus' });

export const ApprovalSentSchema = z
  .object({
    orderId: z.string(),
    instanceId: z.string(),
    event: z.literal('approval'),
    approved: z.boolean(),
  })
  .meta({ id: 'ApprovalSent' });
