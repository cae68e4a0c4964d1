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

/** The OS language decides: any Chinese variant gets Simplified Chinese, everything else English. */
export function pickLanguage(tag: string | undefined): Lang {
  return tag?.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

void i18n.use(initReactI18next).init({
  resources: { en: { translation: en }, zh: { translation: zh } },
  lng: pickLanguage(navigator.language),
  fallbackLng: 'en',
  // Resources are bundled, so initialise synchronously: the first render already has strings.
  initAsync: false,
  interpolation: { escapeValue: false }, // React escapes
});

export default i18n;
