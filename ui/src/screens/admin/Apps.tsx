import { Button, Card, Col, Form, Input, Row, Select, Space, Switch, Tag, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, type App, type ConnectionTest } from '../../api';
import { DataTable } from '../../components/DataTable';
import { ErrorAlert } from '../../components/ErrorAlert';
import { useLoad } from '../../hooks';
import { FormFooter, FormModal, useAdminAction, useRequired, useRowAction } from './shared';

// The select needs a value for "no model"; the command takes null for it.
const DIFY_PRICE = '';

/** The Dify apps metering knows: bound to a model's price or to Dify's reported price, each switchable and testable. */
export function AppsTab() {
  const { t } = useTranslation();
  const apps = useLoad(api.apps, ['ledger-changed']);
  const [tests, setTests] = useState<Record<number, ConnectionTest>>({});
  const toggle = useRowAction<number, [number, boolean], App>(api.adminSetAppEnabled);
  const test = useRowAction<number, [number], ConnectionTest>(api.adminTestApp);

  const runTest = async (id: number) => {
    const result = await test.run(id, id);
    if (result) setTests((all) => ({ ...all, [id]: result }));
  };

  const [editing, setEditing] = useState<App | null>(null);

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
          loading={toggle.isBusy(a.id)}
          aria-label={t('admin.apps.enabledLabel', { name: a.name })}
          onChange={(on) => void toggle.run(a.id, a.id, on)}
          data-testid={`app-enabled-${a.id}`}
        />
      ),
    },
    {
      title: t('admin.apps.connection'),
      key: 'test',
      render: (_, a) => (
        <Space size={4}>
          <Button
            size="small"
            loading={test.isBusy(a.id)}
            aria-label={t('admin.apps.testLabel', { name: a.name })}
            onClick={() => void runTest(a.id)} data-testid={`app-test-${a.id}`}>
            {t('admin.apps.test')}
          </Button>
          {tests[a.id] && <TestResult result={tests[a.id]} testId={`app-test-result-${a.id}`} />}
        </Space>
      ),
    },
    {
      title: t('common.actions'),
      key: 'actions',
      render: (_, a) => (
        <Button
          size="small"
          type="link"
          aria-label={t('admin.apps.editLabel', { name: a.name })}
          onClick={() => setEditing(a)}
          data-testid={`app-edit-${a.id}`}
        >
          {t('common.edit')}
        </Button>
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
      <EditAppForm app={editing} onClose={() => setEditing(null)} />
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

/** The binding as the command takes it: a model's name, or null for Dify's reported price. */
const boundModel = (v: AppValues) => (v.model === DIFY_PRICE ? null : v.model);

function AddAppForm() {
  const { t } = useTranslation();
  const [form] = Form.useForm<AppValues>();
  const [done, setDone] = useState<string | null>(null);
  const submit = useAdminAction((v: AppValues) => api.adminAddApp(v.name.trim(), v.share_url.trim(), boundModel(v)));

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
        <AppFields testIdPrefix="app" />
        <FormFooter busy={submit.busy} error={submit.error} done={done} label={t('admin.apps.add')} testId="app-submit" />
      </Form>
    </Card>
  );
}

/** Renames an app, moves it to another share URL or rebinds its pricing; charges already made keep theirs. */
function EditAppForm({ app, onClose }: { app: App | null; onClose: () => void }) {
  const { t } = useTranslation();
  return (
    <FormModal<AppValues>
      title={t('admin.apps.editTitle', { name: app?.name })}
      initialValues={app && { name: app.name, share_url: app.share_url, model: app.pricing === 'dify_price' ? DIFY_PRICE : (app.model ?? DIFY_PRICE) }}
      onClose={onClose}
      submit={(v) => api.adminUpdateApp(app!.id, v.name.trim(), v.share_url.trim(), boundModel(v))}
      doneMessage={t('admin.apps.saved')}
      submitLabel={t('common.save')}
      submitTestId="app-edit-save"
    >
      <Typography.Paragraph type="secondary">{t('admin.apps.editHint')}</Typography.Paragraph>
      <AppFields testIdPrefix="app-edit" />
    </FormModal>
  );
}

/** An app's name, share URL and pricing, as both the add and the edit form ask for them. */
function AppFields({ testIdPrefix }: { testIdPrefix: string }) {
  const { t } = useTranslation();
  const models = useLoad(api.models, ['ledger-changed']);
  const required = useRequired();
  return (
    <>
      <Form.Item name="name" label={t('admin.apps.name')} rules={[required]}>
        <Input data-testid={`${testIdPrefix}-name`} />
      </Form.Item>
      <Form.Item
        name="share_url"
        label={t('admin.apps.url')}
        extra={t('admin.apps.urlHint')}
        rules={[required, { type: 'url', message: t('admin.apps.urlInvalid') }]}
      >
        <Input type="url" placeholder="https://dify.example.com/chat/…" data-testid={`${testIdPrefix}-url`} />
      </Form.Item>
      <Form.Item name="model" label={t('admin.apps.pricing')}>
        <Select
          showSearch
          aria-label={t('admin.apps.pricing')}
          options={[
            { value: DIFY_PRICE, label: t('dashboard.difyPrice') },
            ...(models.data ?? []).filter((m) => m.active).map((m) => ({ value: m.name, label: m.name })),
          ]}
          data-testid={`${testIdPrefix}-model`}
        />
      </Form.Item>
    </>
  );
}
