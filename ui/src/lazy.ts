import { lazy, type ComponentType, type LazyExoticComponent } from 'react';

/**
 * `React.lazy` for a named export: the module's code is fetched the first time the component renders, so a
 * window loads only what it shows. `any` props, as React.lazy's own bound.
 */
export function lazyNamed<K extends string, C extends ComponentType<any>>(load: () => Promise<Record<K, C>>, name: K): LazyExoticComponent<C> {
  return lazy(() => load().then((module) => ({ default: module[name] })));
}
