import { Button, Card, Col, Row, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { api } from '../api';
import { ErrorAlert } from '../components/ErrorAlert';
import { JoinOrgForm } from '../components/JoinOrgForm';
import { Page } from '../components/Page';
import { useAction } from '../hooks';

/** The first run: join the org, use this computer only (the user is their own admin), or try the demo. */
export function Welcome({ suggestedServer }: { suggestedServer: string | null }) {
  const { t } = useTranslation();
  const choosing = useAction(api.chooseMode);
  return (
    <Page title={t('welcome.title')}>
      <Typography.Paragraph type="secondary">{t('welcome.subtitle')}</Typography.Paragraph>
      <ErrorAlert error={choosing.error} />
      <Row gutter={[12, 12]} data-testid="welcome">
        <Col xs={24} lg={10}>
          <Card title={t('welcome.joinTitle')} data-testid="welcome-join">
            <Typography.Paragraph type="secondary">{t('welcome.joinBody')}</Typography.Paragraph>
            <JoinOrgForm suggestedServer={suggestedServer} />
          </Card>
        </Col>
        <Col xs={24} md={12} lg={7}>
          <Card title={t('welcome.islandTitle')} data-testid="welcome-island">
            <Typography.Paragraph type="secondary">{t('welcome.islandBody')}</Typography.Paragraph>
            <Button loading={choosing.busy} onClick={() => void choosing.run('island')} data-testid="choose-island">
              {t('welcome.islandAction')}
            </Button>
          </Card>
        </Col>
        <Col xs={24} md={12} lg={7}>
          <Card title={t('welcome.demoTitle')} data-testid="welcome-demo">
            <Typography.Paragraph type="secondary">{t('welcome.demoBody')}</Typography.Paragraph>
            <Button loading={choosing.busy} onClick={() => void choosing.run('demo')} data-testid="choose-demo">
              {t('welcome.demoAction')}
            </Button>
          </Card>
        </Col>
      </Row>
    </Page>
  );
}
