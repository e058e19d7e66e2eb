import { isRestError } from '@azure/core-rest-pipeline';
import { AzureKeyCredential, EventGridPublisherClient } from '@azure/eventgrid';
import type { TokenCredential } from '@azure/identity';
import { CloudEventEnvelope, CloudEventPublisher, PublishRejectedError } from '../../ports/cloudEvents';

/**
 * Statuses with which a topic refuses a publish request for good: 400 (the request is malformed, e.g. an
 * attribute Event Grid does not accept) and 413 (the request or one of its events is over the 1 MB limit,
 * learn.microsoft.com/azure/event-grid/quotas-limits). Sending the same request again cannot succeed.
 * Every other failure (408, 429, 5xx, 401/403 while a role assignment propagates, a timeout, a network
 * error) may succeed later.
 */
const refusedForGood = new Set([400, 413]);

export interface EventGridPublisherOptions {
  /** Topic endpoint, e.g. `https://<topic>.<region>-1.eventgrid.azure.net/api/events`. */
  endpoint: string;
  /** Topic access key: the local host's topic only. Without it, `credential` is used. */
  key?: string;
  /** Entra ID credential (the app's managed identity, with the EventGrid Data Sender role on the topic). */
  credential?: TokenCredential;
  /** Abandon one publish call after this many milliseconds (a hanging topic must not stall the relay). */
  timeoutMs: number;
  /** Retries of the SDK's own pipeline within one publish call. */
  maxRetries: number;
}

/**
 * Publishes CloudEvents with the real `EventGridPublisherClient` in CloudEvent mode (topic input schema
 * CloudEventSchemaV1_0). Extension attributes travel as `extensionAttributes`, which the SDK checks
 * against the CloudEvents naming rule. The SDK sends each event with the same attributes and values as the
 * envelope (`time` as the same ISO 8601 string), so the request body is `[` the events' JSON `]` and its size
 * is what `jsonBytes` counts (test/app/eventSize.spec.ts checks it on the wire).
 */
export class EventGridCloudEventPublisher implements CloudEventPublisher {
  private readonly client: EventGridPublisherClient<'CloudEvent'>;

  constructor(private readonly options: EventGridPublisherOptions) {
    const credential = options.key ? new AzureKeyCredential(options.key) : options.credential;
    if (!credential) throw new Error('Event Grid publisher: neither a key nor a credential was given');
    const url = new URL(options.endpoint);
    // Plain http only to a topic on this machine (the local host's own topic); anything else needs TLS.
    const loopback = url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
    this.client = new EventGridPublisherClient(options.endpoint, 'CloudEvent', credential, {
      allowInsecureConnection: loopback,
      retryOptions: { maxRetries: options.maxRetries, retryDelayInMs: 200, maxRetryDelayInMs: 2000 },
    });
  }

  /**
   * Sends one batch (at most 5,000 events and 1 MB, as the caller cut it).
   * @throws PublishRejectedError when the topic answered 400 or 413 (the SDK's `RestError.statusCode`,
   *   @azure/core-rest-pipeline): refused for good, the caller must not send the same batch again
   * @throws the SDK's error unchanged for anything else (a RestError with another status, an AbortError
   *   after `timeoutMs`, a network error): transient
   */
  async publish(batch: CloudEventEnvelope[]): Promise<void> {
    const events = batch.map((e) => {
      const {
        specversion: _v,
        id,
        source,
        type,
        subject,
        time,
        datacontenttype,
        dataschema,
        data,
        ...extensions
      } = e;
      return {
        id,
        source,
        type,
        subject,
        time: new Date(time),
        datacontenttype,
        dataschema,
        data,
        extensionAttributes: extensions as Record<string, unknown>,
      };
    });
    try {
      await this.client.send(events, { abortSignal: AbortSignal.timeout(this.options.timeoutMs) });
    } catch (err) {
      if (isRestError(err) && err.statusCode !== undefined && refusedForGood.has(err.statusCode)) {
        throw new PublishRejectedError(
          err.statusCode,
          `Event Grid refused the batch of ${batch.length} with HTTP ${err.statusCode}: ${err.message}`,
          { cause: err },
        );
      }
      throw err;
    }
  }
}
