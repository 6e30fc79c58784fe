import { lazy, type ComponentType } from 'react'

/**
 * A page loaded when first shown (its own chunk), from a module's named export: the first page
 * downloads react-admin and the layout, not every page of the console. react-admin's layout
 * shows its loading indicator (a Suspense boundary) while the chunk arrives.
 */
// `any`: React.lazy's own constraint; each page keeps its props' types where it is used.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function lazyPage<M extends Record<K, ComponentType<any>>, K extends keyof M & string>(load: () => Promise<M>, name: K) {
  return lazy(async () => ({ default: (await load())[name] }))
}
