import { Alert, App as AntApp, Button, Card, Col, Descriptions, Row, Space, Table, Tag, Tooltip, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useCallback, useEffect, useMemo, useState, type HTMLAttributes } from 'react';
import { useTranslation } from 'react-i18next';
import { api, type App, type Dashboard as DashboardData, type Entry, type EntryKind, type Breakdown, type Spend, type WindowName } from '../api';
import { ErrorAlert } from '../components/ErrorAlert';
import { MonitorStatusCard } from '../components/MonitorStatusCard';
import { Page } from '../components/Page';
import { describeError } from '../errors';
import { formatCount, formatCredits, formatTime, formatUsd } from '../format';
import { appendPage, mergeFirstPage, type LoadedHistory } from '../history';
import { useAction, useLatest, useTauriEvent } from '../hooks';

const PAGE_SIZE = 20;

const KIND_COLORS: Record<EntryKind, string> = {
  charge: 'default',
  grant: 'green',
  topup: 'green',
  adjustment: 'blue',
  reversal: 'orange',
};

export function Dashboard() {
  const { t } = useTranslation();
  const { message } = AntApp.useApp();
  const [data, setData] = useState<DashboardData | null>(null);
  const [history, setHistory] = useState<LoadedHistory | null>(null);
  const [apps, setApps] = useState<App[]>([]);
  const [error, setError] = useState<unknown>(null);
  const claim = useLatest();

  const refresh = useCallback(async () => {
    const current = claim();
    try {
      const [dashboard, page] = await Promise.all([api.dashboard(), api.history({ limit: PAGE_SIZE })]);
      if (!current()) return;
      setData(dashboard);
      setHistory((loaded) => mergeFirstPage(loaded, page));
      setError(null);
    } catch (e) {
      if (current()) setError(e);
    }
  }, [claim]);

  useEffect(() => {
    void refresh();
    // Only names for the by-app list; without them it shows app ids, so a failure here is not worth a banner.
    api.apps().then(setApps, () => undefined);
  }, [refresh]);

  // Rust emits `charge` after every event the ledger processed: that is when the numbers change.
  useTauriEvent('charge', () => void refresh());

  const more = useAction(
    useCallback(async (cursor: string) => {
      const page = await api.history({ limit: PAGE_SIZE, cursor });
      setHistory((loaded) => appendPage(loaded, page));
    }, []),
  );

  const open = (name: WindowName) => api.openWindow(name).catch((e) => message.error(describeError(t, e)));

  return (
    <Page
      title={t('app.windows.dashboard')}
      extra={
        <Space>
          <Button type="primary" onClick={() => open('chat')}>
            {t('dashboard.openChat')}
          </Button>
          <Button onClick={() => open('admin')}>{t('dashboard.openAdmin')}</Button>
          <Button onClick={() => open('diagnostics')}>{t('dashboard.openDiagnostics')}</Button>
        </Space>
      }
    >
      <ErrorAlert error={error} action={<Button size="small" onClick={() => void refresh()}>{t('common.retry')}</Button>} />
      {data?.low_balance && <Alert type="warning" showIcon banner message={t('dashboard.lowBalance')} data-testid="low-balance" />}
      <Row gutter={[12, 12]}>
        <Col xs={24} md={12} xl={6}>
          <BalanceCard data={data} />
        </Col>
        <Col xs={24} md={12} xl={6}>
          <PeriodCard title={t('dashboard.today')} period={data?.today} testId="today" />
        </Col>
        <Col xs={24} md={12} xl={6}>
          <PeriodCard title={t('dashboard.month')} period={data?.month} testId="month" />
        </Col>
        <Col xs={24} md={12} xl={6}>
          <MonitorStatusCard />
        </Col>
      </Row>
      <Row gutter={[12, 12]}>
        <Col xs={24} md={12}>
          <BreakdownCard title={t('dashboard.byModel')} rows={data?.month_by_model} label={(key) => key || t('dashboard.difyPrice')} testId="by-model" />
        </Col>
        <Col xs={24} md={12}>
          <BreakdownCard
            title={t('dashboard.byApp')}
            rows={data?.month_by_app}
            label={(key) => apps.find((a) => String(a.id) === key)?.name ?? `#${key}`}
            testId="by-app"
          />
        </Col>
      </Row>
      <Card
        size="small"
        title={t('dashboard.history')}
        extra={data && <Typography.Text type="secondary">{t('dashboard.timeZone', { zone: data.time_zone })}</Typography.Text>}
      >
        <HistoryTable entries={history?.entries} />
        <Space style={{ marginTop: 8 }}>
          {history?.nextCursor != null ? (
            <Button loading={more.busy} onClick={() => void more.run(history.nextCursor!)}>
              {t('dashboard.loadMore')}
            </Button>
          ) : (
            history && history.entries.length > 0 && <Typography.Text type="secondary">{t('dashboard.allLoaded')}</Typography.Text>
          )}
          <ErrorAlert error={more.error} />
        </Space>
      </Card>
    </Page>
  );
}

