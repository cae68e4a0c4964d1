import { useCallback, useEffect, useRef, useState } from 'react';
import { api, onEvent, type EventPayloads, type MonitorStatus } from './api';

type EventName = keyof EventPayloads;

/**
 * Subscribes to one Rust event, or several with one handler, for the component's lifetime; the latest
 * handler is always the one called.
 */
export function useTauriEvent<K extends EventName>(names: K | readonly K[], handler: (payload: EventPayloads[K]) => void): void {
  const latest = useRef(handler);
  latest.current = handler;
  const key = ([] as readonly K[]).concat(names).join(' ');
  useEffect(() => {
    let gone = false;
    const unlisten: (() => void)[] = [];
    for (const name of key.split(' ') as K[]) {
      void onEvent(name, (p) => latest.current(p)).then((fn) => {
        // listen() resolves asynchronously: if we unmounted meanwhile, drop the listener at once.
        if (gone) fn();
        else unlisten.push(fn);
      });
    }
    return () => {
      gone = true;
      unlisten.forEach((fn) => fn());
    };
  }, [key]);
}

/** Events after which ledger data on screen is stale: a processed charge, or any admin change. */
export const LEDGER_EVENTS = ['charge', 'ledger-changed'] as const;

/** A command's data as `useLoad` keeps it. */
export interface Loaded<T> {
  data: T | null;
  error: unknown;
  reload: () => Promise<void>;
}

/**
 * Data from a command: fetched on mount, whenever `fetch` changes (memoise it), and after each of `events`.
 * Keeps the last data through a failed refetch, so a table does not blank out over a transient error.
 */
export function useLoad<T>(fetch: () => Promise<T>, events: readonly EventName[] = LEDGER_EVENTS): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const claim = useLatest();
  const reload = useCallback(async () => {
    const current = claim();
    try {
      const value = await fetch();
      if (!current()) return;
      setData(value);
      setError(null);
    } catch (e) {
      if (current()) setError(e);
    }
  }, [fetch, claim]);
  useEffect(() => {
    void reload();
  }, [reload]);
  useTauriEvent(events, () => void reload());
  return { data, error, reload };
}

/**
 * Runs a command, tracking busy state and the last error; resolves to undefined when it rejected.
 * `onError` lets a caller react to a rejection too (e.g. a lost admin session).
 */
export function useAction<A extends unknown[], R>(fn: (...args: A) => Promise<R>, onError?: (e: unknown) => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const latestOnError = useRef(onError);
  latestOnError.current = onError;
  const run = useCallback(
    async (...args: A): Promise<R | undefined> => {
      setBusy(true);
      setError(null);
      try {
        return await fn(...args);
      } catch (e) {
        setError(e);
        latestOnError.current?.(e);
        return undefined;
      } finally {
        setBusy(false);
      }
    },
    [fn],
  );
  return { run, busy, error };
}

/** Guards async loads against out-of-order answers: only the newest request may apply its result. */
export function useLatest() {
  const seq = useRef(0);
  return useCallback(() => {
    const mine = ++seq.current;
    return () => mine === seq.current;
  }, []);
}

/** The monitor status as a window keeps it: null until the first answer. */
export interface Monitor {
  status: MonitorStatus | null;
  error: unknown;
}

/** The monitor status: fetched once, then kept current by `monitor` events. One per window, passed down. */
export function useMonitorStatus(): Monitor {
  const [status, setStatus] = useState<MonitorStatus | null>(null);
  const [error, setError] = useState<unknown>(null);
  const claim = useLatest();
  useEffect(() => {
    const current = claim();
    api.monitorStatus().then(
      (s) => current() && setStatus(s),
      (e) => current() && setError(e),
    );
  }, [claim]);
  useTauriEvent('monitor', (s) => {
    claim(); // an event is newer than any fetch still in flight
    setError(null);
    setStatus(s);
  });
  return { status, error };
}

/**
 * Whether the browser has painted since `ready` first held: a task queued from an animation frame runs after
 * that frame's paint. Stays true from then on.
 */
export function usePaintedOnce(ready: boolean): boolean {
  const [painted, setPainted] = useState(false);
  useEffect(() => {
    if (!ready || painted) return;
    let task: ReturnType<typeof setTimeout> | undefined;
    const frame = requestAnimationFrame(() => {
      task = setTimeout(() => setPainted(true), 0);
    });
    return () => {
      cancelAnimationFrame(frame);
      clearTimeout(task);
    };
  }, [ready, painted]);
  return painted;
}

/** Whether a media query matches, following the OS as it changes. */
function useMediaQuery(query: string): boolean {
  const [matches, setMatches] = useState(() => window.matchMedia?.(query).matches ?? false);
  useEffect(() => {
    const mq = window.matchMedia?.(query);
    if (!mq) return;
    const update = () => setMatches(mq.matches);
    update();
    mq.addEventListener('change', update);
    return () => mq.removeEventListener('change', update);
  }, [query]);
  return matches;
}

export const useDarkMode = () => useMediaQuery('(prefers-color-scheme: dark)');

/** The OS asks for fewer animations (GTK's "enable animations" off, say). */
export const useReducedMotion = () => useMediaQuery('(prefers-reduced-motion: reduce)');
