import { Result, Space, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import type { Lang } from '../i18n';

/**
 * Shown in the chat window when the Dify integration is off, or when there is no Dify app yet (the shell sets
 * `__TOKENDESK_CHAT__` to `no-app`: an org whose admin has not added one): in the user's language, then the other one. It calls no command, so
 * the chat window needs no local capability.
 */
export function IntegrationOff() {
  const { t, i18n } = useTranslation();
  const other: Lang = i18n.language === 'zh' ? 'en' : 'zh';
  const o = i18n.getFixedT(other);
  const why = window.__TOKENDESK_CHAT__ === 'no-app' ? 'noApp' : 'off';
  return (
    <div data-testid="integration-off" data-reason={why}>
    <Result
      status="info"
      title={t(`${why}.title`)}
      subTitle={
        <Space direction="vertical" size={2}>
          <Typography.Text>{t(`${why}.body`)}</Typography.Text>
          <Typography.Text type="secondary">{t(`${why}.hint`)}</Typography.Text>
          <Typography.Text type="secondary" lang={other} style={{ marginTop: 12 }}>
            {o(`${why}.title`)} · {o(`${why}.body`)}
          </Typography.Text>
        </Space>
      }
    />
    </div>
  );
}
