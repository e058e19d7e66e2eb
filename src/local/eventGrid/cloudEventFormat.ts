import { z } from 'zod';

/**
 * CloudEvents 1.0 JSON format as a topic with input schema CloudEventSchemaV1_0 accepts it: required
 * `specversion` "1.0", `id`, `source`, `type`; optional attributes typed as the spec says; extension
 * attribute names lowercase letters and digits only (CloudEvents spec v1.0.2, "Attribute Naming Convention").
 */
export const cloudEventJson = z
  .object({
    specversion: z.literal('1.0'),
    id: z.string().min(1),
    source: z.string().min(1),
    type: z.string().min(1),
    subject: z.string().min(1).optional(),
    time: z.iso.datetime({ offset: true }).optional(),
    datacontenttype: z.string().min(1).optional(),
    dataschema: z.url().optional(),
  })
  .catchall(z.unknown())
  .superRefine((event, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    const core = new Set([
      'specversion',
      'id',
      'source',
      'type',
      'subject',
      'time',
      'datacontenttype',
      'dataschema',
    ]);
    for (const [name, value] of Object.entries(event)) {
      if (name === 'data' || name === 'data_base64' || core.has(name)) continue;
      if (!/^[a-z0-9]{1,20}$/.test(name)) issue(name, 'attribute names are lowercase letters and digits');
      // Extension values are of the CloudEvents type system: String, Integer, Boolean (URI, Timestamp
      // and Binary travel as strings in JSON).
      else if (!['string', 'boolean'].includes(typeof value) && !Number.isInteger(value)) {
        issue(name, 'an extension value is a string, an integer or a boolean');
      }
    }
    // JSON event format §3.1: data or data_base64, not both; data_base64 is Base64 text.
    if ('data' in event && 'data_base64' in event)
      issue('data_base64', 'an event has data or data_base64, not both');
    const b64 = event.data_base64;
    if (
      b64 !== undefined &&
      (typeof b64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0)
    ) {
      issue('data_base64', 'must be Base64 text');
    }
  });

export type CloudEventJson = z.infer<typeof cloudEventJson>;
