import dayjs from 'dayjs';
import 'dayjs/locale/zh-cn';
import i18n from 'i18next';
import { initReactI18next } from 'react-i18next';
import en from './locales/en';
import zh from './locales/zh';

export type Lang = 'en' | 'zh';

declare module 'i18next' {
  interface CustomTypeOptions {
    resources: { translation: typeof en };
  }
}

/** Where the manual choice is kept; every TokenDesk window shares the origin, so they share the choice. */
export const LANGUAGE_KEY = 'tokendesk.language';

const isLang = (value: unknown): value is Lang => value === 'en' || value === 'zh';

/** The OS language decides: any Chinese variant gets Simplified Chinese, everything else English. */
export function pickLanguage(tag: string | undefined): Lang {
  return tag?.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

declare global {
  interface Window {
    /** The OS locale, set by the desktop shell before the UI loads (WebKitGTK's `navigator.language` ignores it). */
    __TOKENDESK_OS_LOCALE__?: string | null;
  }
}

/** The OS locale as the shell read it, else the webview's idea of it. */
export function osLocale(): string | undefined {
  return window.__TOKENDESK_OS_LOCALE__ ?? navigator.language;
}

/** The language chosen by hand earlier, else the OS language. */
export function initialLanguage(): Lang {
  const saved = localStorage.getItem(LANGUAGE_KEY);
  return isLang(saved) ? saved : pickLanguage(osLocale());
}

/** Switches by hand and remembers it. */
export function setLanguage(lang: Lang): void {
  localStorage.setItem(LANGUAGE_KEY, lang);
  void i18n.changeLanguage(lang);
}

// antd's date pickers format month and weekday names through dayjs.
i18n.on('languageChanged', (lang) => dayjs.locale(lang === 'zh' ? 'zh-cn' : 'en'));

void i18n.use(initReactI18next).init({
  resources: { en: { translation: en }, zh: { translation: zh } },
  lng: initialLanguage(),
  fallbackLng: 'en',
  // Resources are bundled, so initialise synchronously: the first render already has strings.
  initAsync: false,
  interpolation: { escapeValue: false }, // React escapes
  showSupportNotice: false,
});

// Another window switched: follow it (the storage event fires only in the other windows).
window.addEventListener('storage', (e) => {
  if (e.key === LANGUAGE_KEY && isLang(e.newValue)) void i18n.changeLanguage(e.newValue);
});

export default i18n;
