import { describe, expect, it } from 'vitest';
import { Logger } from '../../src/local/logger';

/**
 * No key in the host's log, whatever writes the line: an error dump of the durable client's HTTP call carries
 * the webhook base URL with its system key (`.../rpc/<key>/instances/...`), and Functions keys travel as `code=`.
 */
describe("the local host's log", () => {
  it('redacts the durable webhook key and code= parameters from every line, error dumps included', () => {
    const lines: string[] = [];
    const logger = new Logger('information', (line) => lines.push(line));
    const key = 'c2VjcmV0LWtleS0xMjM0NTY3ODk';
    const err = Object.assign(new Error('socket hang up'), {
      config: {
        url: `http://127.0.0.1:7071/runtime/webhooks/durabletask/rpc/${key}/instances/acceptance-1?code=${key}`,
      },
    });
    logger.error('worker', 'stockRelease failed:', err);
    logger.info('worker', `GET /runtime/webhooks/durabletask/instances/x?taskHub=h&code=${key}&x=1`);
    expect(lines.join('\n')).not.toContain(key);
    expect(lines[0]).toContain('/rpc/REDACTED/instances/acceptance-1');
    expect(lines[1]).toContain('code=REDACTED&x=1');
  });
});
