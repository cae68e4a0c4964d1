import { Button, Card, Form, Input, Space, Switch, Tag, Tooltip, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useCallback, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, type HeldEvent, type RejectedEvent } from '../../api';
import { DataTable } from '../../components/DataTable';
import { ErrorAlert } from '../../components/ErrorAlert';
import { formatCount, formatCredits, formatTime } from '../../format';
import { useLoad } from '../../hooks';
import { FormModal } from './shared';

const REJECTED_LIMIT = 200;
const STATUS_COLORS: Record<HeldEvent['status'], string> = { pending: 'gold', approved: 'green', rejected: 'red' };

/** The raw payload under a row, for events an admin has to understand before deciding. */
const payloadRow = {
  expandedRowRender: (row: { payload: string }) => (
    <Typography.Paragraph code copyable style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all', margin: 0 }}>
      {row.payload}
    </Typography.Paragraph>
  ),
};

type Decision = { event: HeldEvent; approve: boolean } | null;

/** Held events to approve or reject, and the log of rejected input. */
export function HeldTab() {
  return (
    <Space direction="vertical" size={12} style={{ width: '100%' }}>
      <HeldEvents />
      <RejectedEvents />
    </Space>
  );
}

function HeldEvents() {
  const { t } = useTranslation();
  const [all, setAll] = useState(false);
  // Charges can be held at any moment, so this follows charge events too.
  const held = useLoad(useCallback(() => api.heldEvents(all), [all]));
  const [deciding, setDeciding] = useState<Decision>(null);

  const columns: ColumnsType<HeldEvent> = [
    { title: t('admin.col.time'), dataIndex: 'received_at', render: (v: string) => formatTime(v), width: 160 },
    { title: t('admin.held.reason'), dataIndex: 'reason', render: (r: HeldEvent['reason']) => <Tag color="orange">{t(`admin.held.reasons.${r}`)}</Tag> },
    {
      title: t('dashboard.col.app'),
      dataIndex: 'app_name',
      render: (name: string, e) => (
        <Space size={4}>
          {name}
          {e.priced_as && (
            <Tooltip title={t('admin.held.pricedAsHint')}>
              <Tag data-testid="held-priced-as">{t('admin.held.pricedAs', { model: e.priced_as })}</Tag>
            </Tooltip>
          )}
        </Space>
      ),
    },
    { title: t('diagnostics.col.message'), dataIndex: 'message_id', ellipsis: true },
    {
      title: t('dashboard.col.credits'),
      dataIndex: 'amount',
      align: 'right',
      render: (amount: number | null, e) =>
        amount === null ? (
          <Tag color="red">{t('admin.held.unpriced')}</Tag>
        ) : (
          <Space size={4}>
            {e.estimated && <Tag color="gold">{t('dashboard.estimated')}</Tag>}
            {formatCredits(amount)}
          </Space>
        ),
    },
    { title: t('admin.held.detail'), dataIndex: 'detail' },
    {
      title: t('admin.held.status'),
      dataIndex: 'status',
      render: (status: HeldEvent['status'], e) => (
        <Tooltip title={e.decided_by && t('admin.held.decided', { by: e.decided_by, at: formatTime(e.decided_at!), note: e.decision_note || t('common.none') })}>
          <Tag color={STATUS_COLORS[status]}>{t(`admin.held.statuses.${status}`)}</Tag>
        </Tooltip>
      ),
    },
    {
      title: t('common.actions'),
      key: 'actions',
      render: (_, e) =>
        e.status === 'pending' && (
          <Space size={0}>
            <Button size="small" type="link" onClick={() => setDeciding({ event: e, approve: true })} data-testid={`held-approve-${e.id}`}>
              {t('admin.held.approve')}
            </Button>
            <Button size="small" type="link" danger onClick={() => setDeciding({ event: e, approve: false })} data-testid={`held-reject-${e.id}`}>
              {t('admin.held.reject')}
            </Button>
          </Space>
        ),
    },
  ];

  const decide = ({ note }: { note?: string }) => {
    const { event, approve } = deciding!;
    const text = note?.trim() || null;
    return approve ? api.adminApproveHeld(event.id, text) : api.adminRejectHeld(event.id, text);
  };

  return (
    <Card
      size="small"
      title={t('admin.held.title')}
      extra={
        <Space>
          <Typography.Text>{t('admin.held.showAll')}</Typography.Text>
          <Switch size="small" checked={all} onChange={setAll} aria-label={t('admin.held.showAll')} data-testid="held-show-all" />
        </Space>
      }
    >
      <ErrorAlert error={held.error} />
      <DataTable<HeldEvent>
        rowKey="id"
        columns={columns}
        dataSource={held.data ?? undefined}
        loading={!held.data && !held.error}
        rowTestId="held-row"
        rowAttrs={(e) => ({ 'data-held-id': e.id, 'data-status': e.status })}
        expandable={payloadRow}
        locale={{ emptyText: t('admin.held.empty') }}
      />
      <FormModal<{ note?: string }>
        title={deciding && t(deciding.approve ? 'admin.held.approveTitle' : 'admin.held.rejectTitle', { message: deciding.event.message_id })}
        initialValues={deciding && {}}
        onClose={() => setDeciding(null)}
        submit={decide}
        doneMessage={t(deciding?.approve ? 'admin.held.approved' : 'admin.held.rejected')}
        submitLabel={t(deciding?.approve ? 'admin.held.approve' : 'admin.held.reject')}
        submitTestId="held-confirm"
      >
        <Form.Item name="note" label={t('admin.held.note')}>
          <Input.TextArea rows={2} maxLength={500} data-testid="held-note" />
        </Form.Item>
      </FormModal>
    </Card>
  );
}

function RejectedEvents() {
  const { t } = useTranslation();
  const rejected = useLoad(useCallback(() => api.rejectedEvents(REJECTED_LIMIT), []));
  const columns: ColumnsType<RejectedEvent> = [
    { title: t('admin.col.time'), dataIndex: 'received_at', render: (v: string) => formatTime(v), width: 160 },
    { title: t('admin.rejected.code'), dataIndex: 'code', render: (c: string) => <Tag color="red">{c}</Tag> },
    { title: t('admin.rejected.message'), dataIndex: 'message' },
    { title: t('admin.rejected.source'), dataIndex: 'source' },
    { title: t('admin.rejected.size'), dataIndex: 'payload_bytes', align: 'right', render: (n: number) => formatCount(n) },
  ];
  return (
    <Card size="small" title={t('admin.rejected.title')}>
      <ErrorAlert error={rejected.error} />
      <DataTable<RejectedEvent>
        rowKey="id"
        columns={columns}
        dataSource={rejected.data ?? undefined}
        loading={!rejected.data && !rejected.error}
        rowTestId="rejected-row"
        rowAttrs={(e) => ({ 'data-rejected-id': e.id })}
        expandable={payloadRow}
        pagination={{ pageSize: 50, hideOnSinglePage: true }}
        locale={{ emptyText: t('admin.rejected.empty') }}
      />
    </Card>
  );
}
