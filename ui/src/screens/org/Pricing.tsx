import { Button, Card, Drawer, Space, Tag } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useCallback, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { DataTable } from '../../components/DataTable';
import { ErrorAlert } from '../../components/ErrorAlert';
import { formatTime } from '../../format';
import { orgApi, type OrgModel, type OrgPrice, type OrgPriceChange } from '../../orgApi';
import { PriceForm, type Editing, type PriceValues } from '../admin/Models';
import { RatePanel, type RateChanged } from '../admin/Rate';
import { FreeTag, isFree, MODEL_PAGES, ModelSearch, useModelSearch } from '../admin/shared';
import { useOrgLoad } from './shared';

/** The org's models and prices, on the server: every device prices its next charge with a change. */
export function OrgModelsTab() {
  const { t } = useTranslation();
  const models = useOrgLoad(orgApi.models);
  const [search, setSearch] = useState('');
  const shown = useModelSearch(models.data, search);
  const [editing, setEditing] = useState<Editing>(null);
  const [historyOf, setHistoryOf] = useState<string | null>(null);
  const columns: ColumnsType<OrgModel> = [
    {
      title: t('admin.col.model'),
      dataIndex: 'name',
      sorter: (a, b) => a.name.localeCompare(b.name),
      render: (name: string, m) => (
        <Space size={4}>
          {name}
          {isFree(m.price.input_per_1k, m.price.output_per_1k) && <FreeTag />}
        </Space>
      ),
    },
    // Decimal strings as the server keeps them: shown and edited digit for digit.
    { title: t('admin.models.input'), key: 'input', align: 'right', render: (_, m) => m.price.input_per_1k },
    { title: t('admin.models.output'), key: 'output', align: 'right', render: (_, m) => m.price.output_per_1k },
    {
      title: t('admin.models.aliases'),
      dataIndex: 'aliases',
      render: (aliases: string[]) => aliases.map((a) => <Tag key={a}>{a}</Tag>),
    },
    {
      title: t('admin.models.active'),
      dataIndex: 'active',
      render: (active: boolean) => <Tag color={active ? 'green' : 'default'}>{t(active ? 'admin.models.active' : 'admin.models.inactive')}</Tag>,
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
            onClick={() => setEditing({ isNew: false, values: { name: m.name, input: m.price.input_per_1k, output: m.price.output_per_1k } })}
            data-testid={`org-model-edit-${m.name}`}
          >
            {t('admin.models.editPrice')}
          </Button>
          <Button size="small" type="link" onClick={() => setHistoryOf(m.name)} data-testid={`org-model-history-${m.name}`}>
            {t('admin.models.history')}
          </Button>
        </Space>
      ),
    },
  ];
  const save = async (v: PriceValues) => {
    const saved = await orgApi.setModel(v.name.trim(), v.input.trim(), v.output.trim(), v.reason.trim());
    void models.reload();
    return saved;
  };
  return (
    <Card
      size="small"
      title={t('admin.tabs.models')}
      extra={
        <Space>
          <ModelSearch onSearch={setSearch} />
          <Button size="small" type="primary" onClick={() => setEditing({ isNew: true, values: {} })} data-testid="org-model-add">
            {t('admin.models.add')}
          </Button>
        </Space>
      }
    >
      <ErrorAlert error={models.error} />
      <DataTable<OrgModel>
        rowKey="name"
        columns={columns}
        dataSource={shown}
        loading={!models.data && !models.error}
        rowTestId="org-model-row"
        rowAttrs={(m) => ({ 'data-model': m.name })}
        pagination={MODEL_PAGES}
      />
      <PriceForm editing={editing} onClose={() => setEditing(null)} save={save} />
      <Drawer open={historyOf !== null} onClose={() => setHistoryOf(null)} title={t('admin.models.historyTitle', { name: historyOf })} width={760} destroyOnHidden>
        {historyOf && <PriceHistory model={historyOf} />}
      </Drawer>
    </Card>
  );
}

const priceText = (p: OrgPrice | null, none: string) => (p ? `${p.input_per_1k} / ${p.output_per_1k}` : none);

function PriceHistory({ model }: { model: string }) {
  const { t } = useTranslation();
  const history = useOrgLoad(useCallback(() => orgApi.modelHistory(model), [model]));
  const columns: ColumnsType<OrgPriceChange> = [
    { title: t('admin.col.time'), dataIndex: 'changed_at', render: (v: string) => formatTime(v) },
    { title: t('orgAdmin.oldPrice'), key: 'old', render: (_, c) => priceText(c.old, t('common.none')) },
    { title: t('orgAdmin.newPrice'), key: 'new', render: (_, c) => priceText(c.new, t('common.none')) },
    { title: t('admin.col.by'), dataIndex: 'changed_by' },
    { title: t('admin.reason'), dataIndex: 'reason' },
  ];
  return (
    <>
      <ErrorAlert error={history.error} />
      <DataTable<OrgPriceChange>
        rowKey={(c) => `${c.config_version}-${c.changed_at}`}
        columns={columns}
        dataSource={history.data ?? undefined}
        loading={!history.data && !history.error}
        rowTestId="org-price-history-row"
      />
    </>
  );
}

/** The org's exchange rate, on the server, with its history. */
export function OrgRateTab() {
  const rate = useOrgLoad(orgApi.rate);
  const change = async (next: string, reason: string): Promise<RateChanged> => {
    const before = rate.data?.credits_per_usd ?? null;
    const after = await orgApi.setRate(next, reason);
    void rate.reload();
    return { old: before, new: after.credits_per_usd };
  };
  return (
    <RatePanel
      rate={rate.data?.credits_per_usd ?? null}
      history={rate.data?.history.map((c) => ({ ...c, key: String(c.config_version) }))}
      loading={!rate.data && !rate.error}
      error={rate.error}
      change={change}
    />
  );
}
