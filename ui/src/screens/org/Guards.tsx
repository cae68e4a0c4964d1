import { Card } from 'antd';
import { useTranslation } from 'react-i18next';
import { ErrorAlert } from '../../components/ErrorAlert';
import { microsText } from '../../format';
import { orgApi, type OrgPolicy } from '../../orgApi';
import { GUARD_FIELDS, GuardsForm, type GuardField, type GuardValues } from '../admin/Guards';
import { useOrgLoad } from './shared';

/** The org's guards add the offline allowance the server reserves for each device, and how long it lasts. */
const ORG_FIELDS: GuardField[] = [
  ...GUARD_FIELDS,
  { name: 'offline_allowance', testId: 'offline-allowance', credits: true },
  { name: 'lease_seconds', testId: 'lease-seconds', credits: false },
];

/** The server's policy as the form edits it: credit fields as exact decimal strings, by the keys it sets. */
function toForm(policy: OrgPolicy): GuardValues {
  const values: GuardValues = {
    integration_enabled: policy.integration_enabled,
    when_unchecked: policy.when_unchecked,
    side_calls: policy.side_calls,
    side_call_fixed: microsText(policy.side_call_fixed_micros),
  };
  for (const field of ORG_FIELDS) {
    values[field.name] = field.credits ? microsText(policy[`${field.name}_micros` as keyof OrgPolicy] as number) : (policy[field.name as keyof OrgPolicy] as number);
  }
  return values;
}

/** The guards every device of the org enforces, on the server: each changed field is one change there. */
export function OrgGuardsTab() {
  const { t } = useTranslation();
  const policy = useOrgLoad(orgApi.policy);
  const initial = policy.data && toForm(policy.data);
  const save = async (values: GuardValues) => {
    let saved: OrgPolicy | undefined;
    for (const [key, value] of Object.entries(values)) {
      const text = typeof value === 'string' ? value.trim() : String(value);
      if (initial && String(initial[key]) !== text) saved = await orgApi.setPolicy(key, text);
    }
    void policy.reload();
    return saved ?? policy.data;
  };
  return (
    <Card size="small" title={t('admin.tabs.guards')} loading={!policy.data && !policy.error} style={{ maxWidth: 760 }}>
      <ErrorAlert error={policy.error} />
      {initial && <GuardsForm key={JSON.stringify(initial)} initialValues={initial} fields={ORG_FIELDS} save={save} />}
    </Card>
  );
}
