/** A response recorded for an `Idempotency-Key`, replayed verbatim for a repeat of the same request. */
export interface RecordedResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type Reservation =
  | { outcome: 'reserved' }
  | { outcome: 'replay'; response: RecordedResponse }
  | { outcome: 'in-progress' }
  | { outcome: 'mismatch' };

/**
 * Idempotency keys (IETF draft "The Idempotency-Key HTTP Header Field"). A key is scoped to the caller's
 * method and path; `fingerprint` is a hash of method, path and body, so reusing a key for another request
 * is detected. A reservation not completed within `pendingTtlMs` (a crash mid-request) may be taken over.
 */
export interface IdempotencyStore {
  reserve(key: string, fingerprint: string): Promise<Reservation>;
  complete(key: string, response: RecordedResponse): Promise<void>;
  /** Drops a reservation whose request failed, so a retry can run. */
  release(key: string): Promise<void>;
}

export const pendingTtlMs = 60_000;
