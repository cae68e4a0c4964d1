import { DatePicker, Radio, Select, Space, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import dayjs, { type Dayjs } from 'dayjs';
import { useCallback, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Spend } from '../../api';
import { DataTable } from '../../components/DataTable';
import { RefreshCard } from '../../components/RefreshCard';
import { ErrorAlert } from '../../components/ErrorAlert';
import { ExportButton } from '../../components/ExportButton';
import { SpendChart } from '../../components/SpendChart';
import '../../dayjsLocale';
import { formatCount, formatMicros, microsText } from '../../format';
import { orgApi, type ReportBy, type ReportQuery, type ReportRow } from '../../orgApi';
import { useOrgLoad } from './shared';

const GROUPINGS: ReportBy[] = ['user', 'app', 'model', 'day'];
const DAY = 'YYYY-MM-DD';

const spendOf = (row: ReportRow): Spend => ({
  credits: microsText(row.credits_micros),
  credits_micros: row.credits_micros,
  prompt_tokens: row.prompt_tokens,
  completion_tokens: row.completion_tokens,
  messages: row.messages,
});

/** The report's query as the screen holds it: always with a grouping. */
type ShownQuery = ReportQuery & { by: ReportBy };

/**
 * The org's spend from the server: grouped by user, app, model or day, filtered by days (UTC) and by one user,
 * app or model; a chart of the rows, and their CSV, which the server writes for the very same query.
 */
export function ReportTab() {
  const { t } = useTranslation();
  const [query, setQuery] = useState<ShownQuery>(() => ({ by: 'user', from: dayjs().startOf('month').format(DAY), to: dayjs().format(DAY) }));
  const report = useOrgLoad(useCallback(() => orgApi.report(query), [query]));
  const users = useOrgLoad(orgApi.users);
  const apps = useOrgLoad(orgApi.apps);
  const models = useOrgLoad(orgApi.models);
  // A price map's thousands of models: the options are built once per load, not on every change of the query.
  const modelOptions = useMemo(() => models.data?.map((m) => ({ value: m.name, label: m.name })), [models.data]);
  const set = (change: Partial<ShownQuery>) => setQuery((q) => ({ ...q, ...change }));
  const range: [Dayjs, Dayjs] | null = query.from && query.to ? [dayjs(query.from), dayjs(query.to)] : null;
  const rows = report.data?.rows;
  const series = useMemo(() => (rows ?? []).map((row) => ({ date: row.key, spend: spendOf(row) })), [rows]);
  const dayLabel = useCallback((key: string) => (query.by === 'day' ? key.slice(5) : key), [query.by]);

  const columns: ColumnsType<ReportRow> = [
    { title: t(`orgAdmin.report.by.${query.by}`), dataIndex: 'key' },
    { title: t('dashboard.spent'), dataIndex: 'credits_micros', align: 'right', render: (m: number) => formatMicros(m) },
    { title: t('dashboard.inputTokens'), dataIndex: 'prompt_tokens', align: 'right', render: formatCount },
    { title: t('dashboard.outputTokens'), dataIndex: 'completion_tokens', align: 'right', render: formatCount },
    { title: t('dashboard.messages'), dataIndex: 'messages', align: 'right', render: formatCount },
  ];
  const filter = (key: 'user' | 'app' | 'model', options: { value: string; label: string }[] | undefined) => (
    <Select<string>
      allowClear
      showSearch
      optionFilterProp="label"
      style={{ minWidth: 160 }}
      placeholder={t(`orgAdmin.report.all.${key}`)}
      aria-label={t(`orgAdmin.report.by.${key}`)}
      value={query[key]}
      onChange={(value) => set({ [key]: value })}
      options={options}
      data-testid={`report-filter-${key}`}
    />
  );

  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <RefreshCard
        title={t('orgAdmin.report.title')}
        onRefresh={() => void report.reload()}
        refreshTestId="report-refresh"
        extra={<ExportButton exportCsv={() => orgApi.exportReport(query)} />}
      >
        <Space direction="vertical" style={{ width: '100%' }}>
          <Space wrap>
            <Radio.Group
              optionType="button"
              value={query.by}
              onChange={(e) => set({ by: e.target.value as ReportBy })}
              options={GROUPINGS.map((by) => ({ value: by, label: t(`orgAdmin.report.by.${by}`) }))}
              data-testid="report-by"
            />
            <DatePicker.RangePicker
              value={range}
              onChange={(picked) => set({ from: picked?.[0]?.format(DAY), to: picked?.[1]?.format(DAY) })}
              aria-label={t('dashboard.filters.range')}
              data-testid="report-range"
            />
            {filter('user', users.data?.map((u) => ({ value: u.user.name, label: u.user.display_name || u.user.name })))}
            {filter('app', apps.data?.map((a) => ({ value: a.name, label: a.name })))}
            {filter('model', modelOptions)}
          </Space>
          <Typography.Text type="secondary">{t('orgAdmin.report.utc')}</Typography.Text>
          <ErrorAlert error={report.error} />
          {series.length > 0 && <SpendChart series={series} label={dayLabel} />}
          <DataTable<ReportRow>
            rowKey="key"
            columns={columns}
            dataSource={rows}
            loading={!report.data && !report.error}
            rowTestId="report-row"
            rowAttrs={(r) => ({ 'data-key': r.key, 'data-micros': r.credits_micros })}
            pagination={{ pageSize: 100, hideOnSinglePage: true }}
          />
        </Space>
      </RefreshCard>
    </Space>
  );
}
