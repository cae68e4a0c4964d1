import { getCurrentWindow } from '@tauri-apps/api/window';
import type { WindowName } from './api';

const WINDOWS: readonly WindowName[] = ['chat', 'dashboard', 'admin', 'diagnostics'];

function asWindowName(value: string | undefined): WindowName | undefined {
  return WINDOWS.find((w) => w === value);
}

function tauriLabel(): string | undefined {
  try {
    return getCurrentWindow().label;
  } catch {
    // Outside Tauri (plain browser, tests without mockWindows) there is no window metadata.
    return undefined;
  }
}

/** Which screen this webview shows: the Tauri window label, else `#label` in the URL, else the dashboard. */
export function currentWindowName(): WindowName {
  return asWindowName(tauriLabel()) ?? asWindowName(location.hash.slice(1)) ?? 'dashboard';
}
