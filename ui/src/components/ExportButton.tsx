import { Button, Space, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { ExportResult } from '../api';
import { describeError } from '../errors';
import { formatCount } from '../format';
import { useAction } from '../hooks';

/** Saves what a screen shows as CSV (Rust writes the file) and says where it went, or why it failed. */
export function ExportButton({ exportCsv }: { exportCsv: () => Promise<ExportResult> }) {
  const { t } = useTranslation();
  const exporting = useAction(exportCsv);
  const [done, setDone] = useState<string | null>(null);
  const run = async () => {
    setDone(null);
    const result = await exporting.run();
    if (result) setDone(t('dashboard.exported', { rows: formatCount(result.rows), path: result.path }));
  };
  return (
    <Space>
      {done !== null || exporting.error ? (
        <Typography.Text type={done ? 'success' : 'danger'} data-testid="export-result">
          {done ?? describeError(t, exporting.error)}
        </Typography.Text>
      ) : null}
      <Button size="small" loading={exporting.busy} onClick={() => void run()} data-testid="export-csv">
        {t('dashboard.exportCsv')}
      </Button>
    </Space>
  );
}
