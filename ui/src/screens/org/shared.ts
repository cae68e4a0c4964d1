// What the org console's tabs share: loads from the server that hand a lost session to the window.
import { useContext, useEffect } from 'react';
import { useLoad } from '../../hooks';
import { CommandErrorContext } from '../admin/shared';

/** Org data is the server's: it is fetched on opening and after this window's own changes, not on local events. */
const NO_EVENTS = [] as const;

/** A load from the server (memoise `fetch`); a failure that means the session ended brings back the sign-in. */
export function useOrgLoad<T>(fetch: () => Promise<T>) {
  const load = useLoad(fetch, NO_EVENTS);
  const onError = useContext(CommandErrorContext);
  useEffect(() => {
    if (load.error) onError(load.error);
  }, [load.error, onError]);
  return load;
}
