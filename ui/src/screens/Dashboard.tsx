import { Alert, App as AntApp, Button, Card, Col, DatePicker, Descriptions, Drawer, Modal, Row, Select, Space, Tag, Tooltip, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import dayjs, { type Dayjs } from 'dayjs';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, type Breakdown, type Dashboard as DashboardData, type Entry, type HistoryFilter, type Spend, type WayIn, type WindowName } from '../api';
import { ChargeDetail } from '../components/ChargeDetail';
import { DataTable } from '../components/DataTable';
import { Deferred } from '../components/Deferred';
import { ErrorAlert } from '../components/ErrorAlert';
import { ExportButton } from '../components/ExportButton';
import { JoinOrgForm } from '../components/JoinOrgForm';
import { LedgerList } from '../components/LedgerList';
import { MonitorStatusCard } from '../components/MonitorStatusCard';
import { Page } from '../components/Page';
import { SpendChart } from '../components/SpendChart';
import { describeError } from '../errors';
import { formatCount, formatCredits, formatDecimal, formatUsd } from '../format';
import { useHistory } from '../history';
import { useLoad, useMonitorStatus } from '../hooks';
import { RedeemCode } from './RedeemCode';
import { Welcome } from './Welcome';

type Range = [Dayjs, Dayjs];

interface Filters {
  range: Range | null;
  app_id?: number;
  model?: string;
}

/** The history query for the filters: whole local days, `to` exclusive, as RFC 3339 instants. */
function historyFilter({ range, app_id, model }: Filters): HistoryFilter {
  return {
    ...(range && { from: range[0].startOf('day').toISOString(), to: range[1].add(1, 'day').startOf('day').toISOString() }),
    ...(app_id !== undefined && { app_id }),
    ...(model !== undefined && { model }),
  };
}

/** The first run's ways in until one is chosen, then the dashboard. */
export function Dashboard() {
  const wayIn = useLoad(api.wayIn, ['ledger-changed']);
  if (!wayIn.data && !wayIn.error) return null;
  if (wayIn.data?.mode === 'unchosen') return <Welcome wayIn={wayIn.data} />;
  return <Overview wayIn={wayIn.data} />;
}

function Overview({ wayIn }: { wayIn: WayIn | null }) {
  const { t } = useTranslation();
  const { message } = AntApp.useApp();
  const summary = useLoad(api.dashboard);
  // Names for the by-app list and the filters; without them the lists show ids, so no banner for a failure.
  const apps = useLoad(api.apps, ['ledger-changed']).data ?? [];
  const models = useLoad(api.models, ['ledger-changed']).data ?? [];
  const [filters, setFilters] = useState<Filters>({ range: null });
  const filter = useMemo(() => historyFilter(filters), [filters]);
  const history = useHistory(filter);
  const [open, setOpen] = useState<Entry | null>(null);
  const data = summary.data;

  const openWindow = (name: WindowName) => api.openWindow(name).catch((e) => message.error(describeError(t, e)));
  const appName = (key: string) => apps.find((a) => String(a.id) === key)?.name ?? `#${key}`;

  return (
    <Page
      title={t('app.windows.dashboard')}
      extra={
        <Space>
          {wayIn && <ModeTag wayIn={wayIn} />}
          {wayIn?.mode === 'org' && <RedeemCode onRedeemed={() => void summary.reload()} />}
          <Button type="primary" onClick={() => openWindow('chat')}>
            {t('dashboard.openChat')}
          </Button>
          <Button onClick={() => openWindow('admin')}>{t('dashboard.openAdmin')}</Button>
          <Button onClick={() => openWindow('diagnostics')}>{t('dashboard.openDiagnostics')}</Button>
        </Space>
      }
    >
      <ErrorAlert error={summary.error} action={<Button size="small" onClick={() => void summary.reload()}>{t('common.retry')}</Button>} />
      {wayIn?.mode === 'island' && <Alert type="info" showIcon message={t('mode.islandHint')} data-testid="island-notice" />}
      {wayIn?.mode === 'org' && <OrgNotice />}
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
      {/* The balance and the cards first: the chart and the history's table and filters follow. */}
      <Deferred>
        <Space direction="vertical" size={12} style={{ width: '100%' }}>
          <Card
            size="small"
            title={t('dashboard.chartTitle')}
            loading={!data}
            extra={data && <Typography.Text type="secondary">{t('dashboard.timeZone', { zone: data.time_zone })}</Typography.Text>}
          >
            {data && <SpendChart series={data.series} />}
          </Card>
          <Row gutter={[12, 12]}>
            <Col xs={24} md={12}>
              <BreakdownCard title={t('dashboard.byModel')} rows={data?.month_by_model} label={(key) => key || t('dashboard.difyPrice')} testId="by-model" />
            </Col>
            <Col xs={24} md={12}>
              <BreakdownCard title={t('dashboard.byApp')} rows={data?.month_by_app} label={appName} testId="by-app" />
            </Col>
          </Row>
          <Card size="small" title={t('dashboard.history')} extra={<ExportButton exportCsv={() => api.exportHistoryCsv(filter)} />}>
            <Space direction="vertical" style={{ width: '100%' }}>
              <Space wrap>
                <DatePicker.RangePicker
                  value={filters.range}
                  onChange={(range) => setFilters((f) => ({ ...f, range: range as Range | null }))}
                  presets={[
                    { label: t('dashboard.presets.today'), value: [dayjs(), dayjs()] },
                    { label: t('dashboard.presets.week'), value: [dayjs().subtract(6, 'day'), dayjs()] },
                    { label: t('dashboard.presets.month'), value: [dayjs().startOf('month'), dayjs()] },
                    { label: t('dashboard.presets.days30'), value: [dayjs().subtract(29, 'day'), dayjs()] },
                  ]}
                  aria-label={t('dashboard.filters.range')}
                  data-testid="history-filter-range"
                />
                <Select<number>
                  allowClear
                  style={{ minWidth: 160 }}
                  placeholder={t('dashboard.filters.allApps')}
                  aria-label={t('dashboard.filters.app')}
                  value={filters.app_id}
                  onChange={(app_id) => setFilters((f) => ({ ...f, app_id }))}
                  options={apps.map((a) => ({ value: a.id, label: a.name }))}
                  data-testid="history-filter-app"
                />
                <Select<string>
                  allowClear
                  showSearch
                  style={{ minWidth: 180 }}
                  placeholder={t('dashboard.filters.allModels')}
                  aria-label={t('dashboard.filters.model')}
                  value={filters.model}
                  onChange={(model) => setFilters((f) => ({ ...f, model }))}
                  options={models.map((m) => ({ value: m.name, label: m.name }))}
                  data-testid="history-filter-model"
                />
              </Space>
              <LedgerList state={history} onOpen={setOpen} />
            </Space>
          </Card>
        </Space>
      </Deferred>
      <Drawer open={open !== null} onClose={() => setOpen(null)} title={t('detail.title')} width={560} destroyOnHidden>
        {open && <ChargeDetail entry={open} />}
      </Drawer>
    </Page>
  );
}

