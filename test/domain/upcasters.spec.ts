import { describe, expect, it } from 'vitest';
import { fold } from '../../src/domain/decider';
import { currentSchemaVersion } from '../../src/domain/events';
import { upcast, UnknownEventError } from '../../src/domain/upcasters';

const at = '2017-10-02T10:56:33.000Z';

describe('upcasting stored events', () => {
  it('reads a stored OrderCreated v1 (no referralCode) as the current v2', () => {
    expect(currentSchemaVersion.OrderCreated).toBe(2);
    const event = upcast('OrderCreated', 1, { customerId: 'c-1' }, at);
    expect(event).toEqual({ type: 'OrderCreated', data: { customerId: 'c-1' }, occurredAt: at });
    expect(fold([event]).referralCode).toBeUndefined();
    expect(fold([event]).customerId).toBe('c-1');
  });

  it('reads OrderCreatedBasedOnAReferral as an order with its referral code', () => {
    const event = upcast('OrderCreatedBasedOnAReferral', 1, { customerId: 'c-1', referralCode: 'r-1' }, at);
    expect(fold([event])).toMatchObject({
      exists: true,
      customerId: 'c-1',
      referralCode: 'r-1',
      status: 'draft',
    });
  });

  it('refuses an event from a newer writer instead of misreading it', () => {
    expect(() => upcast('OrderCreated', 3, {}, at)).toThrow(UnknownEventError);
    expect(() => upcast('OrderTeleported', 1, {}, at)).toThrow(UnknownEventError);
  });
});
