import i18n from 'i18next';
import { initReactI18next } from 'react-i18next';
import { api } from './api';
import en from './locales/en';
import zh from './locales/zh';

export type Lang = 'en' | 'zh';

declare module 'i18next' {
  interface CustomTypeOptions {
    resources: { translation: typeof en };
  }
}

export const isLang = (value: unknown): value is Lang => value === 'en' || value === 'zh';

/** Any Chinese locale gets Simplified Chinese, everything else English (as the shell decides too). */
export function pickLanguage(tag: string | undefined): Lang {
  return tag?.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

declare global {
  interface Window {
    /**
     * The language, set by the desktop shell before the UI loads: the one picked by hand, else the OS's
     * (WebKitGTK's `navigator.language` ignores the OS locale).
     */
    __TOKENDESK_LANGUAGE__?: string | null;
    /** Why the chat window shows a local page: `off` (metering is off) or `no-app`; set by the shell. */
    __TOKENDESK_CHAT__?: string;
  }
}

/** The shell's language, else the webview's idea of the OS's. */
export function initialLanguage(): Lang {
  const told = window.__TOKENDESK_LANGUAGE__;
  return isLang(told) ? told : pickLanguage(navigator.language);
}

/**
 * Switches by hand. The shell keeps the choice for the next start and tells every window, the menus and
 * the tray; this window switches at once.
 */
export function setLanguage(lang: Lang): Promise<void> {
  void i18n.changeLanguage(lang);
  return api.setLanguage(lang);
}

void i18n.use(initReactI18next).init({
  resources: { en: { translation: en }, zh: { translation: zh } },
  lng: initialLanguage(),
  fallbackLng: 'en',
  // Resources are bundled, so initialise synchronously: the first render already has strings.
  initAsync: false,
  interpolation: { escapeValue: false }, // React escapes
  showSupportNotice: false,
});


export default i18n;
