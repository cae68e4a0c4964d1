import { mockWindows } from '@tauri-apps/api/mocks';
import { describe, expect, it } from 'vitest';
import { currentWindowName } from './windowLabel';

describe('which window am I', () => {
  it('uses the Tauri window label', () => {
    mockWindows('diagnostics');
    location.hash = '#admin';
    expect(currentWindowName()).toBe('diagnostics');
  });

  it('falls back to the URL hash outside Tauri or for an unknown label', () => {
    location.hash = '#admin';
    expect(currentWindowName()).toBe('admin');
    mockWindows('main');
    expect(currentWindowName()).toBe('admin');
  });

  it('shows the dashboard when nothing says otherwise', () => {
    location.hash = '#nonsense';
    expect(currentWindowName()).toBe('dashboard');
  });
});
