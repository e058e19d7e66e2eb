import { HyparquetEncoder } from '../adapters/lake/hyparquetEncoder';
import { openLakeTarget } from '../adapters/lake/lakeTargets';
import { EventLake } from '../app/eventLake';
import { lakeTarget } from '../config/connections';
import { Settings } from '../config/settings';

/**
 * The event lake the settings describe: the target of `lakeTarget` (src/config/connections.ts), Parquet through
 * hyparquet-writer, the roll thresholds EVENT_LAKE_ROLL_BYTES, EVENT_LAKE_ROLL_SECONDS and
 * EVENT_LAKE_MAX_ROWS_PER_FILE. Nothing is sent to Storage until the first operation.
 * @throws SettingsError when EVENT_LAKE=blob lacks a usable connection setting
 */
export function eventLake(settings: Settings): EventLake {
  return new EventLake(openLakeTarget(lakeTarget(settings)), new HyparquetEncoder(), {
    rollBytes: settings.EVENT_LAKE_ROLL_BYTES,
    rollMs: settings.EVENT_LAKE_ROLL_SECONDS * 1000,
    maxRowsPerFile: settings.EVENT_LAKE_MAX_ROWS_PER_FILE,
  });
}