function BalanceCard({ data }: { data: DashboardData | null }) {
  const { t } = useTranslation();
  return (
    <Card size="small" title={t('dashboard.balance')} loading={!data} extra={data?.account}>
      {data && (
        <Space direction="vertical" size={2}>
          <Space align="baseline" size={6} wrap>
            {/* The number exactly as Rust sent it: tests and users compare it with the ledger. */}
            <Typography.Text strong type={data.low_balance ? 'warning' : undefined} style={{ fontSize: 26 }} data-testid="balance">
              {String(data.balance)}
            </Typography.Text>
            <Typography.Text type="secondary">{t('common.credits')}</Typography.Text>
            <Typography.Text type="secondary">{t('dashboard.approxUsd', { usd: formatUsd(data.balance_usd) })}</Typography.Text>
          </Space>
          <Typography.Text type="secondary">{t('dashboard.rate', { rate: formatCredits(data.credits_per_usd) })}</Typography.Text>
        </Space>
      )}
    </Card>
  );
}

function PeriodCard({ title, period, testId }: { title: string; period: Spend | undefined; testId: string }) {
  const { t } = useTranslation();
  return (
    <Card size="small" title={title} loading={!period}>
      {period && (
        <Descriptions size="small" column={2} data-testid={testId}>
          <Descriptions.Item label={t('dashboard.spent')}>{formatCredits(period.credits)}</Descriptions.Item>
          <Descriptions.Item label={t('dashboard.messages')}>{formatCount(period.messages)}</Descriptions.Item>
          <Descriptions.Item label={t('dashboard.inputTokens')}>{formatCount(period.prompt_tokens)}</Descriptions.Item>
          <Descriptions.Item label={t('dashboard.outputTokens')}>{formatCount(period.completion_tokens)}</Descriptions.Item>
        </Descriptions>
      )}
    </Card>
  );
}

interface BreakdownProps {
  title: string;
  rows: Breakdown[] | undefined;
  label: (key: string) => string;
  testId: string;
}

function BreakdownCard({ title, rows, label, testId }: BreakdownProps) {
  const { t } = useTranslation();
  return (
    <Card size="small" title={title} loading={!rows} data-testid={testId}>
      {rows?.length === 0 && <Typography.Text type="secondary">{t('dashboard.nothingYet')}</Typography.Text>}
      {rows?.map((row) => (
        <Space key={row.key} style={{ width: '100%', justifyContent: 'space-between' }}>
          <Typography.Text>{label(row.key)}</Typography.Text>
          <Typography.Text>{formatCredits(row.spend.credits)}</Typography.Text>
        </Space>
      ))}
    </Card>
  );
}

function HistoryTable({ entries }: { entries: Entry[] | undefined }) {
  const { t } = useTranslation();
  const columns = useMemo<ColumnsType<Entry>>(
    () => [
      { title: t('dashboard.col.time'), dataIndex: 'created_at', render: (v: string) => formatTime(v), width: 160 },
      {
        title: t('dashboard.col.kind'),
        dataIndex: 'kind',
        render: (kind: EntryKind) => <Tag color={KIND_COLORS[kind]}>{t(`kinds.${kind}`)}</Tag>,
      },
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
        render: (_, e) => (
          <Space size={4}>
            {e.usage?.estimated && (
              <Tooltip title={t('dashboard.estimatedHint')}>
                <Tag color="gold">{t('dashboard.estimated')}</Tag>
              </Tooltip>
            )}
            <Typography.Text type={e.amount > 0 ? 'success' : undefined}>{formatCredits(e.amount, true)}</Typography.Text>
          </Space>
        ),
      },
      { title: t('dashboard.col.note'), key: 'note', ellipsis: true, render: (_, e) => e.reason ?? '' },
    ],
    [t],
  );
  return (
    <Table<Entry>
      size="small"
      rowKey="id"
      columns={columns}
      dataSource={entries}
      loading={!entries}
      pagination={false}
      scroll={{ x: 'max-content' }}
      onRow={(e) => ({ 'data-testid': 'charge-row', 'data-entry-id': e.id }) as HTMLAttributes<HTMLElement>}
    />
  );
}
