const units = ['KiB', 'MiB', 'GiB']
const round = (value: number) =>
  value >= 100 ? Math.round(value) : value >= 10 ? Math.round(value * 10) / 10 : Math.round(value * 100) / 100

/** 1,048,576 → "1 MiB", 1,100,000 → "1.05 MiB", 12 → "12 B": the units the size limit is stated in. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  let value = bytes / 1024
  let unit = 0
  // Decide on the rounded value, so 1,048,534 bytes reads "1 MiB" and not "1024 KiB".
  while (unit < units.length - 1 && round(value) >= 1024) {
    value /= 1024
    unit += 1
  }
  return `${round(value)} ${units[unit]}`
}

/** The first characters of a sha256, enough to tell versions apart at a glance. */
export const shortHash = (sha256: string) => sha256.slice(0, 12)
