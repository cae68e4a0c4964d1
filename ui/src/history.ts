import { useCallback, useEffect, useRef, useState } from 'react';
import { api, type Entry, type HistoryFilter, type HistoryPage } from './api';
import { LEDGER_EVENTS, useAction, useLatest, useTauriEvent } from './hooks';

/** The history rows on screen and the cursor of the next older page (null: all loaded). */
export interface LoadedHistory {
  entries: Entry[];
  nextCursor: string | null;
}

/**
 * Puts a refetched first page in front of what is loaded, so a new charge does not throw away pages the
 * user already loaded. Entries are immutable and newest first, so the older rows and their cursor stay
 * valid, unless the new page does not reach them (more new entries than a page): then start over.
 */
export function mergeFirstPage(loaded: LoadedHistory | null, page: HistoryPage): LoadedHistory {
  const ids = new Set(page.entries.map((e) => e.id));
  if (!loaded || !loaded.entries.some((e) => ids.has(e.id))) {
    return { entries: page.entries, nextCursor: page.next_cursor };
  }
  return {
    entries: [...page.entries, ...loaded.entries.filter((e) => !ids.has(e.id))],
    nextCursor: loaded.nextCursor,
  };
}

/** Appends an older page, skipping rows already shown. */
export function appendPage(loaded: LoadedHistory | null, page: HistoryPage): LoadedHistory {
  const shown = new Set(loaded?.entries.map((e) => e.id));
  return {
    entries: [...(loaded?.entries ?? []), ...page.entries.filter((e) => !shown.has(e.id))],
    nextCursor: page.next_cursor,
  };
}

const PAGE_SIZE = 20;

/**
 * Ledger entries matching `filter` (memoise it: a new object starts over), newest first, a page at a time.
 * The first page is refetched after every charge and admin change and merged in front of what is loaded.
 */
export function useHistory(filter: HistoryFilter) {
  const [history, setHistory] = useState<LoadedHistory | null>(null);
  const [error, setError] = useState<unknown>(null);
  const claim = useLatest();
  const shownFilter = useRef(filter);
  shownFilter.current = filter;

  const loadFirst = useCallback(async () => {
    const current = claim();
    try {
      const page = await api.history({ limit: PAGE_SIZE, ...filter });
      if (!current()) return;
      setHistory((loaded) => mergeFirstPage(loaded, page));
      setError(null);
    } catch (e) {
      if (current()) setError(e);
    }
  }, [claim, filter]);

  useEffect(() => {
    setHistory(null); // another filter: the loaded rows are not a prefix of the new list
    void loadFirst();
  }, [loadFirst]);
  useTauriEvent(LEDGER_EVENTS, () => void loadFirst());

  const more = useAction(
    useCallback(
      async (cursor: string) => {
        const page = await api.history({ limit: PAGE_SIZE, cursor, ...filter });
        // An older page of a filter no longer shown must not land in the new list.
        if (shownFilter.current === filter) setHistory((loaded) => appendPage(loaded, page));
      },
      [filter],
    ),
  );

  return { history, error, reload: loadFirst, more };
}

export type HistoryState = ReturnType<typeof useHistory>;
