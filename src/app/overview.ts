import { DeadLetterStore } from '../ports/deadLetters';
import {
  EventStore,
  MinuteActivity,
  minuteOf,
  RecordedEvent,
  eventsOfCommit,
  maxLatestCommits,
} from '../ports/eventStore';
import { FeedProgressStore } from '../ports/feedProgress';
import { OrderReadModel, StatusCount } from '../ports/readModel';
import { deadLetterChannel, parkedChannel } from './publishing';

/** One change-feed consumer's lag behind the newest commit. */
export interface ConsumerLag {
  consumer: string;
  lastRecordedAt: string | null;
  processedAt: string | null;
  /** `headRecordedAt − lastRecordedAt` in seconds (0 when caught up); null when either is unknown. */
  lagSeconds: number | null;
}

/** The overview of `GET /api/overview` (its schema: OverviewSchema in src/http/schemas.ts). */
export interface Overview {
  at: string;
  ordersByStatus: StatusCount[];
  throughput: { minutes: number; perMinute: MinuteActivity[] };
  /** `recordedAt` of the newest commit; null for an empty store. */
  headRecordedAt: string | null;
  changeFeed: ConsumerLag[];
  deadLetters: { channel: string; count: number }[];
}

export interface OverviewSources {
  store: EventStore;
  readModel: OrderReadModel;
  feedProgress: FeedProgressStore;
  deadLetters: DeadLetterStore;
}

/** The dead-letter channels the app itself writes (Event Grid's own are counted by Event Grid). */
export const overviewDeadLetterChannels = [deadLetterChannel, parkedChannel] as const;

/**
 * The order flow at `now`: orders by status (read model), commits and events in each of the last `minutes`
 * whole UTC minutes up to now's minute (every minute listed, zero included, oldest first), each change-feed
 * consumer's lag behind the newest commit, and the app's dead letters per channel. Reads run in parallel.
 * @throws whatever the stores throw (CosmosStoreError on Azure)
 */
export async function readOverview(
  sources: OverviewSources,
  minutes: number,
  now = new Date(),
): Promise<Overview> {
  const currentMinute = Date.parse(minuteOf(now.toISOString()));
  const first = currentMinute - (minutes - 1) * 60_000;
  const [ordersByStatus, activity, latest, progress, letters] = await Promise.all([
    sources.readModel.countByStatus(),
    sources.store.activitySince(new Date(first).toISOString()),
    sources.store.readLatestCommits(1),
    sources.feedProgress.list(),
    Promise.all(
      overviewDeadLetterChannels.map(async (channel) => ({
        channel,
        count: (await sources.deadLetters.list(channel)).length,
      })),
    ),
  ]);
  const byMinute = new Map(activity.map((m) => [m.minute, m]));
  const perMinute = Array.from({ length: minutes }, (_, k) => {
    const minute = new Date(first + k * 60_000).toISOString();
    return byMinute.get(minute) ?? { minute, commits: 0, events: 0 };
  });
  const headRecordedAt = latest[0]?.recordedAt ?? null;
  const head = headRecordedAt === null ? NaN : Date.parse(headRecordedAt);
  const changeFeed = progress.map((p) => {
    const behind = (head - Date.parse(p.lastRecordedAt)) / 1000;
    return { ...p, lagSeconds: Number.isFinite(behind) ? Math.max(0, behind) : null };
  });
  return {
    at: now.toISOString(),
    ordersByStatus,
    throughput: { minutes, perMinute },
    headRecordedAt,
    changeFeed,
    deadLetters: letters,
  };
}

/** The newest events first, of `types` if given, from the newest {@link maxLatestCommits} commits at most. */
export async function readRecentEvents(
  store: EventStore,
  limit: number,
  types?: readonly string[],
): Promise<{ items: RecordedEvent[]; scannedCommits: number }> {
  const wanted = types && new Set(types);
  // Without a filter, `limit` events need at most `limit` commits; with one, look further back.
  const commits = await store.readLatestCommits(
    wanted ? maxLatestCommits : Math.min(limit, maxLatestCommits),
  );
  const items: RecordedEvent[] = [];
  for (const commit of commits) {
    const events = eventsOfCommit(commit).reverse();
    for (const e of events) if (!wanted || wanted.has(e.type)) items.push(e);
    if (items.length >= limit) break;
  }
  return { items: items.slice(0, limit), scannedCommits: commits.length };
}
