import { Space, Tag, Tooltip, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useCallback } from 'react';
import { useTranslation } from 'react-i18next';
import { formatMicros } from '../../format';
import { orgApi, type OrgHeld } from '../../orgApi';
import { HeldPanel } from '../admin/Held';
import { useOrgLoad } from './shared';

const useServerHeld = (all: boolean) => useOrgLoad(useCallback(() => orgApi.held(all), [all]));

/**
 * The server's held and quarantined events: what each device priced them at beside what the server's prices
 * say, and a decision on each. An approval charges the server's amount, never the device's.
 */
export function OrgHeldTab() {
  const { t } = useTranslation();
  const apps = useOrgLoad(orgApi.apps);
  const appName = (id: string) => apps.data?.find((a) => a.id === id)?.name ?? id;

  const amount = (micros: number | null) => (micros === null ? <Tag color="red">{t('admin.held.unpriced')}</Tag> : formatMicros(micros));
  const columns: ColumnsType<OrgHeld> = [
    { title: t('admin.user'), dataIndex: 'user' },
    { title: t('dashboard.col.app'), dataIndex: 'app_id', render: appName },
    { title: t('diagnostics.col.message'), dataIndex: 'message_id', ellipsis: true },
    {
      title: <Tooltip title={t('orgAdmin.held.deviceAmountHint')}>{t('orgAdmin.held.deviceAmount')}</Tooltip>,
      dataIndex: 'device_amount_micros',
      align: 'right',
      render: amount,
    },
    {
      title: <Tooltip title={t('orgAdmin.held.serverAmountHint')}>{t('orgAdmin.held.serverAmount')}</Tooltip>,
      dataIndex: 'server_amount_micros',
      align: 'right',
      render: (micros: number | null, e) => (
        <Space size={4}>
          {micros !== null && e.device_amount_micros !== null && micros !== e.device_amount_micros && (
            <Tag color="volcano" data-testid="held-differs">
              {t('orgAdmin.held.differs')}
            </Tag>
          )}
          <Typography.Text strong>{amount(micros)}</Typography.Text>
        </Space>
      ),
    },
  ];

  const approveHint = (e: OrgHeld) =>
    e.server_amount_micros === null
      ? t('orgAdmin.held.chargesUnpriced', { user: e.user })
      : t('orgAdmin.held.charges', { user: e.user, amount: formatMicros(e.server_amount_micros) });

  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <Typography.Text type="secondary">{t('orgAdmin.held.intro')}</Typography.Text>
      <HeldPanel<OrgHeld>
        useHeld={useServerHeld}
        columns={columns}
        note={(e) => e.note}
        approve={(e, note) => orgApi.approveHeld(e.id, note)}
        reject={(e, note) => orgApi.rejectHeld(e.id, note)}
        approveHint={approveHint}
        rowAttrs={(e) => ({ 'data-user': e.user })}
      />
    </Space>
  );
}
