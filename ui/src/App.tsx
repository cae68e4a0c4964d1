import { App as AntApp, ConfigProvider, theme } from 'antd';
import enUS from 'antd/es/locale/en_US';
import zhCN from 'antd/es/locale/zh_CN';
import { Suspense, useEffect } from 'react';
import { useTranslation } from 'react-i18next';
import type { WindowName } from './api';
import { useDarkMode, useReducedMotion, useTauriEvent } from './hooks';
import { isLang } from './i18n';
import { lazyNamed } from './lazy';

// A chunk per window: the dashboard's cold start parses neither the admin consoles nor diagnostics.
const SCREENS = {
  dashboard: lazyNamed(() => import('./screens/Dashboard'), 'Dashboard'),
  admin: lazyNamed(() => import('./screens/Admin'), 'Admin'),
  diagnostics: lazyNamed(() => import('./screens/Diagnostics'), 'Diagnostics'),
  chat: lazyNamed(() => import('./screens/IntegrationOff'), 'IntegrationOff'),
} satisfies Record<WindowName, unknown>;

export function App({ name }: { name: WindowName }) {
  const { t, i18n } = useTranslation();
  const dark = useDarkMode();
  const reducedMotion = useReducedMotion();
  const zh = i18n.language === 'zh';

  useEffect(() => {
    document.documentElement.lang = zh ? 'zh-CN' : 'en';
    document.title = `${t(`app.windows.${name}`)} · ${t('app.name')}`;
  }, [t, zh, name]);

  const Screen = SCREENS[name];
  return (
    <ConfigProvider
      locale={zh ? zhCN : enUS}
      // Compact: these are dense tool windows, not a landing page.
      theme={{
        algorithm: [dark ? theme.darkAlgorithm : theme.defaultAlgorithm, theme.compactAlgorithm],
        token: { motion: !reducedMotion },
      }}
    >
      <AntApp>
        {/* The chat window's local page may call nothing, not even listen. */}
        {name !== 'chat' && <FollowLanguage />}
        {/* Read from local disk: a blank window for the few milliseconds the screen's code takes to load. */}
        <Suspense fallback={null}>
          <Screen />
        </Suspense>
      </AntApp>
    </ConfigProvider>
  );
}

/** Follows a language switch made in any window. */
function FollowLanguage() {
  const { i18n } = useTranslation();
  useTauriEvent('language', (lang) => {
    if (isLang(lang)) void i18n.changeLanguage(lang);
  });
  return null;
}
