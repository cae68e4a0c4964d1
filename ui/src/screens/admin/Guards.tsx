import { App as AntApp, Card, Col, Form, Input, InputNumber, Row, Switch } from 'antd';
import type { Rule } from 'antd/es/form';
import { useTranslation } from 'react-i18next';
import { api, type CreditField, type Policy, type PolicyForm } from '../../api';
import { ErrorAlert } from '../../components/ErrorAlert';
import { exactDecimal } from '../../format';
import { useLoad } from '../../hooks';
import { CREDITS, decimalRule, FormFooter, useAdminAction, useRequired } from './shared';

const CREDIT_FIELDS: CreditField[] = ['min_balance', 'event_cap', 'low_balance', 'daily_budget', 'monthly_budget'];
type CountField = 'flood_max_per_minute' | 'max_tokens_per_event';

// Form fields in display order; `testId` suffixes follow the issue's `guards-*` names.
const FIELDS: { name: CreditField | CountField; testId: string }[] = [
  { name: 'min_balance', testId: 'min-balance' },
  { name: 'low_balance', testId: 'low-balance' },
  { name: 'event_cap', testId: 'event-cap' },
  { name: 'flood_max_per_minute', testId: 'flood' },
  { name: 'max_tokens_per_event', testId: 'max-tokens' },
  { name: 'daily_budget', testId: 'daily-budget' },
  { name: 'monthly_budget', testId: 'monthly-budget' },
];

const isCredit = (name: string): name is CreditField => (CREDIT_FIELDS as string[]).includes(name);

function mapCredits<A, B>(values: Record<CreditField, A>, f: (value: A) => B): Record<CreditField, B> {
  return Object.fromEntries(CREDIT_FIELDS.map((k) => [k, f(values[k])])) as Record<CreditField, B>;
}

/** Credit fields as the exact decimal strings the form edits and Rust parses. */
const toForm = (policy: Policy): PolicyForm => ({ ...policy, ...mapCredits(policy, exactDecimal) });

/** The guards on every send and charge, and the integration switch. */
export function GuardsTab() {
  const { t } = useTranslation();
  const policy = useLoad(api.policy, ['ledger-changed']);
  return (
    <Card size="small" title={t('admin.tabs.guards')} loading={!policy.data && !policy.error} style={{ maxWidth: 760 }}>
      <ErrorAlert error={policy.error} />
      {/* Keyed by the values: a change saved (here or elsewhere) shows as it is stored. */}
      {policy.data && <GuardsForm key={JSON.stringify(policy.data)} policy={policy.data} />}
    </Card>
  );
}

function GuardsForm({ policy }: { policy: Policy }) {
  const { t } = useTranslation();
  const { message } = AntApp.useApp();
  const save = useAdminAction(api.adminSetPolicy);
  const required = useRequired();
  const credits = decimalRule(CREDITS, t('admin.guards.creditsInvalid'), (v) => v >= 0);

  const finish = async (values: PolicyForm) => {
    if (await save.run({ ...values, ...mapCredits(values, (v) => v.trim()) })) void message.success(t('admin.guards.saved'));
  };

  const rules = (name: string): Rule[] => (isCredit(name) ? [required, credits] : [{ required: true, message: t('admin.required') }]);
  return (
    <Form<PolicyForm> layout="vertical" requiredMark={false} initialValues={toForm(policy)} onFinish={finish}>
      <Form.Item name="integration_enabled" label={t('admin.guards.integration')} extra={t('admin.guards.integrationHint')} valuePropName="checked">
        <Switch data-testid="guards-integration" />
      </Form.Item>
      <Row gutter={12}>
        {FIELDS.map(({ name, testId }) => (
          <Col xs={24} sm={12} key={name}>
            <Form.Item name={name} label={t(`admin.guards.fields.${name}`)} extra={t(`admin.guards.hints.${name}`)} rules={rules(name)}>
              {isCredit(name) ? (
                <Input inputMode="decimal" suffix={t('common.credits')} data-testid={`guards-${testId}`} />
              ) : (
                <InputNumber min={0} precision={0} style={{ width: '100%' }} data-testid={`guards-${testId}`} />
              )}
            </Form.Item>
          </Col>
        ))}
      </Row>
      <FormFooter busy={save.busy} error={save.error} label={t('common.save')} testId="guards-save" />
    </Form>
  );
}
