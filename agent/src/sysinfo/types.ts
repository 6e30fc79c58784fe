/** The wire shape of one category (the API's SystemInfoCategory). */
/** How a value is written: a raw number, ISO date or true/false that the reader formats in its own language. */
export type InfoKind = 'text' | 'number' | 'bytes' | 'seconds' | 'date' | 'percent' | 'boolean'
export interface SystemInfoField {
  /** English, for readers that do not know `key`. */
  label: string
  value: string
  key?: string
  kind?: InfoKind
}
export interface SystemInfoTable {
  title: string
  key?: string
  columns: string[]
  columnKeys?: string[]
  columnKinds?: InfoKind[]
  rows: string[][]
  /** English, for readers that do not know `noteKey`. */
  note?: string
  noteKey?: string
  noteValues?: string[]
}
export type CategoryId = 'system' | 'hardware' | 'storage' | 'network' | 'software' | 'processes' | 'services' | 'users' | 'environment'
export interface SystemInfoCategory {
  id: CategoryId
  title: string
  available: boolean
  reason?: string
  fields: SystemInfoField[]
  tables: SystemInfoTable[]
}

export const CATEGORY_IDS: CategoryId[] = ['system', 'hardware', 'storage', 'network', 'software', 'processes', 'services', 'users', 'environment']

/** English titles: the snapshot is read by the CSR, whose console words them in its own language. */
export const CATEGORY_TITLES: Record<CategoryId, string> = {
  system: 'System',
  hardware: 'Hardware',
  storage: 'Storage',
  network: 'Network',
  software: 'Software',
  processes: 'Processes',
  services: 'Services',
  users: 'Users',
  environment: 'Environment',
}
