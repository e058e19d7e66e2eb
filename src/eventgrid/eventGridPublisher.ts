import { AzureKeyCredential, EventGridPublisherClient } from '@azure/eventgrid';
import { DefaultAzureCredential } from '@azure/identity';
import { CloudEventEnvelope } from '../app/cloudEvents';
import { CloudEventPublisher } from '../app/publishing';

export interface EventGridPublisherOptions {
  /** Topic endpoint, e.g. `https://<topic>.<region>-1.eventgrid.azure.net/api/events`. */
  endpoint: string;
  /** Topic access key; without one, `DefaultAzureCredential` (managed identity on Azure) is used. */
  key?: string;
  /** Abandon one publish call after this many milliseconds (a hanging topic must not stall the relay). */
  timeoutMs: number;
  /** Retries of the SDK's own pipeline within one publish call. */
  maxRetries: number;
}

/**
 * Publishes CloudEvents with the real `EventGridPublisherClient` in CloudEvent mode (topic input schema
 * CloudEventSchemaV1_0). Extension attributes travel as `extensionAttributes`, which the SDK checks
 * against the CloudEvents naming rule.
 */
export class EventGridCloudEventPublisher implements CloudEventPublisher {
  private readonly client: EventGridPublisherClient<'CloudEvent'>;

  constructor(private readonly options: EventGridPublisherOptions) {
    const credential = options.key ? new AzureKeyCredential(options.key) : new DefaultAzureCredential();
    const url = new URL(options.endpoint);
    // Plain http only to a topic on this machine (the local host's own topic); anything else needs TLS.
    const loopback = url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
    this.client = new EventGridPublisherClient(options.endpoint, 'CloudEvent', credential, {
      allowInsecureConnection: loopback,
      retryOptions: { maxRetries: options.maxRetries, retryDelayInMs: 200, maxRetryDelayInMs: 2000 },
    });
  }

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
    await this.client.send(events, { abortSignal: AbortSignal.timeout(this.options.timeoutMs) });
  }
}
