/**
 * Largest accepted request body, in bytes (1 MB): the API answers 413 beyond it, and the local host refuses
 * such a body before buffering it. Event Grid's own event limit is the same 1 MB, which no command could
 * exceed anyway (src/ports/cloudEvents.ts).
 */
export const maxBodyBytes = 1024 * 1024;
