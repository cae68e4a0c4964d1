import { orgApi, type NewOrgApp, type OrgApp } from '../../orgApi';
import { AppsPanel, type AppInput } from '../admin/Apps';
import { useActiveModelNames } from '../admin/shared';
import { useOrgLoad } from './shared';

/** An app as the server takes it: bound to a model, or to Dify's reported price with no model. */
const serverApp = ({ name, share_url, model }: AppInput): NewOrgApp => ({ name, share_url, pricing: model === null ? 'dify_price' : 'model', model });

/** The org's Dify apps on the server: every device meters them from its next config pull. */
export function OrgAppsTab() {
  const apps = useOrgLoad(orgApi.apps);
  const models = useActiveModelNames(useOrgLoad(orgApi.models).data);
  return (
    <AppsPanel<OrgApp>
      apps={apps.data}
      error={apps.error}
      models={models}
      setEnabled={(a, enabled) => orgApi.updateApp(a.id, { enabled })}
      add={(v) => orgApi.addApp(serverApp(v))}
      update={(a, v) => orgApi.updateApp(a.id, serverApp(v))}
      onChanged={() => void apps.reload()}
    />
  );
}
