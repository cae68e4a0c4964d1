import { App as AntApp, Card, Col, Form, Input, InputNumber, Row, Select, Switch } from 'antd';
import type { Rule } from 'antd/es/form';
import { useTranslation } from 'react-i18next';
import { api, type CreditField, type PolicyForm } from '../../api';
import { ErrorAlert } from '../../components/ErrorAlert';
import { useLoad } from '../../hooks';
import type { Messages } from '../../locales/en';
import { CREDITS, decimalRule, FormFooter, useAdminAction, useRequired } from './shared';

const CREDIT_FIELDS: CreditField[] = ['min_balance', 'event_cap', 'low_balance', 'daily_budget', 'monthly_budget', 'side_call_fixed'];

/** One guard in the form: credits are edited as exact decimal strings, counts as whole numbers. */
export interface GuardField {
  name: keyof Messages['admin']['guards']['fields'];
  testId: string;
  credits: boolean;
}

/** The form's values by field name, with the integration switch. */
export type GuardValues = Record<string, string | number | boolean>;

// Form fields in display order; `testId` suffixes follow the issue's `guards-*` names.
export const GUARD_FIELDS: GuardField[] = [
  { name: 'min_balance', testId: 'min-balance', credits: true },
  { name: 'low_balance', testId: 'low-balance', credits: true },
  { name: 'event_cap', testId: 'event-cap', credits: true },
  { name: 'flood_max_per_minute', testId: 'flood', credits: false },
  { name: 'max_tokens_per_event', testId: 'max-tokens', credits: false },
  { name: 'daily_budget', testId: 'daily-budget', credits: true },
  { name: 'monthly_budget', testId: 'monthly-budget', credits: true },
];

const saveLocalPolicy = (values: GuardValues) => {
  const form = values as unknown as PolicyForm;
  return api.adminSetPolicy({ ...form, ...Object.fromEntries(CREDIT_FIELDS.map((k) => [k, form[k].trim()])) });
};

/** The guards on every send and charge, and the integration switch. */
export function GuardsTab() {
  const { t } = useTranslation();
  const policy = useLoad(api.policy, ['ledger-changed']);
  return (
    <Card size="small" title={t('admin.tabs.guards')} loading={!policy.data && !policy.error} style={{ maxWidth: 760 }}>
      <ErrorAlert error={policy.error} />
      {/* Keyed by the values: a change saved (here or elsewhere) shows as it is stored. The credit fields are the
          decimal strings Rust sent, edited as they are. */}
      {policy.data && (
        <GuardsForm key={JSON.stringify(policy.data)} initialValues={policy.data as unknown as GuardValues} fields={GUARD_FIELDS} save={saveLocalPolicy} />
      )}
    </Card>
  );
}

interface GuardsFormProps {
  initialValues: GuardValues;
  fields: GuardField[];
  /** Saves the form's values (locally or on the org server). */
  save: (values: GuardValues) => Promise<unknown>;
}

export function GuardsForm({ initialValues, fields, save }: GuardsFormProps) {
  const { t } = useTranslation();
  const { message } = AntApp.useApp();
  const saving = useAdminAction(save);
  const required = useRequired();
  const creditRules = [required, decimalRule(CREDITS, t('admin.guards.creditsInvalid'), (v) => v >= 0n)];
  const [form] = Form.useForm<GuardValues>();
  // The fixed charge is asked for only when it is the choice; hidden, it keeps its stored value.
  const fixedCharge = Form.useWatch('side_calls', form) === 'fixed';

  const finish = async (values: GuardValues) => {
    if (await saving.run(values)) void message.success(t('admin.guards.saved'));
  };

  const rules = (field: GuardField): Rule[] => (field.credits ? creditRules : [{ required: true, message: t('admin.required') }]);
  const creditsInput = (testId: string) => <Input inputMode="decimal" suffix={t('common.credits')} data-testid={`guards-${testId}`} />;
  return (
    <Form<GuardValues> form={form} layout="vertical" requiredMark={false} initialValues={initialValues} onFinish={finish}>
      <Form.Item name="integration_enabled" label={t('admin.guards.integration')} extra={t('admin.guards.integrationHint')} valuePropName="checked">
        <Switch data-testid="guards-integration" />
      </Form.Item>
      <Form.Item name="when_unchecked" label={t('admin.guards.whenUnchecked')} extra={t('admin.guards.whenUncheckedHint')}>
        <Select
          data-testid="guards-when-unchecked"
          options={(['allow', 'block'] as const).map((value) => ({ value, label: t(`admin.guards.unchecked.${value}`) }))}
        />
      </Form.Item>
      <Row gutter={12}>
        <Col xs={24} sm={12}>
          <Form.Item name="side_calls" label={t('admin.guards.sideCalls')} extra={t('admin.guards.sideCallsHint')}>
            <Select
              data-testid="guards-side-calls"
              options={(['free', 'fixed', 'estimate'] as const).map((value) => ({ value, label: t(`admin.guards.sideCallPricing.${value}`) }))}
            />
          </Form.Item>
        </Col>
        <Col xs={24} sm={12}>
          <Form.Item
            name="side_call_fixed"
            label={t('admin.guards.sideCallFixed')}
            extra={t('admin.guards.sideCallFixedHint')}
            rules={fixedCharge ? creditRules : []}
            hidden={!fixedCharge}
          >
            {creditsInput('side-call-fixed')}
          </Form.Item>
        </Col>
      </Row>
      <Row gutter={12}>
        {fields.map((field) => (
          <Col xs={24} sm={12} key={field.name}>
            <Form.Item name={field.name} label={t(`admin.guards.fields.${field.name}`)} extra={t(`admin.guards.hints.${field.name}`)} rules={rules(field)}>
              {field.credits ? creditsInput(field.testId) : <InputNumber min={0} precision={0} style={{ width: '100%' }} data-testid={`guards-${field.testId}`} />}
            </Form.Item>
          </Col>
        ))}
      </Row>
      <FormFooter busy={saving.busy} error={saving.error} label={t('common.save')} testId="guards-save" />
    </Form>
  );
}
