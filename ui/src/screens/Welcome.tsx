import { Button, Card, Col, Row, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { api, type WayIn } from '../api';
import { ErrorAlert } from '../components/ErrorAlert';
import { JoinOrgForm } from '../components/JoinOrgForm';
import { Page } from '../components/Page';
import { useAction } from '../hooks';

/** The first run: join the org, use this computer only (the user is their own admin), or try the demo,
 * as far as a managed install offers them. */
export function Welcome({ wayIn }: { wayIn: WayIn }) {
  const { t } = useTranslation();
  const choosing = useAction(api.chooseMode);
  const offered = { island: wayIn.offer_island, demo: wayIn.offer_demo };
  return (
    <Page title={t('welcome.title')}>
      <Typography.Paragraph type="secondary">{t('welcome.subtitle')}</Typography.Paragraph>
      <ErrorAlert error={choosing.error} />
      <Row gutter={[12, 12]} data-testid="welcome">
        <Col xs={24} lg={10}>
          <Card title={t('welcome.joinTitle')} data-testid="welcome-join">
            <Typography.Paragraph type="secondary">{t('welcome.joinBody')}</Typography.Paragraph>
            <JoinOrgForm suggestedServer={wayIn.suggested_server} />
          </Card>
        </Col>
        {(['island', 'demo'] as const).filter((mode) => offered[mode]).map((mode) => (
          <Col key={mode} xs={24} md={12} lg={7}>
            <Card title={t(`welcome.${mode}Title`)} data-testid={`welcome-${mode}`}>
              <Typography.Paragraph type="secondary">{t(`welcome.${mode}Body`)}</Typography.Paragraph>
              <Button loading={choosing.busy} onClick={() => void choosing.run(mode)} data-testid={`choose-${mode}`}>
                {t(`welcome.${mode}Action`)}
              </Button>
            </Card>
          </Col>
        ))}
      </Row>
    </Page>
  );
}
