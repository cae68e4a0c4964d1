import { Segmented } from 'antd';
import { useTranslation } from 'react-i18next';
import { setLanguage, type Lang } from '../i18n';

// Each language names itself, so someone stuck in the wrong one can still find theirs.
const OPTIONS: { value: Lang; label: string }[] = [
  { value: 'zh', label: '中文' },
  { value: 'en', label: 'EN' },
];

export function LanguageSwitch() {
  const { t, i18n } = useTranslation();
  return (
    <Segmented<Lang>
      size="small"
      aria-label={t('common.language')}
      options={OPTIONS}
      value={i18n.language as Lang}
      onChange={setLanguage}
      data-testid="language-switch"
    />
  );
}
