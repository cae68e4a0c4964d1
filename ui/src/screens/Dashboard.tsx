import { Alert, App as AntApp, Button, Card, Col, Descriptions, Modal, Row, Space, Tag, Tooltip, Typography } from 'antd';
import { Suspense, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, type Dashboard as DashboardData, type Spend, type SyncStatus, type WayIn, type WindowName } from '../api';
import { ErrorAlert } from '../components/ErrorAlert';
import { JoinOrgForm } from '../components/JoinOrgForm';
import { MonitorStatusCard } from '../components/MonitorStatusCard';
import { Page } from '../components/Page';
import { describeError } from '../errors';
import { formatCount, formatCredits, formatDecimal, formatUsd } from '../format';
import { useLoad, useMonitorStatus, usePaintedOnce, type Loaded } from '../hooks';
import { lazyNamed } from '../lazy';
import { RedeemCode } from './RedeemCode';

const Welcome = lazyNamed(() => import('./Welcome'), 'Welcome');
const DashboardDetails = lazyNamed(() => import('./DashboardDetails'), 'DashboardDetails');

/** The first run's ways in until one is chosen, then the dashboard. */
export function Dashboard() {
  const wayIn = useLoad(api.wayIn, ['ledger-changed']);
  // Asked beside the way in rather than after it: the balance is what a cold start waits for.
  const summary = useLoad(api.dashboard);
  if (!wayIn.data && !wayIn.error) return null;
  if (wayIn.data?.mode === 'unchosen') return <Welcome wayIn={wayIn.data} />;
  return <Overview wayIn={wayIn.data} summary={summary} />;
}

/** The dashboard proper: mounted once per window load (the first run's choice replaces the welcome with it). */
function Overview({ wayIn, summary }: { wayIn: WayIn | null; summary: Loaded<DashboardData> }) {
  const { t } = useTranslation();
  const { message } = AntApp.useApp();
  const monitor = useMonitorStatus();
  const sync = monitor.status?.sync;
  const data = summary.data;
  // The balance first: the chart, breakdowns and history (their code and their commands) wait until the
  // summary's first answer is on screen.
  const detailsShown = usePaintedOnce(data !== null || summary.error !== null);
  const balancePainted = usePaintedOnce(data !== null);

  // The end of a cold start, which the shell logs: once, as this mounts once per window load and stays painted.
  // A failure to log changes nothing here.
  useEffect(() => {
    if (balancePainted) api.dashboardPainted().catch(() => {});
  }, [balancePainted]);

  const openWindow = (name: WindowName) => api.openWindow(name).catch((e) => message.error(describeError(t, e)));

  return (
    <Page
      title={t('app.windows.dashboard')}
      extra={
        <Space>
          {wayIn && <ModeTag wayIn={wayIn} org={sync?.org} />}
          {wayIn?.mode === 'org' && <RedeemCode sync={sync} onRedeemed={() => void summary.reload()} />}
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
      {wayIn?.mode === 'org' && <OrgNotice sync={sync} />}
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
          <MonitorStatusCard monitor={monitor} />
        </Col>
      </Row>
      {detailsShown && (
        <Suspense fallback={null}>
          <DashboardDetails data={data} />
        </Suspense>
      )}
    </Page>
  );
}

/** What stops this device from charging, said at the top: revoked, or offline with the allowance used up. */
function OrgNotice({ sync }: { sync: SyncStatus | null | undefined }) {
  const { t } = useTranslation();
  if (!sync) return null;
  if (sync.revoked) return <Alert type="error" showIcon banner message={t('org.revokedHint')} data-testid="org-notice" data-state="revoked" />;
  if (sync.last_error && sync.lease_refusal) {
    return <Alert type="warning" showIcon banner message={t('org.allowanceOut')} data-testid="org-notice" data-state="allowance-out" />;
  }
  return null;
}

/** Where this computer stands: an island (its user is their own admin), the demo, or an org's device. */
function ModeTag({ wayIn, org }: { wayIn: WayIn; org: string | null | undefined }) {
  const { t } = useTranslation();
  const [joining, setJoining] = useState(false);
  if (wayIn.mode === 'org') {
    return (
      <Tag color="blue" data-testid="mode" data-mode="org">
        {t('mode.org', { org: org ?? '' })}
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

/** The balance as Rust sent it, about how many USD it is worth, and the rate. */
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
