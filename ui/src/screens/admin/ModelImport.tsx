import { Alert, Collapse, Descriptions, Form, List, Progress, Space, Tag, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useState, type ChangeEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { api, type ImportError, type ImportPreview, type ImportProgress, type ImportReport, type ImportRow, type ImportSkip } from '../../api';
import { DataTable } from '../../components/DataTable';
import { ErrorAlert } from '../../components/ErrorAlert';
import { formatCount, formatDecimal } from '../../format';
import { FormFooter, FreeTag, MODEL_PAGES, ReasonItem, useAdminAction } from './shared';

const CHANGE_COLORS: Record<ImportRow['change'], string> = { create: 'green', update: 'blue', unchanged: 'default' };

interface Loaded {
  fileName: string;
  text: string;
}

/**
 * Bulk price import from a CSV or a LiteLLM price-map JSON file, read here in the browser: Rust previews it
 * (writing nothing), the admin checks the rows and errors, gives a reason and imports; the report follows.
 */
export function ModelImport() {
  const { t } = useTranslation();
  const [file, setFile] = useState<Loaded | null>(null);
  const [report, setReport] = useState<ImportReport | null>(null);
  const preview = useAdminAction(api.adminPreviewImport);
  const [previewed, setPreviewed] = useState<ImportPreview | null>(null);
  const importing = useAdminAction(api.adminImportModels);
  const [progress, setProgress] = useState<ImportProgress | null>(null);

  const pick = async (e: ChangeEvent<HTMLInputElement>) => {
    const chosen = e.target.files?.[0];
    // Cleared, so picking the same file again (after fixing it) fires another change.
    e.target.value = '';
    if (!chosen) return;
    const loaded = { fileName: chosen.name, text: await chosen.text() };
    setFile(loaded);
    setReport(null);
    setPreviewed(null);
    setPreviewed((await preview.run(loaded.text)) ?? null);
  };

  const submit = async ({ reason }: { reason: string }) => {
    setProgress(null);
    const done = await importing.run(file!.text, reason.trim(), setProgress);
    if (done) setReport(done);
  };

  const columns: ColumnsType<ImportRow> = [
    { title: t('admin.import.line'), dataIndex: 'line', width: 64 },
    {
      title: t('admin.col.model'),
      dataIndex: 'name',
      render: (name: string, r) => (
        <Space size={4}>
          {name}
          {r.free && <FreeTag />}
        </Space>
      ),
    },
    { title: t('admin.models.input'), dataIndex: 'input_usd_per_1k', align: 'right', render: (v: string) => formatDecimal(v) },
    { title: t('admin.models.output'), dataIndex: 'output_usd_per_1k', align: 'right', render: (v: string) => formatDecimal(v) },
    { title: t('admin.models.aliases'), dataIndex: 'aliases', render: (a: string[]) => a.join(', ') },
    {
      title: t('admin.import.change'),
      dataIndex: 'change',
      render: (c: ImportRow['change']) => <Tag color={CHANGE_COLORS[c]}>{t(`admin.import.changes.${c}`)}</Tag>,
    },
  ];
  const count = (c: ImportRow['change']) => previewed?.rows.filter((r) => r.change === c).length ?? 0;

  return (
    <Space direction="vertical" size={12} style={{ width: '100%' }}>
      <Typography.Paragraph type="secondary" style={{ margin: 0 }}>
        {t('admin.import.hint')}
      </Typography.Paragraph>
      <label>
        <Typography.Text strong>{t('admin.import.file')}</Typography.Text>{' '}
        <input type="file" accept=".csv,.json,text/csv,application/json" onChange={(e) => void pick(e)} data-testid="import-file" />
      </label>
      <ErrorAlert error={preview.error} />
      {previewed && !report && (
        <>
          <Typography.Text data-testid="import-summary">
            {t('admin.import.summary', {
              file: file?.fileName,
              create: count('create'),
              update: count('update'),
              unchanged: count('unchanged'),
              errors: previewed.errors.length,
            })}
          </Typography.Text>
          <ImportErrors errors={previewed.errors} />
          <ImportSkipped skipped={previewed.skipped} />
          <DataTable<ImportRow>
            rowKey="line"
            columns={columns}
            dataSource={previewed.rows}
            rowTestId="import-preview-row"
            rowAttrs={(r) => ({ 'data-line': r.line, 'data-change': r.change })}
            pagination={MODEL_PAGES}
          />
          <Form layout="vertical" requiredMark={false} onFinish={submit} disabled={importing.busy}>
            <ReasonItem testId="import-reason" />
            {importing.busy && (
              <Progress
                percent={progress ? Math.floor((progress.done * 100) / Math.max(progress.total, 1)) : 0}
                status="active"
                format={() => (progress ? t('admin.import.progress', { done: formatCount(progress.done), total: formatCount(progress.total) }) : '')}
                data-testid="import-progress"
              />
            )}
            <FormFooter
              busy={importing.busy}
              error={importing.error}
              label={t('admin.import.submit', { rows: formatCount(previewed.rows.length) })}
              testId="import-submit"
            />
          </Form>
        </>
      )}
      {report && <Report report={report} />}
    </Space>
  );
}

function Report({ report }: { report: ImportReport }) {
  const { t } = useTranslation();
  return (
    <Space direction="vertical" style={{ width: '100%' }} data-testid="import-report">
      <Alert type={report.errors.length ? 'warning' : 'success'} showIcon message={t('admin.import.done')} />
      <Descriptions size="small" bordered column={3}>
        <Descriptions.Item label={t('admin.import.changes.create')}>{formatCount(report.created)}</Descriptions.Item>
        <Descriptions.Item label={t('admin.import.changes.update')}>{formatCount(report.updated)}</Descriptions.Item>
        <Descriptions.Item label={t('admin.import.changes.unchanged')}>{formatCount(report.unchanged)}</Descriptions.Item>
      </Descriptions>
      {report.free.length > 0 && (
        <Alert type="info" showIcon message={t('admin.import.freeModels', { names: report.free.join(', ') })} data-testid="import-free" />
      )}
      <ImportSkipped skipped={report.skipped} />
      <ImportErrors errors={report.errors} />
    </Space>
  );
}

function ImportErrors({ errors }: { errors: ImportError[] }) {
  const { t } = useTranslation();
  if (!errors.length) return null;
  return (
    <List
      size="small"
      bordered
      header={<Typography.Text type="danger">{t('admin.import.errors', { count: errors.length })}</Typography.Text>}
      dataSource={errors}
      renderItem={(e) => (
        <List.Item data-testid="import-error" data-line={e.line}>
          <Typography.Text type="danger">{t('admin.import.errorLine', { line: e.line, message: e.message })}</Typography.Text>
        </List.Item>
      )}
    />
  );
}

/** Entries left out on purpose (images, audio, rerankers, LiteLLM's `sample_spec`): counted, listed on demand. */
function ImportSkipped({ skipped }: { skipped: ImportSkip[] }) {
  const { t } = useTranslation();
  if (!skipped.length) return null;
  const columns: ColumnsType<ImportSkip> = [
    { title: t('admin.import.line'), dataIndex: 'line', width: 64 },
    { title: t('admin.import.entry'), dataIndex: 'name' },
    { title: t('admin.import.skipReason'), dataIndex: 'reason' },
  ];
  return (
    <Collapse
      size="small"
      items={[
        {
          key: 'skipped',
          label: t('admin.import.skipped', { count: skipped.length }),
          children: (
            <DataTable<ImportSkip>
              rowKey="line"
              columns={columns}
              dataSource={skipped}
              rowTestId="import-skipped-row"
              rowAttrs={(s) => ({ 'data-line': s.line })}
              pagination={MODEL_PAGES}
            />
          ),
        },
      ]}
      data-testid="import-skipped"
    />
  );
}
