import { z } from 'zod';

/** Identifier convention of every id in the API: 1-128 letters, digits, `-`, `_`, `.` or `:`. */
export const Id = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'must be 1-128 letters, digits, "-", "_", "." or ":"')
  // "." and ".." are path segments URLs resolve away: such an id could never be addressed.
  .refine((id) => !/^\.+$/.test(id), 'must not consist of dots only');
