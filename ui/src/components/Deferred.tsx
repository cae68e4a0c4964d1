import { startTransition, useEffect, useState, type ReactNode } from 'react';

/**
 * Mounts its children in a transition after the first commit of the window around them, so a heavy section
 * (a chart, a table with its filters) neither delays the first paint nor the queries of the cards above it.
 */
export function Deferred({ children }: { children: ReactNode }) {
  const [shown, setShown] = useState(false);
  useEffect(() => startTransition(() => setShown(true)), []);
  return shown ? children : null;
}
