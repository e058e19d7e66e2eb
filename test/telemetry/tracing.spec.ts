import { context, trace, TraceFlags } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { continuation, spanContextOf, traceparentOf } from '../../src/app/tracing';

/*
 * The rules of src/app/tracing.ts that decide how a command's trace continues across the change feed and
 * Event Grid, through the OpenTelemetry API alone (no SDK needed to check them).
 */

const a1 = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const a2 = '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01';
const b1 = '00-4bf92f3577b34da6a3ce929d0e0e4736-53995c3f42cd8ad8-00';

describe('reading the trace context a commit or a CloudEvent carries', () => {
  it('reads a W3C traceparent as a remote span context, and writes it back unchanged', () => {
    const sc = spanContextOf(a1, 'congo=t61rcWkgMzE')!;
    expect(sc).toMatchObject({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    expect(sc.traceState?.get('congo')).toBe('t61rcWkgMzE');
    expect(traceparentOf(sc)).toBe(a1);
    expect(traceparentOf(spanContextOf(b1))).toBe(b1);
  });

  it('ignores anything that is not valid W3C Trace Context', () => {
    for (const bad of [
      undefined,
      42,
      '',
      'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      '00-00000000000000000000000000000000-b7ad6b7169203331-01',
      '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01',
      '00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01',
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331',
    ]) {
      expect(spanContextOf(bad), String(bad)).toBeUndefined();
    }
  });
});

describe('where the processing of a batch of items continues', () => {
  const items = (...traceparents: (string | undefined)[]) =>
    traceparents.map((t) => ({ sc: spanContextOf(t), attributes: { 'orders.order_id': String(t) } }));

  it('continues the one trace all items come from, the first item being the parent, and links each once', () => {
    const { parent, links } = continuation(items(a1, a2, a1));
    expect(trace.getSpanContext(parent)).toMatchObject({ spanId: 'b7ad6b7169203331' });
    expect(links.map((l) => l.context.spanId)).toEqual(['b7ad6b7169203331', '00f067aa0ba902b7']);
    expect(links[0].attributes).toEqual({ 'orders.order_id': a1 });
  });

  it('starts from the ambient context when the items come from several traces, linking them all', () => {
    // The ambient context is the active one (the invocation's); without an SDK's context manager, the root.
    const { parent, links } = continuation(items(a1, b1));
    expect(parent).toBe(context.active());
    expect(trace.getSpanContext(parent)).toBeUndefined();
    expect(links.map((l) => l.context.traceId)).toEqual([
      '0af7651916cd43dd8448eb211c80319c',
      '4bf92f3577b34da6a3ce929d0e0e4736',
    ]);
  });

  it('starts from the ambient context when an item carries no trace context (an imported commit)', () => {
    const { parent, links } = continuation(items(a1, undefined));
    expect(trace.getSpanContext(parent)).toBeUndefined();
    expect(links).toHaveLength(1);
  });
});
