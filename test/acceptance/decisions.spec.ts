import { describe, expect, it } from 'vitest';
import {
  afterDecision,
  ApprovalWait,
  maxReasonLength,
  noApprovalBefore,
  onWaitEvent,
  recoveryFor,
  reservationOutcome,
  startApprovalWait,
} from '../../src/acceptance/decisions';

/**
 * The acceptance's next-step decisions (src/acceptance/decisions.ts), given/when/then: given where the
 * acceptance stands, when something happens, then the next step.
 */
const deadline = '2030-01-02T00:00:00.000Z';
const waiting = (): ApprovalWait =>
  startApprovalWait(deadline, { total: '2500.00', currency: 'BRL', approvalThreshold: '1000.00' });

describe('the approval wait', () => {
  it('given a wait, when a well-formed approval arrives, then it is decided', () => {
    expect(
      onWaitEvent(waiting(), { kind: 'approval', payload: { approved: true, approver: 'ana' } }),
    ).toEqual({
      kind: 'decided',
      decision: { approved: true, approver: 'ana' },
    });
  });

  it('given a wait, when a malformed approval arrives, then it is counted and the wait goes on', () => {
    const next = onWaitEvent(waiting(), { kind: 'approval', payload: { approved: 'yes' } });
    expect(next.kind).toBe('wait');
    if (next.kind !== 'wait') return;
    expect(next.wait.invalidApprovalIgnored).toBe(1);
    expect(next.wait.status).toMatchObject({
      step: 'awaiting-approval',
      approvalDeadline: deadline,
      invalidApprovalIgnored: 1,
      lastInvalidApproval: expect.stringMatching(/approved/),
    });
  });

  it('given two malformed approvals, when a third arrives malformed, then the count is three and the deadline unchanged', () => {
    let wait = waiting();
    for (let k = 0; k < 3; k++) {
      const next = onWaitEvent(wait, { kind: 'approval', payload: null });
      if (next.kind !== 'wait') throw new Error('expected to wait');
      wait = next.wait;
    }
    expect(wait.invalidApprovalIgnored).toBe(3);
    expect(wait.status.approvalDeadline).toBe(deadline);
  });

  it('given a wait, when the deadline passes, then the order is rejected naming the deadline', () => {
    expect(onWaitEvent(waiting(), { kind: 'deadline', deadline })).toEqual({
      kind: 'reject',
      reason: noApprovalBefore(deadline),
    });
  });

  it('given a wait, when a cancellation is confirmed by the order status, then the wait ends with that status', () => {
    expect(onWaitEvent(waiting(), { kind: 'order-left-submitted', status: 'cancelled' })).toEqual({
      kind: 'end',
      reason: 'the order is cancelled',
      orderStatus: 'cancelled',
    });
  });

  it('given a wait, when a cancellation event finds the order still submitted, then it is counted and ignored', () => {
    const next = onWaitEvent(waiting(), { kind: 'order-still-submitted' });
    expect(next).toMatchObject({
      kind: 'wait',
      wait: { cancellationIgnored: 1, status: { cancellationIgnored: 1 } },
    });
  });

  it('given a decision, when it refuses, then the reason names the approver and the comment', () => {
    expect(afterDecision({ approved: false, approver: 'ops-2', comment: 'too much' })).toEqual({
      kind: 'reject',
      reason: 'not approved by ops-2: too much',
    });
    expect(afterDecision({ approved: true, approver: 'ops-1' })).toEqual({
      kind: 'accept',
      approvedBy: 'ops-1',
    });
  });
});

describe('the reservations', () => {
  const lines = [
    { productId: 'a', quantity: 1 },
    { productId: 'b', quantity: 2 },
  ];

  it('given every line reserved, then nothing fails and there is no rejection', () => {
    expect(reservationOutcome(lines, [{ completed: true }, { completed: true }])).toEqual({
      reserved: ['a', 'b'],
      failures: [],
    });
  });

  it('given one line failed, then the reserved ones are kept for release and the reason names the failed line', () => {
    const outcome = reservationOutcome(lines, [
      { completed: true },
      { completed: false, error: new Error('out') },
    ]);
    expect(outcome).toEqual({
      reserved: ['a'],
      failures: [{ productId: 'b', quantity: 2, reason: 'out' }],
      reason: 'stock could not be reserved: b: out',
    });
  });
});

describe('the recovery from an unexpected error', () => {
  it('given an error while reserving, then compensate: release and reject with the error as the reason', () => {
    expect(recoveryFor('reserving-stock', new Error('boom'))).toEqual({
      kind: 'compensate',
      reason: 'the acceptance failed while reserving stock: boom',
    });
  });

  it('given an error while accepting, then reject first (the accept may have been recorded)', () => {
    expect(recoveryFor('accepting', new Error('boom')).kind).toBe('reject-first');
  });

  it('given an error while rejecting or after a decision, then rethrow', () => {
    for (const step of ['rejecting', 'accepted', 'rejected', 'cancelled', 'skipped'] as const) {
      expect(recoveryFor(step, new Error('x'))).toEqual({ kind: 'rethrow' });
    }
  });

  it('given a very long error, then the reason is clipped for people to read', () => {
    const r = recoveryFor('validating', new Error('x'.repeat(5000)));
    expect(r.kind === 'compensate' && r.reason.length).toBe(maxReasonLength);
  });
});
