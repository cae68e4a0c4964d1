import '@testing-library/jest-dom/vitest';
import { clearMocks } from '@tauri-apps/api/mocks';
import { cleanup } from '@testing-library/react';
import { afterEach } from 'vitest';
import i18n from '../i18n';

// jsdom has no matchMedia; antd's responsive grid and the dark-mode hook both ask it.
window.matchMedia = (query: string) =>
  ({
    matches: false,
    media: query,
    onchange: null,
    addEventListener: () => undefined,
    removeEventListener: () => undefined,
    addListener: () => undefined,
    removeListener: () => undefined,
    dispatchEvent: () => false,
  }) as MediaQueryList;

// jsdom cannot style pseudo-elements; antd's table only asks to measure the scrollbar, which jsdom lacks anyway.
const plainGetComputedStyle = window.getComputedStyle.bind(window);
window.getComputedStyle = (elt: Element) => plainGetComputedStyle(elt);

afterEach(async () => {
  cleanup();
  clearMocks();
  location.hash = '';
  await i18n.changeLanguage('en');
});