/** What stops this device from charging, said at the top: revoked, or offline with the allowance used up. */
function OrgNotice() {
  const { t } = useTranslation();
  const sync = useMonitorStatus().status?.sync;
  if (!sync) return null;
  if (sync.revoked) return <Alert type="error" showIcon banner message={t('org.revokedHint')} data-testid="org-notice" data-state="revoked" />;
  if (sync.last_error && sync.lease_refusal) {
    return <Alert type="warning" showIcon banner message={t('org.allowanceOut')} data-testid="org-notice" data-state="allowance-out" />;
  }
  return null;
}

/** Where this computer stands: an island (its user is their own admin), the demo, or an org's device. */
function ModeTag({ wayIn }: { wayIn: WayIn }) {
  const { t } = useTranslation();
  const { status } = useMonitorStatus();
  const [joining, setJoining] = useState(false);
  if (wayIn.mode === 'org') {
    return (
      <Tag color="blue" data-testid="mode" data-mode="org">
        {t('mode.org', { org: status?.sync?.org ?? '' })}
      </Tag>
    );
  }
  const island = wayIn.mode === 'island';
  return (
    <>
      <Tooltip title={t(island ? 'mode.islandHint' : 'mode.demoHint')}>
        <Tag color={island ? 'gold' : 'purple'} data-testid="mode" data-mode={wayIn.mode}>
          {t(island ? 'mode.island' : 'mode.demo')}
        </Tag>
      </Tooltip>
      <Button onClick={() => setJoining(true)} data-testid="open-join">
        {t('join.open')}
      </Button>
      <Modal open={joining} title={t('join.open')} footer={null} onCancel={() => setJoining(false)} destroyOnHidden>
        <JoinOrgForm suggestedServer={wayIn.suggested_server} onJoined={() => setJoining(false)} />
      </Modal>
    </>
  );
}

/** Rust writes the CSV of every row matching the filters to Downloads; here we say where. */
function BalanceCard({ data }: { data: DashboardData | null }) {
  const { t } = useTranslation();
  return (
    <Card size="small" title={t('dashboard.balance')} loading={!data} extra={data?.account}>
      {data && (
        <Space direction="vertical" size={2}>
          <Space align="baseline" size={6} wrap>
            {/* The decimal exactly as Rust sent it: tests and users compare it with the ledger. */}
            <Typography.Text strong type={data.low_balance ? 'warning' : undefined} style={{ fontSize: 26 }} data-testid="balance">
              {data.balance}
            </Typography.Text>
            <Typography.Text type="secondary">{t('common.credits')}</Typography.Text>
            <Typography.Text type="secondary">{t('dashboard.approxUsd', { usd: formatUsd(data.balance_usd) })}</Typography.Text>
          </Space>
          <Typography.Text type="secondary">{t('dashboard.rate', { rate: formatDecimal(data.credits_per_usd) })}</Typography.Text>
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
  const columns: ColumnsType<Breakdown> = [
    { title: t('dashboard.col.name'), key: 'name', render: (_, r) => label(r.key) },
    { title: t('dashboard.spent'), key: 'credits', align: 'right', render: (_, r) => formatCredits(r.spend.credits) },
    { title: t('dashboard.messages'), key: 'messages', align: 'right', render: (_, r) => formatCount(r.spend.messages) },
    {
      title: t('dashboard.tokens'),
      key: 'tokens',
      align: 'right',
      render: (_, r) => formatCount(r.spend.prompt_tokens + r.spend.completion_tokens),
    },
  ];
  return (
    <Card size="small" title={title} data-testid={testId}>
      <DataTable<Breakdown>
        rowKey="key"
        columns={columns}
        dataSource={rows}
        loading={!rows}
        rowTestId={`${testId}-row`}
        locale={{ emptyText: t('dashboard.nothingYet') }}
      />
    </Card>
  );
}
