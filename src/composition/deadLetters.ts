import { openDeadLetterStore } from '../adapters/deadLetterStores';
import { deadLetterTarget } from '../config/connections';
import { Settings } from '../config/settings';
import { DeadLetterStore } from '../ports/deadLetters';

export { developmentStorageClient } from '../adapters/deadLetterStores';

/**
 * The dead-letter store the settings choose (src/config/connections.ts `deadLetterTarget`): JSON files under
 * DATA_DIR/dead-letters, or blobs in a Storage container.
 * @throws SettingsError when DEAD_LETTERS=blob lacks a usable connection setting
 */
export const deadLetterStore = (settings: Settings): DeadLetterStore =>
  openDeadLetterStore(deadLetterTarget(settings));
