import { App as AntApp, ConfigProvider, theme } from 'antd';
import enUS from 'antd/locale/en_US';
import zhCN from 'antd/locale/zh_CN';
import { useEffect, type ComponentType } from 'react';
import { useTranslation } from 'react-i18next';
import type { WindowName } from './api';
import { useDarkMode, useReducedMotion, useTauriEvent } from './hooks';
import { isLang } from './i18n';
import { Admin } from './screens/Admin';
import { Dashboard } from './screens/Dashboard';
import { Diagnostics } from './screens/Diagnostics';
import { IntegrationOff } from './screens/IntegrationOff';

const SCREENS: Record<WindowName, ComponentType> = {
  dashboard: Dashboard,
  admin: Admin,
  diagnostics: Diagnostics,
  chat: IntegrationOff,
};

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
        <Screen />
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
