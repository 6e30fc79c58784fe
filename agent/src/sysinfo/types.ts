/** The wire shape of one category (the API's SystemInfoCategory). */
export interface SystemInfoField {
  label: string
  value: string
}
export interface SystemInfoTable {
  title: string
  columns: string[]
  rows: string[][]
  note?: string
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
