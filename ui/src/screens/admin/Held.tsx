import { Alert, Button, Card, Form, Input, Space, Switch, Tag, Tooltip, Typography, type TableProps } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useCallback, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, type HeldEvent, type RejectedEvent } from '../../api';
import { DataTable } from '../../components/DataTable';
import { ErrorAlert } from '../../components/ErrorAlert';
import { formatCount, formatCredits, formatTime } from '../../format';
import { useLoad } from '../../hooks';
import type { OrgHeldReason } from '../../orgApi';
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

/** Held events to approve or reject, and the log of rejected input. */
export function HeldTab() {
  return (
    <Space direction="vertical" size={12} style={{ width: '100%' }}>
      <HeldEvents />
      <RejectedEvents />
    </Space>
  );
}

/** What both held tables show of an event: this computer's, or the org server's. */
export interface HeldRow {
  id: string;
  received_at: string;
  reason: OrgHeldReason;
  message_id: string;
  detail: string;
  status: HeldEvent['status'];
  decided_by: string | null;
  decided_at: string | null;
}

type Decision<E> = { event: E; approve: boolean } | null;

/** Loads the pending events, or all of them (memoised on `all`). */
type UseHeld<E> = (all: boolean) => { data: E[] | null; error: unknown; reload: () => Promise<void> };

interface HeldPanelProps<E extends HeldRow> {
  /** A hook, the same on every render: where the events come from. */
  useHeld: UseHeld<E>;
  /** What the table shows between the reason and the detail. */
  columns: ColumnsType<E>;
  /** The decision's note, once decided. */
  note: (event: E) => string | null;
  /** The decisions, on the event as last loaded and with the note, if any. */
  approve: (event: E, note: string | null) => Promise<unknown>;
  reject: (event: E, note: string | null) => Promise<unknown>;
  /** What an approval charges, said beside the approve buttons. */
  approveHint?: (event: E) => string;
  rowAttrs?: (event: E) => Record<`data-${string}`, string>;
  expandable?: TableProps<E>['expandable'];
}

/** Held events to approve or reject with an optional note, pending ones unless all are asked for. */
export function HeldPanel<E extends HeldRow>({ useHeld, columns, note, approve, reject, approveHint, rowAttrs, expandable }: HeldPanelProps<E>) {
  const { t } = useTranslation();
  const [all, setAll] = useState(false);
  const held = useHeld(all);
  const [deciding, setDeciding] = useState<Decision<E>>(null);

  const table: ColumnsType<E> = [
    { title: t('admin.col.time'), dataIndex: 'received_at', render: (v: string) => formatTime(v), width: 160 },
    { title: t('admin.held.reason'), dataIndex: 'reason', render: (r: OrgHeldReason) => <Tag color="orange">{t(`admin.held.reasons.${r}`)}</Tag> },
    ...columns,
    { title: t('admin.held.detail'), dataIndex: 'detail' },
    {
      title: t('admin.held.status'),
      dataIndex: 'status',
      render: (status: HeldEvent['status'], e) => (
        <Tooltip title={e.decided_by && t('admin.held.decided', { by: e.decided_by, at: formatTime(e.decided_at!), note: note(e) || t('common.none') })}>
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
            <Tooltip title={approveHint?.(e)}>
              <Button size="small" type="link" onClick={() => setDeciding({ event: e, approve: true })} data-testid={`held-approve-${e.id}`}>
                {t('admin.held.approve')}
              </Button>
            </Tooltip>
            <Button size="small" type="link" danger onClick={() => setDeciding({ event: e, approve: false })} data-testid={`held-reject-${e.id}`}>
              {t('admin.held.reject')}
            </Button>
          </Space>
        ),
    },
  ];

  const submit = async ({ note: text }: { note?: string }) => {
    // The row as last loaded: a refused approval (the amount moved) reloads it with the new amount.
    const event = held.data?.find((e) => e.id === deciding!.event.id) ?? deciding!.event;
    try {
      return await (deciding!.approve ? approve : reject)(event, text?.trim() || null);
    } finally {
      void held.reload();
    }
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
      <DataTable<E>
        rowKey="id"
        columns={table}
        dataSource={held.data ?? undefined}
        loading={!held.data && !held.error}
        rowTestId="held-row"
        rowAttrs={(e) => ({ 'data-held-id': e.id, 'data-status': e.status, ...rowAttrs?.(e) })}
        expandable={expandable}
        locale={{ emptyText: t('admin.held.empty') }}
      />
      <FormModal<{ note?: string }>
        title={deciding && t(deciding.approve ? 'admin.held.approveTitle' : 'admin.held.rejectTitle', { message: deciding.event.message_id })}
        initialValues={deciding && {}}
        onClose={() => setDeciding(null)}
        submit={submit}
        doneMessage={t(deciding?.approve ? 'admin.held.approved' : 'admin.held.rejected')}
        submitLabel={t(deciding?.approve ? 'admin.held.approve' : 'admin.held.reject')}
        submitTestId="held-confirm"
      >
        <Form.Item name="note" label={t('admin.held.note')}>
          <Input.TextArea rows={2} maxLength={500} data-testid="held-note" />
        </Form.Item>
        {deciding?.approve && approveHint && <Alert type="info" showIcon message={approveHint(deciding.event)} style={{ marginBottom: 12 }} data-testid="held-approve-hint" />}
      </FormModal>
    </Card>
  );
}

// Charges can be held at any moment, so this follows charge events too.
const useLocalHeld = (all: boolean) => useLoad(useCallback(() => api.heldEvents(all), [all]));

/** This computer's held events: each carries the payload it was held with. */
function HeldEvents() {
  const { t } = useTranslation();

  const columns: ColumnsType<HeldEvent> = [
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
      render: (amount: string | null, e) =>
        amount === null ? (
          <Tag color="red">{t('admin.held.unpriced')}</Tag>
        ) : (
          <Space size={4}>
            {e.estimated && <Tag color="gold">{t('dashboard.estimated')}</Tag>}
            {formatCredits(amount)}
          </Space>
        ),
    },
  ];

  return (
    <HeldPanel<HeldEvent>
      useHeld={useLocalHeld}
      columns={columns}
      note={(e) => e.decision_note}
      approve={(e, note) => api.adminApproveHeld(e.id, note, e.amount_micros)}
      reject={(e, note) => api.adminRejectHeld(e.id, note)}
      expandable={payloadRow}
    />
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
