import { Card, Space, Tag, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { formatTime } from '../format';
import { useMonitorStatus } from '../hooks';
import { ErrorAlert } from './ErrorAlert';
import { OutcomeTag } from './OutcomeTag';

/** Live monitor status, shared by the dashboard and diagnostics windows. */
export function MonitorStatusCard() {
  const { t } = useTranslation();
  const { status, error } = useMonitorStatus();
  return (
    <Card size="small" title={t('monitor.title')} loading={!status && !error}>
      <ErrorAlert error={error} />
      {status && (
        <Space direction="vertical" size={4} data-testid="monitor-status">
          <Space size={4} wrap>
            <Tag color={status.integration_enabled ? 'green' : 'default'}>
              {t(status.integration_enabled ? 'monitor.integrationOn' : 'monitor.integrationOff')}
            </Tag>
            <Tag color={status.chat_open ? 'blue' : 'default'}>
              {t(status.chat_open ? 'monitor.chatOpen' : 'monitor.chatClosed')}
            </Tag>
            {status.demo && <Tag color="purple">{t('monitor.demo')}</Tag>}
          </Space>
          <Typography.Text type="secondary">
            {t('monitor.lastEvent')}:{' '}
            {status.last_event_at ? formatTime(status.last_event_at) : t('monitor.noEvents')}{' '}
            {status.last_outcome && <OutcomeTag outcome={status.last_outcome} />}
          </Typography.Text>
          {status.chat_url && (
            <Typography.Text type="secondary" ellipsis style={{ maxWidth: 320 }}>
              {status.chat_url}
            </Typography.Text>
          )}
        </Space>
      )}
    </Card>
  );
}
