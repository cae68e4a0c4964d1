import { Result, Space, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import type { Lang } from '../i18n';

/**
 * Shown in the chat window when the Dify integration is off: in the user's language, then the other one.
 * It calls no command, so the chat window needs no local capability.
 */
export function IntegrationOff() {
  const { t, i18n } = useTranslation();
  const other: Lang = i18n.language === 'zh' ? 'en' : 'zh';
  const o = i18n.getFixedT(other);
  return (
    <div data-testid="integration-off">
    <Result
      status="info"
      title={t('off.title')}
      subTitle={
        <Space direction="vertical" size={2}>
          <Typography.Text>{t('off.body')}</Typography.Text>
          <Typography.Text type="secondary">{t('off.hint')}</Typography.Text>
          <Typography.Text type="secondary" lang={other} style={{ marginTop: 12 }}>
            {o('off.title')} · {o('off.body')}
          </Typography.Text>
        </Space>
      }
    />
    </div>
  );
}
