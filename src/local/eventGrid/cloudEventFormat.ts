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
    for (const name of Object.keys(event)) {
      if (!/^[a-z0-9]{1,20}$/.test(name) && name !== 'data_base64') {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: 'attribute names are lowercase letters and digits',
        });
      }
    }
  });

export type CloudEventJson = z.infer<typeof cloudEventJson>;
