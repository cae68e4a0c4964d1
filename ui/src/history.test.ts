import { describe, expect, it } from 'vitest';
import { appendPage, mergeFirstPage } from './history';
import { charge, page } from './test/backend';

const ids = (h: { entries: { id: string }[] }) => h.entries.map((e) => e.id);

describe('history paging', () => {
  it('puts a refreshed first page before loaded rows and keeps the loaded cursor', () => {
    const loaded = { entries: [charge('e4', '1'), charge('e3', '1'), charge('e2', '1')], nextCursor: 'after-e2' };
    const merged = mergeFirstPage(loaded, page([charge('e5', '1'), charge('e4', '1')], 'after-e4'));
    expect(ids(merged)).toEqual(['e5', 'e4', 'e3', 'e2']);
    expect(merged.nextCursor).toBe('after-e2');
  });

  it('starts over when the new page does not reach the loaded rows', () => {
    const loaded = { entries: [charge('e1', '1')], nextCursor: null };
    const merged = mergeFirstPage(loaded, page([charge('e3', '1'), charge('e2', '1')], 'after-e2'));
    expect(ids(merged)).toEqual(['e3', 'e2']);
    expect(merged.nextCursor).toBe('after-e2');
  });

  it('appends an older page without repeating rows', () => {
    const loaded = { entries: [charge('e3', '1'), charge('e2', '1')], nextCursor: 'c' };
    const next = appendPage(loaded, page([charge('e2', '1'), charge('e1', '1')]));
    expect(ids(next)).toEqual(['e3', 'e2', 'e1']);
    expect(next.nextCursor).toBeNull();
  });
});
