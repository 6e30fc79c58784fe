import { Chip, type ChipProps } from '@mui/material'
import { useTranslate } from 'react-admin'
import type { ScriptBatch, ScriptRunStatus, SessionRunStatus } from '../../api/resources/script-batches.ts'
import { statusChip } from './status.ts'

/** A script run's or a session run's status, coloured by outcome (see `statusChip`). */
export function RunStatusChip({ status, size = 'small' }: { status: ScriptRunStatus | SessionRunStatus; size?: ChipProps['size'] }) {
  const translate = useTranslate()
  const { color, variant } = statusChip(status)
  return (
    <Chip
      size={size}
      color={color}
      variant={variant}
      label={translate(`helpline.runs.status.${status}`)}
      data-run-status={status}
      sx={{ cursor: 'inherit' }}
    />
  )
}

export function BatchStatusChip({ status }: { status: ScriptBatch['status'] }) {
  const translate = useTranslate()
  return (
    <Chip
      size="small"
      color={status === 'running' ? 'info' : 'default'}
      variant={status === 'running' ? 'filled' : 'outlined'}
      label={translate(`helpline.runs.batch_status.${status}`)}
      data-batch-status={status}
    />
  )
}
