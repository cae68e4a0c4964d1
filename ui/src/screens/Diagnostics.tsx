import { Button, Card, Col, Descriptions, Form, Input, InputNumber, Row, Select, Space, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useEffect, useMemo, useState } from 'react';
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { api, type App, type ChargeEvent, type ChargeResult, type Model } from '../api';
import { DataTable } from '../components/DataTable';
import { ErrorAlert } from '../components/ErrorAlert';
import { MonitorStatusCard } from '../components/MonitorStatusCard';
import { OutcomeTag } from '../components/OutcomeTag';
import { Page } from '../components/Page';
import { hasCode, SESSION_REQUIRED } from '../errors';
import { formatCredits, formatTime } from '../format';
import { useAction, useLoad, useMonitorStatus, useTauriEvent } from '../hooks';
import { DECIMAL, decimalRule, useActiveModelNames } from './admin/shared';

// The log is for watching, not auditing (the ledger keeps everything): keep the newest few hundred.
const LOG_LIMIT = 200;

interface LogRow extends ChargeEvent {
  seq: number;
  received: Date;
}

// The model select's value for "priced as the app is bound"; the command takes null for it.
const APP_BINDING = '';

interface SimulateValues {
  app_id: App['id'];
  model: string;
  prompt_tokens: number;
  completion_tokens: number;
  dify_total_price?: string;
  message_id?: string;
}

export function Diagnostics() {
  const { t } = useTranslation();
  // Refetched after each charge and admin change (a grant, a reversal), so it is never older than the log.
  const dashboard = useLoad(api.dashboard);
  const apps = useLoad(api.apps, ['ledger-changed']);
  const models = useLoad(api.models, ['ledger-changed']);
  const monitor = useMonitorStatus();
  const [log, setLog] = useState<LogRow[]>([]);
  const loadError = dashboard.error ?? apps.error ?? models.error;
  const balance = dashboard.data?.balance ?? null;

  useTauriEvent('charge', (event) => {
    setLog((rows) => [{ ...event, seq: (rows[0]?.seq ?? 0) + 1, received: new Date() }, ...rows].slice(0, LOG_LIMIT));
  });

  return (
    <Page title={t('app.windows.diagnostics')}>
      <ErrorAlert error={loadError} />
      <Row gutter={[12, 12]}>
        <Col xs={24} md={12}>
          <MonitorStatusCard monitor={monitor} />
        </Col>
        <Col xs={24} md={12}>
          <Card size="small" title={t('diagnostics.balance')} loading={balance === null && !loadError}>
            <Space align="baseline" size={6}>
              <Typography.Text strong style={{ fontSize: 26 }} data-testid="balance">
                {balance === null ? t('common.none') : String(balance)}
              </Typography.Text>
              <Typography.Text type="secondary">{t('common.credits')}</Typography.Text>
            </Space>
          </Card>
        </Col>
      </Row>
      <SimulateForm apps={apps.data} models={models.data} />
      <Card size="small" title={t('diagnostics.logTitle')}>
        <ChargeLog rows={log} />
      </Card>
    </Page>
  );
}

