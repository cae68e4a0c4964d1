import { Button, Space, Tag, Tooltip, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useMemo, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import type { Entry } from '../api';
import { formatCount, formatCredits, formatTime } from '../format';
import type { HistoryState } from '../history';
import { DataTable } from './DataTable';
import { ErrorAlert } from './ErrorAlert';
import { EntryKindTags } from './KindTag';

interface LedgerListProps {
  state: HistoryState;
  /** Opens an entry (the dashboard's detail drawer). */
  onOpen?: (entry: Entry) => void;
  /** A last column of per-entry actions (the admin's reverse). */
  actions?: (entry: Entry) => ReactNode;
}

/** Ledger entries, newest first, with "load more" for older pages: the dashboard's history and an account's ledger. */
export function LedgerList({ state, onOpen, actions }: LedgerListProps) {
  const { t } = useTranslation();
  const { history, error, reload, more } = state;
  const columns = useMemo<ColumnsType<Entry>>(
    () => [
      { title: t('dashboard.col.time'), dataIndex: 'created_at', render: (v: string) => formatTime(v), width: 160 },
      { title: t('dashboard.col.kind'), key: 'kind', render: (_, e) => <EntryKindTags entry={e} /> },
      { title: t('dashboard.col.app'), key: 'app', render: (_, e) => e.usage?.app_name ?? t('common.none') },
      {
        title: t('dashboard.col.model'),
        key: 'model',
        render: (_, e) => e.usage?.model ?? (e.usage?.pricing === 'dify_price' ? t('dashboard.difyPrice') : t('common.none')),
      },
      { title: t('dashboard.col.input'), key: 'in', align: 'right', render: (_, e) => (e.usage ? formatCount(e.usage.prompt_tokens) : '') },
      { title: t('dashboard.col.output'), key: 'out', align: 'right', render: (_, e) => (e.usage ? formatCount(e.usage.completion_tokens) : '') },
      {
        title: t('dashboard.col.credits'),
        key: 'credits',
        align: 'right',
        render: (_, e) => <Typography.Text type={e.amount_micros > 0 ? 'success' : undefined}>{formatCredits(e.amount, { signed: true })}</Typography.Text>,
      },
      {
        title: t('dashboard.col.estimated'),
        key: 'estimated',
        render: (_, e) =>
          e.usage?.estimated && (
            <Tooltip title={t('dashboard.estimatedHint')}>
              <Tag color="gold" data-testid="estimated-flag">
                {t('dashboard.estimated')}
              </Tag>
            </Tooltip>
          ),
      },
      { title: t('dashboard.col.note'), key: 'note', ellipsis: true, render: (_, e) => e.reason ?? '' },
      ...(actions ? [{ title: t('common.actions'), key: 'actions', render: (_: unknown, e: Entry) => actions(e) }] : []),
    ],
    [t, actions],
  );
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <ErrorAlert error={error} action={<Button size="small" onClick={() => void reload()}>{t('common.retry')}</Button>} />
      <DataTable<Entry>
        rowKey="id"
        columns={columns}
        dataSource={history?.entries}
        loading={!history && !error}
        rowTestId="charge-row"
        rowAttrs={(e) => ({ 'data-entry-id': e.id })}
        onOpen={onOpen}
      />
      <Space>
        {history?.nextCursor != null ? (
          <Button loading={more.busy} onClick={() => void more.run(history.nextCursor!)}>
            {t('dashboard.loadMore')}
          </Button>
        ) : (
          history && history.entries.length > 0 && <Typography.Text type="secondary">{t('dashboard.allLoaded')}</Typography.Text>
        )}
        <ErrorAlert error={more.error} />
      </Space>
    </Space>
  );
}
