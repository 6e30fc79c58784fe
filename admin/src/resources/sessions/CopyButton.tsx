import { IconButton, Tooltip } from '@mui/material'
import ContentCopy from '@mui/icons-material/ContentCopy'
import { useNotify, useTranslate } from 'react-admin'

/** Copies `text` to the clipboard, saying whether it worked (it needs a secure context). */
export function CopyButton({ text, label, size = 'medium' }: { text: string; label: string; size?: 'small' | 'medium' | 'large' }) {
  const translate = useTranslate()
  const notify = useNotify()
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text)
      notify('helpline.sessions.copied', { type: 'success' })
    } catch {
      notify('helpline.sessions.copy_failed', { type: 'warning' })
    }
  }
  return (
    <Tooltip title={translate(label)}>
      <IconButton aria-label={translate(label)} onClick={copy} size={size}>
        <ContentCopy fontSize="inherit" />
      </IconButton>
    </Tooltip>
  )
}