function SimulateForm({ apps, models }: { apps: App[] | null; models: Model[] | null }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<SimulateValues>();
  const appId = Form.useWatch('app_id', form);
  const chosenApp = apps?.find((a) => a.id === appId);
  const binding = chosenApp && (chosenApp.pricing === 'dify_price' ? t('dashboard.difyPrice') : chosenApp.model);
  const [result, setResult] = useState<ChargeResult | null>(null);
  const simulate = useAction(api.adminSimulate);
  const modelNames = useActiveModelNames(models);
  const modelOptions = useMemo(() => modelNames.map((m) => ({ value: m, label: m })), [modelNames]);

  // Preselect the first enabled app once the list arrives.
  useEffect(() => {
    const first = apps?.find((a) => a.enabled) ?? apps?.[0];
    if (first && form.getFieldValue('app_id') === undefined) form.setFieldsValue({ app_id: first.id });
  }, [apps, form]);

  const finish = async (values: SimulateValues) => {
    setResult(null);
    const res = await simulate.run({
      app_id: values.app_id,
      model: values.model === APP_BINDING ? null : values.model,
      prompt_tokens: values.prompt_tokens,
      completion_tokens: values.completion_tokens,
      dify_total_price: values.dify_total_price?.trim() || null,
      // A fresh id per run, so a second click is a new reply rather than a duplicate.
      message_id: values.message_id?.trim() || `diag-${crypto.randomUUID()}`,
    });
    if (res) setResult(res);
  };

  const needsAdmin = hasCode(simulate.error, SESSION_REQUIRED);
  return (
    <Card size="small" title={t('diagnostics.simulateTitle')}>
      <Typography.Paragraph type="secondary">{t('diagnostics.simulateHint')}</Typography.Paragraph>
      <Form
        form={form}
        layout="inline"
        requiredMark={false}
        onFinish={finish}
        initialValues={{ model: APP_BINDING, prompt_tokens: 1000, completion_tokens: 200 }}
      >
        <Form.Item name="app_id" label={t('diagnostics.app')} rules={[{ required: true, message: t('admin.required') }]}>
          <Select
            style={{ minWidth: 200 }}
            loading={apps === null}
            notFoundContent={t('diagnostics.noApps')}
            options={apps?.map((a) => ({
              value: a.id,
              label: a.enabled ? a.name : t('diagnostics.appDisabled', { name: a.name }),
            }))}
            data-testid="sim-app"
          />
        </Form.Item>
        <Form.Item name="model" label={t('diagnostics.model')}>
          <Select
            showSearch
            optionFilterProp="label"
            style={{ minWidth: 220 }}
            aria-label={t('diagnostics.model')}
            options={[{ value: APP_BINDING, label: t('diagnostics.asBound', { binding: binding ?? t('common.none') }) }, ...modelOptions]}
            data-testid="sim-model"
          />
        </Form.Item>
        <Form.Item name="prompt_tokens" label={t('diagnostics.promptTokens')} rules={[{ required: true, message: t('admin.required') }]}>
          <InputNumber min={0} precision={0} data-testid="sim-prompt" />
        </Form.Item>
        <Form.Item name="completion_tokens" label={t('diagnostics.completionTokens')} rules={[{ required: true, message: t('admin.required') }]}>
          <InputNumber min={0} precision={0} data-testid="sim-completion" />
        </Form.Item>
        <Form.Item
          name="dify_total_price"
          label={t('diagnostics.difyPrice')}
          tooltip={t('diagnostics.difyPriceHint')}
          rules={[decimalRule(DECIMAL, t('diagnostics.difyPriceInvalid'), (v) => v >= 0n)]}
        >
          <Input inputMode="decimal" suffix="USD" style={{ width: 140 }} data-testid="sim-dify-price" />
        </Form.Item>
        <Form.Item name="message_id" label={t('diagnostics.messageId')}>
          <Input placeholder={t('diagnostics.messageIdPlaceholder')} data-testid="sim-message-id" />
        </Form.Item>
        <Form.Item>
          <Button type="primary" htmlType="submit" loading={simulate.busy} data-testid="sim-submit">
            {t('diagnostics.run')}
          </Button>
        </Form.Item>
      </Form>
      <div style={{ marginTop: 8 }}>
        <ErrorAlert
          error={simulate.error}
          testId="sim-error"
          action={
            needsAdmin && (
              <Button size="small" onClick={() => void api.openWindow('admin')}>
                {t('diagnostics.openAdmin')}
              </Button>
            )
          }
        />
        {result && <ResultView result={result} />}
      </div>
    </Card>
  );
}

function ResultView({ result }: { result: ChargeResult }) {
  const { t } = useTranslation();
  return (
    <Descriptions size="small" bordered column={{ xs: 1, md: 3 }} title={t('diagnostics.result')} data-testid="sim-result">
      <Descriptions.Item label={t('diagnostics.col.outcome')}>
        <OutcomeTag outcome={result.outcome} />
      </Descriptions.Item>
      <Descriptions.Item label={t('diagnostics.col.amount')}>{formatCredits(result.amount)}</Descriptions.Item>
      <Descriptions.Item label={t('diagnostics.col.reason')}>{reasonText(t, result) || t('common.none')}</Descriptions.Item>
      <Descriptions.Item label={t('diagnostics.col.message')}>{result.message_id ?? t('common.none')}</Descriptions.Item>
    </Descriptions>
  );
}

/** Why an event ended as it did: the code and reason Rust gave, else what the ids say (a duplicate names its charge). */
function reasonText(t: TFunction, r: ChargeResult): string {
  const given = [r.code, r.reason].filter(Boolean).join(': ');
  if (given) return given;
  if (r.outcome === 'duplicate' && r.entry_id) return t('diagnostics.duplicateOf', { entry: r.entry_id });
  if (r.outcome === 'held' && r.held_id) return t('diagnostics.heldAs', { id: r.held_id });
  return '';
}

function ChargeLog({ rows }: { rows: LogRow[] }) {
  const { t } = useTranslation();
  const columns = useMemo<ColumnsType<LogRow>>(
    () => [
      { title: t('diagnostics.col.time'), dataIndex: 'received', render: (d: Date) => formatTime(d), width: 160 },
      { title: t('diagnostics.col.app'), dataIndex: 'app_name', render: (v?: string | null) => v ?? t('common.none') },
      { title: t('diagnostics.col.outcome'), dataIndex: 'outcome', render: (o: string) => <OutcomeTag outcome={o} /> },
      {
        title: t('diagnostics.col.amount'),
        dataIndex: 'amount',
        align: 'right',
        render: (a: string) => formatCredits(a),
      },
      { title: t('diagnostics.col.reason'), key: 'reason', render: (_, r) => reasonText(t, r) },
      { title: t('diagnostics.col.message'), dataIndex: 'message_id', ellipsis: true },
    ],
    [t],
  );
  return (
    <DataTable<LogRow>
      rowKey="seq"
      columns={columns}
      dataSource={rows}
      locale={{ emptyText: t('diagnostics.logEmpty') }}
      rowTestId="charge-log-row"
      rowAttrs={(r) => ({ 'data-outcome': r.outcome })}
    />
  );
}
