import '@testing-library/jest-dom/vitest';
import { clearMocks } from '@tauri-apps/api/mocks';
import { cleanup, configure } from '@testing-library/react';
import { afterEach } from 'vitest';
import i18n from '../i18n';

// jsdom has no matchMedia; antd's responsive grid and the dark-mode and reduced-motion hooks ask it.
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

// jsdom has no ResizeObserver and lays nothing out: the chart, which draws once its box has a size, stays empty.
window.ResizeObserver = class {
  observe() {}
  unobserve() {}
  disconnect() {}
};

// jsdom's Blob has no text(); the price import reads the chosen file with it. FileReader does the same here.
Blob.prototype.text ??= function (this: Blob) {
  return new Promise<string>((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result as string);
    reader.onerror = () => reject(reader.error);
    reader.readAsText(this);
  });
};

// jsdom cannot style pseudo-elements; antd's table only asks to measure the scrollbar, which jsdom lacks anyway.
const plainGetComputedStyle = window.getComputedStyle.bind(window);
window.getComputedStyle = (elt: Element) => plainGetComputedStyle(elt);

// Each window's screens load lazily, and the first test to show one transforms its code (antd's table, ECharts)
// while a findBy* waits: more than the default second on a busy machine.
configure({ asyncUtilTimeout: 5000 });

afterEach(async () => {
  cleanup();
  clearMocks();
  location.hash = '';
  await i18n.changeLanguage('en');
});
