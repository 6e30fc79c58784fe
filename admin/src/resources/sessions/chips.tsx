import { Chip, type ChipProps } from '@mui/material'
import { useTranslate } from 'react-admin'
import type { AgentInfo, ConsentStatus, SessionStatus } from '../../api/resources/sessions.ts'
import { agentDisplayStatus, platformLabel } from './format.ts'

const sessionColor: Record<SessionStatus, ChipProps['color']> = { waiting: 'warning', active: 'success', ended: 'default' }
const agentColor: Record<AgentInfo['status'], ChipProps['color']> = { online: 'success', offline: 'error', left: 'default' }
const consentColor: Record<ConsentStatus, ChipProps['color']> = {
  pending: 'info',
  approved: 'success',
  denied: 'error',
  expired: 'warning',
  cancelled: 'default',
}

export function SessionStatusChip({ status, size = 'small' }: { status: SessionStatus; size?: ChipProps['size'] }) {
  const translate = useTranslate()
  return <Chip size={size} color={sessionColor[status]} label={translate(`helpline.sessions.status.${status}`)} data-status={status} />
}

/** The agent's presence; with `detailed`, its platform too (as the chip's text, not a tooltip, so it can be read at a glance). */
export function AgentStatusChip({ agent, sessionStatus, detailed = false }: { agent: AgentInfo | null; sessionStatus: SessionStatus; detailed?: boolean }) {
  const translate = useTranslate()
  const status = agentDisplayStatus(agent, sessionStatus)
  if (!agent || status === 'none') {
    return <Chip size="small" variant="outlined" label={translate('helpline.sessions.agent_status.none')} data-agent-status="none" />
  }
  const text = translate(`helpline.sessions.agent_status.${status}`)
  return (
    <Chip
      size="small"
      color={status === 'disconnected' ? 'default' : agentColor[status]}
      variant={status === 'online' ? 'filled' : 'outlined'}
      label={detailed ? `${text} · ${platformLabel(agent)}` : text}
      title={platformLabel(agent)}
      data-agent-status={status}
    />
  )
}

export function ConsentStatusChip({ status }: { status: ConsentStatus }) {
  const translate = useTranslate()
  return (
    <Chip
      size="small"
      color={consentColor[status]}
      variant={status === 'pending' ? 'outlined' : 'filled'}
      label={translate(`helpline.consent.status.${status}`)}
      data-consent-status={status}
    />
  )
}
