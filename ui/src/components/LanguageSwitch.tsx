import { App as AntApp, Segmented } from 'antd';
import { describeError } from '../errors';
import { useTranslation } from 'react-i18next';
import { setLanguage, type Lang } from '../i18n';

// Each language names itself, so someone stuck in the wrong one can still find theirs.
const OPTIONS: { value: Lang; label: string }[] = [
  { value: 'zh', label: '中文' },
  { value: 'en', label: 'EN' },
];

export function LanguageSwitch() {
  const { t, i18n } = useTranslation();
  const { message } = AntApp.useApp();
  const pick = (lang: Lang) =>
    // This window has switched either way; the shell could not keep the choice, so say so.
    setLanguage(lang).catch((error) => message.error(describeError(t, error)));
  return (
    <Segmented<Lang>
      size="small"
      aria-label={t('common.language')}
      options={OPTIONS}
      value={i18n.language as Lang}
      onChange={(lang) => void pick(lang)}
      data-testid="language-switch"
    />
  );
}
