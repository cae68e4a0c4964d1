import { Button, Card, Space } from 'antd';
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';

/** A dense card of server data with its refresh button (and any other actions) in the title bar. */
export function RefreshCard({
  title,
  onRefresh,
  refreshTestId,
  extra,
  children,
}: {
  title: ReactNode;
  onRefresh: () => void;
  refreshTestId?: string;
  extra?: ReactNode;
  children: ReactNode;
}) {
  const { t } = useTranslation();
  return (
    <Card
      size="small"
      title={title}
      extra={
        <Space wrap>
          <Button size="small" onClick={onRefresh} data-testid={refreshTestId}>
            {t('orgAdmin.refresh')}
          </Button>
          {extra}
        </Space>
      }
    >
      {children}
    </Card>
  );
}
