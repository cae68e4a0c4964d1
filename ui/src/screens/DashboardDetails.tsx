// The dashboard below its cards, a chunk of its own: the chart (ECharts), the tables, the date picker and the
// drawer load after the balance has been painted.
import { Card, Col, DatePicker, Drawer, Row, Select, Space, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import dayjs, { type Dayjs } from 'dayjs';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, type Breakdown, type Dashboard as DashboardData, type Entry, type HistoryFilter } from '../api';
import { ChargeDetail } from '../components/ChargeDetail';
import { DataTable } from '../components/DataTable';
import { ExportButton } from '../components/ExportButton';
import { LedgerList } from '../components/LedgerList';
import { SpendChart } from '../components/SpendChart';
import '../dayjsLocale';
import { formatCount, formatCredits } from '../format';
import { useHistory } from '../history';
import { useLoad } from '../hooks';

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

/** The 30-day chart, this month's spend by model and by app, and the filtered history with its detail drawer. */
export function DashboardDetails({ data }: { data: DashboardData | null }) {
  const { t } = useTranslation();
  // Names for the by-app list and the filters; without them the lists show ids, so no banner for a failure.
  const apps = useLoad(api.apps, ['ledger-changed']).data;
  const models = useLoad(api.models, ['ledger-changed']).data;
  const [filters, setFilters] = useState<Filters>({ range: null });
  const filter = useMemo(() => historyFilter(filters), [filters]);
  const history = useHistory(filter);
  const [open, setOpen] = useState<Entry | null>(null);

  const appOptions = useMemo(() => (apps ?? []).map((a) => ({ value: a.id, label: a.name })), [apps]);
  const modelOptions = useMemo(() => (models ?? []).map((m) => ({ value: m.name, label: m.name })), [models]);
  const appName = (key: string) => apps?.find((a) => String(a.id) === key)?.name ?? `#${key}`;

  return (
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
              options={appOptions}
              data-testid="history-filter-app"
            />
            <Select<string>
              allowClear
              showSearch
              optionFilterProp="label"
              style={{ minWidth: 180 }}
              placeholder={t('dashboard.filters.allModels')}
              aria-label={t('dashboard.filters.model')}
              value={filters.model}
              onChange={(model) => setFilters((f) => ({ ...f, model }))}
              options={modelOptions}
              data-testid="history-filter-model"
            />
          </Space>
          <LedgerList state={history} onOpen={setOpen} />
        </Space>
      </Card>
      <Drawer open={open !== null} onClose={() => setOpen(null)} title={t('detail.title')} width={560} destroyOnHidden>
        {open && <ChargeDetail entry={open} />}
      </Drawer>
    </Space>
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
