import { Button, Card, Drawer, Form, Input, Select, Space, Switch, Tag, Tooltip } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useCallback, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, type Model, type Price, type PriceChange } from '../../api';
import { DataTable } from '../../components/DataTable';
import { ErrorAlert } from '../../components/ErrorAlert';
import { formatDecimal, formatTime } from '../../format';
import { useLoad } from '../../hooks';
import { ModelImport } from './ModelImport';
import { DECIMAL, decimalRule, FormModal, FreeTag, isFree, MODEL_PAGES, ModelSearch, ReasonItem, useModelSearch, useRequired, useRowAction } from './shared';

export interface PriceValues {
  name: string;
  input: string;
  output: string;
  reason: string;
}

/** Which price form is open: a new model, or an existing one (its name fixed). */
export type Editing = { isNew: boolean; values: Partial<PriceValues> } | null;

export function ModelsTab() {
  const { t } = useTranslation();
  const models = useLoad(api.models, ['ledger-changed']);
  const [search, setSearch] = useState('');
  const [editing, setEditing] = useState<Editing>(null);
  const [aliasesOf, setAliasesOf] = useState<Model | null>(null);
  const [historyOf, setHistoryOf] = useState<string | null>(null);
  const [importing, setImporting] = useState(false);
  const toggle = useRowAction<string, [string, boolean], Model>(api.adminSetModelActive);

  const shown = useModelSearch(models.data, search);

  const columns: ColumnsType<Model> = [
    {
      title: t('admin.col.model'),
      dataIndex: 'name',
      sorter: (a, b) => a.name.localeCompare(b.name),
      render: (name: string, m) => (
        <Space size={4}>
          {name}
          {isFree(m.input_usd_per_1k, m.output_usd_per_1k) && <FreeTag />}
          {m.needs_review && (
            <Tooltip title={t('admin.models.reviewHint')}>
              <Tag color="gold">{t('admin.models.review')}</Tag>
            </Tooltip>
          )}
        </Space>
      ),
    },
    { title: t('admin.models.input'), dataIndex: 'input_usd_per_1k', align: 'right', render: (v: string) => formatDecimal(v) },
    { title: t('admin.models.output'), dataIndex: 'output_usd_per_1k', align: 'right', render: (v: string) => formatDecimal(v) },
    {
      title: t('admin.models.aliases'),
      key: 'aliases',
      render: (_, m) => (
        <Space size={[0, 4]} wrap>
          {m.aliases.map((a) => (
            <Tag key={a}>{a}</Tag>
          ))}
          <Button
            size="small"
            type="link"
            aria-label={t('admin.models.editAliasesLabel', { name: m.name })}
            onClick={() => setAliasesOf(m)}
            data-testid={`model-aliases-${m.name}`}
          >
            {t('common.edit')}
          </Button>
        </Space>
      ),
    },
    {
      title: t('admin.models.active'),
      dataIndex: 'active',
      filters: [
        { text: t('admin.models.active'), value: true },
        { text: t('admin.models.inactive'), value: false },
      ],
      onFilter: (value, m) => m.active === value,
      render: (active: boolean, m) => (
        <Switch
          size="small"
          checked={active}
          loading={toggle.isBusy(m.name)}
          aria-label={t('admin.models.activeLabel', { name: m.name })}
          onChange={(on) => void toggle.run(m.name, m.name, on)}
          data-testid={`model-active-${m.name}`}
        />
      ),
    },
    { title: t('admin.col.updated'), dataIndex: 'updated_at', render: (v: string) => formatTime(v) },
    {
      title: t('common.actions'),
      key: 'actions',
      render: (_, m) => (
        <Space size={0}>
          <Button
            size="small"
            type="link"
            aria-label={t('admin.models.editPriceLabel', { name: m.name })}
            // The stored prices as Rust sent them: saved unchanged, they go back digit for digit.
            onClick={() => setEditing({ isNew: false, values: { name: m.name, input: m.input_usd_per_1k, output: m.output_usd_per_1k } })}
            data-testid={`model-edit-${m.name}`}
          >
            {t('admin.models.editPrice')}
          </Button>
          <Button
            size="small"
            type="link"
            aria-label={t('admin.models.historyLabel', { name: m.name })}
            onClick={() => setHistoryOf(m.name)}
            data-testid={`model-history-${m.name}`}
          >
            {t('admin.models.history')}
          </Button>
        </Space>
      ),
    },
  ];

  return (
    <Card
      size="small"
      title={t('admin.tabs.models')}
      extra={
        <Space>
          <ModelSearch onSearch={setSearch} />
          <Button size="small" onClick={() => setImporting(true)} data-testid="model-import">
            {t('admin.import.open')}
          </Button>
          <Button size="small" type="primary" onClick={() => setEditing({ isNew: true, values: {} })} data-testid="model-add">
            {t('admin.models.add')}
          </Button>
        </Space>
      }
    >
      <ErrorAlert error={models.error ?? toggle.error} />
      <DataTable<Model>
        rowKey="name"
        columns={columns}
        dataSource={shown}
        loading={!models.data && !models.error}
        rowTestId="model-row"
        rowAttrs={(m) => ({ 'data-model': m.name })}
        pagination={MODEL_PAGES}
        data-testid="models-table"
      />
      <PriceForm editing={editing} onClose={() => setEditing(null)} save={saveLocalPrice} />
      <AliasesForm model={aliasesOf} onClose={() => setAliasesOf(null)} />
      <Drawer open={historyOf !== null} onClose={() => setHistoryOf(null)} title={t('admin.models.historyTitle', { name: historyOf })} width={720} destroyOnHidden>
        {historyOf && <PriceHistory name={historyOf} />}
      </Drawer>
      <Drawer open={importing} onClose={() => setImporting(false)} title={t('admin.import.title')} width={820} destroyOnHidden>
        <ModelImport />
      </Drawer>
    </Card>
  );
}

