import { Button, Card, Col, Form, Input, Row, Select, Space, Switch, Tag, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, type App, type ConnectionTest } from '../../api';
import { DataTable } from '../../components/DataTable';
import { ErrorAlert } from '../../components/ErrorAlert';
import { useLoad } from '../../hooks';
import { FormFooter, useAdminAction, useRequired } from './shared';

// The select needs a value for "no model"; the command takes null for it.
const DIFY_PRICE = '';

/** The Dify apps metering knows: bound to a model's price or to Dify's reported price, each switchable and testable. */
export function AppsTab() {
  const { t } = useTranslation();
  const apps = useLoad(api.apps, ['ledger-changed']);
  const [tests, setTests] = useState<Record<number, ConnectionTest>>({});
  const [busyId, setBusyId] = useState<number | null>(null);
  const toggle = useAdminAction(api.adminSetAppEnabled);
  const test = useAdminAction(api.adminTestApp);

  // One at a time: the row that runs shows it.
  const runFor = async (id: number, work: () => Promise<unknown>) => {
    setBusyId(id);
    await work();
    setBusyId(null);
  };
  const runTest = (id: number) =>
    runFor(id, async () => {
      const result = await test.run(id);
      if (result) setTests((all) => ({ ...all, [id]: result }));
    });

  const columns: ColumnsType<App> = [
    {
      title: t('admin.apps.name'),
      dataIndex: 'name',
      render: (name: string, a) => (
        <Space size={4}>
          {name}
          {a.demo && <Tag color="purple">{t('monitor.demo')}</Tag>}
        </Space>
      ),
    },
    { title: t('admin.apps.url'), dataIndex: 'share_url', render: (url: string) => <Typography.Text copyable>{url}</Typography.Text> },
    {
      title: t('admin.apps.pricing'),
      key: 'pricing',
      render: (_, a) => (a.pricing === 'dify_price' ? <Tag>{t('dashboard.difyPrice')}</Tag> : a.model),
    },
    {
      title: t('admin.apps.enabled'),
      dataIndex: 'enabled',
      render: (enabled: boolean, a) => (
        <Switch
          size="small"
          checked={enabled}
          loading={busyId === a.id && toggle.busy}
          aria-label={t('admin.apps.enabledLabel', { name: a.name })}
          onChange={(on) => void runFor(a.id, () => toggle.run(a.id, on))}
          data-testid={`app-enabled-${a.id}`}
        />
      ),
    },
    {
      title: t('admin.apps.connection'),
      key: 'test',
      render: (_, a) => (
        <Space size={4}>
          <Button size="small" loading={busyId === a.id && test.busy} onClick={() => void runTest(a.id)} data-testid={`app-test-${a.id}`}>
            {t('admin.apps.test')}
          </Button>
          {tests[a.id] && <TestResult result={tests[a.id]} testId={`app-test-result-${a.id}`} />}
        </Space>
      ),
    },
  ];

  return (
    <Row gutter={[12, 12]}>
      <Col xs={24} xl={16}>
        <Card size="small" title={t('admin.tabs.apps')}>
          <ErrorAlert error={apps.error ?? toggle.error ?? test.error} />
          <DataTable<App>
            rowKey="id"
            columns={columns}
            dataSource={apps.data ?? undefined}
            loading={!apps.data && !apps.error}
            rowTestId="app-row"
            rowAttrs={(a) => ({ 'data-app-id': a.id })}
            data-testid="apps-table"
          />
        </Card>
      </Col>
      <Col xs={24} xl={8}>
        <AddAppForm />
      </Col>
    </Row>
  );
}

function TestResult({ result, testId }: { result: ConnectionTest; testId: string }) {
  const { t } = useTranslation();
  return (
    <Tag color={result.ok ? 'green' : 'red'} data-testid={testId}>
      {result.ok ? t('admin.apps.ok') : t('admin.apps.failed')} · {result.message}
    </Tag>
  );
}

interface AppValues {
  name: string;
  share_url: string;
  model: string;
}

function AddAppForm() {
  const { t } = useTranslation();
  const [form] = Form.useForm<AppValues>();
  const models = useLoad(api.models, ['ledger-changed']);
  const [done, setDone] = useState<string | null>(null);
  const submit = useAdminAction((v: AppValues) => api.adminAddApp(v.name.trim(), v.share_url.trim(), v.model === DIFY_PRICE ? null : v.model));
  const required = useRequired();

  const finish = async (values: AppValues) => {
    setDone(null);
    const app = await submit.run(values);
    if (!app) return;
    setDone(t('admin.apps.added', { name: app.name }));
    form.resetFields();
  };

  return (
    <Card size="small" title={t('admin.apps.addTitle')}>
      <Form form={form} layout="vertical" requiredMark={false} onFinish={finish} initialValues={{ model: DIFY_PRICE }}>
        <Form.Item name="name" label={t('admin.apps.name')} rules={[required]}>
          <Input data-testid="app-name" />
        </Form.Item>
        <Form.Item
          name="share_url"
          label={t('admin.apps.url')}
          extra={t('admin.apps.urlHint')}
          rules={[required, { type: 'url', message: t('admin.apps.urlInvalid') }]}
        >
          <Input type="url" placeholder="https://dify.example.com/chat/…" data-testid="app-url" />
        </Form.Item>
        <Form.Item name="model" label={t('admin.apps.pricing')}>
          <Select
            showSearch
            aria-label={t('admin.apps.pricing')}
            options={[
              { value: DIFY_PRICE, label: t('dashboard.difyPrice') },
              ...(models.data ?? []).filter((m) => m.active).map((m) => ({ value: m.name, label: m.name })),
            ]}
            data-testid="app-model"
          />
        </Form.Item>
        <FormFooter busy={submit.busy} error={submit.error} done={done} label={t('admin.apps.add')} testId="app-submit" />
      </Form>
    </Card>
  );
}
