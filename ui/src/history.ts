import type { Entry, HistoryPage } from './api';

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