const saveLocalPrice = (v: PriceValues) => api.adminSetModel(v.name.trim(), v.input.trim(), v.output.trim(), v.reason.trim());

/** A new model's price, or a new price for one (its name fixed); `save` makes it (locally or on the org server). */
export function PriceForm({ editing, onClose, save }: { editing: Editing; onClose: () => void; save: (values: PriceValues) => Promise<unknown> }) {
  const { t } = useTranslation();
  const required = useRequired();
  const price = decimalRule(DECIMAL, t('admin.models.priceInvalid'), (v) => v >= 0n);
  return (
    <FormModal<PriceValues>
      title={editing?.isNew ? t('admin.models.add') : t('admin.models.editTitle', { name: editing?.values.name })}
      initialValues={editing?.values ?? null}
      onClose={onClose}
      submit={save}
      doneMessage={t('admin.models.saved')}
      submitLabel={t('common.save')}
      submitTestId="model-save"
    >
      <Form.Item name="name" label={t('admin.col.model')} rules={[required]}>
        <Input disabled={!editing?.isNew} data-testid="model-name" />
      </Form.Item>
      <Form.Item name="input" label={t('admin.models.input')} rules={[required, price]}>
        <Input inputMode="decimal" suffix={t('admin.models.priceUnit')} data-testid="model-input-price" />
      </Form.Item>
      <Form.Item name="output" label={t('admin.models.output')} rules={[required, price]}>
        <Input inputMode="decimal" suffix={t('admin.models.priceUnit')} data-testid="model-output-price" />
      </Form.Item>
      <ReasonItem testId="model-reason" />
    </FormModal>
  );
}

function AliasesForm({ model, onClose }: { model: Model | null; onClose: () => void }) {
  const { t } = useTranslation();
  return (
    <FormModal<{ aliases: string[] }>
      title={t('admin.models.aliasesTitle', { name: model?.name })}
      initialValues={model && { aliases: model.aliases }}
      onClose={onClose}
      submit={(v) => api.adminSetModelAliases(model!.name, v.aliases.map((a) => a.trim()).filter(Boolean))}
      doneMessage={t('admin.models.saved')}
      submitLabel={t('common.save')}
      submitTestId="model-aliases-save"
    >
      <Form.Item name="aliases" label={t('admin.models.aliases')} extra={t('admin.models.aliasesHint')}>
        <Select mode="tags" open={false} tokenSeparators={[',', ' ']} aria-label={t('admin.models.aliases')} data-testid="model-aliases-input" />
      </Form.Item>
    </FormModal>
  );
}

function PriceHistory({ name }: { name: string }) {
  const { t } = useTranslation();
  const history = useLoad(useCallback(() => api.modelHistory(name), [name]), ['ledger-changed']);
  const change = (pick: (p: Price) => string) => (_: unknown, c: PriceChange) =>
    `${c.old ? formatDecimal(pick(c.old)) : t('common.none')} → ${formatDecimal(pick(c.new))}`;
  const columns: ColumnsType<PriceChange> = [
    { title: t('admin.col.time'), dataIndex: 'changed_at', render: (v: string) => formatTime(v), width: 160 },
    { title: t('admin.models.input'), key: 'input', render: change((p) => p.input_per_1k) },
    { title: t('admin.models.output'), key: 'output', render: change((p) => p.output_per_1k) },
    { title: t('admin.col.by'), dataIndex: 'changed_by' },
    { title: t('admin.reason'), dataIndex: 'reason' },
  ];
  return (
    <>
      <ErrorAlert error={history.error} />
      <DataTable<PriceChange>
        rowKey="id"
        columns={columns}
        dataSource={history.data ?? undefined}
        loading={!history.data && !history.error}
        rowTestId="price-history-row"
      />
    </>
  );
}
