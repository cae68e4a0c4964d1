import { Alert, Button, Card, DatePicker, Descriptions, Form, Input, Radio, Select, Space, Tag, Tooltip, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import dayjs, { type Dayjs } from 'dayjs';
import { useCallback, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { DataTable } from '../../components/DataTable';
import { RefreshCard } from '../../components/RefreshCard';
import { ErrorAlert } from '../../components/ErrorAlert';
import '../../dayjsLocale';
import { formatCount, formatDecimal, formatMicros, formatTime } from '../../format';
import {
  orgApi,
  type ConnectionRun,
  type DailyControl,
  type DifyConnection,
  type DifyCredentials,
  type DifyRecord,
  type DifyTest,
  type Finding,
  type FindingKind,
  type NewDifyConnection,
  type ReconciliationQuery,
} from '../../orgApi';
import { FormFooter, useAdminAction, useRequired, useRowAction } from '../admin/shared';
import { useOrgLoad } from './shared';

const DAY = 'YYYY-MM-DD';

const FINDING_KINDS: FindingKind[] = ['true_up', 'reported_by_dify', 'unattributed', 'charge_without_record'];

const FINDING_COLORS: Record<FindingKind, string> = {
  true_up: 'gold',
  reported_by_dify: 'purple',
  unattributed: 'red',
  charge_without_record: 'volcano',
};

/** A run's counts, in the order the run card shows them. */
const COUNTS = ['records_read', 'settled', 'true_ups', 'reported_by_dify', 'unattributed', 'charges_without_record', 'waiting', 'held'] as const;

type AppOption = { value: string; label: string };

/** The endpoints a workspace's Dify lacks, each an orange tag. */
const missingEndpoints = (endpoints: string[]) => endpoints.map((e) => <Tag key={e} color="orange">{e}</Tag>);

/** Dify's price with its currency, or `none` when Dify gave no price. */
const difyPrice = (price: string | null, currency: string | null, none: string) =>
  price === null ? none : `${formatDecimal(price)} ${currency ?? ''}`.trim();

/**
 * Reconciliation with Dify: the workspaces the server reads, a run on demand, the daily control of Dify's
 * tokens against the ledger's, and the findings (true-ups, replies no device reported, and the rest).
 */
export function ReconcileTab() {
  const { t } = useTranslation();
  const connections = useOrgLoad(orgApi.difyConnections);
  const apps = useOrgLoad(orgApi.apps);
  const appOptions = useMemo(() => apps.data?.map((a) => ({ value: a.id, label: a.name })), [apps.data]);
  const [query, setQuery] = useState<ReconciliationQuery>(() => ({
    from: dayjs().subtract(6, 'day').format(DAY),
    to: dayjs().format(DAY),
    app_id: null,
  }));
  const reconciliation = useOrgLoad(useCallback(() => orgApi.reconciliation(query), [query]));
  const afterRun = () => void Promise.all([connections.reload(), reconciliation.reload()]);
  const loading = !reconciliation.data && !reconciliation.error;

  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <Typography.Text type="secondary">{t('orgAdmin.reconcile.intro')}</Typography.Text>
      <ConnectionsCard connections={connections.data} error={connections.error} onReload={() => void connections.reload()} />
      <AddConnectionForm onAdded={() => void connections.reload()} />
      <RunCard appOptions={appOptions} onDone={afterRun} />
      <DailyCard
        days={reconciliation.data?.days}
        loading={loading}
        error={reconciliation.error}
        query={query}
        onQuery={(change) => setQuery((q) => ({ ...q, ...change }))}
        appOptions={appOptions}
        onReload={() => void reconciliation.reload()}
      />
      <FindingsCard findings={reconciliation.data?.findings} loading={loading} />
    </Space>
  );
}

function ConnectionsCard({ connections, error, onReload }: { connections: DifyConnection[] | null; error: unknown; onReload: () => void }) {
  const { t } = useTranslation();
  const test = useRowAction<string, [string], DifyTest>(orgApi.testDifyConnection);
  const [tested, setTested] = useState<{ name: string; result: DifyTest } | null>(null);
  const runTest = async (c: DifyConnection) => {
    setTested(null);
    const result = await test.run(c.id, c.id);
    if (result) setTested({ name: c.name, result });
    // A test that signs in ends a pause of the scheduler's runs.
    onReload();
  };

  const columns: ColumnsType<DifyConnection> = [
    { title: t('orgAdmin.reconcile.name'), dataIndex: 'name' },
    { title: t('orgAdmin.reconcile.consoleUrl'), dataIndex: 'console_url' },
    {
      title: t('orgAdmin.reconcile.signIn'),
      key: 'auth',
      render: (_, c) => (c.auth === 'admin_api_key' ? t('orgAdmin.reconcile.adminKey') : c.email),
    },
    {
      title: t('orgAdmin.reconcile.linkedApps'),
      key: 'apps',
      render: (_, c) => (c.apps.length ? c.apps.map((a) => <Tag key={a.app_id}>{a.app_name}</Tag>) : t('orgAdmin.reconcile.noneLinked')),
    },
    {
      title: t('orgAdmin.reconcile.lastRun'),
      dataIndex: 'last_run_at',
      render: (v: string | null) => (v ? formatTime(v) : t('orgAdmin.reconcile.never')),
    },
    {
      title: t('orgAdmin.reconcile.failures'),
      dataIndex: 'failures',
      align: 'right',
      render: (n: number) => <Typography.Text type={n > 0 ? 'danger' : undefined}>{formatCount(n)}</Typography.Text>,
    },
    {
      title: t('orgAdmin.reconcile.lastError'),
      key: 'last_error',
      render: (_, c) => (
        <Space direction="vertical" size={0}>
          {c.last_error ? <Typography.Text type="danger">{c.last_error}</Typography.Text> : t('common.none')}
          {c.sign_in_refused_at && (
            <Typography.Text type="warning" data-testid="dify-paused">
              {t('orgAdmin.reconcile.paused', { time: formatTime(c.sign_in_refused_at) })}
            </Typography.Text>
          )}
        </Space>
      ),
    },
    { title: t('orgAdmin.reconcile.missingEndpoints'), dataIndex: 'missing_endpoints', render: missingEndpoints },
    {
      title: t('common.actions'),
      key: 'actions',
      render: (_, c) => (
        <Button size="small" type="link" loading={test.isBusy(c.id)} onClick={() => void runTest(c)} data-testid={`dify-test-${c.id}`}>
          {t('orgAdmin.reconcile.test')}
        </Button>
      ),
    },
  ];

  return (
    <RefreshCard title={t('orgAdmin.reconcile.workspaces')} onRefresh={onReload}>
      <Space direction="vertical" style={{ width: '100%' }}>
        <ErrorAlert error={error ?? test.error} />
        <DataTable<DifyConnection>
          rowKey="id"
          columns={columns}
          dataSource={connections ?? undefined}
          loading={!connections && !error}
          locale={{ emptyText: t('orgAdmin.reconcile.empty') }}
          rowTestId="dify-connection-row"
          rowAttrs={(c) => ({ 'data-connection': c.id })}
        />
        {tested && <TestResult name={tested.name} result={tested.result} />}
      </Space>
    </RefreshCard>
  );
}

function TestResult({ name, result }: { name: string; result: DifyTest }) {
  const { t } = useTranslation();
  const list = (items: string[]) => (items.length ? items.map((i) => <Tag key={i}>{i}</Tag>) : t('orgAdmin.reconcile.noneLinked'));
  return (
    <Alert
      type={result.signed_in ? (result.unmatched.length || result.missing_endpoints.length ? 'warning' : 'success') : 'error'}
      showIcon
      data-testid="dify-test-result"
      message={
        <Space wrap>
          <Typography.Text strong>{t('orgAdmin.reconcile.testTitle', { name })}</Typography.Text>
          {result.signed_in
            ? t('orgAdmin.reconcile.signedIn', { count: result.workspace_apps })
            : t('orgAdmin.reconcile.notSignedIn')}
        </Space>
      }
      description={
        <Descriptions size="small" column={1}>
          {result.error && <Descriptions.Item label={t('orgAdmin.reconcile.lastError')}>{result.error}</Descriptions.Item>}
          <Descriptions.Item label={t('orgAdmin.reconcile.linkedApps')}>
            {list(result.linked.map((a) => `${a.app_name} (${a.mode})`))}
          </Descriptions.Item>
          <Descriptions.Item label={t('orgAdmin.reconcile.unmatched')}>{list(result.unmatched)}</Descriptions.Item>
          <Descriptions.Item label={t('orgAdmin.reconcile.missingEndpoints')}>{list(result.missing_endpoints)}</Descriptions.Item>
        </Descriptions>
      }
    />
  );
}

interface NewConnectionValues {
  name: string;
  console_url: string;
  method: DifyCredentials['kind'];
  email?: string;
  password?: string;
  key?: string;
  workspace_id?: string;
  time_zone?: string;
  since?: Dayjs | null;
}

/** The connection as the server takes it: the secrets of the chosen sign-in only. */
const newConnection = (v: NewConnectionValues): NewDifyConnection => ({
  name: v.name.trim(),
  console_url: v.console_url.trim(),
  credentials:
    v.method === 'password'
      ? { kind: 'password', email: (v.email ?? '').trim(), password: v.password ?? '' }
      : { kind: 'admin_api_key', key: (v.key ?? '').trim(), workspace_id: (v.workspace_id ?? '').trim() },
  time_zone: v.time_zone?.trim() || null,
  since: v.since ? v.since.format(DAY) : null,
});

function AddConnectionForm({ onAdded }: { onAdded: () => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<NewConnectionValues>();
  const [done, setDone] = useState<string | null>(null);
  const method = Form.useWatch('method', form) ?? 'password';
  const required = useRequired();
  const secret = [{ required: true, message: t('admin.required') }];
  const submit = useAdminAction((v: NewConnectionValues) => orgApi.addDifyConnection(newConnection(v)));
  const finish = async (values: NewConnectionValues) => {
    setDone(null);
    const added = await submit.run(values);
    if (!added) return;
    setDone(t('orgAdmin.reconcile.added', { name: added.name }));
    // The secrets leave the form with the rest: they are never shown again.
    form.resetFields();
    onAdded();
  };
  return (
    <Card size="small" title={t('orgAdmin.reconcile.add')}>
      <Form
        form={form}
        layout="vertical"
        requiredMark={false}
        onFinish={finish}
        initialValues={{ method: 'password', time_zone: 'UTC' }}
        style={{ maxWidth: 560 }}
      >
        <Form.Item name="name" label={t('orgAdmin.reconcile.name')} rules={[required]}>
          <Input maxLength={100} data-testid="dify-new-name" />
        </Form.Item>
        <Form.Item name="console_url" label={t('orgAdmin.reconcile.consoleUrl')} rules={[required]}>
          <Input placeholder="https://dify.example.com" data-testid="dify-new-url" />
        </Form.Item>
        <Form.Item name="method" label={t('orgAdmin.reconcile.method')}>
          <Radio.Group
            optionType="button"
            options={(['password', 'admin_api_key'] as const).map((m) => ({
              value: m,
              label: <span data-testid={`dify-new-method-${m}`}>{t(`orgAdmin.reconcile.methods.${m}`)}</span>,
            }))}
          />
        </Form.Item>
        {method === 'password' ? (
          <>
            <Form.Item name="email" label={t('orgAdmin.reconcile.email')} rules={[required]}>
              <Input autoComplete="off" data-testid="dify-new-email" />
            </Form.Item>
            <Form.Item name="password" label={t('orgAdmin.reconcile.password')} extra={t('orgAdmin.reconcile.secretHint')} rules={secret}>
              <Input.Password autoComplete="new-password" data-testid="dify-new-password" />
            </Form.Item>
          </>
        ) : (
          <>
            <Form.Item name="key" label={t('orgAdmin.reconcile.key')} extra={t('orgAdmin.reconcile.secretHint')} rules={secret}>
              <Input.Password autoComplete="new-password" data-testid="dify-new-key" />
            </Form.Item>
            <Form.Item name="workspace_id" label={t('orgAdmin.reconcile.workspaceId')} rules={[required]}>
              <Input autoComplete="off" data-testid="dify-new-workspace" />
            </Form.Item>
          </>
        )}
        <Form.Item name="time_zone" label={t('orgAdmin.reconcile.timeZone')} extra={t('orgAdmin.reconcile.timeZoneHint')}>
          <Input data-testid="dify-new-zone" />
        </Form.Item>
        <Form.Item name="since" label={t('orgAdmin.reconcile.since')} extra={t('orgAdmin.reconcile.sinceHint')}>
          <DatePicker data-testid="dify-new-since" />
        </Form.Item>
        <FormFooter busy={submit.busy} error={submit.error} done={done} label={t('orgAdmin.reconcile.add')} testId="dify-new-submit" />
      </Form>
    </Card>
  );
}

interface AppSelectProps {
  value: string | null;
  onChange: (appId: string | null) => void;
  options: AppOption[] | undefined;
  testId: string;
}

/** The app a run or the daily control is limited to: none picked is every app. */
function AppSelect({ value, onChange, options, testId }: AppSelectProps) {
  const { t } = useTranslation();
  return (
    <Select<string>
      allowClear
      showSearch
      optionFilterProp="label"
      style={{ minWidth: 180 }}
      placeholder={t('orgAdmin.reconcile.allApps')}
      aria-label={t('orgAdmin.reconcile.app')}
      value={value ?? undefined}
      onChange={(v) => onChange(v ?? null)}
      options={options}
      data-testid={testId}
    />
  );
}

function RunCard({ appOptions, onDone }: { appOptions: AppOption[] | undefined; onDone: () => void }) {
  const { t } = useTranslation();
  const [appId, setAppId] = useState<string | null>(null);
  const [since, setSince] = useState<Dayjs | null>(null);
  const [runs, setRuns] = useState<ConnectionRun[] | null>(null);
  const run = useAdminAction(orgApi.reconcile);
  const start = async () => {
    const report = await run.run({ app_id: appId, since: since ? since.format(DAY) : null });
    if (!report) return;
    setRuns(report.connections);
    onDone();
  };
  return (
    <Card size="small" title={t('orgAdmin.reconcile.runTitle')}>
      <Space direction="vertical" style={{ width: '100%' }}>
        <Space wrap>
          <AppSelect value={appId} onChange={setAppId} options={appOptions} testId="reconcile-app" />
          <DatePicker value={since} onChange={(d) => setSince(d)} placeholder={t('orgAdmin.reconcile.runSince')} data-testid="reconcile-since" />
          <Button type="primary" loading={run.busy} onClick={() => void start()} data-testid="reconcile-run">
            {t('orgAdmin.reconcile.run')}
          </Button>
        </Space>
        <ErrorAlert error={run.error} />
        {runs?.map((r) => (
          <Card key={r.connection_id} size="small" type="inner" title={r.connection} data-testid="reconcile-result" data-connection={r.connection_id}>
            <Space direction="vertical" style={{ width: '100%' }}>
              {r.error && <Alert type="error" showIcon message={t('orgAdmin.reconcile.runError', { error: r.error })} />}
              <Descriptions size="small" column={{ xs: 2, md: 4 }}>
                {COUNTS.map((key) => (
                  <Descriptions.Item key={key} label={t(`orgAdmin.reconcile.counts.${key}`)}>
                    <span data-testid={`run-${key}`}>{formatCount(r[key])}</span>
                  </Descriptions.Item>
                ))}
              </Descriptions>
              {r.missing_endpoints.length > 0 && (
                <Space wrap>
                  <Typography.Text type="warning">{t('orgAdmin.reconcile.missingEndpoints')}</Typography.Text>
                  {missingEndpoints(r.missing_endpoints)}
                </Space>
              )}
            </Space>
          </Card>
        ))}
      </Space>
    </Card>
  );
}

interface DailyProps {
  days: DailyControl[] | undefined;
  loading: boolean;
  error: unknown;
  query: ReconciliationQuery;
  onQuery: (change: Partial<ReconciliationQuery>) => void;
  appOptions: AppOption[] | undefined;
  onReload: () => void;
}

function DailyCard({ days, loading, error, query, onQuery, appOptions, onReload }: DailyProps) {
  const { t } = useTranslation();
  const missing = t('orgAdmin.reconcile.missing');
  const range: [Dayjs, Dayjs] | null = query.from && query.to ? [dayjs(query.from), dayjs(query.to)] : null;
  const columns: ColumnsType<DailyControl> = [
    { title: t('orgAdmin.reconcile.app'), dataIndex: 'app_name' },
    { title: t('orgAdmin.reconcile.day'), dataIndex: 'day' },
    {
      title: t('orgAdmin.reconcile.difyTokens'),
      dataIndex: 'dify_tokens',
      align: 'right',
      render: (n: number | null) => (n === null ? missing : formatCount(n)),
    },
    {
      title: t('orgAdmin.reconcile.difyPrice'),
      key: 'price',
      align: 'right',
      render: (_, d) => difyPrice(d.dify_price, d.dify_currency, missing),
    },
    { title: t('orgAdmin.reconcile.ledgerTokens'), dataIndex: 'ledger_tokens', align: 'right', render: formatCount },
    { title: t('orgAdmin.reconcile.ledgerCredits'), dataIndex: 'ledger_micros', align: 'right', render: (m: number) => formatMicros(m) },
    {
      title: <Tooltip title={t('orgAdmin.reconcile.gapHint')}>{t('orgAdmin.reconcile.gap')}</Tooltip>,
      dataIndex: 'token_gap',
      align: 'right',
      render: (gap: number | null) =>
        gap === null ? (
          missing
        ) : gap === 0 ? (
          formatCount(gap)
        ) : (
          <Typography.Text type="danger" strong data-testid="token-gap">
            {gap > 0 ? '+' : ''}
            {formatCount(gap)}
          </Typography.Text>
        ),
    },
  ];
  return (
    <RefreshCard title={t('orgAdmin.reconcile.daily')} onRefresh={onReload}>
      <Space direction="vertical" style={{ width: '100%' }}>
        <Space wrap>
          <DatePicker.RangePicker
            value={range}
            onChange={(picked) => onQuery({ from: picked?.[0]?.format(DAY) ?? null, to: picked?.[1]?.format(DAY) ?? null })}
            aria-label={t('dashboard.filters.range')}
            data-testid="daily-range"
          />
          <AppSelect value={query.app_id} onChange={(appId) => onQuery({ app_id: appId })} options={appOptions} testId="daily-app" />
        </Space>
        <ErrorAlert error={error} />
        <DataTable<DailyControl>
          rowKey={(d) => `${d.app_id}/${d.day}`}
          columns={columns}
          dataSource={days}
          loading={loading}
          rowTestId="daily-row"
          rowAttrs={(d) => ({ 'data-app': d.app_id, 'data-day': d.day, 'data-gap': d.token_gap === null ? 'none' : d.token_gap })}
          pagination={{ pageSize: 50, hideOnSinglePage: true }}
        />
      </Space>
    </RefreshCard>
  );
}

function FindingsCard({ findings, loading }: { findings: Finding[] | undefined; loading: boolean }) {
  const { t } = useTranslation();
  const [kind, setKind] = useState<FindingKind | null>(null);
  const shown = useMemo(() => findings?.filter((f) => !kind || f.kind === kind), [findings, kind]);
  const credits = (m: number | null) => (m === null ? t('common.none') : formatMicros(m));
  const columns: ColumnsType<Finding> = [
    {
      title: t('orgAdmin.reconcile.kind'),
      dataIndex: 'kind',
      render: (k: FindingKind) => <Tag color={FINDING_COLORS[k]}>{t(`orgAdmin.reconcile.kinds.${k}`)}</Tag>,
    },
    { title: t('orgAdmin.reconcile.app'), dataIndex: 'app_name' },
    { title: t('orgAdmin.reconcile.user'), dataIndex: 'user', render: (u: string | null) => u ?? t('common.none') },
    { title: t('orgAdmin.reconcile.recordId'), dataIndex: 'record_id', render: (id: string) => <Typography.Text code>{id}</Typography.Text> },
    { title: t('orgAdmin.reconcile.ledgerCredits'), dataIndex: 'ledger_micros', align: 'right', render: credits },
    { title: t('orgAdmin.reconcile.difyCredits'), dataIndex: 'dify_micros', align: 'right', render: credits },
    { title: t('orgAdmin.reconcile.detail'), dataIndex: 'detail' },
    { title: t('orgAdmin.reconcile.foundAt'), dataIndex: 'found_at', render: (v: string) => formatTime(v) },
  ];
  return (
    <Card
      size="small"
      title={t('orgAdmin.reconcile.findings')}
      extra={
        <Select<FindingKind>
          allowClear
          size="small"
          style={{ minWidth: 200 }}
          placeholder={t('orgAdmin.reconcile.allKinds')}
          aria-label={t('orgAdmin.reconcile.kind')}
          value={kind ?? undefined}
          onChange={(v) => setKind(v ?? null)}
          options={FINDING_KINDS.map((k) => ({ value: k, label: t(`orgAdmin.reconcile.kinds.${k}`) }))}
          data-testid="findings-kind"
        />
      }
    >
      <DataTable<Finding>
        rowKey="id"
        columns={columns}
        dataSource={shown}
        loading={loading}
        rowTestId="finding-row"
        rowAttrs={(f) => ({ 'data-finding': f.id, 'data-kind': f.kind })}
        expandable={{ expandedRowRender: (f) => <RecordDetail record={f.record} /> }}
        pagination={{ pageSize: 50, hideOnSinglePage: true }}
      />
    </Card>
  );
}

function RecordDetail({ record }: { record: DifyRecord | null }) {
  const { t } = useTranslation();
  if (!record) {
    return (
      <Typography.Text type="secondary" data-testid="finding-no-record">
        {t('orgAdmin.reconcile.noRecord')}
      </Typography.Text>
    );
  }
  const none = t('common.none');
  return (
    <Descriptions size="small" title={t('orgAdmin.reconcile.record.title')} column={{ xs: 1, md: 3 }} data-testid="finding-record">
      <Descriptions.Item label={t('orgAdmin.reconcile.record.conversation')}>{record.conversation_id ?? none}</Descriptions.Item>
      <Descriptions.Item label={t('orgAdmin.reconcile.record.session')}>{record.session_id ?? none}</Descriptions.Item>
      <Descriptions.Item label={t('orgAdmin.reconcile.record.status')}>{record.status}</Descriptions.Item>
      <Descriptions.Item label={t('orgAdmin.reconcile.record.tokens')}>
        {formatCount(record.prompt_tokens)} / {formatCount(record.completion_tokens)}
      </Descriptions.Item>
      <Descriptions.Item label={t('orgAdmin.reconcile.record.price')}>
        {difyPrice(record.total_price, record.currency, none)}
      </Descriptions.Item>
      <Descriptions.Item label={t('orgAdmin.reconcile.record.createdAt')}>{formatTime(record.created_at)}</Descriptions.Item>
    </Descriptions>
  );
}
