import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { errorText } from './api';

export interface Loaded<T> {
  data?: T;
  error?: string;
  loading: boolean;
  /** When the shown data was read. */
  at?: Date;
  reload: () => void;
}

/**
 * Reads `load` now and whenever `key` changes, then, with `intervalMs`, again that long after each answer:
 * polling that pauses while the tab is hidden and reads at once when it shows again. A change of `key`
 * drops the shown data (the view says it is loading rather than showing another query's figures).
 */
export function usePoll<T>(
  load: (signal: AbortSignal) => Promise<T>,
  key: string,
  intervalMs = 0,
): Loaded<T> {
  const [state, setState] = useState<{ key: string; data?: T; error?: string; loading: boolean; at?: Date }>({
    key,
    loading: true,
  });
  const loadRef = useRef(load);
  loadRef.current = load;
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let controller: AbortController | undefined;
    let running = false;
    setState((s) => (s.key === key ? { ...s, loading: true } : { key, loading: true }));

    const run = async () => {
      timer = undefined;
      if (stopped) return;
      if (document.hidden && intervalMs > 0) return; // visibilitychange starts it again
      controller = new AbortController();
      running = true;
      try {
        const data = await loadRef.current(controller.signal);
        if (!stopped) setState({ key, data, loading: false, at: new Date() });
      } catch (err) {
        if (stopped || controller.signal.aborted) return;
        setState((s) => ({ ...s, key, error: errorText(err), loading: false }));
      } finally {
        running = false;
      }
      if (!stopped && intervalMs > 0) timer = setTimeout(run, intervalMs);
    };
    const onVisible = () => {
      if (!document.hidden && timer === undefined && !running && !stopped) void run();
    };
    void run();
    if (intervalMs > 0) document.addEventListener('visibilitychange', onVisible);
    return () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      controller?.abort();
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [key, intervalMs, tick]);

  const current = state.key === key ? state : { loading: true };
  return { ...current, reload };
}
