import { describe, expect, it } from 'vitest';
import { Router } from '../../src/local/router';

describe('route templates of the local host', () => {
  const router = new Router<string>();
  router.add({ template: 'orders/{orderId}', methods: ['GET'], target: 'get' });
  router.add({ template: 'orders/{orderId}/items/{productId}', methods: ['DELETE'], target: 'remove' });
  router.add({ template: 'orders/{orderId}/events', methods: ['GET'], target: 'events' });
  router.add({ template: 'orders', methods: ['GET', 'POST'], target: 'list' });
  router.add({ template: 'files/{*rest}', methods: ['GET'], target: 'files' });

  it('binds parameters and decodes them', () => {
    expect(router.match('GET', '/orders/a%3Ab')).toEqual({ target: 'get', params: { orderId: 'a:b' } });
    expect(router.match('DELETE', '/orders/o/items/p')).toEqual({
      target: 'remove',
      params: { orderId: 'o', productId: 'p' },
    });
  });

  it('prefers literal segments, and tells a wrong method from a missing route', () => {
    expect(router.match('GET', '/orders/o/events')).toMatchObject({ target: 'events' });
    expect(router.match('PUT', '/orders/o')).toEqual({ miss: 'method', allowed: ['GET'] });
    expect(router.match('GET', '/nothing')).toEqual({ miss: 'route' });
  });

  it('reports a malformed percent-encoding instead of throwing', () => {
    expect(router.match('GET', '/orders/%ZZ')).toEqual({ miss: 'encoding', param: 'orderId' });
  });

  it('matches catch-all parameters', () => {
    expect(router.match('GET', '/files/a/b/c')).toEqual({ target: 'files', params: { rest: 'a/b/c' } });
  });
});

describe('the request log line', () => {
  it('never shows a key', async () => {
    const { loggable } = await import('../../src/local/httpServer');
    const url = new URL(
      'http://h/runtime/webhooks/durabletask/rpc/s3cret-key-123456/instances/x?code=s3cret&a=1',
    );
    expect(loggable(url)).toBe('/runtime/webhooks/durabletask/rpc/REDACTED/instances/x?code=REDACTED&a=1');
    expect(loggable(url)).not.toContain('s3cret');
  });
});
