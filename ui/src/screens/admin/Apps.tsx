import { Button, Card, Col, Form, Input, Row, Select, Space, Switch, Tag, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, type App, type ConnectionTest } from '../../api';
import { DataTable } from '../../components/DataTable';
import { ErrorAlert } from '../../components/ErrorAlert';
import { useLoad } from '../../hooks';
import { FormFooter, FormModal, useActiveModelNames, useAdminAction, useRequired, useRowAction } from './shared';

// The select needs a value for "no model"; the commands take null for it.
const DIFY_PRICE = '';

/** An app as the apps table shows it: this computer's, or the org's on its server. */
export interface AppRow {
  id: string | number;
  name: string;
  share_url: string;
  pricing: 'model' | 'dify_price';
  model: string | null;
  enabled: boolean;
  demo?: boolean;
}

/** An app as the add and edit forms give it: trimmed, and `model` null for Dify's reported price. */
export interface AppInput {
  name: string;
  share_url: string;
  model: string | null;
}

/** The Dify apps metering knows: bound to a model's price or to Dify's reported price, each switchable and testable. */
export function AppsTab() {
  const { t } = useTranslation();
  const apps = useLoad(api.apps, ['ledger-changed']);
  const models = useActiveModelNames(useLoad(api.models, ['ledger-changed']).data);
  const [tests, setTests] = useState<Record<number, ConnectionTest>>({});
  const test = useRowAction<number, [number], ConnectionTest>(api.adminTestApp);

  const runTest = async (id: number) => {
    const result = await test.run(id, id);
    if (result) setTests((all) => ({ ...all, [id]: result }));
  };

  const connection: ColumnsType<App> = [
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
  ];

  return (
    <AppsPanel<App>
      apps={apps.data}
      error={apps.error ?? test.error}
      models={models}
      setEnabled={(a, on) => api.adminSetAppEnabled(a.id, on)}
      add={(v) => api.adminAddApp(v.name, v.share_url, v.model)}
      update={(a, v) => api.adminUpdateApp(a.id, v.name, v.share_url, v.model)}
      extraColumns={connection}
    />
  );
}

interface AppsPanelProps<A extends AppRow> {
  apps: A[] | null;
  error: unknown;
  /** The active models an app may be bound to. */
  models: string[];
  setEnabled: (app: A, enabled: boolean) => Promise<unknown>;
  add: (app: AppInput) => Promise<{ name: string }>;
  update: (app: A, change: AppInput) => Promise<unknown>;
  /** Columns before the actions, such as the island's connection test. */
  extraColumns?: ColumnsType<A>;
  /** Called after each change made here, for data that no event refreshes. */
  onChanged?: () => void;
}

/** The apps table with its switches and edit form, and the add form: wherever the apps are kept. */
export function AppsPanel<A extends AppRow>({ apps, error, models, setEnabled, add, update, extraColumns = [], onChanged }: AppsPanelProps<A>) {
  const { t } = useTranslation();
  const toggle = useRowAction<A['id'], [A, boolean], unknown>((a, on) => setEnabled(a, on).then(changed(onChanged)));
  const [editing, setEditing] = useState<A | null>(null);

  const columns: ColumnsType<A> = [
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
          onChange={(on) => void toggle.run(a.id, a, on)}
          data-testid={`app-enabled-${a.id}`}
        />
      ),
    },
    ...extraColumns,
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
          <ErrorAlert error={error ?? toggle.error} />
          <DataTable<A>
            rowKey="id"
            columns={columns}
            dataSource={apps ?? undefined}
            loading={!apps && !error}
            rowTestId="app-row"
            rowAttrs={(a) => ({ 'data-app-id': a.id })}
            data-testid="apps-table"
          />
        </Card>
      </Col>
      <Col xs={24} xl={8}>
        <AddAppForm models={models} add={(v) => add(v).then(changed(onChanged))} />
      </Col>
      <EditAppForm app={editing} models={models} onClose={() => setEditing(null)} save={(v) => update(editing!, v).then(changed(onChanged))} />
    </Row>
  );
}

/** Passes a result on after telling `onChanged`. */
const changed =
  (onChanged?: () => void) =>
  <R,>(result: R): R => {
    onChanged?.();
    return result;
  };

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

/** The form's values as the commands take them. */
const appInput = (v: AppValues): AppInput => ({ name: v.name.trim(), share_url: v.share_url.trim(), model: v.model === DIFY_PRICE ? null : v.model });

function AddAppForm({ models, add }: { models: string[]; add: (app: AppInput) => Promise<{ name: string }> }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<AppValues>();
  const [done, setDone] = useState<string | null>(null);
  const submit = useAdminAction((v: AppValues) => add(appInput(v)));

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
        <AppFields testIdPrefix="app" models={models} />
        <FormFooter busy={submit.busy} error={submit.error} done={done} label={t('admin.apps.add')} testId="app-submit" />
      </Form>
    </Card>
  );
}

interface EditAppProps {
  app: AppRow | null;
  models: string[];
  onClose: () => void;
  save: (app: AppInput) => Promise<unknown>;
}

/** Renames an app, moves it to another share URL or rebinds its pricing; charges already made keep theirs. */
function EditAppForm({ app, models, onClose, save }: EditAppProps) {
  const { t } = useTranslation();
  return (
    <FormModal<AppValues>
      title={t('admin.apps.editTitle', { name: app?.name })}
      initialValues={app && { name: app.name, share_url: app.share_url, model: app.pricing === 'dify_price' ? DIFY_PRICE : (app.model ?? DIFY_PRICE) }}
      onClose={onClose}
      submit={(v) => save(appInput(v))}
      doneMessage={t('admin.apps.saved')}
      submitLabel={t('common.save')}
      submitTestId="app-edit-save"
    >
      <Typography.Paragraph type="secondary">{t('admin.apps.editHint')}</Typography.Paragraph>
      <AppFields testIdPrefix="app-edit" models={models} />
    </FormModal>
  );
}

/** An app's name, share URL and pricing, as both the add and the edit form ask for them. */
function AppFields({ testIdPrefix, models }: { testIdPrefix: string; models: string[] }) {
  const { t } = useTranslation();
  const required = useRequired();
  const options = useMemo(() => [{ value: DIFY_PRICE, label: t('dashboard.difyPrice') }, ...models.map((m) => ({ value: m, label: m }))], [models, t]);
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
        {/* Thousands of models: typed to find, and only the visible options rendered (antd's virtual list). */}
        <Select showSearch optionFilterProp="label" aria-label={t('admin.apps.pricing')} options={options} data-testid={`${testIdPrefix}-model`} />
      </Form.Item>
    </>
  );
}
